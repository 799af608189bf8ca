"""A local Step Functions service: every state machine of the stack, executions at once.

:func:`stepline.local.run_state_machine` runs one execution and returns. A
deployed pipeline is several machines that start each other
(``states:startExecution``, ``.sync:2``), overlap in time and react to each
other's status changes. :class:`LocalStepFunctions` is the service around the
engine that makes that work as on AWS:

* ``start_execution`` runs each execution in a thread of its own, so
  executions really overlap; a Standard execution name is unique for the
  machine (a name in use by a running execution with the same input returns
  that execution, as AWS's idempotent StartExecution does; otherwise
  :class:`ExecutionAlreadyExists`); Express names are not checked;
* a Task calling ``states:startExecution`` starts another local execution
  (request-response), or runs it to its end first (``.sync`` / ``.sync:2``,
  with AWS's output shapes);
* when a Standard execution ends, its "Step Functions Execution Status Change"
  event goes to ``on_status_change`` (the local EventBridge);
* :class:`TaskHooks` pause an execution when it reaches a Task, or fail that
  Task, so tests can force any interleaving without sleeping;
* a :class:`LocalClock` gives executions their start time, and can be moved
  on (a lease that expires, a deadline that passes).

Nothing here knows the pipeline: machines come from the stack
(:mod:`stepline.definition`) and every other Task goes to ``task_handler``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepline.local.engine import (
    NOT_HANDLED,
    ExecutionControl,
    ExecutionResult,
    TaskFailure,
    TaskInvocation,
    run_state_machine,
)

if TYPE_CHECKING:
    from stepline.definition import DeployedMachine, DeployedStack

#: Real seconds one local execution may run before it is stopped (a guard against a
#: hung task; virtual time makes Waits and retries free).
DEFAULT_GUARD_SECONDS = 3600.0


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _millis(iso: str | None) -> int | None:
    if iso is None:
        return None
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


class ExecutionAlreadyExists(Exception):
    """StartExecution with a name that is taken (closed, or running with another input)."""

    def __init__(self, arn: str) -> None:
        super().__init__(f"Execution Already Exists: '{arn}'")
        self.arn = arn


class StateMachineDoesNotExist(LookupError):
    """StartExecution named a state machine the stack does not deploy."""


class LocalClock:
    """Wall-clock time plus an offset that tests and commands can move forward."""

    def __init__(self) -> None:
        self._offset = dt.timedelta()
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, **delta: float) -> None:
        """Move every later execution's start on, e.g. ``advance(hours=4)``."""
        with self._lock:
            self._offset += dt.timedelta(**delta)


# --------------------------------------------------------------------------- hooks


class GateTimeout(RuntimeError):
    """A paused execution was never released (a test forgot to, or waited on the wrong gate)."""


@dataclass
class Gate:
    """Where one execution waits at a Task until the test lets it go.

    ``wait_reached()`` returns once an execution has arrived at the state (its
    Task has not been answered yet); ``release()`` lets it answer the Task as
    usual; ``abort()`` makes the Task fail instead (use it to stop the execution
    while it stands there, without the Task's side effect happening).
    """

    machine: str
    state: str
    execution: str | None = None
    # A bound on a hang, not a pause: the way to a gate can hold local Spark's
    # start and real Glue and EMR jobs, minutes on a busy 2-core machine.
    timeout: float = 600.0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    aborted: bool = False
    arrived: list[str] = field(default_factory=list)

    def wait_reached(self, timeout: float | None = None) -> str:
        """The name of the execution that reached the gate."""
        if not self.reached.wait(self.timeout if timeout is None else timeout):
            raise GateTimeout(f"no execution reached '{self.state}' of {self.machine}")
        return self.arrived[0]

    def release(self) -> None:
        self.released.set()

    def abort(self) -> None:
        self.aborted = True
        self.released.set()


@dataclass
class _Fault:
    machine: str
    state: str
    error: str
    cause: str
    times: int


class TaskHooks:
    """Pauses and injected faults, checked before each local Task is answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: list[Gate] = []
        self._faults: list[_Fault] = []

    def pause(self, machine: str, state: str, *, execution: str | None = None) -> Gate:
        """Stop the next execution of ``machine`` (mock name or physical name) at ``state``."""
        gate = Gate(machine=machine, state=state, execution=execution)
        with self._lock:
            self._gates.append(gate)
        return gate

    def fail(
        self,
        machine: str,
        state: str,
        error: str,
        cause: str = "injected by a test",
        *,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` invocations of that Task fail with ``error``."""
        with self._lock:
            self._faults.append(_Fault(machine, state, error, cause, times))

    def abort_all(self) -> None:
        """Let every paused execution go on, failing the Task it stands at."""
        with self._lock:
            gates = list(self._gates)
        for gate in gates:
            if not gate.released.is_set():
                gate.abort()

    def before_task(self, machine: DeployedMachine, invocation: TaskInvocation) -> None:
        names = (machine.mock_name, machine.name, machine.logical_id)
        execution = str(invocation.context.get("Execution", {}).get("Name", ""))
        with self._lock:
            fault = next(
                (
                    f
                    for f in self._faults
                    if f.machine in names and f.state == invocation.state_name and f.times > 0
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
            gate = next(
                (
                    g
                    for g in self._gates
                    if g.machine in names
                    and g.state == invocation.state_name
                    and g.execution in (None, execution)
                    and not g.arrived
                ),
                None,
            )
            if gate is not None:
                gate.arrived.append(execution)
        if gate is not None:
            gate.reached.set()
            if not gate.released.wait(gate.timeout):
                raise GateTimeout(
                    f"{execution} waited {gate.timeout} s at '{gate.state}' and was never released"
                )
            if gate.aborted:
                raise TaskFailure("Stepline.AbortedAtGate", "the test aborted the execution here")
        if fault is not None:
            raise TaskFailure(fault.error, fault.cause)


# ----------------------------------------------------------------------- executions


@dataclass
class LocalExecution:
    """One execution of the local service, running or ended (DescribeExecution's fields)."""

    arn: str
    name: str
    machine: DeployedMachine
    input: Any
    start_date: str
    status: str = "RUNNING"
    stop_date: str | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    parent: str | None = None
    result: ExecutionResult | None = field(default=None, repr=False)
    #: Real seconds this process spent running it (its dates are the service clock's,
    #: virtual by default); None until it ends, and for one adopted from a saved session.
    wall_seconds: float | None = field(default=None, repr=False)
    _control: ExecutionControl = field(default_factory=ExecutionControl, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    def wait(self, timeout: float | None = None) -> LocalExecution:
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.name} is still running after {timeout} s")
        return self

    def describe(self) -> dict[str, Any]:
        """The DescribeExecution response, with Input and Output as JSON text as AWS gives them."""
        described: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.machine.arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": json.dumps(self.input),
        }
        if self.stop_date is not None:
            described["stopDate"] = self.stop_date
        if self.status == "SUCCEEDED":
            described["output"] = json.dumps(self.output)
        if self.error is not None:
            described["error"] = self.error
        if self.cause is not None:
            described["cause"] = self.cause
        return described

    def status_change_event(self, account: str, region: str) -> dict[str, Any]:
        """The EventBridge event AWS sends when a Standard execution changes status."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": account,
            "time": (self.stop_date or self.start_date)[:19] + "Z",
            "region": region,
            "resources": [self.arn],
            "detail": {
                "executionArn": self.arn,
                "stateMachineArn": self.machine.arn,
                "name": self.name,
                "status": self.status,
                "startDate": _millis(self.start_date),
                "stopDate": _millis(self.stop_date),
                "input": json.dumps(self.input),
                "output": json.dumps(self.output) if self.status == "SUCCEEDED" else None,
                "error": self.error,
                "cause": self.cause,
            },
        }


StatusListener = Callable[[LocalExecution], None]


class LocalStepFunctions:
    """Every state machine of a stack, run locally, executions side by side.

    ``task_handler`` answers the Tasks the service does not answer itself
    (everything but ``states:*``); ``hooks`` may pause or fail Tasks;
    ``mock_config``/``test_case`` mock the Tasks a test case lists, for the
    machines whose MockConfigFile entry has that test case.
    """

    def __init__(
        self,
        stack: DeployedStack,
        *,
        task_handler: Callable[[TaskInvocation], Any] | None = None,
        hooks: TaskHooks | None = None,
        clock: LocalClock | None = None,
        virtual_time: bool = True,
        mock_config: Mapping[str, Any] | None = None,
        test_case: str | None = None,
        on_status_change: StatusListener | None = None,
        guard_seconds: float = DEFAULT_GUARD_SECONDS,
    ) -> None:
        self.stack = stack
        self.task_handler = task_handler
        self.hooks = hooks or TaskHooks()
        self.clock = clock or LocalClock()
        self.virtual_time = virtual_time
        self.mock_config = mock_config
        self.test_case = test_case
        self.on_status_change = on_status_change
        self.guard_seconds = guard_seconds
        self._lock = threading.Condition()
        self._executions: dict[str, LocalExecution] = {}
        self._threads: list[threading.Thread] = []

    # -- the API ------------------------------------------------------------------

    def start_execution(
        self, machine: str, input: Any = None, *, name: str | None = None, parent: str | None = None
    ) -> LocalExecution:
        """StartExecution: begin an execution in its own thread and return at once."""
        execution, created = self._register(machine, input, name, parent)
        if created:
            thread = threading.Thread(
                target=self._run, args=(execution,), name=f"stepline-{execution.name}", daemon=True
            )
            with self._lock:
                self._threads.append(thread)
            thread.start()
        return execution

    def run_to_end(
        self, machine: str, input: Any = None, *, name: str | None = None, parent: str | None = None
    ) -> LocalExecution:
        """StartSyncExecution, or a ``.sync`` start: run the execution in this thread."""
        execution, created = self._register(machine, input, name, parent)
        if created:
            self._run(execution)
        return execution.wait(self.guard_seconds)

    def stop_execution(
        self, execution: str, *, error: str | None = None, cause: str | None = None
    ) -> LocalExecution:
        """StopExecution: the execution ends ABORTED at its next state boundary."""
        found = self.get(execution)
        if found.running:
            found._control.stop(error=error, cause=cause)
        return found

    def get(self, execution: str) -> LocalExecution:
        """An execution by ARN, or by name when the name is unambiguous."""
        with self._lock:
            if execution in self._executions:
                return self._executions[execution]
            matches = [e for e in self._executions.values() if e.name == execution]
        if len(matches) != 1:
            raise KeyError(f"no single local execution named {execution}")
        return matches[0]

    def executions(self, machine: str | None = None) -> list[LocalExecution]:
        """Every execution, oldest first (optionally of one machine)."""
        with self._lock:
            found = list(self._executions.values())
        if machine is not None:
            arn = self.stack.machine(machine).arn
            found = [e for e in found if e.machine.arn == arn]
        return sorted(found, key=lambda e: e.start_date)

    def adopt(self, executions: Iterable[LocalExecution]) -> None:
        """Know executions of an earlier session (their names stay taken, as for 90 days on AWS)."""
        with self._lock:
            for execution in executions:
                execution._done.set()
                self._executions[execution.arn] = execution

    def wait_idle(self, timeout: float = DEFAULT_GUARD_SECONDS) -> None:
        """Return when no execution is running, including the ones running ones started."""
        self.wait_until(
            lambda executions: not any(e.running for e in executions),
            timeout=timeout,
            what="every execution to end",
        )

    def wait_for(self, name: str, timeout: float = DEFAULT_GUARD_SECONDS) -> LocalExecution:
        """The execution called ``name``, once it has started and ended."""
        self.wait_until(
            lambda executions: any(e.name == name and not e.running for e in executions),
            timeout=timeout,
            what=f"{name} to end",
        )
        return self.get(name)

    def wait_until(
        self,
        condition: Callable[[list[LocalExecution]], bool],
        *,
        timeout: float = DEFAULT_GUARD_SECONDS,
        what: str = "a condition on the executions",
    ) -> None:
        """Block until ``condition(all executions)`` holds (checked at every start and end)."""
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
        with self._lock:
            while not condition(list(self._executions.values())):
                left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
                if left <= 0:
                    running = [e.name for e in self._executions.values() if e.running]
                    raise TimeoutError(
                        f"waited {timeout} s for {what}; still running: {', '.join(running)}"
                    )
                self._lock.wait(min(left, 1.0))

    # -- Task handler: states:* here, the rest to the stand-ins ---------------------

    def handle_task(self, invocation: TaskInvocation) -> Any:
        machine = self._machine_of(invocation)
        if machine is not None:
            self.hooks.before_task(machine, invocation)
        if invocation.service == "stepfunctions" and invocation.action == "startExecution":
            return self._start_from_task(invocation)
        if self.task_handler is None:
            return NOT_HANDLED
        return self.task_handler(invocation)

    def _start_from_task(self, invocation: TaskInvocation) -> Any:
        params = invocation.parameters
        child_input = params.get("Input", {})
        if isinstance(child_input, str):
            child_input = json.loads(child_input)
        parent = str(invocation.context.get("Execution", {}).get("Id", "")) or None
        try:
            if invocation.integration == "request":
                started = self.start_execution(
                    params["StateMachineArn"], child_input, name=params.get("Name"), parent=parent
                )
                return {"ExecutionArn": started.arn, "StartDate": started.start_date}
            child = self.run_to_end(
                params["StateMachineArn"], child_input, name=params.get("Name"), parent=parent
            )
        except ExecutionAlreadyExists as exists:
            raise TaskFailure(
                "StepFunctions.ExecutionAlreadyExistsException",
                f"{exists} (Service: AWSStepFunctions; Status Code: 400; "
                "Error Code: ExecutionAlreadyExists)",
            ) from exists
        except StateMachineDoesNotExist as missing:
            raise TaskFailure(
                "StepFunctions.StateMachineDoesNotExistException", str(missing)
            ) from missing
        described = _pascal(child.describe())
        if invocation.resource.endswith(".sync:2"):
            # .sync:2 hands the child's input and output on as JSON, not text.
            described["Input"] = child.input
            described["Output"] = child.output
        if child.status != "SUCCEEDED":
            raise TaskFailure("States.TaskFailed", json.dumps(described))
        return described

    # -- internals ------------------------------------------------------------------

    def _machine_of(self, invocation: TaskInvocation) -> DeployedMachine | None:
        arn = str(invocation.context.get("StateMachine", {}).get("Id", ""))
        try:
            return self.stack.machine(arn)
        except LookupError:
            return None

    def _register(
        self, machine_ref: str, input: Any, name: str | None, parent: str | None
    ) -> tuple[LocalExecution, bool]:
        try:
            machine = self.stack.machine(machine_ref)
        except LookupError as missing:
            raise StateMachineDoesNotExist(str(missing)) from missing
        name = name or str(uuid.uuid4())
        arn = machine.arn.replace(
            ":stateMachine:", ":express:" if machine.express else ":execution:"
        )
        arn = f"{arn}:{name}"
        payload = json.loads(json.dumps(input if input is not None else {}))
        with self._lock:
            existing = self._executions.get(arn)
            if existing is not None:
                if not machine.express:
                    if existing.running and existing.input == payload:
                        return existing, False
                    raise ExecutionAlreadyExists(arn)
                arn = f"{arn}:{uuid.uuid4().hex[:8]}"
            execution = LocalExecution(
                arn=arn,
                name=name,
                machine=machine,
                input=payload,
                start_date=_iso(self.clock.now()),
                parent=parent,
            )
            self._executions[arn] = execution
            self._lock.notify_all()
        return execution, True

    def _run(self, execution: LocalExecution) -> None:
        machine = execution.machine
        case = self._test_case_for(machine)
        started = time.perf_counter()
        try:
            result = run_state_machine(
                machine.definition,
                execution.input,
                mock_config=self.mock_config if case else None,
                test_case=case,
                state_machine_name=machine.mock_name,
                state_machine_arn=machine.arn,
                task_handler=self.handle_task,
                virtual_time=self.virtual_time,
                execution_name=execution.name,
                execution_arn=execution.arn,
                timeout_seconds=self.guard_seconds,
                control=execution._control,
                started_at=dt.datetime.fromisoformat(execution.start_date.replace("Z", "+00:00")),
            )
        except Exception as crash:  # the engine itself failed: report it, never hang waiters
            execution.status, execution.error = "FAILED", "Stepline.LocalEngineError"
            execution.cause = f"{type(crash).__name__}: {crash}"
            execution.stop_date = _iso(self.clock.now())
        else:
            execution.result = result
            execution.status = result.status
            execution.output, execution.error, execution.cause = (
                result.output,
                result.error,
                result.cause,
            )
            execution.stop_date = result.stop_date or _iso(self.clock.now())
        finally:
            execution.wall_seconds = time.perf_counter() - started
            try:
                # Delivered before the execution counts as ended, so whatever the event
                # starts (recovery) is already running when a waiter wakes up.
                if not machine.express and self.on_status_change is not None:
                    self.on_status_change(execution)
            finally:
                execution._done.set()
                with self._lock:
                    self._lock.notify_all()

    def _test_case_for(self, machine: DeployedMachine) -> str | None:
        if self.mock_config is None or self.test_case is None:
            return None
        cases = (
            self.mock_config.get("StateMachines", {})
            .get(machine.mock_name, {})
            .get("TestCases", {})
        )
        return self.test_case if self.test_case in cases else None


def _pascal(described: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeExecution's keys as the Step Functions integration returns them (PascalCase)."""
    return {key[0].upper() + key[1:]: value for key, value in described.items()}


__all__ = [
    "ExecutionAlreadyExists",
    "Gate",
    "GateTimeout",
    "LocalClock",
    "LocalExecution",
    "LocalStepFunctions",
    "StateMachineDoesNotExist",
    "TaskHooks",
]
