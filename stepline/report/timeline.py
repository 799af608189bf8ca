"""Turn a Step Functions execution history into a run timeline.

Stepline's local runtime and AWS itself (``GetExecutionHistory``) both describe
a run as a flat list of history events: ``TaskStateEntered``, ``TaskScheduled``,
``TaskFailed``, ``TaskStateExited``... This module folds that list into one
:class:`StateRun` per state *entry*, so a state entered several times (the
Redshift poll loop: Wait -> Check -> Choice -> Count) gives several numbered
runs, each with its timing, input/output, retries, errors and whether the error
was caught by a ``Catch``. The terminal trace (:mod:`stepline.report.text`) and
the HTML page (:mod:`stepline.report.html`) both render a :class:`Timeline`.

Everything here is a pure function of the events: no AWS client, no engine.
Events are read from the documented ``HistoryEvent`` shape only, so a history
fetched from AWS with boto3 renders the same way as a local one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from stepline.history import entered_state, event_details

__all__ = [
    "ExecutionStatus",
    "RunOutcome",
    "StateError",
    "StateRun",
    "Timeline",
    "build_timeline",
    "parse_timestamp",
]


class ExecutionStatus(StrEnum):
    """Overall status of an execution, as ``DescribeExecution`` spells it."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class RunOutcome(StrEnum):
    """How one entry into a state ended."""

    SUCCEEDED = "succeeded"
    """Left normally (possibly after retries)."""
    CAUGHT = "caught"
    """Its last attempt failed and a ``Catch`` sent the run elsewhere."""
    FAILED = "failed"
    """It failed the execution: an uncaught error, or a ``Fail`` state."""
    STOPPED = "stopped"
    """Never left and never failed: the execution was aborted, timed out or is still running."""


# Events that (re)start the work of a state: a second one inside the same
# state entry is a retry.
_ATTEMPT_EVENTS = frozenset(
    {
        "TaskScheduled",
        "ActivityScheduled",
        "LambdaFunctionScheduled",
        "ParallelStateStarted",
        "MapStateStarted",
    }
)

# Events that report an error raised while a state was running. Their details
# object carries ``error`` and ``cause``.
_FAILURE_EVENTS = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ParallelStateFailed",
        "MapStateFailed",
        "MapRunFailed",
        "EvaluationFailed",
    }
)

# Events that report a successful attempt: after one of them the state is no
# longer "failing", even if an earlier attempt failed.
_SUCCESS_EVENTS = frozenset(
    {
        "TaskSucceeded",
        "ActivitySucceeded",
        "LambdaFunctionSucceeded",
        "ParallelStateSucceeded",
        "MapStateSucceeded",
    }
)

_EXECUTION_END_EVENTS: dict[str, ExecutionStatus] = {
    "ExecutionSucceeded": ExecutionStatus.SUCCEEDED,
    "ExecutionFailed": ExecutionStatus.FAILED,
    "ExecutionTimedOut": ExecutionStatus.TIMED_OUT,
    "ExecutionAborted": ExecutionStatus.ABORTED,
}

_EXITED_SUFFIX = "StateExited"


@dataclass(frozen=True)
class StateError:
    """One error reported while a state ran, whether it was retried or not."""

    error: str | None
    cause: str | None
    event_type: str
    timestamp: datetime
    retried: bool = False
    """True when another attempt of the same state entry followed this error."""


@dataclass
class StateRun:
    """One entry into one state, from its ``*StateEntered`` event to its exit."""

    index: int
    """1-based position of this entry in the whole execution."""
    name: str
    state_type: str
    """``Task``, ``Choice``, ``Pass``, ``Wait``, ``Succeed``, ``Fail``, ``Map`` or ``Parallel``."""
    visit: int
    """1-based count of entries into this state so far (2 = second time round a loop)."""
    entered: datetime
    exited: datetime | None = None
    last_event_at: datetime | None = None
    input: Any = None
    output: Any = None
    resource: str | None = None
    resource_type: str | None = None
    attempts: int = 0
    """Number of times the state's work was started (TaskScheduled and the like)."""
    errors: list[StateError] = field(default_factory=list)
    parent_index: int | None = None
    """Index of the enclosing Map/Parallel run for states inside a branch or iteration."""
    outcome: RunOutcome = RunOutcome.STOPPED
    event_ids: list[int] = field(default_factory=list)

    @property
    def is_container(self) -> bool:
        """True for Map and Parallel runs, whose branches hold runs of their own."""
        return self.state_type in ("Map", "Parallel")

    @property
    def task_resource(self) -> str | None:
        """The integration called, as ``glue:startJobRun.sync`` or ``aws-sdk:s3:getObject``."""
        if self.resource is None:
            return None
        return f"{self.resource_type}:{self.resource}" if self.resource_type else self.resource

    @property
    def retries(self) -> int:
        """Attempts after the first one (0 when the state has no task work)."""
        return max(0, self.attempts - 1)

    @property
    def caught(self) -> bool:
        """True when the run ended in an error that a ``Catch`` handled."""
        return self.outcome is RunOutcome.CAUGHT

    @property
    def ended(self) -> datetime:
        """When the run was last seen: its exit, or its last event if it never exited."""
        return self.exited or self.last_event_at or self.entered

    @property
    def duration_seconds(self) -> float:
        """Seconds from entry to exit (or to the run's last event)."""
        return max(0.0, (self.ended - self.entered).total_seconds())

    @property
    def last_error(self) -> StateError | None:
        return self.errors[-1] if self.errors else None

    @property
    def label(self) -> str:
        """The state name, suffixed with the visit number from the second visit on."""
        return self.name if self.visit == 1 else f"{self.name} #{self.visit}"


@dataclass
class Timeline:
    """A whole execution: its state runs in entry order and its overall result."""

    status: ExecutionStatus
    started: datetime | None
    stopped: datetime | None
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    runs: list[StateRun] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)
    """Edges taken, in order: (from_state, to_state)."""

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to stop, or to the last event seen while still running."""
        if self.started is None:
            return None
        end = self.stopped or max((run.ended for run in self.runs), default=self.started)
        return max(0.0, (end - self.started).total_seconds())

    @property
    def total_retries(self) -> int:
        return sum(run.retries for run in self.runs)

    def runs_of(self, state_name: str) -> list[StateRun]:
        """Every run of one state, in entry order."""
        return [run for run in self.runs if run.name == state_name]

    def visit_counts(self) -> dict[str, int]:
        """How many times each visited state was entered."""
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.name] = counts.get(run.name, 0) + 1
        return counts

    def state_outcomes(self) -> dict[str, RunOutcome]:
        """The worst outcome of each visited state across its runs (failed > caught > ...)."""
        severity = [
            RunOutcome.SUCCEEDED,
            RunOutcome.STOPPED,
            RunOutcome.CAUGHT,
            RunOutcome.FAILED,
        ]
        outcomes: dict[str, RunOutcome] = {}
        for run in self.runs:
            current = outcomes.get(run.name)
            if current is None or severity.index(run.outcome) > severity.index(current):
                outcomes[run.name] = run.outcome
        return outcomes


def parse_timestamp(value: datetime | str | float | int) -> datetime:
    """Read an event timestamp: a ``datetime`` (boto3), an ISO-8601 string or epoch seconds.

    Naive values are taken as UTC, so histories from different sources compare.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise TypeError(f"Unsupported history timestamp {value!r} ({type(value).__name__})")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_json(value: Any) -> Any:
    """History inputs/outputs are JSON strings; keep anything unparsable as the raw string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one ``...EventDetails`` object of an event (empty when it has none)."""
    return event_details(event)


def _events_in_order(
    history: Iterable[Mapping[str, Any]] | Mapping[str, Any],
) -> list[Mapping[str, Any]]:
    # A raw GetExecutionHistory response is {"events": [...], "nextToken": ...}.
    events: list[Mapping[str, Any]] = list(
        history.get("events", []) if isinstance(history, Mapping) else history
    )
    # Histories fetched with reverseOrder=True come newest first; ids restore the order.
    if events and all(isinstance(event.get("id"), int) for event in events):
        events.sort(key=lambda event: event["id"])
    return events


class _TimelineBuilder:
    """Walks the events once, attributing each to the state run it belongs to."""

    def __init__(self) -> None:
        self.timeline = Timeline(status=ExecutionStatus.RUNNING, started=None, stopped=None)
        self.visits: dict[str, int] = {}
        # Which run each event id belongs to, so previousEventId can route
        # events of concurrent branches (Parallel/Map) to the right run.
        self.run_of_event: dict[int, StateRun] = {}
        # Runs entered and not yet exited, most recent last.
        self.open_runs: list[StateRun] = []
        self.last_exited: StateRun | None = None
        self.exit_event_ids: set[int] = set()

    def run_for(self, event: Mapping[str, Any]) -> StateRun | None:
        """The open run an event belongs to: by previousEventId, else the latest open run."""
        previous = event.get("previousEventId")
        run = self.run_of_event.get(previous) if isinstance(previous, int) else None
        if run is not None and run in self.open_runs:
            return run
        return self.open_runs[-1] if self.open_runs else None

    def remember(self, event: Mapping[str, Any], run: StateRun | None, at: datetime) -> None:
        if run is None:
            return
        event_id = event.get("id")
        if isinstance(event_id, int):
            self.run_of_event[event_id] = run
            run.event_ids.append(event_id)
        run.last_event_at = at

    def add(self, event: Mapping[str, Any]) -> None:
        event_type = str(event.get("type", ""))
        at = parse_timestamp(event["timestamp"])
        details = _details(event)

        if event_type == "ExecutionStarted":
            self.timeline.started = at
            self.timeline.input = _parse_json(details.get("input"))
        elif event_type in _EXECUTION_END_EVENTS:
            self.end_execution(event_type, details, at)
        elif (entered := entered_state(event)) is not None:
            # One run per state entry: the same definition of "states visited" as
            # ExecutionResult.states_visited and ExecutionView.visited.
            self.enter(event, entered[1], details, at)
        elif event_type.endswith(_EXITED_SUFFIX):
            self.exit(event, details, at)
        else:
            run = self.run_for(event)
            self.remember(event, run, at)
            if run is not None:
                self.record_activity(run, event_type, details, at)

    def enter(
        self, event: Mapping[str, Any], state_type: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        name = str(details.get("name", "?"))
        self.visits[name] = self.visits.get(name, 0) + 1
        previous = event.get("previousEventId")
        came_from = self.run_of_event.get(previous) if isinstance(previous, int) else None

        parent: StateRun | None = None
        predecessor: StateRun | None = None
        if came_from is not None and previous in self.exit_event_ids:
            predecessor = came_from
        elif came_from is not None and came_from in self.open_runs and came_from.is_container:
            # Entered from inside an open Map/Parallel (its Started / IterationStarted event).
            parent = came_from
        else:
            # No usable previousEventId: fall back to event order.
            enclosing = [run for run in self.open_runs if run.is_container]
            parent = enclosing[-1] if enclosing else None
            predecessor = self.last_exited
            if predecessor is not None and predecessor.parent_index != (
                parent.index if parent else None
            ):
                predecessor = None

        run = StateRun(
            index=len(self.timeline.runs) + 1,
            name=name,
            state_type=state_type,
            visit=self.visits[name],
            entered=at,
            input=_parse_json(details.get("input")),
            parent_index=parent.index
            if parent
            else (predecessor.parent_index if predecessor else None),
        )
        if predecessor is not None:
            self.timeline.transitions.append((predecessor.name, name))
        self.timeline.runs.append(run)
        self.open_runs.append(run)
        self.remember(event, run, at)

    def exit(self, event: Mapping[str, Any], details: Mapping[str, Any], at: datetime) -> None:
        name = details.get("name")
        run = self.run_for(event)
        if run is None or (name is not None and run.name != name):
            # Route by name when previousEventId does not lead to the run.
            candidates = [open_run for open_run in self.open_runs if open_run.name == name]
            run = candidates[-1] if candidates else run
        if run is None:
            return
        self.remember(event, run, at)
        event_id = event.get("id")
        if isinstance(event_id, int):
            self.exit_event_ids.add(event_id)
        run.exited = at
        run.output = _parse_json(details.get("output"))
        # Left with its last attempt failed: a Catch took it (a retry would have
        # started a new attempt instead of exiting).
        failing = (
            bool(run.errors)
            and not run.errors[-1].retried
            and run.outcome is not RunOutcome.SUCCEEDED
        )
        run.outcome = RunOutcome.CAUGHT if failing else RunOutcome.SUCCEEDED
        self.open_runs.remove(run)
        self.last_exited = run

    def record_activity(
        self, run: StateRun, event_type: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        if event_type in _ATTEMPT_EVENTS:
            run.attempts += 1
            if run.errors and not run.errors[-1].retried:
                # The failure before this new attempt was retried.
                last = run.errors[-1]
                run.errors[-1] = StateError(
                    error=last.error,
                    cause=last.cause,
                    event_type=last.event_type,
                    timestamp=last.timestamp,
                    retried=True,
                )
            run.outcome = RunOutcome.STOPPED
            if event_type == "TaskScheduled" or run.resource is None:
                run.resource = details.get("resource", run.resource)
                run.resource_type = details.get("resourceType", run.resource_type)
        elif event_type in _FAILURE_EVENTS:
            run.errors.append(
                StateError(
                    error=details.get("error"),
                    cause=details.get("cause"),
                    event_type=event_type,
                    timestamp=at,
                )
            )
            run.outcome = RunOutcome.STOPPED
        elif event_type in _SUCCESS_EVENTS:
            run.outcome = RunOutcome.SUCCEEDED

    def end_execution(self, event_type: str, details: Mapping[str, Any], at: datetime) -> None:
        timeline = self.timeline
        timeline.status = _EXECUTION_END_EVENTS[event_type]
        timeline.stopped = at
        timeline.error = details.get("error")
        timeline.cause = details.get("cause")
        if event_type == "ExecutionSucceeded":
            timeline.output = _parse_json(details.get("output"))
            return
        # Runs still open when the execution ends are where it ended: the
        # innermost one and the Map/Parallel runs around it.
        for run in self.open_runs:
            if event_type == "ExecutionFailed":
                run.outcome = RunOutcome.FAILED
            else:
                # Aborted or timed out mid-state: the state ran until the very end.
                run.outcome = RunOutcome.STOPPED
                run.last_event_at = at
        innermost = self.open_runs[-1] if self.open_runs else None
        if event_type == "ExecutionFailed" and innermost is not None and not innermost.errors:
            # A Fail state (or a Choice with no match) reports no error event of
            # its own: the execution's error is its error.
            innermost.errors.append(
                StateError(
                    error=timeline.error, cause=timeline.cause, event_type=event_type, timestamp=at
                )
            )
        self.open_runs.clear()


def build_timeline(history: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> Timeline:
    """Fold execution history events into a :class:`Timeline`.

    ``history`` is the ``events`` list of ``GetExecutionHistory`` (or the whole
    response). Event timestamps may be ``datetime`` objects or ISO-8601 strings.
    """
    builder = _TimelineBuilder()
    for event in _events_in_order(history):
        builder.add(event)
    return builder.timeline
