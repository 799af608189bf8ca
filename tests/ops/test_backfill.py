"""Backfill: the plan per reprocess rule, one start per store-day, one publish per date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from ops_support import DAY, key

from stepline.cli import main
from stepline.ops import backfill
from stepline.ops.ledger import RunLedger

NEXT_DAY = "2026-11-21"
FAIL_VALIDATION = ("SalesArrival", "Validate the sales file", "Lambda.ResourceNotFoundException")


def _plan(target, env, reprocess="none", stores=(), days=(DAY,)):
    run_id = backfill.backfill_id(
        dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1]), stores, reprocess
    )
    items = backfill.plan(
        target, env.deployed, list(days), stores=stores, reprocess=reprocess, run_id=run_id
    )
    return items, run_id


def _by_store(items):
    return {item.store: (item.action, item.reason) for item in items}


@pytest.fixture
def mixed_day(env, sales):
    """store_a succeeded, store_b failed, store_c rejected, store_d landed but never delivered."""
    env.deliver(env.land_file(sales("store_a"), key("store_a")))
    env.wait()
    env.stepfunctions.hooks.fail(*FAIL_VALIDATION, "the function was deleted")
    env.deliver(env.land_file(sales("store_b"), key("store_b")))
    env.wait()
    env.deliver(env.land_file(Path("events/samples/bad_header.csv"), key("store_c")))
    env.wait()
    env.land_file(sales("store_d"), key("store_d"))
    assert RunLedger(env).store_day(DAY, "store_b")["status"] == "FAILED"
    assert RunLedger(env).store_day(DAY, "store_c")["status"] == "REJECTED"
    assert RunLedger(env).store_day(DAY, "store_d") is None


def test_the_plan_follows_the_reprocess_rule(target, env, mixed_day) -> None:
    """none: only what never ran; failed: also FAILED and REJECTED; completed: everything."""
    none, _ = _plan(target, env, "none")
    assert _by_store(none) == {
        "store_a": ("skip", "ran: SUCCEEDED"),
        "store_b": ("skip", "ran: FAILED (--reprocess failed runs it again)"),
        "store_c": ("skip", "ran: REJECTED (--reprocess failed runs it again)"),
        "store_d": ("start", "never ran"),
    }
    failed, _ = _plan(target, env, "failed")
    assert {s for s, (action, _) in _by_store(failed).items() if action == "start"} == {
        "store_b",
        "store_c",
        "store_d",
    }
    completed, run_id = _plan(target, env, "completed")
    assert all(item.action == "start" for item in completed)
    names = {item.store: item.name for item in completed}
    assert names["store_d"] == env.arrival_of(_event(env, "store_d"))[0]
    assert names["store_a"].endswith(f"-bf{run_id}")


def _event(env, store):
    from stepline.ops.target import LocalTarget

    [obj] = [o for o in LocalTarget(env).raw_objects(f"sales/date={DAY}/") if o.key == key(store)]
    return backfill.object_event(obj)


def test_a_running_store_day_is_never_started_twice(target, env, sales) -> None:
    """Whatever the reprocess rule, a store-day whose arrival runs is skipped."""
    gate = env.stepfunctions.hooks.pause("SalesArrival", "Validate the sales file")
    env.deliver(env.land_file(sales("store_a"), key("store_a")))
    gate.wait_reached()
    items, _ = _plan(target, env, "completed")
    assert _by_store(items) == {"store_a": ("skip", "running (never started twice)")}
    gate.release()
    env.wait()


def test_a_newer_file_that_never_ran_is_started_under_the_starters_name(target, env, sales):
    """A corrected upload whose event was lost: the ledger's object is older, so it starts."""
    env.deliver(env.land_file(sales("store_a", seed=1), key("store_a")))
    env.wait()
    newer = env.land_file(sales("store_a", seed=2), key("store_a"))  # never delivered
    items, _ = _plan(target, env, "none")
    [item] = items
    assert (item.action, item.reason) == ("start", "a newer file never ran")
    assert item.name == env.arrival_of(newer)[0]


def test_run_starts_each_store_day_once_and_publishes_each_date_once(target, env, sales):
    """Two dates, three store-days: three arrivals (deferred), then one publish per date."""
    for store in ("store_a", "store_b"):
        env.land_file(sales(store), key(store))
    env.land_file(sales("store_a", NEXT_DAY), key("store_a", NEXT_DAY))
    items, run_id = _plan(target, env, days=(DAY, NEXT_DAY))
    outcome = backfill.run(target, items, max_active=2, run_id=run_id)
    env.wait()
    assert sorted(outcome.statuses.values()) == ["SUCCEEDED"] * 3
    assert outcome.published == [DAY, NEXT_DAY]
    arrivals = env.stepfunctions.executions("SalesArrival")
    assert len(arrivals) == 3
    assert all(a.output["publish"] == {"publish": "DEFERRED"} for a in arrivals)
    requests = [
        e
        for e in env.stepfunctions.executions("SalesPublishRequest")
        if e.input.get("requested_by") == f"backfill {run_id}"
    ]
    assert sorted(e.input["run_date"] for e in requests) == [DAY, NEXT_DAY]
    for day in (DAY, NEXT_DAY):
        assert RunLedger(env).publish_record(day)["publish_status"] == "SUCCEEDED"


def test_an_interrupted_backfill_run_again_starts_nothing_twice(target, env, sales):
    """The plan's names are deterministic: a second run finds the first run's executions."""
    for store in ("store_a", "store_b", "store_c"):
        env.land_file(sales(store), key(store))
    items, run_id = _plan(target, env)
    first = items[0]
    # The first backfill got as far as starting one arrival before it was stopped.
    env.stepfunctions.start_execution(
        "SalesArrival", {**first.input, "defer_publish": True}, name=first.name
    )
    env.wait()
    again, _ = _plan(target, env)
    outcome = backfill.run(target, again, max_active=4, run_id=run_id)
    env.wait()
    assert _by_store(again)[first.store] == ("skip", "ran: SUCCEEDED")
    assert len(outcome.started) == 2
    names = [e.name for e in env.stepfunctions.executions("SalesArrival")]
    assert sorted(names) == sorted(item.name for item in items)


def test_reprocessing_runs_a_failed_store_day_again_once(target, env, sales):
    """--reprocess failed reruns FAILED under -bf<id>; the same backfill again adds nothing."""
    env.stepfunctions.hooks.fail(*FAIL_VALIDATION, "the function was deleted")
    env.deliver(env.land_file(sales("store_b"), key("store_b")))
    env.wait()
    items, run_id = _plan(target, env, "failed")
    outcome = backfill.run(target, items, max_active=1, run_id=run_id)
    env.wait()
    [name] = [item.name for item in outcome.started]
    assert name.endswith(f"-bf{run_id}") and outcome.statuses[name] == "SUCCEEDED"
    record = RunLedger(env).store_day(DAY, "store_b")
    assert (record["status"], record["execution_name"]) == ("SUCCEEDED", name)
    again, _ = _plan(target, env, "failed")
    assert _by_store(again)["store_b"] == ("skip", "ran: SUCCEEDED")


def test_at_most_max_active_arrivals_run_at_once(target, env, sales):
    """With --max-active 1 the arrivals run one after the other."""
    for store in ("store_a", "store_b", "store_c"):
        env.land_file(sales(store), key(store))
    items, run_id = _plan(target, env)
    seen: list[int] = []
    start = target.start_execution

    def counting(machine, input, name=None):
        running = [e for e in env.stepfunctions.executions("SalesArrival") if e.running]
        seen.append(len(running))
        return start(machine, input, name=name)

    target.start_execution = counting  # type: ignore[method-assign]
    backfill.run(target, items, max_active=1, run_id=run_id)
    env.wait()
    assert seen[:3] == [0, 0, 0]


def test_dry_run_prints_the_plan_as_json_and_starts_nothing(capsys, workdir, sales):
    """--dry-run --json: {"plan": [{date, store, action, reason, key, execution}]}, exit 0."""
    from stepline.local.session import LocalSession

    with LocalSession("dev", workdir=workdir, lambda_logs=False) as session:
        session.land_file(sales("store_a"), key("store_a"))
    code = main(
        ["backfill", "--from", DAY, "--to", DAY, "--dry-run", "--json", "--local", str(workdir)]
    )
    assert code == 0
    [item] = json.loads(capsys.readouterr().out)["plan"]
    assert (item["date"], item["store"], item["action"], item["reason"]) == (
        DAY,
        "store_a",
        "start",
        "never ran",
    )
    assert item["execution"].startswith(f"{DAY}_store_a_")
    with LocalSession("dev", workdir=workdir, lambda_logs=False) as session:
        assert session.stepfunctions.executions() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-21", "--to", "2026-11-20"], "is after --to"),
        (["--from", "2024-01-01", "--to", "2026-01-01"], "more than 366 days"),
        (["--from", "2026-13-01", "--to", "2026-11-20"], "is not a date (YYYY-MM-DD)"),
        (["--from", DAY, "--to", DAY, "--max-active", "0"], "must be at least 1"),
        # once accepted, and an empty plan with exit 0
        (
            ["--from", DAY, "--to", DAY, "--stores", "store_001,bad store"],
            "'bad store' is not a store id",
        ),
    ],
)
def test_usage_problems_exit_2_on_one_line(capsys, tmp_path, args, message):
    """Bad dates or counts: one line saying what to fix, exit 2."""
    with pytest.raises(SystemExit) as exited:
        code = main(["backfill", *args, "--dry-run", "--local", str(tmp_path)])
        raise SystemExit(code)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
