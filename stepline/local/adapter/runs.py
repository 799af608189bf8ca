"""The contract between moto's interpreter and a Stepline run, and how one is recognised.

:mod:`stepline.local.engine` implements :class:`RunHooks` (clock, answers,
records) and registers each run by execution ARN; the adapted interpreter
finds the run an environment belongs to with :func:`run_for_env`. Code that
receives no environment (jsonpath-ng's parse, moto's ``CustomErrorName``)
asks :func:`current_run`: the thread is claimed by the first adapted call
that found its run (moto starts a fresh thread for every task attempt,
branch and iteration, and never reuses one), so a thread no Stepline run
touched gets moto's own behaviour.

Stepline keeps what it knows about each interpreter frame in a :class:`Frame`
attached to moto's ``Environment``; only this package reads or writes
``Environment`` attributes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from stepline.local.engine import Integration, WaitKind


@dataclass
class MapPlan:
    """The virtual schedule of one inline Map: MaxConcurrency lanes from the Map's start."""

    start: float
    lanes: int
    ends: dict[int, float] = field(default_factory=dict)


@dataclass
class Frame:
    """Stepline's record of one interpreter frame (execution, branch, iteration, task attempt).

    ``skipped`` is the virtual seconds this frame's timeline has jumped;
    ``entered_event_id``/``entered_at`` are the id and time of the last
    ``*StateEntered`` event recorded in the frame (inherited by inner frames),
    which AWS's causes and ``$$.State.EnteredTime`` refer to;
    ``pending_assignments`` holds a state's ``Assign`` until the state exits.
    """

    skipped: float = 0.0
    entered_event_id: int | None = None
    entered_at: dt.datetime | None = None
    map_plan: MapPlan | None = None
    dispatched: bool = False
    pending_assignments: dict[str, Any] | None = None

    def inner(self) -> Frame:
        """A frame opened inside this one: same time, same state entry."""
        return Frame(
            skipped=self.skipped,
            entered_event_id=self.entered_event_id,
            entered_at=self.entered_at,
        )


@dataclass(frozen=True)
class TaskSpec:
    """What the interpreter knows about one Task invocation before it is answered."""

    state_name: str
    resource: str
    service: str
    action: str
    integration: Integration
    sdk: bool
    region: str
    timeout_seconds: float | None


@dataclass
class TaskAnswer:
    """A mock's or a local stand-in's answer to a Task invocation.

    ``answered`` is False when neither a mock nor the task handler took the
    invocation, and moto's own service backends must answer it.
    """

    answered: bool
    result: Any = None
    error: str | None = None
    cause: str | None = None
    virtual_seconds: float = 0.0
    record: Any = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class RunHooks(Protocol):
    """The interface a registered run offers to the adapted interpreter."""

    execution_arn: str
    virtual_time: bool
    start_date: dt.datetime

    def now(self, frame: Frame | None = None) -> dt.datetime: ...

    def sleep(self, frame: Frame, seconds: float, kind: WaitKind, state_name: str) -> bool:
        """Skip ``seconds`` on the frame's timeline; True when the execution deadline was hit."""
        ...

    def join_timelines(self, parent: Frame, child: Frame) -> None: ...

    def set_execution_timeout(self, seconds: float | None) -> None: ...

    def attach_root(self, frame: Frame) -> None: ...

    def answer_task(self, spec: TaskSpec, parameters: Any, context: Any) -> TaskAnswer: ...

    def record_outcome(
        self, record: Any, *, result: Any = None, error: str | None = None, cause: str | None = None
    ) -> None: ...


_RUNS: dict[str, RunHooks] = {}
_RUNS_LOCK = threading.Lock()
_THREAD = threading.local()


def register_run(execution_arn: str, run: RunHooks) -> None:
    """Route the execution with this ARN through Stepline's behaviour."""
    with _RUNS_LOCK:
        if execution_arn in _RUNS:
            raise RuntimeError(f"An execution named {execution_arn} is already running locally.")
        _RUNS[execution_arn] = run


def unregister_run(execution_arn: str) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(execution_arn, None)


def claim_thread(run: RunHooks) -> None:
    """Record that the calling thread evaluates part of ``run``."""
    _THREAD.run = run


@contextlib.contextmanager
def stepline_work() -> Iterator[None]:
    """Mark the calling thread as doing Stepline's work outside a run (parsing a definition)."""
    previous = getattr(_THREAD, "stepline_work", False)
    _THREAD.stepline_work = True
    try:
        yield
    finally:
        _THREAD.stepline_work = previous


def in_stepline_work() -> bool:
    """Whether the calling thread evaluates a Stepline run or does Stepline's own work."""
    return current_run() is not None or getattr(_THREAD, "stepline_work", False)


def current_run() -> RunHooks | None:
    """The Stepline run the calling thread works for, if it is still running."""
    run: RunHooks | None = getattr(_THREAD, "run", None)
    if run is None or _RUNS.get(run.execution_arn) is not run:
        return None
    return run


def run_for_env(env: Any) -> RunHooks | None:
    """The Stepline run an interpreter environment (or any of its frames) belongs to."""
    if not _RUNS:
        return None
    try:
        execution_arn = env.states.context_object.context_object_data["Execution"]["Id"]
    except (AttributeError, KeyError, TypeError):
        return None
    run = _RUNS.get(execution_arn)
    if run is not None:
        _THREAD.run = run
    return run


def frame_of(env: Any) -> Frame:
    """Stepline's record of an environment, created on first use."""
    frame: Frame | None = getattr(env, "stepline_frame", None)
    if frame is None:
        frame = Frame()
        env.stepline_frame = frame
    return frame


def frame_of_context(context: Any) -> Frame | None:
    """The frame whose EventHistoryContext this is (events carry only their context)."""
    return getattr(context, "stepline_frame", None)


def link_frame(env: Any, frame: Frame) -> None:
    env.stepline_frame = frame
    env.event_history_context.stepline_frame = frame


def iso_timestamp(moment: dt.datetime) -> str:
    """AWS's timestamp format: UTC, milliseconds, ``Z`` suffix."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
