"""ExecutionView reads paths, retries and notifications from GetExecutionHistory-shaped events."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from stepline.testing import ExecutionView


def entered(name, kind="Task"):
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def exited(name, kind="Task"):
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


def scheduled(resource_type, params):
    return {
        "type": "TaskScheduled",
        "taskScheduledEventDetails": {
            "resourceType": resource_type,
            "resource": "publish",
            "parameters": json.dumps(params),
        },
    }


def outcome(ok):
    if ok:
        return {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "{}"}}
    return {"type": "TaskFailed", "taskFailedEventDetails": {"error": "SNS.X", "cause": "down"}}


def view(events, status="SUCCEEDED"):
    history = [{"type": "ExecutionStarted"}, *events, {"type": f"Execution{status.title()}"}]
    return ExecutionView(
        SimpleNamespace(status=status, output=None, error=None, cause=None, history=history)
    )


PUBLISH = {"TopicArn": "arn:t", "Subject": "s", "Message": json.dumps({"outcome": "SUCCEEDED"})}


def test_visited_lists_entered_states_in_order_with_repeats():
    """visited is the entered states in order, loop re-entries included."""
    run = view([entered("A"), exited("A"), entered("W", "Wait"), entered("W", "Wait")])
    assert run.visited == ["A", "W", "W"]
    run.assert_path("A", "W", "W")
    with pytest.raises(AssertionError, match="differs at step 1"):
        run.assert_path("A", "B", "W")


def test_retries_count_extra_schedules_within_entries():
    """Two schedules in one entry of a state is one retry; a re-entry is not a retry."""
    run = view(
        [
            entered("G"),
            scheduled("glue", {}),
            outcome(False),
            scheduled("glue", {}),
            outcome(True),
            exited("G"),
            entered("G"),
            scheduled("glue", {}),
            outcome(True),
        ]
    )
    assert run.retries("G") == 1


def test_notifications_decode_messages_and_record_delivery():
    """A publish that succeeded after a retry counts once as sent; a failed one as not sent."""
    run = view(
        [
            entered("Notify ok"),
            scheduled("sns", PUBLISH),
            outcome(False),
            scheduled("sns", PUBLISH),
            outcome(True),
            exited("Notify ok"),
            entered("Notify failed"),
            scheduled("sns", {**PUBLISH, "Subject": "f"}),
            outcome(False),
        ],
        status="FAILED",
    )
    notes = run.notifications
    assert [(n.state, n.subject, n.sent) for n in notes] == [
        ("Notify ok", "s", True),
        ("Notify failed", "f", False),
    ]
    assert notes[0].message == {"outcome": "SUCCEEDED"}
    assert [n.state for n in run.sent_notifications] == ["Notify ok"]


def test_assert_status_reports_error_and_cause():
    """assert_status fails with the execution's error and cause in the message."""
    run = ExecutionView(
        SimpleNamespace(status="FAILED", output=None, error="E", cause="why", history=[])
    )
    run.assert_status("FAILED", error="E")
    with pytest.raises(AssertionError, match="E: why"):
        run.assert_status("SUCCEEDED")
