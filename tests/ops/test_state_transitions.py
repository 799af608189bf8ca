"""stepline.history.state_transitions and task_requests on hand-built AWS histories.

Each history is written out event by event, as GetExecutionHistory returns
it (ids, previousEventId, one ...EventDetails), so the counts can be checked
by reading them: AWS bills one transition per state entered and one per
retry (https://aws.amazon.com/step-functions/pricing/).
"""

from __future__ import annotations

from typing import Any

from stepline.history import state_transitions, task_requests


class History:
    """Appends events with ids, chaining each to the one named (default: the last)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, previous: int | None = None, **details: Any) -> int:
        event_id = len(self.events) + 1
        event: dict[str, Any] = {
            "id": event_id,
            "previousEventId": event_id - 1 if previous is None else previous,
            "type": event_type,
            "timestamp": f"2026-11-21T06:00:{event_id:02d}.000Z",
        }
        if details:
            key = event_type[0].lower() + event_type[1:]
            for suffix in ("Entered", "Exited"):
                if event_type.endswith("State" + suffix):
                    key = "state" + suffix
            event[f"{key}EventDetails"] = details
        self.events.append(event)
        return event_id

    def task_attempt(self, failing: str | None = None, previous: int | None = None) -> int:
        scheduled = self.add(
            "TaskScheduled",
            previous,
            resourceType="dynamodb",
            resource="updateItem",
            parameters='{"TableName": "ledger"}',
        )
        started = self.add("TaskStarted", scheduled, resourceType="dynamodb", resource="updateItem")
        if failing:
            return self.add("TaskFailed", started, error=failing, cause="throttled")
        return self.add("TaskSucceeded", started, output="{}")


def linear_with_a_retry() -> list[dict[str, Any]]:
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    history.add("PassStateEntered", name="Read")
    history.add("PassStateExited", name="Read")
    history.add("TaskStateEntered", name="Record")
    failed = history.task_attempt(failing="DynamoDB.ThrottlingException")
    history.task_attempt(previous=failed)  # the retry: no second TaskStateEntered
    history.add("TaskStateExited", name="Record")
    history.add("SucceedStateEntered", name="Done")
    history.add("SucceedStateExited", name="Done")
    history.add("ExecutionSucceeded", output="{}")
    return history.events


def test_each_state_entered_counts_once_and_a_retry_counts_again() -> None:
    """Pass + Task + Succeed entered (3) and one retry of the Task (1): 4 transitions."""
    assert state_transitions(linear_with_a_retry()) == 4


def test_the_order_of_the_events_does_not_matter() -> None:
    """A history read with reverseOrder=True counts the same as one read oldest first."""
    assert state_transitions(list(reversed(linear_with_a_retry()))) == 4


def test_task_requests_lists_every_attempt_with_its_outcome() -> None:
    """The retried Task made two calls: the throttled one and the one that succeeded."""
    requests = task_requests(linear_with_a_retry())
    assert [(r.api, r.operation, r.outcome, r.error) for r in requests] == [
        ("dynamodb", "updateItem", "FAILED", "DynamoDB.ThrottlingException"),
        ("dynamodb", "updateItem", "SUCCEEDED", None),
    ]
    assert requests[0].parameters == {"TableName": "ledger"}


def test_a_map_counts_itself_and_every_state_of_every_iteration() -> None:
    """A Map of 3 iterations of a 2-state processor: 1 + 3 x 2 = 7 transitions."""
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    entered = history.add("MapStateEntered", name="Each store")
    started = history.add("MapStateStarted", entered, length=3)
    last = started
    for index in range(3):
        iteration = history.add("MapIterationStarted", last, name="Each store", index=index)
        history.add("PassStateEntered", iteration, name="Shape")
        history.add("PassStateExited", name="Shape")
        history.add("SucceedStateEntered", name="Shaped")
        history.add("SucceedStateExited", name="Shaped")
        last = history.add("MapIterationSucceeded", name="Each store", index=index)
    history.add("MapStateSucceeded", last)
    history.add("MapStateExited", name="Each store")
    history.add("ExecutionSucceeded", output="[]")
    assert state_transitions(history.events) == 7


def test_a_retried_map_counts_its_second_run() -> None:
    """A Map whose run fails once and is retried: its entry, its retry, 1 + 1 inner state."""
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    entered = history.add("MapStateEntered", name="Each store")
    history.add("MapStateStarted", entered, length=0)
    failed = history.add("MapStateFailed", error="States.ItemReaderFailed")
    started = history.add("MapStateStarted", failed, length=1)  # the retry
    iteration = history.add("MapIterationStarted", started, name="Each store", index=0)
    history.add("PassStateEntered", iteration, name="Shape")
    history.add("PassStateExited", name="Shape")
    done = history.add("MapIterationSucceeded", name="Each store", index=0)
    history.add("MapStateSucceeded", done)
    history.add("MapStateExited", name="Each store")
    history.add("ExecutionSucceeded", output="[]")
    assert state_transitions(history.events) == 3


def test_a_parallel_counts_its_branches_and_a_retry_inside_one_of_them() -> None:
    """Parallel (1) + a Task in each branch (2) + a retry in one branch (1): 4 transitions.

    The branches' events interleave, so only previousEventId says which failure
    a TaskScheduled retries.
    """
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    entered = history.add("ParallelStateEntered", name="Both")
    started = history.add("ParallelStateStarted", entered)
    left = history.add("TaskStateEntered", started, name="Left")
    right = history.add("TaskStateEntered", started, name="Right")
    left_failed = history.task_attempt(failing="DynamoDB.ThrottlingException", previous=left)
    right_done = history.task_attempt(previous=right)
    left_done = history.task_attempt(previous=left_failed)  # the retry of Left
    history.add("TaskStateExited", right_done, name="Right")
    history.add("TaskStateExited", left_done, name="Left")
    history.add("ParallelStateSucceeded")
    history.add("ParallelStateExited", name="Both")
    history.add("ExecutionSucceeded", output="[]")
    assert state_transitions(history.events) == 4
    assert [r.outcome for r in task_requests(history.events)] == [
        "FAILED",
        "SUCCEEDED",
        "SUCCEEDED",
    ]


def test_a_redrive_counts_one_more_transition_and_the_states_it_reruns() -> None:
    """A failed Task redriven: the Task entered twice (2) and the redrive itself (1): 3."""
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    entered = history.add("TaskStateEntered", name="Record")
    history.task_attempt(failing="States.TaskFailed", previous=entered)
    history.add("ExecutionFailed", error="States.TaskFailed")
    redriven = history.add("ExecutionRedriven", redriveCount=1)
    again = history.add("TaskStateEntered", redriven, name="Record")
    history.task_attempt(previous=again)
    history.add("TaskStateExited", name="Record")
    history.add("ExecutionSucceeded", output="{}")
    assert state_transitions(history.events) == 3


def test_an_execution_that_entered_no_state_has_no_transitions() -> None:
    """Starting and ending an execution are not steps of the workflow."""
    history = History()
    history.add("ExecutionStarted", 0, input="{}")
    history.add("ExecutionAborted", error="Stopped")
    assert state_transitions(history.events) == 0
