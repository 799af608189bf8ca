"""The local Step Functions service: names, nested starts, status changes, hooks, stop."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from stepline.local.stepfunctions import (
    ExecutionAlreadyExists,
    LocalStepFunctions,
    StateMachineDoesNotExist,
)

ACCOUNT, REGION = "123456789012", "us-east-1"


def _arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


@dataclass(frozen=True)
class Machine:
    logical_id: str
    name: str
    type: str
    definition: dict[str, Any]

    @property
    def arn(self) -> str:
        return _arn(self.name)

    @property
    def mock_name(self) -> str:
        return self.logical_id

    @property
    def express(self) -> bool:
        return self.type == "EXPRESS"


@dataclass
class Stack:
    machines: dict[str, Machine] = field(default_factory=dict)
    account_id: str = ACCOUNT
    region: str = REGION

    def machine(self, name: str) -> Machine:
        for machine in self.machines.values():
            if name in (machine.logical_id, machine.name, machine.arn):
                return machine
        raise LookupError(name)


def _task(resource: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Arguments": arguments, **extra}


ECHO = {
    "QueryLanguage": "JSONata",
    "StartAt": "Echo",
    "States": {"Echo": {"Type": "Pass", "Output": "{% {'got': $states.input} %}", "End": True}},
}
WORK = {
    "QueryLanguage": "JSONata",
    "StartAt": "Work",
    "States": {
        "Work": _task(
            "arn:aws:states:::lambda:invoke",
            {"FunctionName": "f", "Payload": "{% $states.input %}"},
            Output="{% $states.result.Payload %}",
            End=True,
        )
    },
}
PARENT = {
    "QueryLanguage": "JSONata",
    "StartAt": "Run the child",
    "States": {
        "Run the child": _task(
            "arn:aws:states:::states:startExecution.sync:2",
            {"StateMachineArn": _arn("child"), "Input": "{% {'n': $states.input.n} %}"},
            Output="{% $states.result.Output %}",
            Next="Start another",
        ),
        "Start another": _task(
            "arn:aws:states:::states:startExecution",
            {"StateMachineArn": _arn("work"), "Name": "fixed-name", "Input": {"x": 1}},
            Output="{% $states.result %}",
            End=True,
        ),
    },
}


@pytest.fixture
def handled() -> list[str]:
    return []


@pytest.fixture
def service(handled: list[str]) -> LocalStepFunctions:
    stack = Stack(
        {
            m.logical_id: m
            for m in (
                Machine("Child", "child", "EXPRESS", ECHO),
                Machine("Work", "work", "STANDARD", WORK),
                Machine("Parent", "parent", "STANDARD", PARENT),
            )
        }
    )

    def handler(invocation: Any) -> Any:
        handled.append(invocation.state_name)
        return {"StatusCode": 200, "Payload": {"done": invocation.parameters["Payload"]}}

    return LocalStepFunctions(stack, task_handler=handler)  # type: ignore[arg-type]


def test_a_taken_name_is_refused_once_the_execution_closed(service) -> None:
    """StartExecution with the name of a closed execution raises ExecutionAlreadyExists."""
    first = service.start_execution("Work", {"a": 1}, name="n1").wait(30)
    assert first.status == "SUCCEEDED" and first.output == {"done": {"a": 1}}
    with pytest.raises(ExecutionAlreadyExists):
        service.start_execution("Work", {"a": 1}, name="n1")


def test_a_running_execution_with_the_same_input_is_returned_as_is(service) -> None:
    """Same name, same input, still running: AWS returns that execution (idempotent start)."""
    gate = service.hooks.pause("Work", "Work")
    first = service.start_execution("Work", {"a": 1}, name="n1")
    gate.wait_reached()
    assert service.start_execution("Work", {"a": 1}, name="n1") is first
    with pytest.raises(ExecutionAlreadyExists):
        service.start_execution("Work", {"a": 2}, name="n1")
    gate.release()
    service.wait_idle(30)
    assert len(service.executions("Work")) == 1


def test_express_names_are_not_reserved(service) -> None:
    """Two Express executions may share a name; both run."""
    service.run_to_end("Child", {"n": 1}, name="same")
    service.run_to_end("Child", {"n": 2}, name="same")
    assert [e.output for e in service.executions("Child")] == [{"got": {"n": 1}}, {"got": {"n": 2}}]


def test_nested_starts_return_the_integrations_shapes(service, handled) -> None:
    """.sync:2 returns the child's output as JSON; a request-response start returns its ARN."""
    parent = service.start_execution("Parent", {"n": 7}).wait(30)
    service.wait_idle(30)
    assert parent.status == "SUCCEEDED", parent.cause
    started = parent.output
    assert set(started) == {"ExecutionArn", "StartDate"}
    assert started["ExecutionArn"].endswith(":execution:work:fixed-name")
    [child] = service.executions("Child")
    assert child.input == {"n": 7} and child.parent == parent.arn
    [work] = service.executions("Work")
    assert work.name == "fixed-name" and work.status == "SUCCEEDED"
    assert handled == ["Work"]


def test_a_nested_start_of_a_taken_name_fails_with_the_aws_error(service) -> None:
    """A second start of 'fixed-name' fails as StepFunctions.ExecutionAlreadyExistsException."""
    service.start_execution("Parent", {"n": 1}).wait(30)
    service.wait_idle(30)
    second = service.start_execution("Parent", {"n": 2}).wait(30)
    assert second.status == "FAILED"
    assert second.error == "StepFunctions.ExecutionAlreadyExistsException"


def test_an_unknown_machine_is_reported(service) -> None:
    """Starting a machine the stack does not have raises StateMachineDoesNotExist."""
    with pytest.raises(StateMachineDoesNotExist):
        service.start_execution("Nope", {})


def test_standard_executions_send_status_change_events(service) -> None:
    """Each Standard execution's end is an aws.states event; Express executions send none."""
    import threading

    events: list[dict[str, Any]] = []
    both_ended = threading.Event()

    def record(execution: Any) -> None:
        events.append(execution.status_change_event(ACCOUNT, REGION))
        if len(events) >= 2:
            both_ended.set()

    # The child's event is sent by the child's own thread once it ends, which may be
    # after the service looks idle: wait for the event itself, not for idleness.
    service.on_status_change = record
    service.start_execution("Parent", {"n": 3}).wait(30)
    assert both_ended.wait(30), f"only these executions sent an event: {events}"
    service.wait_idle(30)
    machines = sorted(event["detail"]["stateMachineArn"] for event in events)
    assert machines == [_arn("parent"), _arn("work")]
    event = next(e for e in events if e["detail"]["stateMachineArn"] == _arn("parent"))
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["detail"]["status"] == "SUCCEEDED"
    assert json.loads(event["detail"]["input"]) == {"n": 3}


def test_a_failed_task_hook_fails_that_task_only(service) -> None:
    """hooks.fail makes the next invocation of the Task fail with the given error."""
    service.hooks.fail("Work", "Work", "Lambda.ServiceException", "down")
    failed = service.start_execution("Work", {}, name="a").wait(30)
    assert (failed.status, failed.error) == ("FAILED", "Lambda.ServiceException")
    assert service.start_execution("Work", {}, name="b").wait(30).status == "SUCCEEDED"


def test_stop_execution_aborts_at_the_next_state_boundary(service, handled) -> None:
    """A stopped execution ends ABORTED with the given error; an aborted gate skips the Task."""
    gate = service.hooks.pause("Work", "Work")
    execution = service.start_execution("Work", {}, name="to-stop")
    gate.wait_reached()
    service.stop_execution(execution.arn, error="Operator.Abort", cause="by hand")
    gate.abort()
    execution.wait(30)
    assert (execution.status, execution.error, execution.cause) == (
        "ABORTED",
        "Operator.Abort",
        "by hand",
    )
    assert handled == []
    assert execution.result.history[-1]["type"] == "ExecutionAborted"


def test_wait_for_returns_an_execution_once_it_ended(service) -> None:
    """wait_for blocks until the named execution has started and ended."""
    service.start_execution("Work", {"a": 1}, name="later")
    assert service.wait_for("later", timeout=30).status == "SUCCEEDED"


def test_the_clock_sets_when_executions_start(service) -> None:
    """advance() moves the start of every later execution (leases, deadlines)."""
    before = service.run_to_end("Child", {"n": 1})
    service.clock.advance(hours=5)
    after = service.run_to_end("Child", {"n": 2})
    from datetime import datetime

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    assert (when(after.start_date) - when(before.start_date)).total_seconds() >= 5 * 3600
