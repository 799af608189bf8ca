"""The operations commands against a deployed stage, on moto (no local runtime involved).

A moto CloudFormation stack named like samconfig's dev stack carries the
outputs the commands read; DynamoDB, S3 and Step Functions hold the history.
The machines are stand-ins (moto runs their Pass and Fail states): what is
tested is that the commands find, read and start the right things on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from ops_support import DAY, key

from stepline.cli import UsageError, main
from stepline.ops.target import AwsTarget

REGION = "us-east-1"
TABLE = "stepline-sales-dev-run-ledger"
RAW = "stepline-sales-dev-raw-123456789012-us-east-1"
ROLE = "arn:aws:iam::123456789012:role/stepline"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
FINDINGS = {
    "run_date": DAY, "expected_stores": ["s1", "s2"], "missing": ["s2"], "rejected": [],
    "failed": [], "running": [], "no_data": [], "succeeded": ["s1"], "publish": "PUBLISHED",
    "alert_sent": True,
}  # fmt: skip


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict[str, Any]]:
    """A dev stack on moto: its outputs, ledger table, raw bucket and stand-in machines."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("STEPLINE_AWS_POLL_SECONDS", "0.05")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=RAW)
        s3.put_bucket_versioning(Bucket=RAW, VersioningConfiguration={"Status": "Enabled"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {}
        check = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": FINDINGS, "End": True}}}
        for output, definition in {
            "ArrivalStateMachineArn": PASS,
            "PublishRequestStateMachineArn": PASS,
            "PublishStateMachineArn": PASS,
            "DeadlineCheckStateMachineArn": check,
        }.items():
            name = "stepline-sales-dev-" + output.removesuffix("StateMachineArn").lower()
            machines[output] = sfn.create_state_machine(
                name=name, definition=json.dumps(definition), roleArn=ROLE
            )["stateMachineArn"]
        outputs = {"RunLedgerTableName": TABLE, "RawBucketName": RAW, **machines}
        template = {
            # String, not CommaDelimitedList: moto returns a list parameter as Python text.
            "Parameters": {"ExpectedStores": {"Type": "String", "Default": ""}},
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="stepline-sales-dev",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "ExpectedStores", "ParameterValue": "s1,s2"}],
        )
        yield {"dynamodb": dynamodb, "s3": s3, "sfn": sfn, "machines": machines}


def _ledger(aws, store: str, **attributes: str) -> None:
    item = {"pk": {"S": f"DATE#{DAY}"}, "sk": {"S": f"STORE#{store}"}, "store_id": {"S": store}}
    item.update({name: {"S": value} for name, value in attributes.items()})
    aws["dynamodb"].put_item(TableName=TABLE, Item=item)


def test_the_target_reads_the_stage_from_its_stack(aws) -> None:
    """Outputs and parameters come from CloudFormation; the ledger and raw bucket by output."""
    aws["s3"].put_object(Bucket=RAW, Key=key("s1"), Body=b"x")
    _ledger(aws, "s1", status="SUCCEEDED")
    target = AwsTarget("dev", region=REGION)
    assert target.outputs["RunLedgerTableName"] == TABLE
    assert target.parameters["ExpectedStores"] == "s1,s2"
    [record] = target.ledger_items(DAY)
    assert (record["store_id"], record["status"]) == ("s1", "SUCCEEDED")
    [obj] = target.raw_objects(f"sales/date={DAY}/")
    assert obj.key == key("s1") and obj.version_id and obj.size == 1


def test_backfill_on_aws_starts_the_starters_names_and_publishes_once(aws, capsys) -> None:
    """A store-day that never ran starts under the starter's name; the date is requested once."""
    for store in ("s1", "s2"):
        aws["s3"].put_object(Bucket=RAW, Key=key(store), Body=b"order_id\n")
    code = main(["backfill", "--from", DAY, "--to", DAY, "--aws", "--region", REGION, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert [item["reason"] for item in result["plan"]] == ["never ran", "never ran"]
    assert sorted(result["started"]) == sorted(item["execution"] for item in result["plan"])
    arrivals = aws["sfn"].list_executions(stateMachineArn=aws["machines"]["ArrivalStateMachineArn"])
    assert sorted(e["name"] for e in arrivals["executions"]) == sorted(result["started"])
    described = aws["sfn"].describe_execution(
        executionArn=arrivals["executions"][0]["executionArn"]
    )
    assert json.loads(described["input"])["defer_publish"] is True
    requests = aws["sfn"].list_executions(
        stateMachineArn=aws["machines"]["PublishRequestStateMachineArn"]
    )["executions"]
    assert len(requests) == 1 and result["published"] == [DAY]
    # The same backfill again: the store-days have no ledger record (the stand-ins write
    # none), so they are planned again, and the names are taken: nothing starts twice.
    assert (
        main(["backfill", "--from", DAY, "--to", DAY, "--aws", "--region", REGION, "--json"]) == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["started"] == [] and sorted(again["already_started"]) == sorted(result["started"])


def test_rerun_on_aws_starts_the_failed_arrival_again_as_r1(aws, capsys) -> None:
    """A failed arrival on AWS is started again, with its input, as <name>-r1."""
    arn = aws["machines"]["ArrivalStateMachineArn"]
    aws["sfn"].update_state_machine(
        stateMachineArn=arn,
        definition=json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "X"}}}),
    )
    failed = aws["sfn"].start_execution(stateMachineArn=arn, name="a1", input='{"arrival": {}}')
    target = AwsTarget("dev", region=REGION, poll_seconds=0.05)
    target.wait_for([failed["executionArn"]], timeout=30)
    code = main(["rerun", "a1", "--aws", "--region", REGION, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    [done] = result["reruns"]
    assert (done["name"], done["kind"]) == ("a1-r1", "arrival")
    described = aws["sfn"].describe_execution(executionArn=done["execution"])
    assert json.loads(described["input"]) == {"arrival": {}}


def test_check_deadline_on_aws_prints_the_checks_output(aws, capsys) -> None:
    """The deployed check's output is printed as is; an alert sent makes the exit status 1."""
    code = main(["check-deadline", "--date", DAY, "--aws", "--region", REGION, "--json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out) == FINDINGS


def test_a_stage_that_is_not_deployed_is_a_usage_error(monkeypatch) -> None:
    """No stack for the stage in the region: one line saying to deploy it or check --region."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), pytest.raises(UsageError, match="does not exist; deploy it with sam deploy"):
        AwsTarget("dev", region=REGION)


def test_missing_credentials_are_a_usage_error(monkeypatch, tmp_path) -> None:
    """No credentials anywhere: the message says to pass --profile."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(UsageError, match="no AWS credentials found; pass --profile"):
        AwsTarget("dev", region=REGION)


def test_an_unknown_profile_is_a_usage_error(monkeypatch, tmp_path) -> None:
    """A --profile the AWS config does not know: one line naming it."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(UsageError, match="nosuch"):
        AwsTarget("dev", profile="nosuch", region=REGION)


def test_local_and_aws_together_are_a_usage_error(capsys, tmp_path) -> None:
    """--local and --aws name two targets: exit 2 with one line."""
    code = main(["rerun", "x", "--aws", "--local", str(tmp_path)])
    assert code == 2 and "two targets" in capsys.readouterr().err


def test_land_on_aws_uploads_and_names_the_arrival_as_the_starter_will(
    aws, capsys, tmp_path
) -> None:
    """The file lands as a new version; the printed name is the one backfill plans for it."""
    from stepline.commands.land import _wait_for_arrival

    sales = tmp_path / "s1.csv"
    sales.write_bytes(b"order_id\n")
    code = main(["land", str(sales), "--key", key("s1"), "--aws", "--region", REGION, "--json"])
    [arrival] = json.loads(capsys.readouterr().out)["arrivals"]
    assert code == 0 and arrival["status"] == "UPLOADED"
    assert aws["s3"].get_object(Bucket=RAW, Key=key("s1"))["Body"].read() == b"order_id\n"
    assert main(["backfill", "--from", DAY, "--to", DAY, "--dry-run", "--aws", "--region",
                 REGION, "--json"]) == 0  # fmt: skip
    planned = {
        item["store"]: item["execution"] for item in json.loads(capsys.readouterr().out)["plan"]
    }
    assert planned["s1"] == arrival["execution"]
    # What --wait follows: EventBridge's starter starts exactly that name.
    target = AwsTarget("dev", region=REGION)
    arn = target.execution_arn("SalesArrival", arrival["execution"])
    assert _wait_for_arrival(target, arn, timeout=0) == "STILL RUNNING"
    aws["sfn"].start_execution(
        stateMachineArn=aws["machines"]["ArrivalStateMachineArn"], name=arrival["execution"]
    )
    assert _wait_for_arrival(target, arn, timeout=30) == "SUCCEEDED"
