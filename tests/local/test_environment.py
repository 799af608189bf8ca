"""The persisted local environment: one world across commands, one command at a time.

Spark, Redshift and Athena are mocked here (test case SparkAndWarehouseMocked),
so these run in seconds; the Lambda, DynamoDB, S3, SNS, EventBridge and every
Step Functions execution are the real local ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.local.session import LocalEnvironmentBusy, LocalSession
from stepline.ops.ledger import RunLedger
from stepline.sample_data import write_sales_csv

ROOT = Path(__file__).resolve().parents[2]
MOCKS = json.loads((ROOT / "tests/mocks/sales_pipeline.mock.json").read_text())
RUN_DATE = "2026-11-20"
KEY = f"sales/date={RUN_DATE}/store=store_001/sales.csv"


def session(workdir: Path) -> LocalSession:
    return LocalSession(
        "dev",
        workdir=workdir,
        mock_config=MOCKS,
        test_case="SparkAndWarehouseMocked",
        lambda_logs=False,
    )


@pytest.fixture
def sales_file(tmp_path: Path) -> Path:
    path = tmp_path / "store_001.csv"
    write_sales_csv(path, RUN_DATE, "store_001", 30, seed=1)
    return path


def test_a_second_command_on_the_same_environment_is_refused(tmp_path) -> None:
    """While one session holds the environment, another refuses with a clear message."""
    with session(tmp_path), pytest.raises(LocalEnvironmentBusy, match="another stepline command"):
        session(tmp_path).__enter__()
    with session(tmp_path) as again:  # free once the first ended
        assert again.stepfunctions is not None


def test_the_environment_persists_between_commands(tmp_path, sales_file) -> None:
    """Objects (with their version ids), the ledger, executions and notifications survive."""
    with session(tmp_path) as first:
        event = first.land_file(sales_file, KEY)
        first.deliver(event)
        first.wait()
        version = first.client("s3").head_object(Bucket=first.raw_bucket, Key=KEY)["VersionId"]
        arrivals = [e.name for e in first.stepfunctions.executions("SalesArrival")]
        notified = len(first.notifications)
    assert notified >= 2  # accepted + day published

    with session(tmp_path) as second:
        head = second.client("s3").head_object(Bucket=second.raw_bucket, Key=KEY)
        assert head["VersionId"] == version
        assert RunLedger(second).store_day(RUN_DATE, "store_001")["status"] == "SUCCEEDED"
        assert RunLedger(second).publish_record(RUN_DATE)["publishes"] == 1
        assert [e.name for e in second.stepfunctions.executions("SalesArrival")] == arrivals
        assert len(second.notifications) == notified
        history = tmp_path / "dev" / "executions" / "SalesArrival" / f"{arrivals[0]}.json"
        assert json.loads(history.read_text())[0]["type"] == "ExecutionStarted"
        # The name is still taken, as for 90 days on AWS: a redelivery is a duplicate.
        second.deliver(event)
        second.wait()
        starters = second.stepfunctions.executions("SalesArrivalStarter")
        assert starters[-1].output["outcome"] == "DUPLICATE"
        assert len(second.stepfunctions.executions("SalesArrival")) == 1


def test_an_event_no_rule_matches_starts_nothing_and_is_counted(tmp_path, sales_file) -> None:
    """A key outside sales/*.csv[.gz] matches no rule: no execution, one unmatched event."""
    with session(tmp_path) as env:
        event = env.land_file(sales_file, "inventory/today.csv")
        assert env.deliver(event) == []
        assert env.events.unmatched == [event]
        assert env.stepfunctions.executions() == []


def test_executions_still_running_when_a_command_ends_are_stopped_and_recovered(
    tmp_path, sales_file
) -> None:
    """Ending the session stops what runs; recovery then records the store-day as FAILED."""
    with session(tmp_path) as env:
        gate = env.stepfunctions.hooks.pause("SalesArrival", "Validate the sales file")
        env.deliver(env.land_file(sales_file, KEY))
        gate.wait_reached()  # the command ends while the arrival stands at validation
    with session(tmp_path) as later:
        [arrival] = later.stepfunctions.executions("SalesArrival")
        assert arrival.status == "ABORTED" and arrival.error == "Stepline.LocalSessionEnded"
        record = RunLedger(later).store_day(RUN_DATE, "store_001")
        assert record["status"] == "FAILED" and "ABORTED" in record["reason"]
