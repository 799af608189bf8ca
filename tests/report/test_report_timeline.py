"""The run timeline folded from execution history events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stepline.report.timeline import (
    ExecutionStatus,
    RunOutcome,
    build_timeline,
    parse_timestamp,
)

from .histories import (
    SALES_INPUT,
    SPARK_CAUSE,
    T0,
    HistoryBuilder,
    failing_history,
    happy_path_history,
    nested_history,
    uncaught_failure_history,
)


@pytest.fixture(scope="module")
def happy():
    return build_timeline(happy_path_history())


@pytest.fixture(scope="module")
def failing():
    return build_timeline(failing_history())


def test_happy_path_gives_one_run_per_state_entry_in_order(happy):
    """Each *StateEntered event opens one run, in the order the states were entered."""
    names = [run.name for run in happy.runs]
    assert names[:4] == [
        "Validate the sales file",
        "Was the file accepted?",
        "Are there rows to load?",
        "Clean the sales file",
    ]
    assert names[-3:] == ["Build the daily report", "Notify that the run succeeded", "Day loaded"]
    assert len(happy.runs) == 21
    assert [run.index for run in happy.runs] == list(range(1, 22))


def test_execution_status_start_stop_and_duration(happy):
    """The execution's status, start, stop and duration come from its first and last events."""
    assert happy.status is ExecutionStatus.SUCCEEDED
    assert happy.started == T0
    assert happy.duration_seconds == pytest.approx(262.6)
    assert happy.error is None
    assert happy.input == SALES_INPUT
    assert happy.output["report"]["query_execution_id"] == "q-1"


def test_state_types_resources_and_parsed_io(happy):
    """Runs carry the state type, the task integration and JSON-parsed input and output."""
    validate = happy.runs[0]
    assert validate.state_type == "Task"
    assert validate.task_resource == "lambda:invoke"
    assert validate.input == SALES_INPUT
    assert validate.output["validation"]["store_id"] == "S042"
    assert happy.runs_of("Read the clean-step counts")[0].task_resource == "aws-sdk:s3:getObject"
    assert happy.runs_of("Was the file accepted?")[0].state_type == "Choice"
    assert happy.runs_of("Was the file accepted?")[0].task_resource is None


def test_retry_is_counted_and_its_error_kept(happy):
    """A second TaskScheduled in one state entry is a retry; the retried error is recorded."""
    clean = happy.runs_of("Clean the sales file")[0]
    assert clean.attempts == 2
    assert clean.retries == 1
    assert clean.outcome is RunOutcome.SUCCEEDED
    assert [(error.error, error.retried) for error in clean.errors] == [
        ("Glue.ConcurrentRunsExceededException", True)
    ]
    # 42 s failed attempt + 30 s backoff + 42 s successful attempt.
    assert clean.duration_seconds == pytest.approx(114.0)
    assert happy.total_retries == 1


def test_loop_entries_are_numbered_runs_with_their_own_durations(happy):
    """A state entered three times by the poll loop gives three runs numbered 1..3."""
    waits = happy.runs_of("Wait for the load")
    assert [run.visit for run in waits] == [1, 2, 3]
    assert [run.label for run in waits] == [
        "Wait for the load",
        "Wait for the load #2",
        "Wait for the load #3",
    ]
    assert [run.duration_seconds for run in waits] == [15.0, 15.0, 15.0]
    assert happy.visit_counts()["Check the load"] == 3
    assert happy.visit_counts()["Count the poll"] == 2


def test_transitions_are_the_ordered_edges_taken(happy):
    """Transitions list every (from, to) edge in order, loop edges as often as taken."""
    assert happy.transitions[0] == ("Validate the sales file", "Was the file accepted?")
    assert happy.transitions[-1] == ("Notify that the run succeeded", "Day loaded")
    assert happy.transitions.count(("Count the poll", "Wait for the load")) == 2
    assert happy.transitions.count(("Is the load finished?", "Build the daily report")) == 1
    assert len(happy.transitions) == len(happy.runs) - 1


def test_caught_error_after_a_retry(failing):
    """A task failing after a retry and leaving through its Catch is 'caught', with both errors."""
    aggregate = failing.runs_of("Aggregate the day's sales")[0]
    assert aggregate.outcome is RunOutcome.CAUGHT
    assert aggregate.caught
    assert aggregate.retries == 1
    assert [(error.error, error.retried) for error in aggregate.errors] == [
        ("ElasticMapReduce.InternalServerException", True),
        ("States.TaskFailed", False),
    ]
    assert aggregate.last_error.cause == SPARK_CAUSE
    assert aggregate.output["error"]["Error"] == "States.TaskFailed"
    assert ("Aggregate the day's sales", "Notify that the run failed") in failing.transitions


def test_fail_state_carries_the_execution_error(failing):
    """The Fail state that ends the run is 'failed' and shows the execution's error and cause."""
    assert failing.status is ExecutionStatus.FAILED
    assert failing.error == "States.TaskFailed"
    assert failing.cause.startswith("Aggregate the day's sales: Step failed")
    fail_run = failing.runs[-1]
    assert fail_run.name == "Run failed"
    assert fail_run.outcome is RunOutcome.FAILED
    assert fail_run.last_error.error == "States.TaskFailed"
    assert failing.runs_of("Notify that the run failed")[0].outcome is RunOutcome.SUCCEEDED


def test_uncaught_task_failure_fails_the_run_inside_the_task():
    """A task error with no Catch leaves the task 'failed', never exited, timed to its error."""
    timeline = build_timeline(uncaught_failure_history())
    (validate,) = timeline.runs
    assert validate.outcome is RunOutcome.FAILED
    assert validate.exited is None
    assert validate.duration_seconds == pytest.approx(0.5)
    assert validate.last_error.error == "Lambda.Unknown"
    assert timeline.transitions == []


def test_iso_string_timestamps_give_the_same_timeline():
    """Timestamps as ISO-8601 strings (with Z) read the same as datetime objects."""
    from_strings = build_timeline(happy_path_history(iso_timestamps=True))
    from_datetimes = build_timeline(happy_path_history())
    assert from_strings.started == from_datetimes.started
    assert from_strings.duration_seconds == from_datetimes.duration_seconds
    assert [r.duration_seconds for r in from_strings.runs] == [
        r.duration_seconds for r in from_datetimes.runs
    ]


def test_reversed_history_and_api_response_are_accepted():
    """Events newest-first, or a whole GetExecutionHistory response, give the same runs."""
    events = happy_path_history()
    expected = [run.label for run in build_timeline(events).runs]
    assert [run.label for run in build_timeline(list(reversed(events))).runs] == expected
    assert [run.label for run in build_timeline({"events": events}).runs] == expected


def test_parse_timestamp_normalises_to_aware_utc():
    """Naive datetimes, 'Z' strings and epoch seconds all become timezone-aware UTC."""
    expected = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
    assert parse_timestamp(datetime(2024, 3, 5, 6, 0)) == expected
    assert parse_timestamp("2024-03-05T06:00:00.000Z") == expected
    assert parse_timestamp("2024-03-05T07:00:00+01:00") == expected
    assert parse_timestamp(expected.timestamp()) == expected
    with pytest.raises(TypeError):
        parse_timestamp(None)  # type: ignore[arg-type]


def test_unparsable_io_is_kept_as_text():
    """An input that is not JSON is kept as the raw string instead of failing the report."""
    builder = HistoryBuilder().start({})
    builder.event("PassStateEntered", "stateEnteredEventDetails", name="Odd", input="not json {")
    builder.event("PassStateExited", "stateExitedEventDetails", name="Odd", output="[1, 2]")
    timeline = build_timeline(builder.succeed_execution())
    assert timeline.runs[0].input == "not json {"
    assert timeline.runs[0].output == [1, 2]


def test_aborted_execution_stops_the_open_state_at_the_abort():
    """A run aborted mid-Wait marks that state 'stopped', lasting until the abort."""
    builder = HistoryBuilder().start({})
    builder.enter("Wait", "Wait for the load")
    builder.tick(7)
    builder.event("ExecutionAborted", "executionAbortedEventDetails")
    timeline = build_timeline(builder.events)
    assert timeline.status is ExecutionStatus.ABORTED
    assert timeline.runs[0].outcome is RunOutcome.STOPPED
    assert timeline.runs[0].duration_seconds == 7.0


def test_running_execution_has_no_stop_and_lasts_until_its_last_event():
    """A history without an end event is RUNNING; its duration runs to the last event seen."""
    builder = HistoryBuilder().start({})
    builder.enter("Task", "Validate the sales file")
    builder.tick(3)
    builder.event("TaskScheduled", "taskScheduledEventDetails", resourceType="lambda")
    timeline = build_timeline(builder.events)
    assert timeline.status is ExecutionStatus.RUNNING
    assert timeline.stopped is None
    assert timeline.duration_seconds == 3.0
    assert timeline.runs[0].outcome is RunOutcome.STOPPED


def test_map_and_parallel_runs_nest_their_inner_states():
    """States inside a Map iteration or a Parallel branch belong to that run; branches are
    not joined by a transition."""
    timeline = build_timeline(nested_history())
    by_label = {run.label: run for run in timeline.runs}
    map_run = by_label["Process every store"]
    parallel_run = by_label["Publish in parallel"]
    assert map_run.is_container and parallel_run.is_container
    assert by_label["Check the store file #2"].parent_index == map_run.index
    assert by_label["Write the audit row"].parent_index == parallel_run.index
    assert by_label["Done"].parent_index is None
    assert ("Publish to SNS", "Write the audit row") not in timeline.transitions
    assert ("Write the audit row", "Audit written") in timeline.transitions
    assert ("Process every store", "Publish in parallel") in timeline.transitions
    assert map_run.outcome is RunOutcome.SUCCEEDED
    assert timeline.state_outcomes()["Store done"] is RunOutcome.SUCCEEDED
