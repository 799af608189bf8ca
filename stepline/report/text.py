"""The run trace printed in a terminal after a local run (``stepline demo``, ``stepline replay``).

One line per state run, in the order the states were entered::

    1  ok       Validate the sales file    Task       1.2 s
    4  retried  Clean the sales file       Task  1 min 54 s  retries=1 (Glue.ConcurrentRuns...)
    6  caught   Aggregate the day's sales  Task  2 min 15 s  retries=1  States.TaskFailed: Step...
    == FAILED in 2 min 59 s (8 state runs, 1 retry)  States.TaskFailed: Aggregate the day's...

Durations come from the history timestamps, so a local run with a virtual
clock shows the 15 s of a Wait state even though it took no real time.
The trace is plain ASCII unless ``color=True`` adds ANSI colours
(:func:`wants_color` decides that for a stream).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any, TextIO

from stepline.report.timeline import ExecutionStatus, RunOutcome, StateRun, Timeline

__all__ = ["format_duration", "format_trace", "run_mark", "shorten", "wants_color"]

_NAME_WIDTH_LIMIT = 44
_CAUSE_WIDTH = 90

_ANSI_RESET = "\033[0m"
_MARK_COLORS = {
    "ok": "\033[32m",
    "retried": "\033[33m",
    "caught": "\033[33m",
    "FAILED": "\033[1;31m",
    "stopped": "\033[35m",
}
_STATUS_COLORS = {
    ExecutionStatus.SUCCEEDED: "\033[1;32m",
    ExecutionStatus.FAILED: "\033[1;31m",
    ExecutionStatus.TIMED_OUT: "\033[1;31m",
    ExecutionStatus.ABORTED: "\033[1;35m",
    ExecutionStatus.RUNNING: "\033[1;34m",
}
_DIM = "\033[2m"
_RED = "\033[31m"


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``120 ms``, ``15.0 s``, ``4 min 23 s``, ``1 h 02 min``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, whitespace collapsed, a cut marked ``...``."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - 3)].rstrip() + "..."


def run_mark(run: StateRun) -> str:
    """The status mark of a run: ``ok``, ``retried``, ``caught``, ``FAILED`` or ``stopped``."""
    if run.outcome is RunOutcome.FAILED:
        return "FAILED"
    if run.outcome is RunOutcome.CAUGHT:
        return "caught"
    if run.outcome is RunOutcome.STOPPED:
        return "stopped"
    return "retried" if run.retries else "ok"


def _error_text(error: str | None, cause: str | None, width: int = _CAUSE_WIDTH) -> str:
    parts = [error or "error"]
    if cause:
        parts.append(shorten(cause, width))
    return ": ".join(parts)


def _io_line(label: str, value: Any, width: int) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str, separators=(", ", ": "))
    if len(text) <= width:
        return f"{label}{text}"
    cut = len(text) - width
    return f"{label}{text[:width]} ... (+{cut} chars)"


def _depths(timeline: Timeline) -> dict[int, int]:
    """Nesting depth of each run (runs inside a Map/Parallel are indented under it)."""
    depth: dict[int, int] = {}
    for run in timeline.runs:
        depth[run.index] = 0 if run.parent_index is None else depth.get(run.parent_index, 0) + 1
    return depth


def wants_color(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour for ``stream``: only on a terminal, and not when ``NO_COLOR`` is set.

    ``NO_COLOR`` (https://no-color.org) switches colour off when it is present and
    not empty, whatever its value; the status grid's rich console reads it too.
    """
    env = os.environ if environ is None else environ
    return bool(stream.isatty()) and not env.get("NO_COLOR")


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_ANSI_RESET}" if color else text


def format_trace(
    timeline: Timeline, *, show_io: bool = False, color: bool = False, io_width: int = 100
) -> str:
    """Render ``timeline`` as a terminal trace: one line per state run, then a summary line.

    ``show_io`` adds each run's input and output JSON under its line, cut to
    ``io_width`` characters with a note of how much was cut.
    """
    depths = _depths(timeline)
    labels = {run.index: "  " * depths[run.index] + run.label for run in timeline.runs}
    name_width = min(_NAME_WIDTH_LIMIT, max((len(label) for label in labels.values()), default=10))
    type_width = max((len(run.state_type) for run in timeline.runs), default=4)
    index_width = len(str(len(timeline.runs)))
    indent = " " * (index_width + 2 + 2 + 9)

    lines: list[str] = []
    for run in timeline.runs:
        mark = run_mark(run)
        name = labels[run.index]
        if len(name) > name_width:
            name = name[: name_width - 3] + "..."
        line = (
            f"{run.index:>{index_width}}  "
            f"{_paint(f'{mark:<7}', _MARK_COLORS[mark], color)}  "
            f"{name:<{name_width}}  {run.state_type:<{type_width}}  "
            f"{format_duration(run.duration_seconds):>10}"
        )
        notes: list[str] = []
        if run.retries:
            retried = [error.error or "error" for error in run.errors if error.retried]
            detail = f" ({retried[-1]})" if retried and mark in ("ok", "retried") else ""
            notes.append(f"retries={run.retries}{detail}")
        if mark in ("FAILED", "caught") and run.last_error is not None:
            error = run.last_error
            notes.append(_paint(_error_text(error.error, error.cause), _RED, color))
        if notes:
            line += "  " + "  ".join(notes)
        lines.append(line.rstrip())
        if show_io:
            lines.append(_paint(_io_line(f"{indent}in:  ", run.input, io_width), _DIM, color))
            if run.exited is not None:
                lines.append(_paint(_io_line(f"{indent}out: ", run.output, io_width), _DIM, color))

    lines.append(_summary_line(timeline, color))
    return "\n".join(lines)


def _summary_line(timeline: Timeline, color: bool) -> str:
    count = len(timeline.runs)
    retries = timeline.total_retries
    stats = f"{count} state run{'s' * (count != 1)}"
    if retries:
        stats += f", {retries} retr{'ies' if retries != 1 else 'y'}"
    status = _paint(str(timeline.status), _STATUS_COLORS[timeline.status], color)
    summary = f"== {status} in {format_duration(timeline.duration_seconds)} ({stats})"
    if timeline.error or timeline.cause:
        error_text = _error_text(timeline.error, timeline.cause, width=160)
        summary += "  " + _paint(error_text, _RED, color)
    return summary
