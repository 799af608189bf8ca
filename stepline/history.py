"""Reading a Step Functions execution history: which states it entered, what it cost.

Works on the ``events`` of ``GetExecutionHistory`` as AWS returns them (or
as the local engine records them): the one definition of "states visited"
that :class:`~stepline.local.ExecutionResult`,
:class:`~stepline.testing.ExecutionView` and :mod:`stepline.report` share,
of the billed state transitions (:func:`state_transitions`, which
``stepline cost`` counts) and of the service requests its Tasks made
(:func:`task_requests`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TaskRequest",
    "entered_state",
    "event_details",
    "state_transitions",
    "states_visited",
    "task_requests",
]

_ENTERED_SUFFIX = "StateEntered"
#: The events that begin one attempt of a state that can be retried: a Task's call
#: (AWS integrations, the legacy Lambda resource, activities), a Map's or a
#: Parallel's run. The first follows the state's ``...StateEntered``; a retry follows
#: the failure it retries, without entering the state again.
_ATTEMPT_STARTS = frozenset(
    {
        "TaskScheduled",
        "LambdaFunctionScheduled",
        "ActivityScheduled",
        "MapStateStarted",
        "ParallelStateStarted",
    }
)
#: A redrive is billed as one transition, on top of every state it then re-runs.
_REDRIVEN = "ExecutionRedriven"
#: How a Task attempt ends, as its last event says.
_TASK_OUTCOMES = {
    "TaskSucceeded": "SUCCEEDED",
    "TaskFailed": "FAILED",
    "TaskTimedOut": "TIMED_OUT",
    "TaskStartFailed": "FAILED",
    "TaskSubmitFailed": "FAILED",
}


def event_details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one ``...EventDetails`` object of an event (empty when it has none)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def entered_state(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(state name, state type)`` when the event enters a state, else None."""
    event_type = str(event.get("type", ""))
    if not event_type.endswith(_ENTERED_SUFFIX):
        return None
    name = event_details(event).get("name")
    if name is None:
        return None
    return str(name), event_type.removesuffix(_ENTERED_SUFFIX)


def states_visited(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the states entered, in event order (repeats, Map/Parallel inner states too)."""
    events = _in_order(history)
    return [entered[0] for event in events if (entered := entered_state(event)) is not None]


def _in_order(history: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    events = list(history)
    if events and all(isinstance(event.get("id"), int) for event in events):
        # A history read with reverseOrder=True comes newest first; ids restore the order.
        events.sort(key=lambda event: event["id"])
    return events


def _predecessors(events: list[Mapping[str, Any]]) -> dict[int, Mapping[str, Any] | None]:
    """Each event's cause: the event its ``previousEventId`` names, else the one before it.

    AWS (and the local engine) always set ``previousEventId``, which keeps the
    branches of a Parallel or the iterations of a Map apart; the order of the
    list is the fallback for hand-written histories without ids.
    """
    by_id = {event["id"]: event for event in events if isinstance(event.get("id"), int)}
    found: dict[int, Mapping[str, Any] | None] = {}
    for position, event in enumerate(events):
        previous = event.get("previousEventId")
        if isinstance(previous, int) and previous in by_id:
            found[position] = by_id[previous]
        else:
            found[position] = events[position - 1] if position else None
    return found


def state_transitions(history: Iterable[Mapping[str, Any]]) -> int:
    """The state transitions AWS bills for this execution (Standard workflows).

    AWS counts "a state transition each time a step of your workflow is
    executed ... including retries" (https://aws.amazon.com/step-functions/pricing/),
    and a redrive counts as one more
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html).
    So: one per ``...StateEntered`` event, whatever the state's type (a Map or
    Parallel itself, every state of every iteration or branch, Choice, Pass,
    Wait, Succeed and Fail included), plus one per retry attempt (a Task's
    ``TaskScheduled``, or a Map's or Parallel's ``...StateStarted``, that
    follows a failure instead of the state's entry), plus one per
    ``ExecutionRedriven``. Starting and ending the execution are not steps.
    """
    events = _in_order(history)
    causes = _predecessors(events)
    count = 0
    for position, event in enumerate(events):
        event_type = str(event.get("type", ""))
        if event_type.endswith(_ENTERED_SUFFIX) or event_type == _REDRIVEN:
            count += 1
        elif event_type in _ATTEMPT_STARTS:
            cause = causes[position]
            if cause is not None and not str(cause.get("type", "")).endswith(_ENTERED_SUFFIX):
                count += 1
    return count


@dataclass(frozen=True)
class TaskRequest:
    """One call a Task made to a service (each attempt is one): what it called, how it ended.

    ``service`` and ``action`` are the history's ``resourceType`` and
    ``resource`` (``dynamodb``/``updateItem``, ``aws-sdk:s3``/``getObject``,
    ``glue``/``startJobRun.sync``); ``parameters`` are the call's resolved
    parameters (None when the history does not record them); ``outcome`` is
    ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``RUNNING`` (no end recorded).
    """

    service: str
    action: str
    parameters: Any
    outcome: str
    error: str | None = None

    @property
    def api(self) -> str:
        """The service's name without the ``aws-sdk:`` prefix (``dynamodb``, ``s3``)."""
        return self.service.removeprefix("aws-sdk:")

    @property
    def operation(self) -> str:
        """The API action without the integration pattern (``startJobRun``, ``getObject``)."""
        return self.action.split(".", 1)[0]


def task_requests(history: Iterable[Mapping[str, Any]]) -> list[TaskRequest]:
    """Every Task attempt of the execution, in order (a retried Task appears once per attempt)."""
    events = _in_order(history)
    causes = _predecessors(events)
    # Follow each attempt's chain (Scheduled -> Started -> Submitted -> Succeeded...)
    # through the events caused by it, which keeps interleaved branches apart.
    caused_by: dict[int, list[Mapping[str, Any]]] = {}
    for position, event in enumerate(events):
        cause = causes[position]
        if cause is not None and isinstance(cause.get("id"), int):
            caused_by.setdefault(cause["id"], []).append(event)
    requests = []
    for event in events:
        if event.get("type") != "TaskScheduled":
            continue
        details = event_details(event)
        outcome, error = "RUNNING", None
        current: Mapping[str, Any] | None = event
        while current is not None:
            step = next(
                (
                    e
                    for e in caused_by.get(current.get("id", -1), [])
                    if str(e.get("type", "")).startswith("Task")
                    and not str(e.get("type", "")).startswith("TaskState")
                ),
                None,
            )
            if step is None:
                break
            if step["type"] in _TASK_OUTCOMES:
                outcome = _TASK_OUTCOMES[step["type"]]
                error = event_details(step).get("error") if outcome != "SUCCEEDED" else None
                break
            current = step
        parameters: Any = details.get("parameters")
        if isinstance(parameters, str):
            with contextlib.suppress(ValueError):  # a history may hold non-JSON text
                parameters = json.loads(parameters)
        requests.append(
            TaskRequest(
                service=str(details.get("resourceType", "")),
                action=str(details.get("resource", "")),
                parameters=parameters,
                outcome=outcome,
                error=error,
            )
        )
    return requests
