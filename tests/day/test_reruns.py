"""Reruns of a failed Glue step and of a failed load, on the real local jobs."""

from __future__ import annotations

import pytest
from day_support import RUN_DATE, arrive, executions, expected_day, warehouse_day

from stepline.ops import rerun
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
    assert env.store_day(RUN_DATE, "store_a")["failed_state"] == "Clean the sales file"
    assert executions(env, "SalesPublish") == []

    [done] = rerun.rerun_date(LocalTarget(env), RUN_DATE)
    env.wait()
    assert done.name == f"{original}-r1"
    assert env.stepfunctions.get(done.execution).status == "SUCCEEDED"
    assert env.store_day(RUN_DATE, "store_a")["status"] == "SUCCEEDED"
    assert warehouse_day(env) == expected_day([a])


def test_a_failed_load_is_rerun_by_publishing_the_date_again(env, files):
    """The Redshift load fails: the day is not loaded; the rerun's publish loads it."""
    a = files.write("store_a")
    env.stepfunctions.hooks.fail(
        "SalesPublish", "Load the day into Redshift", "RedshiftData.ValidationException", "bad"
    )
    arrive(env, a, files.key("store_a"))
    env.wait()
    assert env.publish_record(RUN_DATE)["publish_status"] == "FAILED"
    [done] = rerun.rerun_date(LocalTarget(env), RUN_DATE)
    env.wait()
    assert done.kind == "publish"
    assert env.publish_record(RUN_DATE)["publish_status"] == "SUCCEEDED"
    assert warehouse_day(env) == expected_day([a])


def test_accept_reject_accept_of_one_store_day_across_sessions(tmp_path, files):
    """Three commands on one environment: the day is always what AWS would hold, no more."""
    from day_support import report_day

    from stepline.local.session import LocalSession

    workdir = tmp_path / "local"
    first, third = files.write("store_a"), files.write("store_a", version=3)
    rejected = files.folder / "store_a-rejected.csv"
    rejected.write_text("order_id,colour\no-1,red\n")

    def session() -> LocalSession:
        return LocalSession("dev", workdir=workdir, lambda_logs=False)

    with session() as env:
        arrive(env, first, files.key("store_a"))
        env.wait()
        assert warehouse_day(env) == report_day(env) == expected_day([first])
    with session() as env:  # a rejected re-upload: store_a has no rows now
        arrive(env, rejected, files.key("store_a"))
        env.wait()
        assert env.store_day(RUN_DATE, "store_a")["status"] == "REJECTED"
        assert warehouse_day(env) == report_day(env) == {}
    with session() as env:  # a good one again: its rows only, nothing of the first
        arrive(env, third, files.key("store_a"))
        env.wait()
        assert warehouse_day(env) == report_day(env) == expected_day([third])
        # The folder the next session restores from holds exactly what S3 holds.
        assert env.lake is not None
        s3 = env.client("s3")
        for bucket in env.buckets:
            env.lake.save_bucket(bucket)
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            keys = {o["Key"] for page in pages for o in page.get("Contents", [])}
            folder = env.lake.root / bucket
            local = {
                p.relative_to(folder).as_posix()
                for p in folder.rglob("*")
                if p.is_file() and not p.name.endswith(".crc")
            }
            assert local == keys, bucket
