"""Reruns of failed work, and the deadline check, against the local environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ops_support import DAY, key

from stepline.cli import UsageError, main
from stepline.local.session import LocalSession
from stepline.ops import rerun
from stepline.ops.ledger import RunLedger

FAIL_VALIDATION = ("SalesArrival", "Validate the sales file", "Lambda.ResourceNotFoundException")
SAMPLES = Path("events/samples")


def test_a_failed_arrival_is_rerun_as_a_suffixed_fresh_execution(target, env, sales) -> None:
    """The rerun is <name>-r1 with the original input; it owns and completes the store-day."""
    env.stepfunctions.hooks.fail(*FAIL_VALIDATION, "the function was deleted")
    event = env.land_file(sales("store_a"), key("store_a"))
    env.deliver(event)
    env.wait()
    original = env.arrival_of(event)[0]
    assert RunLedger(env).store_day(DAY, "store_a")["status"] == "FAILED"

    [done] = rerun.rerun_date(target, DAY)
    env.wait()
    assert (done.kind, done.name, done.original) == ("arrival", f"{original}-r1", original)
    again = env.stepfunctions.get(done.execution)
    assert again.status == "SUCCEEDED"
    assert again.input == env.stepfunctions.get(original).input
    record = RunLedger(env).store_day(DAY, "store_a")
    assert (record["status"], record["execution_name"]) == ("SUCCEEDED", f"{original}-r1")
    assert env.stepfunctions.get(original).status == "FAILED"  # history is kept as it was
    assert "fresh execution" in rerun.describe_rerun(done)


def test_a_second_rerun_takes_the_next_suffix(target, env, sales) -> None:
    """Rerunning the failed rerun gives -r2, never a name collision."""
    env.stepfunctions.hooks.fail(*FAIL_VALIDATION, "down", times=2)
    event = env.land_file(sales("store_a"), key("store_a"))
    env.deliver(event)
    env.wait()
    first = rerun.rerun_execution(target, env.arrival_of(event)[0])
    env.wait()
    assert env.stepfunctions.get(first.execution).status == "FAILED"
    second = rerun.rerun_execution(target, first.name)
    env.wait()
    assert second.name == f"{env.arrival_of(event)[0]}-r2"
    assert env.stepfunctions.get(second.execution).status == "SUCCEEDED"


def test_a_failed_publish_is_rerun_by_requesting_its_date(target, env, sales) -> None:
    """A publish that failed is not restarted as an execution: its date is requested again."""
    env.stepfunctions.hooks.fail(
        "SalesPublish", "Record the publish", "DynamoDB.InternalServerErrorException", times=7
    )
    env.deliver(env.land_file(sales("store_a"), key("store_a")))
    env.wait()
    assert RunLedger(env).publish_record(DAY)["publish_status"] == "FAILED"
    [done] = rerun.rerun_date(target, DAY)
    env.wait()
    assert done.kind == "publish"
    assert RunLedger(env).publish_record(DAY)["publish_status"] == "SUCCEEDED"


def test_nothing_failed_is_a_usage_error_naming_rejected_files(target, env) -> None:
    """A date with only a rejected file: nothing to rerun; a corrected upload is needed."""
    env.deliver(env.land_file(SAMPLES / "bad_header.csv", key("store_005")))
    env.wait()
    with pytest.raises(UsageError, match=r"store_005 rejected \(bad data\): a corrected file"):
        rerun.rerun_date(target, DAY)


def test_a_succeeded_execution_is_not_rerun_without_force(target, env, sales) -> None:
    """Only failed, timed-out or aborted executions are rerun unless --force."""
    event = env.land_file(sales("store_a"), key("store_a"))
    env.deliver(event)
    env.wait()
    with pytest.raises(UsageError, match="succeeded: only failed"):
        rerun.rerun_execution(target, env.arrival_of(event)[0])
    forced = rerun.rerun_execution(target, env.arrival_of(event)[0], force=True)
    env.wait()
    assert env.stepfunctions.get(forced.execution).status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give an EXECUTION or --date D"),
        (["x", "--date", DAY], "give an EXECUTION or --date D"),
        (["--store", "s1"], "--store goes with --date"),  # was: "... (not both)"
        (["nope", "--force"], "no arrival or publish execution named nope"),
    ],
)
def test_rerun_usage_problems_exit_2(capsys, tmp_path, args, message) -> None:
    """Wrong arguments or an unknown execution: one line, exit 2."""
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "ledger.json").write_text("{}")  # an environment, with nothing in it
    assert main(["rerun", *args, "--local", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ deadline check


def _check(env) -> dict:
    from stepline.ops.target import LocalTarget

    target = LocalTarget(env)
    started = target.start_execution("SalesDeadlineCheck", {"run_date": DAY})
    target.wait_for([started.arn], timeout=60)
    return json.loads(target.describe_execution(started.arn)["output"])


def test_the_deadline_check_names_missing_rejected_and_running_stores(env, sales) -> None:
    """dev expects store_001..004: one accepted, one rejected, one running, one never sent."""
    env.deliver(env.land_file(sales("store_001"), key("store_001")))
    env.deliver(env.land_file(SAMPLES / "bad_header.csv", key("store_002")))
    env.wait()
    gate = env.stepfunctions.hooks.pause("SalesArrival", "Validate the sales file")
    env.deliver(env.land_file(sales("store_003"), key("store_003")))
    gate.wait_reached()
    env.drain_notifications()
    findings = _check(env)
    assert (findings["missing"], findings["rejected"], findings["running"]) == (
        ["store_004"],
        ["store_002"],
        ["store_003"],
    )
    assert findings["alert_sent"] is True
    [alert] = [
        n for n in env.drain_notifications() if n["attributes"]["outcome"] == "DEADLINE_MISSED"
    ]
    assert alert["message"]["missing"] == ["store_004"]
    assert "1 missing, 1 rejected, 1 running" in alert["subject"]
    gate.release()
    env.wait()


def test_the_deadline_check_sends_nothing_when_the_day_is_complete(env, sales) -> None:
    """Every expected store accepted and the day published: no message, alert_sent false."""
    for store in ("store_001", "store_002", "store_003", "store_004"):
        env.deliver(env.land_file(sales(store), key(store)))
    env.wait()
    env.drain_notifications()
    findings = _check(env)
    assert findings["alert_sent"] is False and findings["publish"] == "PUBLISHED"
    assert findings["succeeded"] == ["store_001", "store_002", "store_003", "store_004"]
    assert env.drain_notifications() == []


def test_check_deadline_command_json_and_exit_status(capsys, tmp_path) -> None:
    """--json prints the findings; exit 1 when the alert went out (stores missing)."""
    workdir = tmp_path / "local"
    with LocalSession("dev", workdir=workdir, lambda_logs=False) as session:
        for store in ("store_001", "store_002", "store_003"):
            session.deliver(session.land_file(SAMPLES / "header_only.csv", key(store)))
        session.wait()
    code = main(["check-deadline", "--date", DAY, "--json", "--local", str(workdir)])
    findings = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(findings) >= {"missing", "rejected", "failed", "running", "alert_sent", "publish"}
    assert findings["missing"] == ["store_004"]
    assert findings["no_data"] == ["store_001", "store_002", "store_003"]
