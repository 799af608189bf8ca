"""run_via_endpoint against a real Step Functions API server (moto's, in a subprocess)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from engine_helpers import machine

from stepline.local.endpoint import run_via_endpoint

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
CHOOSE = machine(
    ("Tag", {"Type": "Pass", "Result": {"source": "endpoint"}, "ResultPath": "$.tag"}),
    ("Big?", {"Type": "Choice", "Default": "Small",
              "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Pause"}]}),
    ("Pause", {"Type": "Wait", "Seconds": 0, "Next": "Done"}),
    ("Done", {"Type": "Succeed"}),
    ("Small", {"Type": "Fail", "Error": "Sales.TooSmall", "Cause": "n <= 10"}),
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server_url() -> Iterator[str]:
    """A moto server that executes state machines, for the length of this module."""
    if not MOTO_SERVER.exists():
        pytest.skip(f"moto_server is not installed next to {sys.executable}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{url}/moto-api/config", method="POST",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True},
                             "lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_runs_a_definition_and_reads_status_output_and_history(moto_server_url: str) -> None:
    """Create, start, poll and read the history: the same result shape as the local engine."""
    result = run_via_endpoint(CHOOSE, {"n": 11}, endpoint_url=moto_server_url,
                              name="endpoint-choose", poll_interval=0.05)
    assert result.status == "SUCCEEDED"
    assert result.output == {"n": 11, "tag": {"source": "endpoint"}}
    assert result.states_visited == ["Tag", "Big?", "Pause", "Done"]
    assert result.history[0]["type"] == "ExecutionStarted"
    assert result.history[-1]["type"] == "ExecutionSucceeded"
    assert all(isinstance(event["timestamp"], str) and event["timestamp"].endswith("Z")
               for event in result.history)
    assert result.execution_arn.startswith("arn:aws:states:")
    assert result.stop_date >= result.start_date


def test_failed_execution_reports_error_and_cause(moto_server_url: str) -> None:
    """A Fail state's error and cause come back from DescribeExecution."""
    result = run_via_endpoint(CHOOSE, {"n": 1}, endpoint_url=moto_server_url,
                              name="endpoint-choose", poll_interval=0.05)
    assert (result.status, result.error, result.cause) == ("FAILED", "Sales.TooSmall", "n <= 10")
    assert result.output is None


def test_existing_state_machine_is_updated(moto_server_url: str) -> None:
    """Running a changed definition under the same name updates the state machine."""
    first = machine(("Say", {"Type": "Pass", "Result": "first"}))
    second = machine(("Say", {"Type": "Pass", "Result": "second"}))
    run_via_endpoint(first, {}, endpoint_url=moto_server_url, name="endpoint-update")
    result = run_via_endpoint(second, {}, endpoint_url=moto_server_url, name="endpoint-update",
                              poll_interval=0.05)
    assert result.output == "second"


def test_task_invocations_are_rebuilt_from_the_history(moto_server_url: str) -> None:
    """Task calls (state, parameters, outcome) are recovered from TaskScheduled/TaskSucceeded."""
    sns = boto3.client("sns", endpoint_url=moto_server_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    topic = sns.create_topic(Name="endpoint-notes")["TopicArn"]
    definition = machine(("Notify", {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                                     "Parameters": {"TopicArn": topic, "Message": "hello"}}))
    result = run_via_endpoint(definition, {}, endpoint_url=moto_server_url, name="endpoint-sns",
                              poll_interval=0.05)
    assert result.status == "SUCCEEDED"
    (call,) = result.task_invocations
    assert (call.invocation.state_name, call.invocation.service, call.invocation.action) == (
        "Notify", "sns", "publish")
    assert call.invocation.parameters == {"TopicArn": topic, "Message": "hello"}
    assert call.status == "SUCCEEDED" and "MessageId" in call.output
    assert call.answered_by == "endpoint"


def test_test_case_is_selected_through_the_state_machine_arn() -> None:
    """With test_case, StartExecution targets '<arn>#<test case>' as Step Functions Local wants."""
    client = boto3.client("stepfunctions", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Sales"
    execution = "arn:aws:states:us-east-1:123456789012:execution:Sales:run"
    started = time.time()
    with Stubber(client) as stub:
        stub.add_response("list_state_machines", {"stateMachines": []})
        stub.add_response("create_state_machine",
                          {"stateMachineArn": arn, "creationDate": started})
        stub.add_response("start_execution", {"executionArn": execution, "startDate": started},
                          {"stateMachineArn": f"{arn}#HappyPath", "name": "run",
                           "input": "{}"})
        stub.add_response("describe_execution", _described(execution, arn, started))
        stub.add_response("get_execution_history", {"events": []})
        result = run_via_endpoint(machine(("P", {"Type": "Pass"})), {}, endpoint_url=None,
                                  name="Sales", test_case="HappyPath", execution_name="run",
                                  client=client)
        stub.assert_no_pending_responses()
    assert result.status == "SUCCEEDED" and result.output == {"ok": True}


def _described(execution: str, arn: str, started: float) -> dict[str, Any]:
    return {"executionArn": execution, "stateMachineArn": arn, "status": "SUCCEEDED",
            "startDate": started, "stopDate": started, "output": '{"ok": true}'}
