"""``stepline status --aws``: the deployed stage through moto, the same answer as locally.

A CloudFormation stack named as samconfig's dev stage (``stepline-sales-dev``)
with a trivial resource, the stage's Outputs and its ExpectedStores
parameter, and the run ledger table holding status_ledger.week(): no local runtime.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from report.page_parser import parse_page
from status_ledger import EXPECTED, REGION, STACK, TABLE, WEEK_STATES, put_items, week

from stepline.cli import main
from stepline.definition import PROJECT_ROOT, load_deployed_stack, load_template
from stepline.ops.target import AwsTarget

WEEK = ["--from", "2026-11-14", "--to", "2026-11-20"]
# moto creates the placeholder as a no-op (what it is on AWS) but warns that it does.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Tried to parse AWS..CloudFormation..WaitConditionHandle:UserWarning"
)


def stack_template() -> dict[str, Any]:
    """A stack with the stage's real Outputs (as resolved locally) and nothing deployed."""
    outputs = load_deployed_stack("dev").outputs
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        # template.yaml declares a CommaDelimitedList, which DescribeStacks returns as "a,b,c";
        # moto returns the Python list's repr instead, so the test declares the String AWS gives.
        "Parameters": {"ExpectedStores": {"Type": "String", "Default": ""}},
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's AWS with no stack yet (the credentials are moto's fakes, no profile)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def deployed(aws: Any) -> Any:
    """The dev stack deployed with ExpectedStores; its run ledger holds status_ledger.week()."""
    return deploy_stage(aws)


def deploy_stage(aws: Any) -> Any:
    assert (
        json.loads(json.dumps(stack_template()))["Outputs"]["RunLedgerTableName"]["Value"] == TABLE
    )
    aws.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(stack_template()),
        Parameters=[{"ParameterKey": "ExpectedStores", "ParameterValue": ",".join(EXPECTED)}],
    )
    table = load_template(PROJECT_ROOT / "template.yaml")["Resources"]["RunLedgerTable"]
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=table["Properties"]["KeySchema"],
        AttributeDefinitions=table["Properties"]["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    put_items(dynamodb, TABLE, week())
    return aws


def run(capsys, *args):
    code = main(["status", *args])
    return code, capsys.readouterr()


def test_aws_and_local_give_the_same_json_for_the_same_history(
    capsys, monkeypatch, week_environment, expected_stores
):
    """The same ledger on the deployed stage (moto) and locally: the same --json, byte for byte."""
    # Locally first: the local environment runs its own moto, which must not see the stage's.
    local_code, locally = run(capsys, "--local", str(week_environment), "--json", *WEEK)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        deploy_stage(boto3.Session(region_name=REGION))
        code, on_aws = run(capsys, "--aws", "--region", REGION, "--json", *WEEK)
    assert code == 1, on_aws.err
    answer = json.loads(on_aws.out)
    assert {d["date"]: d["publish"] for d in answer["dates"]} == WEEK_STATES
    assert answer["expected_stores"] == list(EXPECTED)
    assert local_code == code
    assert locally.out == on_aws.out


def test_one_ledger_query_per_date_and_nothing_else(capsys, deployed, monkeypatch):
    """On AWS the grid costs one DescribeStacks and one Query per date: nothing per cell."""
    calls: list[str] = []
    original = AwsTarget.client

    def counted(self: AwsTarget, service: str) -> Any:
        fresh = service not in self._clients
        client = original(self, service)
        if fresh:
            client.meta.events.register(
                "before-call", lambda model, **_: calls.append(f"{service}:{model.name}")
            )
        return client

    monkeypatch.setattr(AwsTarget, "client", counted)
    code, _ = run(capsys, "--region", REGION, *WEEK)
    assert code == 1
    assert calls == ["cloudformation:DescribeStacks"] + ["dynamodb:Query"] * 7


def test_the_text_names_the_stack_and_the_page_links_the_console(capsys, deployed, tmp_path):
    """--aws text says which stack it read; --html links cells to the console, no local reports."""
    page_path = tmp_path / "aws.html"
    code, out = run(capsys, "--aws", "--region", REGION, *WEEK, "--html", str(page_path))
    assert code == 1
    assert f"Run ledger: stack {STACK} in {REGION} (AWS)" in out.out
    page = parse_page(page_path.read_text())
    links = [a.attrs["href"] for a in page.find("a", "console")]
    assert links and all(h.startswith(f"https://{REGION}.console.aws.amazon.com/") for h in links)
    publish_arn = load_deployed_stack("dev").outputs["PublishStateMachineArn"]
    publish_executions = publish_arn.replace(":stateMachine:", ":execution:")
    assert any(publish_executions in href for href in links)
    assert page.find("a", "report") == []


def test_a_stage_that_is_not_deployed_is_one_line_exit_2(capsys, aws):
    """No stack: exit 2 and one line saying to deploy or check the region, no traceback."""
    code, out = run(capsys, "--aws", "--region", REGION, *WEEK)
    assert code == 2
    assert "does not exist; deploy it with sam deploy" in out.err
    assert len(out.err.strip().splitlines()) == 1 and "Traceback" not in out.err
