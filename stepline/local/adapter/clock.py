"""Virtual time: Wait, Retry back-off, timeouts and timelines on the run's clock.

moto sleeps in real time (Wait, Retry, the execution timeout as a thread
join) and stamps ``$$.State.EnteredTime`` from the wall clock in Python's
isoformat. In a Stepline run with ``virtual_time`` the clock jumps instead
(:meth:`RunHooks.sleep`), each frame (task attempt, Parallel branch, Map
iteration) keeps its own timeline from its parent's time, and a closing
frame moves its parent on to its own time. Every replacement here hands
calls that are not part of a Stepline run back to moto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, cast

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
    MaxAttemptsOutcome,
)
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
    RetrierOutcome,
)
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringJSONata,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning

from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, replace_with
from stepline.local.adapter.errors import query_evaluation_failure
from stepline.local.adapter.runs import (
    MapPlan,
    RunHooks,
    frame_of,
    iso_timestamp,
    link_frame,
    run_for_env,
)


def state_name_of(env: Environment) -> str:
    state: Mapping[str, Any] = env.states.context_object.context_object_data.get("State") or {}
    return str(state.get("Name", ""))


def sleep(run: RunHooks, env: Environment, seconds: float, kind: Any) -> None:
    """Let ``seconds`` pass for this frame: on the virtual clock, or really."""
    if seconds <= 0:
        return
    if not run.virtual_time:
        env.program_state_event.wait(seconds)
        return
    if run.sleep(frame_of(env), seconds, kind, state_name_of(env)):
        root = getattr(env.event_manager, "root_env", None)
        if root is not None:
            root.set_timed_out()


def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return original("virtual-wait")(self, env, wait_seconds)
    sleep(run, env, wait_seconds, "wait")
    return None


def _timestamp_wait_seconds(self: Timestamp, env: Environment) -> int:
    run = run_for_env(env)
    if run is None:
        return original("wait-timestamp-clock")(self, env)
    self.string.eval(env=env)
    timestamp_str = env.stack.pop()
    timestamp = self._from_timestamp_string(timestamp=timestamp_str)
    if timestamp is None:
        moto_failure = self._create_failure_event(env, timestamp_str)
        if isinstance(self.string, StringJSONata):
            # A JSONata Timestamp that is no timestamp is a query error on AWS.
            details = cast(
                Mapping[str, Any], next(iter((moto_failure.event_details or {}).values()), {})
            )
            cause = details.get("cause", "")
            raise query_evaluation_failure(env, str(cause), "Timestamp")
        raise FailureEventException(moto_failure)
    # The timestamp is UTC ("Z"); moto compared it with the machine's local time.
    delta = timestamp.replace(tzinfo=dt.UTC) - run.now(frame_of(env))
    return max(0, int(delta.total_seconds()))


def _retrier_eval_body(self: RetrierDecl, env: Environment) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return original("virtual-retry")(self, env)
    # Same steps as moto's RetrierDecl._eval_body, with the sleep made virtual.
    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return None
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return None
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    sleep(run, env, float(env.stack.pop()), "retry")
    env.stack.append(RetrierOutcome.Executed)
    return None


def _eval_state_input(self: CommonStateField, env: Environment) -> None:
    run = run_for_env(env)
    if run is not None:
        # CommonStateField._eval_body has just set $$.State from the machine clock
        # in Python's isoformat; AWS's EnteredTime is the StateEntered event's time.
        state = env.states.context_object.context_object_data.get("State")
        if state is not None:
            frame = frame_of(env)
            state["EnteredTime"] = iso_timestamp(frame.entered_at or run.now(frame))
    return original("virtual-entered-time")(self, env)


def _program_eval(self: Program, env: Environment) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return original("virtual-execution-timeout")(self, env)
    if not env.is_frame():
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        run.set_execution_timeout(timeout)
    # moto runs the program in a thread and joins it with the execution's
    # TimeoutSeconds in real time; here the deadline is enforced on the
    # virtual clock (RunHooks.sleep), so the program runs inline.
    state = env.program_state()
    if state is not None and not isinstance(state, ProgramRunning):
        # A branch or iteration opened after the execution timed out or stopped.
        return None
    env.next_state_name = self.start_at.start_at_name
    EvalComponent.eval(self, env)
    return None


def _as_inner_frame_of(
    cls: type[Environment],
    env: Environment,
    variable_store: Any,
    event_history_frame_cache: Any = None,
) -> Environment:
    frame = original("virtual-time-frames")(cls, env, variable_store, event_history_frame_cache)
    if run_for_env(env) is not None:
        # A frame (task attempt, Parallel branch, Map iteration) starts at its
        # parent's virtual time and keeps its own timeline from there.
        link_frame(frame, frame_of(env).inner())
    return frame


def _close_frame(self: Environment, frame: Environment) -> None:
    original("virtual-time-join")(self, frame)
    run = run_for_env(self)
    if run is not None:
        run.join_timelines(frame_of(self), frame_of(frame))


def _delete_frame(self: Environment, frame: Environment) -> None:
    original("virtual-time-discard")(self, frame)
    run = run_for_env(self)
    if run is not None:
        run.join_timelines(frame_of(self), frame_of(frame))


def _inline_iteration_eval_body(self: Any, env: Environment) -> None:
    run = run_for_env(env)
    if run is not None and run.virtual_time and env.stack:
        eval_input = env.stack[-1]
        items = len(getattr(eval_input, "input_items", []) or [])
        lanes = getattr(eval_input, "max_concurrency", 0) or items
        frame = frame_of(env)
        frame.map_plan = MapPlan(start=frame.skipped, lanes=max(1, lanes))
    return original("virtual-map-plan")(self, env)


def _iteration_eval_job(self: Any, env: Environment, job: Any) -> None:
    parent = getattr(self._env, "stepline_frame", None)
    plan: MapPlan | None = parent.map_plan if parent is not None else None
    if plan is None or run_for_env(env) is None:
        return original("virtual-map-lanes")(self, env, job)
    # Iteration i starts when iteration i - MaxConcurrency has ended (at the Map's
    # start for the first lanes), whichever worker thread happens to pick it up.
    frame = frame_of(env)
    frame.skipped = plan.ends.get(job.job_index - plan.lanes, plan.start)
    try:
        return original("virtual-map-lanes")(self, env, job)
    finally:
        plan.ends[job.job_index] = frame.skipped


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="virtual-wait",
        target=f"{_P}.asl.component.state.wait.wait_function.wait_function:"
        "WaitFunction._wait_interval",
        kind="gated",
        why="Wait states sleep in real time; in a virtual-time run they advance the run's clock.",
        canary="test_moto_wait_sleeps_in_real_time",
        source_sha256="8f954dee80372b4b",
        expected_parameters=("self", "env", "wait_seconds"),
        install=replace_with(_wait_interval),
    ),
    Adaptation(
        name="wait-timestamp-clock",
        target=f"{_P}.asl.component.state.wait.wait_function.timestamp:Timestamp._get_wait_seconds",
        kind="gated",
        why=(
            "Timestamp/TimestampPath waits subtract the machine's local naive time from a UTC "
            "timestamp; they are measured on the run's UTC clock instead. A JSONata Timestamp "
            "that is not a timestamp fails with States.QueryEvaluationError, as on AWS (moto: "
            "States.Runtime)."
        ),
        canary="test_moto_timestamp_wait_uses_local_naive_time",
        source_sha256="611d040940ad5f39",
        expected_parameters=("self", "env"),
        install=replace_with(_timestamp_wait_seconds),
    ),
    Adaptation(
        name="virtual-retry",
        target=f"{_P}.asl.component.common.retry.retrier_decl:RetrierDecl._eval_body",
        kind="gated",
        why=(
            "Retry back-off calls time.sleep; in a virtual-time run the computed delay "
            "(IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds, FULL jitter) advances "
            "the run's clock instead."
        ),
        canary="test_moto_retry_sleeps_in_real_time",
        source_sha256="48463fff19cefa98",
        expected_parameters=("self", "env"),
        install=replace_with(_retrier_eval_body),
    ),
    Adaptation(
        name="virtual-entered-time",
        target=f"{_P}.asl.component.state.state:CommonStateField._eval_state_input",
        kind="gated",
        why=(
            "$$.State.EnteredTime is set from datetime.now() in Python's isoformat, a second "
            "clock reading after the StateEntered event's; it is set to that event's timestamp, "
            "in AWS's format, just before the state reads its input."
        ),
        canary="test_moto_entered_time_is_a_second_wall_clock_reading",
        source_sha256="ec618072be7eb029",
        expected_parameters=("self", "env"),
        relies_on=(
            (f"{_P}.asl.component.state.state:CommonStateField._eval_body", "035f80caae1290dc"),
        ),
        install=replace_with(_eval_state_input),
    ),
    Adaptation(
        name="virtual-execution-timeout",
        target=f"{_P}.asl.component.program.program:Program.eval",
        kind="gated",
        why=(
            "The execution's TimeoutSeconds is a real-time thread join; in a virtual-time run "
            "the deadline is checked on the virtual clock (-> TIMED_OUT) and the program runs "
            "inline."
        ),
        canary="test_moto_execution_timeout_is_a_real_time_join",
        source_sha256="6d701880064a8970",
        expected_parameters=("self", "env"),
        relies_on=(
            (f"{_P}.asl.eval.environment:Environment.set_timed_out", "853b04bf9e6a7db4"),
        ),
        install=replace_with(_program_eval),
    ),
    Adaptation(
        name="virtual-time-frames",
        target=f"{_P}.asl.eval.environment:Environment.as_inner_frame_of",
        kind="gated",
        why=(
            "Every frame (task attempt, Parallel branch, Map iteration) gets its own virtual "
            "timeline starting at its parent's time, so concurrent branches that wait overlap "
            "instead of adding up."
        ),
        canary="test_moto_frames_share_no_timeline",
        source_sha256="eb77183cac4a4c77",
        expected_parameters=("cls", "env", "variable_store", "event_history_frame_cache"),
        relies_on=((f"{_P}.asl.eval.environment:Environment.as_frame_of", "cf031027fa976b6f"),),
        install=replace_with(classmethod(_as_inner_frame_of)),
    ),
    Adaptation(
        name="virtual-time-join",
        target=f"{_P}.asl.eval.environment:Environment.close_frame",
        kind="gated",
        why=(
            "When a frame closes, its parent's virtual time moves on to the frame's (a Parallel "
            "state ends with its slowest branch, a task with its .sync polling)."
        ),
        canary="test_moto_frames_share_no_timeline",
        source_sha256="c7ee3303501d962b",
        expected_parameters=("self", "frame"),
        install=replace_with(_close_frame),
    ),
    Adaptation(
        name="virtual-time-discard",
        target=f"{_P}.asl.eval.environment:Environment.delete_frame",
        kind="gated",
        why="As virtual-time-join, for frames moto discards instead of closing.",
        canary="test_moto_frames_share_no_timeline",
        source_sha256="69a75b1390535c3a",
        expected_parameters=("self", "frame"),
        install=replace_with(_delete_frame),
    ),
    Adaptation(
        name="virtual-map-plan",
        target=f"{_P}.asl.component.state.exec.state_map.iteration.inline_iteration_component:"
        "InlineIterationComponent._eval_body",
        kind="gated",
        why=(
            "Records where an inline Map starts on the virtual clock and its MaxConcurrency "
            "(0 = one lane per item), for virtual-map-lanes."
        ),
        canary="test_moto_map_iterations_run_on_worker_threads",
        source_sha256="1a65306eb3ca3961",
        expected_parameters=("self", "env"),
        install=replace_with(_inline_iteration_eval_body),
    ),
    Adaptation(
        name="virtual-map-lanes",
        target=f"{_P}.asl.component.state.exec.state_map.iteration.iteration_worker:"
        "IterationWorker._eval_job",
        kind="gated",
        why=(
            "Virtual waits take no real time, so one worker thread picks up every Map item and "
            "iterations would add up as if sequential; each iteration instead starts when the "
            "iteration MaxConcurrency places before it has ended."
        ),
        canary="test_moto_map_iterations_run_on_worker_threads",
        source_sha256="5f736d9451fe0d18",
        expected_parameters=("self", "env", "job"),
        install=replace_with(_iteration_eval_job),
    ),
)
