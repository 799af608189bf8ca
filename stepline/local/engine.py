"""Stepline's local Step Functions engine: run an ASL definition in-process, no Docker.

:func:`run_state_machine` executes a state machine definition with moto's
vendored Amazon States Language interpreter (adapted by
:mod:`stepline.local.adapter`, the only code that touches moto's internals)
and returns an :class:`ExecutionResult`
with the same status, output, error and event history that
``DescribeExecution``/``GetExecutionHistory`` would give.

Each Task invocation is answered, in this order, by

1. the MockConfigFile (``mock_config`` + ``test_case``), exactly as Step
   Functions Local does: responses indexed by the state's invocation count;
2. the ``task_handler`` (local mode): a function receiving a
   :class:`TaskInvocation` that returns the service response, raises
   :class:`TaskFailure`, or returns :data:`NOT_HANDLED`;
3. moto's in-process AWS backends (``sns:publish`` publishes to moto SNS,
   ``aws-sdk:s3:getObject`` reads moto S3, ...).

With ``virtual_time`` (the default) Wait states, Retry back-off and ``.sync``
polling advance a per-run virtual clock instead of sleeping; history
timestamps, ``$$.State.EnteredTime`` and JSONata's ``$now()`` follow that
clock, and the execution's ``TimeoutSeconds`` is enforced on it.

Runs share the process's moto backends: when the caller already has
``mock_aws`` active, tasks answered by moto read and write the caller's
backends (put objects in moto S3 first, read moto SNS afterwards); otherwise
each run opens its own ``mock_aws`` context, which moto resets when it closes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from stepline.errors import DefinitionError
from stepline.history import states_visited
from stepline.local.credentials import use_fake_credentials
from stepline.local.mocks import (
    MockConfig,
    MockConfigError,
    MockTestCase,
    MockThrow,
    parse_mock_config_cached,
)

if TYPE_CHECKING:
    from stepline.local.adapter import Frame, SteplineExecutionWorker, TaskAnswer, TaskSpec

__all__ = [
    "NOT_HANDLED",
    "DefinitionError",
    "ExecutionControl",
    "ExecutionResult",
    "ExecutionStatus",
    "TaskCall",
    "TaskFailure",
    "TaskInvocation",
    "VirtualWait",
    "run_state_machine",
]

ExecutionStatus = Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
Integration = Literal["request", "sync", "waitForTaskToken"]
WaitKind = Literal["wait", "retry", "sync-poll", "task"]

DEFAULT_STATE_MACHINE_NAME: Final[str] = "stepline-local"
DEFAULT_ROLE_ARN: Final[str] = "arn:aws:iam::123456789012:role/stepline-local"
LOCAL_ACCOUNT_ID: Final[str] = "123456789012"
_NAME_FORBIDDEN = frozenset(' <>{}[]?*"#%\\^|~`$&,;:/')


class _NotHandled:
    def __repr__(self) -> str:
        return "NOT_HANDLED"


NOT_HANDLED: Final = _NotHandled()
"""Returned by a task handler to let moto's own service backends answer the Task."""


class TaskFailure(Exception):
    """Raised by a task handler: the service call failed with this AWS error name.

    Use the name AWS would report so Retry/Catch match as in the cloud, e.g.
    ``TaskFailure("Glue.ConcurrentRunsExceededException", "...")`` or
    ``TaskFailure("States.TaskFailed", json.dumps(job_run))``.
    """

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


@dataclass
class TaskInvocation:
    """One invocation of a Task state, as offered to a task handler.

    ``parameters`` are the fully resolved Parameters/Arguments in the ASL's
    PascalCase; ``service`` is the boto3 client name (``emr`` for
    ``elasticmapreduce``, ``redshift-data`` for ``redshiftdata``);
    ``invocation_index`` counts this state's invocations in the execution
    from 0 (retries, loop re-entries and Map iterations all advance it);
    ``context`` is the ``$$`` context object.
    """

    state_name: str
    resource: str
    service: str
    action: str
    integration: Integration
    sdk: bool
    parameters: Any
    invocation_index: int
    retry_count: int
    context: dict[str, Any]
    virtual_seconds: float = 0.0

    def advance_clock(self, seconds: float) -> None:
        """Declare that this call took ``seconds`` of virtual time.

        In a virtual-time run the clock moves on by that much when the handler
        returns, and the state fails with ``States.Timeout`` if that exceeds
        its ``TimeoutSeconds``. Ignored when virtual time is off.
        """
        if seconds < 0:
            raise ValueError("A task cannot take negative time.")
        self.virtual_seconds += seconds


@dataclass
class TaskCall:
    """A Task invocation and what became of it."""

    invocation: TaskInvocation
    answered_by: Literal["mock", "handler", "moto", "endpoint"] = "moto"
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"] = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    exception: BaseException | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VirtualWait:
    """Time the virtual clock skipped: a Wait state, a retry delay, a .sync poll, a task."""

    state_name: str
    kind: WaitKind
    seconds: float
    at: str


@dataclass
class ExecutionResult:
    """The outcome of one local execution.

    ``history`` holds the events as GetExecutionHistory returns them (``id``,
    ``previousEventId``, ``type``, ``timestamp`` and the ``<type>EventDetails``
    field). All timestamps (events, ``start_date``, ``stop_date``) are ISO-8601
    strings in UTC with milliseconds, e.g. ``2026-11-21T06:03:00.123Z``.
    """

    status: ExecutionStatus
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    execution_arn: str
    start_date: str
    stop_date: str | None
    task_invocations: list[TaskCall]
    virtual_waits: list[VirtualWait]

    @property
    def states_visited(self) -> list[str]:
        """Names of the states entered, in order (Map/Parallel inner states included)."""
        return states_visited(self.history)

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.history if event["type"] == event_type]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for traces and reports)."""
        return {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "execution_arn": self.execution_arn,
            "start_date": self.start_date,
            "stop_date": self.stop_date,
            "states_visited": self.states_visited,
            "task_invocations": [
                {
                    "state_name": call.invocation.state_name,
                    "resource": call.invocation.resource,
                    "invocation_index": call.invocation.invocation_index,
                    "retry_count": call.invocation.retry_count,
                    "answered_by": call.answered_by,
                    "status": call.status,
                    "error": call.error,
                    "cause": call.cause,
                }
                for call in self.task_invocations
            ],
            "virtual_waits": [vars(wait) for wait in self.virtual_waits],
            "history": self.history,
        }


TaskHandler = Callable[[TaskInvocation], Any]


class ExecutionControl:
    """A handle on one running local execution, for another thread: ``StopExecution``.

    Pass one to :func:`run_state_machine`; :meth:`stop` ends the execution as
    ``ABORTED`` with the given error and cause (recorded in an
    ``ExecutionAborted`` event), as AWS does. The state being evaluated is not
    interrupted: the execution stops when it reaches the next state boundary,
    and no Catch runs. A stop requested before the run started applies when it
    starts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._stop: tuple[str | None, str | None] | None = None

    def stop(self, *, error: str | None = None, cause: str | None = None) -> None:
        with self._lock:
            self._stop = (error, cause)
            run = self._run
        if run is not None:
            run.stop(error=error, cause=cause)

    @property
    def stop_requested(self) -> bool:
        return self._stop is not None

    def _attach(self, run: _Run) -> None:
        with self._lock:
            self._run = run
            pending = self._stop
        if pending is not None:
            run.stop(error=pending[0], cause=pending[1])


def run_state_machine(
    definition: Mapping[str, Any] | str,
    input: Any = None,
    *,
    mock_config: Mapping[str, Any] | None = None,
    test_case: str | None = None,
    state_machine_name: str | None = None,
    task_handler: TaskHandler | None = None,
    virtual_time: bool = True,
    execution_name: str | None = None,
    timeout_seconds: float = 300,
    control: ExecutionControl | None = None,
    started_at: dt.datetime | None = None,
    state_machine_arn: str | None = None,
    execution_arn: str | None = None,
) -> ExecutionResult:
    """Run one execution of ``definition`` locally and return its result.

    ``mock_config`` is a parsed Step Functions Local MockConfigFile and
    ``test_case`` the test case whose mocked responses answer the Task states
    it lists; ``state_machine_name`` selects the entry under
    ``MockConfigFile.StateMachines`` (default: the file's only one) and names
    the state machine in ARNs. ``task_handler`` answers the other Tasks (see
    :class:`TaskInvocation`); what it passes on with :data:`NOT_HANDLED` goes
    to moto. ``virtual_time`` skips Wait, Retry and polling time instead of
    sleeping. ``timeout_seconds`` is a real-time guard: an execution still
    running after it is stopped and reported as ``ABORTED``. ``control`` lets
    another thread stop the execution (see :class:`ExecutionControl`);
    ``started_at`` sets the moment the execution starts on its (virtual) clock,
    default now, so a caller can run executions at a later time of day.
    ``state_machine_arn`` and ``execution_arn`` give the run the ARNs a deployed
    machine has (``$$.StateMachine.Id``, ``$$.Execution.Id``); by default they are
    made up from the names in a local account.

    Raises :class:`DefinitionError` or :class:`~stepline.local.mocks.MockConfigError`
    before running when the definition or the MockConfigFile cannot be used.
    """
    from stepline.local import adapter

    use_fake_credentials(replace_real=False)
    # moto is adapted for as long as a run goes on, and put back after the last one.
    with adapter.adapted():
        definition_text = definition if isinstance(definition, str) else json.dumps(definition)
        parsed_definition = json.loads(definition_text)
        _check_definition(parsed_definition, definition_text)

        mock_case = _select_test_case(parsed_definition, mock_config, test_case, state_machine_name)
        machine_name = state_machine_name or (
            mock_case.state_machine_name if mock_case else DEFAULT_STATE_MACHINE_NAME
        )
        name = execution_name or uuid.uuid4().hex
        _check_name(name, "execution_name")
        _check_name(machine_name, "state_machine_name")
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        if state_machine_arn is not None:
            machine_name = state_machine_arn.rsplit(":", 1)[-1]
            region = state_machine_arn.split(":")[3] or region
        states_arn = f"arn:aws:states:{region}:{LOCAL_ACCOUNT_ID}"
        machine_arn = state_machine_arn or f"{states_arn}:stateMachine:{machine_name}"
        execution_arn = execution_arn or f"{states_arn}:execution:{machine_name}:{name}"

        run = _Run(
            execution_arn=execution_arn,
            virtual_time=virtual_time,
            mock_case=mock_case,
            task_handler=task_handler,
            started_at=started_at,
        )
        if control is not None:
            control._attach(run)
        worker = _new_worker(
            run=run,
            definition_text=definition_text,
            execution_input=input if input is not None else {},
            execution_arn=execution_arn,
            execution_name=name,
            machine_arn=machine_arn,
            machine_name=machine_name,
            region=region,
        )
        adapter.register_run(execution_arn, run)
        try:
            with adapter.moto_backends():
                run.execute(worker, timeout_seconds)
        finally:
            adapter.unregister_run(execution_arn)
            adapter.prune_finished_threads()
        return run.result()


class _Run:
    """One execution's state on Stepline's side: clock, answers, records (RunHooks).

    Virtual time is real time plus the seconds a timeline has skipped. Each
    interpreter frame (task attempt, Parallel branch, Map iteration) has its own
    :class:`~stepline.local.adapter.Frame` whose ``skipped`` counter is inherited
    from its parent when it opens and folded back (maximum) when it closes, so
    branches waiting side by side overlap as they would in the cloud.
    """

    def __init__(
        self,
        *,
        execution_arn: str,
        virtual_time: bool,
        mock_case: MockTestCase | None,
        task_handler: TaskHandler | None,
        started_at: dt.datetime | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.virtual_time = virtual_time
        self._start_real = (started_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self._start_perf = time.perf_counter()
        self.start_date = self._start_real
        self._mock_case = mock_case
        self._task_handler = task_handler
        self._lock = threading.Lock()
        self._invocation_counts: Counter[str] = Counter()
        self._deadline: dt.datetime | None = None
        self._root: Frame | None = None
        self._worker: SteplineExecutionWorker | None = None
        self._pending_stop: tuple[str | None, str | None] | None = None
        self._thread_error: BaseException | None = None
        self._guard_expired = False
        self.task_calls: list[TaskCall] = []
        self.waits: list[VirtualWait] = []

    # ---- RunHooks --------------------------------------------------------------
    def now(self, frame: Frame | None = None) -> dt.datetime:
        timeline = frame if frame is not None else self._root
        skipped = timeline.skipped if timeline is not None else 0.0
        elapsed = time.perf_counter() - self._start_perf + skipped
        return self._start_real + dt.timedelta(seconds=elapsed)

    def attach_root(self, frame: Frame) -> None:
        with self._lock:
            self._root = frame
            pending, self._pending_stop = self._pending_stop, None
        if pending is not None:
            self.stop(error=pending[0], cause=pending[1])

    def stop(self, *, error: str | None, cause: str | None) -> None:
        """StopExecution: the run ends ABORTED at its next state boundary."""
        with self._lock:
            worker = self._worker
            if worker is None or worker.root_env is None:
                self._pending_stop = (error, cause)
                return
        worker.stop_running(stop_date=self.now(), error=error, cause=cause)

    def join_timelines(self, parent: Frame, child: Frame) -> None:
        with self._lock:
            parent.skipped = max(parent.skipped, child.skipped)

    def set_execution_timeout(self, seconds: float | None) -> None:
        self._deadline = (
            None if seconds is None else self.start_date + dt.timedelta(seconds=seconds)
        )

    def sleep(self, frame: Frame, seconds: float, kind: WaitKind, state_name: str) -> bool:
        from stepline.local.adapter import iso_timestamp

        with self._lock:
            start = self.now(frame)
            wake_up = start + dt.timedelta(seconds=seconds)
            timed_out = False
            if self._deadline is not None and wake_up > self._deadline:
                timed_out = True
                wake_up = self._deadline
            skip = max(0.0, (wake_up - start).total_seconds())
            frame.skipped += skip
            self.waits.append(
                VirtualWait(state_name=state_name, kind=kind, seconds=skip, at=iso_timestamp(start))
            )
            if timed_out and self._root is not None and frame is not self._root:
                # The execution's own clock reaches the deadline with this branch.
                self._root.skipped = max(self._root.skipped, frame.skipped)
        return timed_out

    def answer_task(self, spec: TaskSpec, parameters: Any, context: Any) -> TaskAnswer:
        from stepline.local.adapter import TaskAnswer

        with self._lock:
            index = self._invocation_counts[spec.state_name]
            self._invocation_counts[spec.state_name] += 1
        invocation = TaskInvocation(
            state_name=spec.state_name,
            resource=spec.resource,
            service=spec.service,
            action=spec.action,
            integration=spec.integration,
            sdk=spec.sdk,
            parameters=parameters,
            invocation_index=index,
            retry_count=int((context.get("State") or {}).get("RetryCount", 0)),
            context=context,
        )
        call = TaskCall(invocation=invocation)
        with self._lock:
            self.task_calls.append(call)

        if self._mock_case is not None and self._mock_case.mocks(spec.state_name):
            call.answered_by = "mock"
            try:
                response = self._mock_case.response_for(spec.state_name, index)
            except MockConfigError as missing:
                # Step Functions Local fails the execution; States.Runtime is never
                # caught by States.ALL, so a catch-all cannot hide the gap.
                return TaskAnswer(True, error="States.Runtime", cause=str(missing), record=call)
            if isinstance(response, MockThrow):
                return TaskAnswer(True, error=response.error, cause=response.cause, record=call)
            return TaskAnswer(True, result=response.response(), record=call)

        if self._task_handler is not None:
            try:
                returned = self._task_handler(invocation)
            except TaskFailure as failure:
                call.answered_by = "handler"
                return TaskAnswer(
                    True,
                    error=failure.error,
                    cause=failure.cause,
                    virtual_seconds=invocation.virtual_seconds,
                    record=call,
                )
            except Exception as crash:
                # Reported like an unhandled Lambda error: the exception's class is
                # the error name and the cause is Lambda's JSON error document.
                call.answered_by, call.exception = "handler", crash
                cause = json.dumps(
                    {
                        "errorMessage": str(crash),
                        "errorType": type(crash).__name__,
                        "stackTrace": traceback.format_exception(crash),
                    }
                )
                return TaskAnswer(True, error=type(crash).__name__, cause=cause, record=call)
            if returned is not NOT_HANDLED:
                call.answered_by = "handler"
                try:
                    result = json.loads(json.dumps(returned))
                except (TypeError, ValueError) as not_json:
                    return TaskAnswer(
                        True,
                        error="States.Runtime",
                        cause=f"The task handler returned a value that is not JSON: {not_json}",
                        record=call,
                    )
                return TaskAnswer(
                    True, result=result, virtual_seconds=invocation.virtual_seconds, record=call
                )

        call.answered_by = "moto"
        return TaskAnswer(False, record=call)

    def record_outcome(
        self, record: Any, *, result: Any = None, error: str | None = None, cause: str | None = None
    ) -> None:
        call: TaskCall = record
        if error is not None:
            call.status, call.error, call.cause = "FAILED", error, cause
        else:
            call.status, call.output = "SUCCEEDED", result

    # ---- driving the execution ---------------------------------------------------
    def execute(self, worker: SteplineExecutionWorker, timeout_seconds: float) -> None:
        self._worker = worker

        def evaluate() -> None:
            try:
                worker.run_to_completion()
            except BaseException as crash:  # surfaced to the caller by result()
                self._thread_error = crash

        thread = threading.Thread(
            target=evaluate, name=f"stepline-{self.execution_arn}", daemon=True
        )
        thread.start()
        thread.join(timeout_seconds)
        if thread.is_alive():
            self._guard_expired = True
            worker.stop_running(
                stop_date=self.now(),
                error="Stepline.LocalRunTimeout",
                cause=f"The local run did not finish within {timeout_seconds} real seconds.",
            )
            thread.join(5)

    def result(self) -> ExecutionResult:
        from stepline.local import adapter

        if self._thread_error is not None:
            raise RuntimeError(
                f"Stepline's local engine crashed while running {self.execution_arn}"
            ) from self._thread_error
        ended = adapter.outcome(self._worker) if self._worker is not None else None
        if ended is None:
            raise RuntimeError(f"The execution {self.execution_arn} never started.")
        history = ended.history
        status: ExecutionStatus
        error, cause = ended.error, ended.cause
        if ended.status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            status = ended.status  # type: ignore[assignment]  # checked just above
        else:
            status = "ABORTED"
            error = "Stepline.LocalRunTimeout" if self._guard_expired else "Stepline.Unfinished"
            cause = "The execution was still running when the local run ended."
        return ExecutionResult(
            status=status,
            output=ended.output,
            error=error,
            cause=cause,
            history=history,
            execution_arn=self.execution_arn,
            start_date=(
                history[0]["timestamp"] if history else adapter.iso_timestamp(self.start_date)
            ),
            stop_date=history[-1]["timestamp"] if history else None,
            task_invocations=list(self.task_calls),
            virtual_waits=list(self.waits),
        )


def _new_worker(
    *,
    run: _Run,
    definition_text: str,
    execution_input: Any,
    execution_arn: str,
    execution_name: str,
    machine_arn: str,
    machine_name: str,
    region: str,
) -> SteplineExecutionWorker:
    from stepline.local import adapter

    return adapter.new_worker(
        run=run,
        definition_text=definition_text,
        execution_input=execution_input,
        execution_arn=execution_arn,
        execution_name=execution_name,
        machine_arn=machine_arn,
        machine_name=machine_name,
        region=region,
        account=LOCAL_ACCOUNT_ID,
        role_arn=DEFAULT_ROLE_ARN,
    )


def _check_name(name: str, what: str) -> None:
    if not 1 <= len(name) <= 80 or any(char in _NAME_FORBIDDEN for char in name):
        raise ValueError(
            f"{what} {name!r} is not a valid Step Functions name "
            "(1-80 characters, no spaces, brackets, wildcards or / : # $ and similar)."
        )


def _check_definition(definition: Any, definition_text: str) -> None:
    """Fail before running on what moto would only discover mid-execution."""
    from stepline.local import adapter

    if not isinstance(definition, Mapping):
        raise DefinitionError("A state machine definition must be a JSON object.")
    _check_references(definition, "the state machine")
    problem = adapter.definition_problem(definition_text)
    if problem is not None:
        raise DefinitionError(f"Invalid state machine definition: {problem}")


def _check_references(scope: Mapping[str, Any], where: str) -> None:
    states = scope.get("States")
    if not isinstance(states, Mapping) or not states:
        raise DefinitionError(f"{where} has no States.")
    if scope.get("StartAt") not in states:
        raise DefinitionError(f"StartAt {scope.get('StartAt')!r} of {where} is not a state.")
    for name, state in states.items():
        if not isinstance(state, Mapping):
            raise DefinitionError(f"State {name!r} of {where} is not an object.")
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
        for target in targets:
            if target is not None and target not in states:
                raise DefinitionError(
                    f"State {name!r} of {where} goes to {target!r}, which is not a state there."
                )
        for index, branch in enumerate(state.get("Branches", [])):
            _check_references(branch, f"branch {index} of {name!r}")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            _check_references(processor, f"the item processor of {name!r}")


def _task_state_names(scope: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for name, state in scope.get("States", {}).items():
        if state.get("Type") == "Task":
            names.add(name)
        for branch in state.get("Branches", []):
            names |= _task_state_names(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            names |= _task_state_names(processor)
    return names


def _select_test_case(
    definition: Mapping[str, Any],
    mock_config: Mapping[str, Any] | None,
    test_case: str | None,
    state_machine_name: str | None,
) -> MockTestCase | None:
    if mock_config is None:
        if test_case is not None:
            raise MockConfigError(f"test_case={test_case!r} was given without a mock_config.")
        return None
    config: MockConfig = parse_mock_config_cached(mock_config)
    if test_case is None:
        return None
    case = config.test_case(state_machine_name or config.default_state_machine_name(), test_case)
    unknown = set(case.series_by_state) - _task_state_names(definition)
    if unknown:
        # A misspelt state would silently fall through to the real service.
        raise MockConfigError(
            f"Test case '{test_case}' mocks {sorted(unknown)}, which are not Task states of "
            "this state machine."
        )
    return case
