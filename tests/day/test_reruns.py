"""Reruns of a failed Glue step and of a failed load, on the real local jobs."""

from __future__ import annotations

import pytest
from day_support import RUN_DATE, arrive, executions, expected_day, warehouse_day

from stepline.ops import rerun
from stepline.ops.ledger import RunLedger
from stepline.ops.target import LocalTarget

pytestmark = pytest.mark.spark


def test_a_failed_glue_step_is_rerun_and_the_day_published(env, files):
    """Glue fails once: the store-day is FAILED; its rerun cleans it and the day is published."""
    a = files.write("store_a")
    env.stepfunctions.hooks.fail(
        "SalesArrival", "Clean the sales file", "States.TaskFailed", '{"JobRunState": "FAILED"}'
    )
    _, original = arrive(env, a, files.key("store_a"))
    env.wait()
    assert RunLedger(env).store_day(RUN_DATE, "store_a")["failed_state"] == "Clean the sales file"
    assert executions(env, "SalesPublish") == []

    [done] = rerun.rerun_date(LocalTarget(env), RUN_DATE)
    env.wait()
    assert done.name == f"{original}-r1"
    assert env.stepfunctions.get(done.execution).status == "SUCCEEDED"
    assert RunLedger(env).store_day(RUN_DATE, "store_a")["status"] == "SUCCEEDED"
    assert warehouse_day(env) == expected_day([a])


def test_a_failed_load_is_rerun_by_publishing_the_date_again(env, files):
    """The Redshift load fails: the day is not loaded; the rerun's publish loads it."""
    a = files.write("store_a")
    env.stepfunctions.hooks.fail(
        "SalesPublish", "Load the day into Redshift", "RedshiftData.ValidationException", "bad"
    )
    arrive(env, a, files.key("store_a"))
    env.wait()
    assert RunLedger(env).publish_record(RUN_DATE)["publish_status"] == "FAILED"
    [done] = rerun.rerun_date(LocalTarget(env), RUN_DATE)
    env.wait()
    assert done.kind == "publish"
    assert RunLedger(env).publish_record(RUN_DATE)["publish_status"] == "SUCCEEDED"
    assert warehouse_day(env) == expected_day([a])
