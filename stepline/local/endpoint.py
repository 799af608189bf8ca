"""Run a state machine on any server that speaks the Step Functions API.

:func:`run_via_endpoint` is the out-of-process twin of
:func:`stepline.local.run_state_machine`: it creates (or updates) the state
machine, starts one execution, waits for it, reads the whole history and
returns the same :class:`~stepline.local.engine.ExecutionResult`. It works
against Step Functions Local (``docker/stepfunctions-local/compose.yaml``,
port 8083, with a MockConfigFile selected through ``test_case``), moto's
server (``moto_server`` with ``{"stepfunctions": {"execute_state_machine":
true}}`` posted to ``/moto-api/config``) or AWS itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlparse

from stepline.local.engine import (
    DEFAULT_ROLE_ARN,
    DEFAULT_STATE_MACHINE_NAME,
    ExecutionResult,
    TaskCall,
    TaskInvocation,
)

__all__ = ["run_via_endpoint"]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal"})
_FINAL_TASK_EVENTS: dict[str, Literal["SUCCEEDED", "FAILED"]] = {
    "TaskSucceeded": "SUCCEEDED",
    "TaskFailed": "FAILED",
    "TaskTimedOut": "FAILED",
    "TaskStartFailed": "FAILED",
    "TaskSubmitFailed": "FAILED",
}


def run_via_endpoint(
    definition: Mapping[str, Any] | str,
    input: Any = None,
    *,
    endpoint_url: str | None,
    role_arn: str = DEFAULT_ROLE_ARN,
    name: str = DEFAULT_STATE_MACHINE_NAME,
    test_case: str | None = None,
    execution_name: str | None = None,
    poll_interval: float = 0.2,
    region: str | None = None,
    timeout: float = 300,
    client: Any = None,
) -> ExecutionResult:
    """Create/update state machine ``name``, run one execution, return its result.

    ``test_case`` starts the execution on ``<stateMachineArn>#<test_case>``,
    which is how Step Functions Local picks a test case of its
    MockConfigFile. ``endpoint_url=None`` means AWS itself. An execution
    still running after ``timeout`` seconds is stopped (``ABORTED``).
    ``client`` replaces the boto3 ``stepfunctions`` client (for tests).
    """
    sfn = client or _client(endpoint_url, region)
    definition_text = definition if isinstance(definition, str) else json.dumps(definition)
    machine_arn = _create_or_update(sfn, name, definition_text, role_arn)
    started = sfn.start_execution(
        stateMachineArn=f"{machine_arn}#{test_case}" if test_case else machine_arn,
        name=execution_name or uuid.uuid4().hex,
        input=json.dumps(input if input is not None else {}),
    )
    execution_arn = started["executionArn"]
    described = _wait_until_finished(sfn, execution_arn, poll_interval, timeout)
    history = _history(sfn, execution_arn)
    status = described["status"]
    return ExecutionResult(
        status=status,
        output=_output(described, history),
        error=described.get("error"),
        cause=described.get("cause"),
        history=history,
        execution_arn=execution_arn,
        start_date=_iso(described["startDate"]),
        stop_date=_iso(described["stopDate"]) if described.get("stopDate") else None,
        task_invocations=_task_calls(history),
        virtual_waits=[],
    )


def _client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3

    region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.session.Session(region_name=region)
    credentials: dict[str, str] = {}
    host = urlparse(endpoint_url).hostname if endpoint_url else None
    if host in _LOCAL_HOSTS and session.get_credentials() is None:
        # Local emulators accept any credentials but boto3 still wants some.
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return session.client("stepfunctions", endpoint_url=endpoint_url, **credentials)


def _create_or_update(sfn: Any, name: str, definition_text: str, role_arn: str) -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                sfn.update_state_machine(
                    stateMachineArn=machine["stateMachineArn"],
                    definition=definition_text,
                    roleArn=role_arn,
                )
                return str(machine["stateMachineArn"])
    created = sfn.create_state_machine(
        name=name, definition=definition_text, roleArn=role_arn, type="STANDARD"
    )
    return str(created["stateMachineArn"])


def _wait_until_finished(
    sfn: Any, execution_arn: str, poll_interval: float, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        if time.monotonic() >= deadline:
            sfn.stop_execution(
                executionArn=execution_arn,
                error="Stepline.LocalRunTimeout",
                cause=f"The execution did not finish within {timeout} seconds.",
            )
            return dict(sfn.describe_execution(executionArn=execution_arn))
        time.sleep(poll_interval)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, includeExecutionData=True):
        events.extend(page["events"])
    # Same representation as the in-process engine: plain JSON, ISO timestamps.
    return [
        {key: _iso(value) if key == "timestamp" else value for key, value in event.items()}
        for event in json.loads(json.dumps(events, default=_iso))
    ]


def _output(described: Mapping[str, Any], history: list[dict[str, Any]]) -> Any:
    """The execution output; moto's server returns string outputs without JSON quoting."""
    for text in (
        described.get("output"),
        *(event.get("executionSucceededEventDetails", {}).get("output") for event in history),
    ):
        if text:
            try:
                return json.loads(text)
            except ValueError:
                continue
    return described.get("output")


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return str(value)


def _task_calls(history: list[dict[str, Any]]) -> list[TaskCall]:
    """Rebuild the task invocations from the history (what the server tells us)."""
    calls: list[TaskCall] = []
    counts: dict[str, int] = {}
    state_name = ""
    open_call: TaskCall | None = None
    details: Mapping[str, Any]
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            state_name = event["stateEnteredEventDetails"]["name"]
        elif kind == "TaskScheduled":
            details = event["taskScheduledEventDetails"]
            index = counts.get(state_name, 0)
            counts[state_name] = index + 1
            resource = f"{details['resourceType']}:{details['resource']}"
            action, _, pattern = details["resource"].partition(".")
            open_call = TaskCall(
                invocation=TaskInvocation(
                    state_name=state_name,
                    resource=f"arn:aws:states:::{resource}",
                    service=details["resourceType"].split(":")[-1],
                    action=action,
                    integration="sync" if pattern.startswith("sync") else (pattern or "request"),
                    sdk=details["resourceType"].startswith("aws-sdk"),
                    parameters=json.loads(details.get("parameters") or "null"),
                    invocation_index=index,
                    retry_count=0,
                    context={},
                ),
                answered_by="endpoint",
            )
            calls.append(open_call)
        elif kind in _FINAL_TASK_EVENTS and open_call is not None:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            open_call.status = _FINAL_TASK_EVENTS[kind]
            if open_call.status == "SUCCEEDED":
                output = details.get("output")
                open_call.output = json.loads(output) if output else None
            else:
                open_call.error, open_call.cause = details.get("error"), details.get("cause")
            open_call = None
    return calls
