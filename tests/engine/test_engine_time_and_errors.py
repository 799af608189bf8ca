"""Virtual time, Retry/Catch and the error names AWS uses, on the local engine."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from engine_helpers import LAMBDA_INVOKE, machine, parse_ts, seconds_between

from stepline.local import TaskFailure, TaskInvocation, run_state_machine


def failing(error: str, cause: str = "boom") -> Any:
    def handler(invocation: TaskInvocation) -> Any:
        raise TaskFailure(error, cause)

    return handler


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA_INVOKE,
            "Parameters": {"FunctionName": "f", "Payload.$": "$"}, **fields}


def entered_and_exited(result: Any, state_type: str) -> tuple[str, str]:
    entered = result.events_of(f"{state_type}StateEntered")[0]["timestamp"]
    exited = result.events_of(f"{state_type}StateExited")[0]["timestamp"]
    return entered, exited


# ---- virtual time --------------------------------------------------------------------------


def test_wait_seconds_advances_the_virtual_clock_not_real_time() -> None:
    """A one-hour Wait moves the history's timestamps by an hour and is recorded as skipped."""
    result = run_state_machine(machine(("Nap", {"Type": "Wait", "Seconds": 3600})), {})
    entered, exited = entered_and_exited(result, "Wait")
    assert 3600 <= seconds_between(entered, exited) < 3601
    assert [(w.state_name, w.kind, w.seconds) for w in result.virtual_waits] == [
        ("Nap", "wait", 3600.0)]


def test_wait_seconds_path() -> None:
    """SecondsPath reads the wait from the input."""
    result = run_state_machine(machine(("Nap", {"Type": "Wait", "SecondsPath": "$.s"})),
                               {"s": 90})
    assert [w.seconds for w in result.virtual_waits] == [90.0]


def test_wait_timestamp_is_measured_on_the_utc_clock() -> None:
    """A Timestamp two hours ahead waits two hours; one in the past does not wait."""
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_state_machine(machine(("Until", {"Type": "Wait", "TimestampPath": "$.at"})),
                               {"at": future})
    entered, exited = entered_and_exited(result, "Wait")
    assert 7190 < seconds_between(entered, exited) <= 7200
    past = run_state_machine(machine(("Until", {"Type": "Wait",
                                                "Timestamp": "2020-01-01T00:00:00Z"})), {})
    assert past.status == "SUCCEEDED" and past.virtual_waits == []


def test_durations_computed_in_jsonata_include_virtual_waits() -> None:
    """$$.State.EnteredTime - $$.Execution.StartTime counts the virtual wait (in AWS format)."""
    definition = machine(
        ("Wait for the load", {"Type": "Wait", "Seconds": 15}),
        ("Report", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": (
            "{% {'duration': $round(($toMillis($states.context.State.EnteredTime) - "
            "$toMillis($states.context.Execution.StartTime)) / 1000),"
            " 'entered': $states.context.State.EnteredTime} %}")}),
    )
    result = run_state_machine(definition, {})
    # The clock is virtual for the Wait and real for the rest, so the run's own
    # real time (more than half a second on a loaded machine) may add a second:
    # compare with the history's timestamps, and prove the 15 s wait is inside.
    started = dt.datetime.fromisoformat(result.events_of("ExecutionStarted")[0]["timestamp"])
    entered = dt.datetime.fromisoformat(result.events_of("PassStateEntered")[0]["timestamp"])
    assert result.output["duration"] == round((entered - started).total_seconds())
    assert 15 <= result.output["duration"] <= 15 + 5
    assert result.output["entered"].endswith("Z") and len(result.output["entered"]) == 24
    assert result.output["entered"] == result.events_of("PassStateEntered")[0]["timestamp"]


def test_jsonata_now_follows_the_virtual_clock() -> None:
    """$now() after a one-day Wait is a day after the execution started."""
    definition = machine(("Day", {"Type": "Wait", "Seconds": 86400}),
                         ("Now", {"Type": "Pass", "QueryLanguage": "JSONata",
                                  "Output": "{% $now() %}"}))
    started = time.monotonic()
    result = run_state_machine(definition, {})
    # The virtual clock also moves with real time: allow what the run itself took.
    took = time.monotonic() - started
    assert 86400 <= seconds_between(result.start_date, result.output) < 86400 + took + 0.01


def test_retry_delays_follow_interval_backoff_and_max_delay() -> None:
    """Delays are IntervalSeconds x BackoffRate^n capped at MaxDelaySeconds, on the clock."""
    definition = machine(("Call", task(Retry=[{
        "ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "BackoffRate": 3,
        "MaxAttempts": 3, "MaxDelaySeconds": 10}])))
    result = run_state_machine(definition, {}, task_handler=failing("Lambda.ServiceException"))
    assert result.status == "FAILED" and result.error == "Lambda.ServiceException"
    assert [(w.kind, w.seconds) for w in result.virtual_waits] == [
        ("retry", 2.0), ("retry", 6.0), ("retry", 10.0)]
    failed = [event["timestamp"] for event in result.events_of("TaskFailed")]
    scheduled = [event["timestamp"] for event in result.events_of("TaskScheduled")]
    gaps = [seconds_between(failed[i], scheduled[i + 1]) for i in range(3)]
    assert [round(gap) for gap in gaps] == [2, 6, 10]


def test_full_jitter_draws_each_delay_below_its_cap() -> None:
    """JitterStrategy FULL picks each delay in [0, computed delay]."""
    definition = machine(("Call", task(Retry=[{
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 30, "BackoffRate": 2,
        "MaxAttempts": 4, "MaxDelaySeconds": 100, "JitterStrategy": "FULL"}])))
    result = run_state_machine(definition, {}, task_handler=failing("Glue.ThrottlingException"))
    delays = [w.seconds for w in result.virtual_waits]
    assert len(delays) == 4
    assert all(0 <= delay <= cap for delay, cap in zip(delays, [30, 60, 100, 100], strict=True))


def test_execution_timeout_is_enforced_on_the_virtual_clock() -> None:
    """Execution TimeoutSeconds 60 with a one-hour Wait ends TIMED_OUT at the deadline."""
    definition = machine(("Nap", {"Type": "Wait", "Seconds": 3600}),
                         ("Never", {"Type": "Succeed"}), TimeoutSeconds=60)
    result = run_state_machine(definition, {})
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout"
    assert result.history[-1]["type"] == "ExecutionTimedOut"
    assert 60 <= seconds_between(result.start_date, result.stop_date) < 61
    assert "Never" not in result.states_visited


def test_polling_loop_times_out_the_execution() -> None:
    """A loop that never finishes is stopped by the execution timeout, not by real time."""
    definition = machine(("Wait", {"Type": "Wait", "Seconds": 15, "Next": "Wait"}),
                         TimeoutSeconds=3600)
    started = time.monotonic()
    result = run_state_machine(definition, {})
    took = time.monotonic() - started
    assert result.status == "TIMED_OUT"
    # The real time the run took counts towards the timeout as well as the virtual waits.
    assert 3600 - took - 0.01 < sum(w.seconds for w in result.virtual_waits) <= 3600


def test_task_timeout_seconds_gives_states_timeout() -> None:
    """A handler declaring 2 virtual minutes on a 60 s task times out with States.Timeout."""
    def slow(invocation: TaskInvocation) -> Any:
        invocation.advance_clock(120)
        return {"StatusCode": 200, "Payload": {}}

    definition = machine(("Call", task(TimeoutSeconds=60, Catch=[
        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Late"}])),
        ("Late", {"Type": "Succeed"}))
    result = run_state_machine(definition, {}, task_handler=slow)
    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == "States.Timeout"
    assert result.events_of("TaskTimedOut")
    entered = result.events_of("TaskStateEntered")[0]["timestamp"]
    timed_out = result.events_of("TaskTimedOut")[0]["timestamp"]
    assert 60 <= seconds_between(entered, timed_out) < 61


def test_task_time_within_its_timeout_moves_the_clock() -> None:
    """advance_clock within TimeoutSeconds succeeds and shows in the history."""
    def quick(invocation: TaskInvocation) -> Any:
        invocation.advance_clock(45)
        return {"StatusCode": 200, "Payload": {}}

    result = run_state_machine(machine(("Call", task(TimeoutSeconds=60))), {}, task_handler=quick)
    assert result.status == "SUCCEEDED"
    assert [(w.kind, w.seconds) for w in result.virtual_waits] == [("task", 45.0)]


def test_real_time_mode_does_not_use_the_virtual_clock() -> None:
    """virtual_time=False really waits (1 s here) and records no virtual waits."""
    result = run_state_machine(machine(("Nap", {"Type": "Wait", "Seconds": 1})), {},
                               virtual_time=False)
    assert result.status == "SUCCEEDED" and result.virtual_waits == []
    entered, exited = entered_and_exited(result, "Wait")
    assert seconds_between(entered, exited) >= 1


# ---- Retry, Catch and error names ----------------------------------------------------------


def test_catch_resultpath_keeps_the_input_and_adds_the_error_output() -> None:
    """Catch with ResultPath puts {Error, Cause} into the input; Assign in the catcher runs."""
    definition = machine(
        ("Call", task(Catch=[{"ErrorEquals": ["Sales.Bad"], "ResultPath": "$.error",
                              "Assign": {"failedState": "Call"}, "Next": "Report"}])),
        ("Report", {"Type": "Pass", "Parameters": {"in.$": "$.day", "error.$": "$.error",
                                                   "where.$": "$failedState"}, "End": True}),
    )
    result = run_state_machine(definition, {"day": "d"}, task_handler=failing("Sales.Bad", "x"))
    assert result.output == {"in": "d", "error": {"Error": "Sales.Bad", "Cause": "x"},
                             "where": "Call"}


def test_jsonata_catch_output_uses_the_error_output() -> None:
    """A JSONata catcher's Output can merge $states.input with $states.errorOutput."""
    definition = machine(
        ("Call", {**task(), "QueryLanguage": "JSONata", "Parameters": None,
                  "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught",
                             "Output": "{% $merge([$states.input, "
                                       "{'error': $states.errorOutput}]) %}"}]}),
        ("Caught", {"Type": "Succeed"}),
    )
    del definition["States"]["Call"]["Parameters"]
    result = run_state_machine(definition, {"day": "d"},
                               task_handler=failing("SNS.ThrottledException", "slow"))
    assert result.output == {"day": "d", "error": {"Error": "SNS.ThrottledException",
                                                   "Cause": "slow"}}


def test_retry_then_catch_when_attempts_run_out() -> None:
    """MaxAttempts retries happen before the Catch takes over."""
    definition = machine(
        ("Call", task(Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                      Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Gave up"}])),
        ("Gave up", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {}, task_handler=failing("Custom.Error"))
    assert result.status == "SUCCEEDED" and result.states_visited[-1] == "Gave up"
    assert len(result.task_invocations) == 3


def test_states_task_failed_matches_task_errors_but_not_timeouts() -> None:
    """States.TaskFailed in a catcher matches a task's own error names."""
    definition = machine(
        ("Call", task(Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}])),
        ("Caught", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {}, task_handler=failing("Lambda.Unknown"))
    assert result.status == "SUCCEEDED"


def test_states_all_does_not_catch_states_runtime() -> None:
    """A bad JSONPath is States.Runtime: a States.ALL catcher must not hide it (as in AWS)."""
    definition = machine(
        ("Call", {"Type": "Task", "Resource": LAMBDA_INVOKE,
                  "Parameters": {"FunctionName": "f", "Payload.$": "$.missing"},
                  "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
        ("Caught", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {}, task_handler=lambda invocation: {})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "$.missing" in result.cause
    assert result.virtual_waits == []


def test_states_all_catches_ordinary_errors() -> None:
    """States.ALL still catches every non-terminal error."""
    definition = machine(
        ("Call", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])),
        ("Caught", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {},
                               task_handler=failing("Glue.InternalServiceException"))
    assert result.status == "SUCCEEDED"


def test_failed_execution_reports_error_and_cause_in_history() -> None:
    """An uncaught task error ends with ExecutionFailed carrying the error and cause."""
    result = run_state_machine(machine(("Call", task())), {},
                               task_handler=failing("Lambda.ServiceException", "down"))
    last = result.history[-1]
    assert last["type"] == "ExecutionFailed"
    assert last["executionFailedEventDetails"] == {"error": "Lambda.ServiceException",
                                                   "cause": "down"}
    failed = result.events_of("TaskFailed")[0]["taskFailedEventDetails"]
    assert failed["resourceType"] == "lambda" and failed["resource"] == "invoke"


def test_history_events_are_numbered_and_timestamped_like_aws() -> None:
    """Events carry increasing ids, previousEventId links and ISO UTC millisecond timestamps."""
    result = run_state_machine(machine(("A", {"Type": "Pass"}), ("B", {"Type": "Pass"})), {})
    assert [event["id"] for event in result.history] == list(range(1, len(result.history) + 1))
    assert all(event["previousEventId"] < event["id"] for event in result.history)
    stamps = [parse_ts(event["timestamp"]) for event in result.history]
    assert stamps == sorted(stamps)
    assert result.history[0]["executionStartedEventDetails"]["roleArn"].startswith("arn:aws:iam")
    assert result.states_visited == ["A", "B"]


def _waits_map(max_concurrency: int) -> dict[str, Any]:
    return machine(("Each", {"Type": "Map", "ItemsPath": "$", "MaxConcurrency": max_concurrency,
                             "ItemProcessor": machine(("Nap", {"Type": "Wait",
                                                               "SecondsPath": "$"}))}))


def test_map_iterations_wait_side_by_side() -> None:
    """Unbounded Map iterations overlap on the clock: the Map lasts as long as its longest."""
    result = run_state_machine(_waits_map(0), [50, 80, 30])
    entered, exited = entered_and_exited(result, "Map")
    assert 80 <= seconds_between(entered, exited) < 81


def test_map_with_max_concurrency_one_runs_iterations_back_to_back() -> None:
    """MaxConcurrency 1 makes iterations sequential: the waits add up."""
    result = run_state_machine(_waits_map(1), [50, 80, 30])
    entered, exited = entered_and_exited(result, "Map")
    assert 160 <= seconds_between(entered, exited) < 161


def test_parallel_branches_wait_side_by_side() -> None:
    """A Parallel state ends with its slowest branch, not the sum of its branches."""
    definition = machine(("Both", {"Type": "Parallel", "Branches": [
        machine(("Short", {"Type": "Wait", "Seconds": 10})),
        machine(("Long", {"Type": "Wait", "Seconds": 20})),
    ]}))
    result = run_state_machine(definition, {})
    entered, exited = entered_and_exited(result, "Parallel")
    assert 20 <= seconds_between(entered, exited) < 21


def test_map_iteration_failure_keeps_a_states_error_name() -> None:
    """An iteration failing with States.TaskFailed is caught under that name (moto crashed)."""
    def handler(invocation: TaskInvocation) -> Any:
        if invocation.parameters["Payload"] == 2:
            raise TaskFailure("States.TaskFailed", "item 2")
        return {"StatusCode": 200, "Payload": invocation.parameters["Payload"]}

    definition = machine(
        ("Each", {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                  "ItemProcessor": machine(("Call", task(OutputPath="$.Payload"))),
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                             "Next": "Caught"}]}),
        ("Caught", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {"items": [1, 2, 3]}, task_handler=handler)
    assert result.status == "SUCCEEDED"
    assert result.output["error"] == {"Error": "States.TaskFailed", "Cause": "item 2"}


def test_real_time_guard_aborts_a_run_that_does_not_finish(monkeypatch: Any) -> None:
    """A run still going after timeout_seconds (real) is stopped and reported ABORTED.

    The stuck Task is released only once the guard has stopped the run, so the
    task can never finish first, however loaded the machine (a fixed release
    timer raced the guard's 0.1 s on a busy machine).
    """
    import threading

    from stepline.local.adapter.execution import SteplineExecutionWorker

    release = threading.Event()
    stop_running = SteplineExecutionWorker.stop_running

    def stop_then_release(self: SteplineExecutionWorker, *args: Any, **kwargs: Any) -> None:
        stop_running(self, *args, **kwargs)
        release.set()

    monkeypatch.setattr(SteplineExecutionWorker, "stop_running", stop_then_release)

    def stuck(invocation: TaskInvocation) -> Any:
        assert release.wait(30), "the guard never stopped the run"
        return {"StatusCode": 200, "Payload": {}}

    try:
        result = run_state_machine(machine(("Call", task()), ("After", {"Type": "Pass"})), {},
                                   task_handler=stuck, timeout_seconds=0.1)
    finally:
        release.set()
    assert result.status == "ABORTED" and result.error == "Stepline.LocalRunTimeout"
    assert "After" not in result.states_visited
    assert result.history[-1]["type"] == "ExecutionAborted"
