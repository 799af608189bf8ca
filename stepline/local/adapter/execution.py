"""Starting, driving and reading one execution, without moto's Step Functions backend.

:func:`new_worker` builds a :class:`SteplineExecutionWorker` (moto's
execution worker on Stepline's parser and history recorder, linked to the
run); the engine runs :meth:`SteplineExecutionWorker.run_to_completion` in a
thread of its own and joins it, and :func:`outcome` reads the finished
program into plain values. No moto object crosses into the engine.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from moto.core.models import botocore_stubber
from moto.stepfunctions.parser import utils as moto_sfn_utils
from moto.stepfunctions.parser.api import StateMachineType
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.evaluation_details import (
    AWSExecutionDetails,
    EvaluationDetails,
    ExecutionDetails,
    StateMachineDetails,
)
from moto.stepfunctions.parser.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramStopped,
    ProgramTimedOut,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.backend.execution_worker_comm import (
    ExecutionWorkerCommunication,
)

from stepline.local.adapter import parsing
from stepline.local.adapter.core import MOTO_SFN, Adaptation, on_undo, original, replace_with
from stepline.local.adapter.history import ClockedEventManager
from stepline.local.adapter.runs import (
    Frame,
    RunHooks,
    in_stepline_work,
    iso_timestamp,
    link_frame,
    run_for_env,
)

if TYPE_CHECKING:
    import datetime as dt

    from moto.core.config import DefaultConfig

# moto's Docker-free Lambda backend "succeeds" for any function name by echoing
# the payload, which would hide an unanswered Lambda task; the default backend
# answers ResourceNotFoundException for functions nobody created in moto.
_MOTO_CONFIG: Final[DefaultConfig] = {"stepfunctions": {"execute_state_machine": True}}


class _Finished(ExecutionWorkerCommunication):
    # Completion is observed by joining the worker thread; nothing to reflect.
    def terminated(self) -> None:
        return None


class SteplineExecutionWorker(ExecutionWorker):
    """moto's execution worker on Stepline's parser, history recorder and run."""

    def __init__(self, run: RunHooks, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run = run
        self.root_env: Environment | None = None

    def _get_evaluation_entrypoint(self) -> EvalComponent:
        return parsing.parse(self._evaluation_details.state_machine_details.definition)

    def _get_evaluation_environment(self) -> Environment:
        env = super()._get_evaluation_environment()
        # Swapped before the first event (ExecutionStarted) is recorded.
        manager = ClockedEventManager(self._run)
        manager.root_env = env
        env.event_manager = manager
        root = Frame()
        link_frame(env, root)
        self.root_env = env
        self._run.attach_root(root)
        return env

    def run_to_completion(self) -> None:
        """Evaluate the whole program in the calling thread."""
        self._execution_logic()

    def stop_running(self, stop_date: dt.datetime, error: str | None, cause: str | None) -> None:
        """Stop the execution where it is (reported ABORTED)."""
        if self.root_env is not None:
            self.root_env.set_stop(stop_date=stop_date, error=error, cause=cause)


def new_worker(
    *,
    run: RunHooks,
    definition_text: str,
    execution_input: Any,
    execution_arn: str,
    execution_name: str,
    machine_arn: str,
    machine_name: str,
    region: str,
    account: str,
    role_arn: str,
) -> SteplineExecutionWorker:
    return SteplineExecutionWorker(
        run=run,
        evaluation_details=EvaluationDetails(
            aws_execution_details=AWSExecutionDetails(
                account=account, region=region, role_arn=role_arn
            ),
            execution_details=ExecutionDetails(
                arn=execution_arn,
                name=execution_name,
                role_arn=role_arn,
                inpt=json.loads(json.dumps(execution_input)),
                start_time=iso_timestamp(run.start_date),
            ),
            state_machine_details=StateMachineDetails(
                arn=machine_arn,
                name=machine_name,
                typ=StateMachineType.STANDARD,
                definition=definition_text,
            ),
        ),
        exec_comm=_Finished(),
        cloud_watch_logging_session=None,
        activity_store={},
    )


@dataclass(frozen=True)
class Outcome:
    """How a program ended: ``status`` is None while it had not ended."""

    status: str | None
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]


def outcome(worker: SteplineExecutionWorker) -> Outcome | None:
    """The finished (or stopped) execution as plain values; None if it never started."""
    env = worker.root_env
    if env is None:
        return None
    history = json.loads(json.dumps(env.event_manager.get_event_history()))
    state = env.program_state()
    if isinstance(state, ProgramEnded):
        return Outcome("SUCCEEDED", env.states.get_input(), None, None, history)
    if isinstance(state, ProgramError):
        error = state.error or {}
        return Outcome("FAILED", None, error.get("error"), error.get("cause"), history)
    if isinstance(state, ProgramTimedOut):
        cause = "The execution ran longer than the state machine's TimeoutSeconds."
        return Outcome("TIMED_OUT", None, "States.Timeout", cause, history)
    if isinstance(state, ProgramStopped):
        return Outcome("ABORTED", None, state.error, state.cause, history)
    return Outcome(None, None, None, None, history)


def definition_problem(definition_text: str) -> str | None:
    """Why moto's grammar (through Stepline's parser) refuses a definition; None if it parses."""
    try:
        parsing.parse(definition_text)
    except Exception as invalid:
        return repr(invalid)
    return None


def moto_is_mocking() -> bool:
    """Whether a ``mock_aws`` context is active (boto3 calls are intercepted in-process)."""
    return bool(botocore_stubber.enabled)


@contextlib.contextmanager
def moto_backends() -> Iterator[None]:
    """Join the caller's mock_aws context if one is active, else open one for this run."""
    from moto import mock_aws

    # A nested mock_aws keeps the caller's backends and configuration (moto only
    # resets on the outermost start) and keeps interception on until this run
    # ends, even if another run's context closes meanwhile.
    with mock_aws() if moto_is_mocking() else mock_aws(config=_MOTO_CONFIG):
        yield


def prune_finished_threads() -> None:
    """Drop finished threads from moto's TMP_THREADS list, which only ever grows."""
    moto_sfn_utils.TMP_THREADS[:] = [
        thread for thread in moto_sfn_utils.TMP_THREADS if thread.is_alive()
    ]


class _QuietInRuns(logging.Filter):
    """Drops moto's log records emitted by a Stepline run or Stepline's own parsing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not in_stepline_work()


def _quiet_moto_logging(adaptation: Adaptation) -> None:
    # Failures are often expected control flow in a workflow, so they stay out of
    # users' consoles, but only for Stepline runs: moto's own executions log as before.
    quiet = _QuietInRuns()
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith(MOTO_SFN) and isinstance(logger, logging.Logger):
            logger.addFilter(quiet)
            on_undo(functools.partial(logger.removeFilter, quiet))


_P = MOTO_SFN

def _set_error_unless_stopped(self: Environment, error: Any) -> None:
    # StopExecution is final on AWS: the execution is ABORTED whatever the Task that
    # was running does afterwards. moto let a later failure overwrite the stop.
    if run_for_env(self) is not None and isinstance(self.program_state(), ProgramStopped):
        return None
    original("stop-is-final")(self, error)
    return None


ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="stop-is-final",
        target=f"{MOTO_SFN}.asl.eval.environment:Environment.set_error",
        kind="gated",
        why=(
            "A stopped execution stays ABORTED on AWS; moto let the failure of the Task that "
            "was running when StopExecution came overwrite the stop with FAILED."
        ),
        canary="test_moto_a_failure_after_a_stop_overwrites_it",
        source_sha256="6447409d405612c0",
        expected_parameters=("self", "error"),
        install=replace_with(_set_error_unless_stopped),
    ),
    Adaptation(
        name="execution-worker-subclass",
        target=f"{_P}.backend.execution_worker:ExecutionWorker._get_evaluation_environment",
        kind="subclass",
        why=(
            "SteplineExecutionWorker runs an execution without moto's backend objects (no "
            "create_state_machine/deepcopy per run), on Stepline's parser, swaps in the clocked "
            "history recorder and links the root environment to the run; _execution_logic is "
            "called in Stepline's own thread so completion is joined, never polled."
        ),
        canary="test_moto_workers_run_executions_in_their_own_thread",
        source_sha256="ce8421b71dabea7d",
        expected_parameters=("self",),
        relies_on=(
            (f"{_P}.backend.execution_worker:ExecutionWorker.__init__", "104812d8266d5df3"),
            (f"{_P}.backend.execution_worker:ExecutionWorker._get_evaluation_entrypoint",
             "2b25949ae855da80"),
        ),
    ),
    Adaptation(
        name="execution-logic",
        target=f"{_P}.backend.execution_worker:ExecutionWorker._execution_logic",
        kind="subclass",
        why="Called directly by SteplineExecutionWorker.run_to_completion.",
        canary="test_moto_workers_run_executions_in_their_own_thread",
        source_sha256="baa3e2a48fd228d9",
        expected_parameters=("self",),
    ),
    Adaptation(
        name="mock-aws-detection",
        target="moto.core.models:botocore_stubber",
        kind="bypass",
        why=(
            "botocore_stubber.enabled tells whether the caller has mock_aws active, so a run "
            "joins the caller's moto backends instead of opening (and wiping) its own."
        ),
        canary="test_moto_mock_detection_flag_tracks_mock_aws",
        source_sha256=None,
        expected_parameters=None,
    ),
    Adaptation(
        name="quiet-run-logging",
        target=f"{_P}.asl.component.eval_component:EvalComponent._log_failure_event_exception",
        kind="gated",
        why=(
            "moto logs a failing state at ERROR level through every enclosing component, "
            "although in a workflow a failure is often expected control flow (a Catch on an "
            "enclosing Map or Parallel, a Fail state); a filter on moto's step-functions loggers "
            "drops the records emitted by a Stepline run's threads (and by Stepline's parser, "
            "which warns about every integration moto does not optimise)."
        ),
        canary="test_moto_logs_failed_states_at_error_level",
        source_sha256="7d7aa73b14eebc89",
        expected_parameters=("self", "failure_event_exception"),
        install=_quiet_moto_logging,
    ),
    Adaptation(
        name="tmp-threads-pruning",
        target=f"{_P}.utils:TMP_THREADS",
        kind="housekeeping",
        why=(
            "Every Task attempt, branch and iteration starts a thread that moto appends to "
            "utils.TMP_THREADS and never removes; Stepline prunes finished threads after each "
            "run so long test sessions do not grow without bound."
        ),
        canary="test_moto_keeps_every_finished_thread",
        source_sha256=None,
        expected_parameters=None,
    ),
)
