"""The readable terminal trace of a run."""

from __future__ import annotations

import pytest

from stepline.report.text import format_duration, format_trace, shorten
from stepline.report.timeline import build_timeline

from .histories import failing_history, happy_path_history, uncaught_failure_history


@pytest.fixture(scope="module")
def happy_trace() -> str:
    return format_trace(build_timeline(happy_path_history()))


@pytest.fixture(scope="module")
def failing_trace() -> str:
    return format_trace(build_timeline(failing_history()))


def _line_for(trace: str, label: str) -> str:
    matches = [line for line in trace.splitlines() if f" {label} " in line]
    assert len(matches) == 1, f"expected one line for {label!r} in:\n{trace}"
    return matches[0]


def test_one_line_per_state_run_then_a_summary(happy_trace):
    """The trace has one line per state run, numbered, and ends with the execution summary."""
    lines = happy_trace.splitlines()
    assert len(lines) == 21 + 1
    assert lines[0].split()[:3] == ["1", "ok", "Validate"]
    assert lines[20].lstrip().startswith("21 ")
    assert lines[-1] == "== SUCCEEDED in 4 min 23 s (21 state runs, 1 retry)"


def test_happy_trace_shows_types_durations_retries_and_loop_visits(happy_trace):
    """Lines show the type, the (virtual) duration, retries=N and the loop visit number."""
    clean = _line_for(happy_trace, "Clean the sales file")
    assert clean.split()[1] == "retried"
    assert "Task" in clean and "1 min 54 s" in clean
    assert "retries=1 (Glue.ConcurrentRunsExceededException)" in clean
    wait = _line_for(happy_trace, "Wait for the load #3")
    assert "Wait" in wait.split() and wait.rstrip().endswith("15.0 s")
    assert "retries=" not in _line_for(happy_trace, "Check the load #2")


def test_trace_is_plain_ascii_without_color(happy_trace, failing_trace):
    """Without color the trace is plain ASCII: no escape codes, no box-drawing characters."""
    for trace in (happy_trace, failing_trace):
        assert trace.isascii()
        assert "\033[" not in trace


def test_failure_trace_marks_caught_and_failed_states_with_error_and_short_cause(failing_trace):
    """The caught task and the Fail state show their error and a shortened cause."""
    aggregate = _line_for(failing_trace, "Aggregate the day's sales")
    assert aggregate.split()[1] == "caught"
    assert "retries=1" in aggregate
    assert "States.TaskFailed: Step failed: stepline-aggregate-sales-2024-03-04" in aggregate
    assert aggregate.endswith("...")
    assert len(aggregate) < 220  # the 1 kB Spark stack trace is cut

    run_failed = _line_for(failing_trace, "Run failed")
    assert run_failed.split()[1] == "FAILED"
    assert "Fail" in run_failed.split()

    summary = failing_trace.splitlines()[-1]
    assert summary.startswith("== FAILED in 2 min 59 s (8 state runs, 1 retry)")
    assert "States.TaskFailed: Aggregate the day's sales: Step failed" in summary


def test_uncaught_failure_is_marked_failed():
    """A task failing without a Catch is marked FAILED with its error."""
    trace = format_trace(build_timeline(uncaught_failure_history()))
    first = trace.splitlines()[0]
    assert first.split()[1] == "FAILED"
    assert "Lambda.Unknown: The function crashed" in first


def test_show_io_adds_truncated_input_and_output_with_a_cut_note():
    """show_io prints each run's input and output, cut to io_width with the cut size noted."""
    timeline = build_timeline(happy_path_history())
    trace = format_trace(timeline, show_io=True, io_width=60)
    lines = trace.splitlines()
    validate_index = next(i for i, line in enumerate(lines) if "Validate the sales file" in line)
    input_line, output_line = lines[validate_index + 1], lines[validate_index + 2]
    assert input_line.strip().startswith('in:  {"detail": {"bucket"')
    assert output_line.strip().startswith("out: ")
    assert output_line.endswith(" chars)")
    cut = int(output_line.rsplit("(+", 1)[1].split()[0])
    assert cut > 100  # the validation block is long and was cut
    assert len(output_line.split(" ... (+")[0].split("out: ", 1)[1]) == 60
    assert "in: " not in format_trace(timeline)


def test_color_adds_ansi_codes_only_when_asked():
    """color=True paints marks and errors with ANSI codes."""
    timeline = build_timeline(failing_history())
    colored = format_trace(timeline, color=True)
    assert "\033[1;31mFAILED" in colored
    assert "\033[33mcaught" in colored
    assert "\033[" not in format_trace(timeline, color=False)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 ms"),
        (0.1234, "123 ms"),
        (15, "15.0 s"),
        (59.94, "59.9 s"),
        (114, "1 min 54 s"),
        (3725, "1 h 02 min"),
    ],
)
def test_format_duration(seconds, text):
    """Durations read as ms, seconds, minutes or hours depending on their size."""
    assert format_duration(seconds) == text


def test_shorten_collapses_whitespace_and_marks_the_cut():
    """shorten keeps one line within the width and ends a cut with '...'."""
    assert shorten("a\n  b", 10) == "a b"
    assert shorten("x" * 50, 10) == "xxxxxxx..."
