"""What a Stepline run did, for people: a terminal trace and a one-page HTML report.

Both are built from the execution history (the ``GetExecutionHistory`` event
list that AWS returns and that Stepline's local runtime records):

* :func:`build_timeline` folds the events into one :class:`StateRun` per
  state entry, with durations, retries, errors and the transitions taken;
* :func:`format_trace` prints that timeline, one line per state run;
* :func:`render_html` draws the state machine with the path taken
  highlighted, and a table of the state runs with their inputs and outputs.

Typical use after a local run::

    timeline = build_timeline(result.history)
    print(format_trace(timeline))
    write_html("run-report.html", render_html(definition, timeline, title="Daily sales"))
"""

from stepline.report.html import escape, html_table, json_block, render_html, write_html
from stepline.report.text import format_duration, format_trace
from stepline.report.timeline import (
    ExecutionStatus,
    RunOutcome,
    StateError,
    StateRun,
    Timeline,
    build_timeline,
)

__all__ = [
    "ExecutionStatus",
    "RunOutcome",
    "StateError",
    "StateRun",
    "Timeline",
    "build_timeline",
    "escape",
    "format_duration",
    "format_trace",
    "html_table",
    "json_block",
    "render_html",
    "write_html",
]
