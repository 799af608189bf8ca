"""The status grid in a terminal: stores x dates, a legend and a summary, within 80 columns.

Stores are rows and dates columns, a week (7 dates) per block, so any range
fits 80 columns: a store label of at most 22 characters and 8 per date.
Colour comes from rich, and only on a terminal: :func:`make_console` decides
with the stream's ``isatty()``, so a pipe or a log file gets plain text.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.text import Text

from stepline.ops.status import (
    PUBLISH_STATES,
    SETTLED_PUBLISH_STATES,
    DateStatus,
    StatusGrid,
)
from stepline.report.text import shorten

WIDTH = 80
DATES_PER_BLOCK = 7
COLUMN_WIDTH = 8
LABEL_WIDTH = 22
#: Problem lines listed under the summary; ``--json`` has every one.
MAX_PROBLEM_LINES = 20

#: Cell codes: lower case is fine, upper case asks a person to look.
CELL_CODES = {
    "SUCCEEDED": "ok",
    "NO_DATA": "empty",
    "REJECTED": "REJ",
    "FAILED": "FAIL",
    "RUNNING": "RUN",
    "MISSING": "MISS",
}
CELL_STYLES = {
    "SUCCEEDED": "green",
    "NO_DATA": "cyan",
    "REJECTED": "bold yellow",
    "FAILED": "bold red",
    "RUNNING": "bold blue",
    "MISSING": "bold magenta",
}
PUBLISH_CODES = {
    "published": "pub",
    "partial": "PART",
    "stale": "STALE",
    "pending": "PEND",
    "none": "none",
}
PUBLISH_STYLES = {
    "published": "green",
    "partial": "bold yellow",
    "stale": "bold red",
    "pending": "bold blue",
    "none": "dim",
}
#: The legend, line by line: (code's status or publish state, meaning), or plain text.
_LEGEND: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("SUCCEEDED", "succeeded"),
        ("NO_DATA", "no data"),
        ("REJECTED", "rejected"),
        ("FAILED", "failed"),
        ("RUNNING", "running"),
    ),
    (("MISSING", "expected, no file"), ("-", "not expected"), ("*", "not in the last publish")),
    (
        ("published", "published"),
        ("partial", "partial"),
        ("stale", "stale"),
        ("pending", "pending"),
        ("none", ""),
    ),
)
_LEGEND_LABELS = ("Cells:", "", "Publish:")
_NOT_EXPECTED = "-"
_UNPUBLISHED_MARK = "*"


def make_console(stream: TextIO) -> Console:
    """A rich console on ``stream``: colour only on a terminal, at most 80 columns wide."""
    tty = bool(stream.isatty())
    console = Console(
        file=stream,
        force_terminal=tty,
        width=None if tty else WIDTH,
        highlight=False,
        markup=False,
        emoji=False,
    )
    # The grid is laid out for 80 columns; on a wider terminal the summary wraps there too.
    console.width = min(console.width, WIDTH)
    return console


def print_status(console: Console, grid: StatusGrid, *, where: str) -> None:
    """The grid, its legend, the summary line and what needs a look."""
    console.print(
        Text(
            f"Stepline status: stage {grid.stage}, {grid.start} to {grid.end} (UTC)", style="bold"
        ),
        no_wrap=True,
        crop=False,
    )
    console.print(Text(_left_shorten(f"Run ledger: {where}", WIDTH)), no_wrap=True, crop=False)
    for line in grid_lines(grid):
        console.print(line, no_wrap=True, crop=False)
    for line in legend_lines():
        console.print(line, no_wrap=True, crop=False)
    console.print(Text(summary_line(grid), style="bold"))
    problems = problem_lines(grid)
    if problems:
        console.print("Needs a look:")
        for problem in problems:
            console.print(Text(problem), no_wrap=True, crop=False)


def grid_lines(grid: StatusGrid) -> list[Text]:
    labels = {store: _label(store) for store in grid.stores}
    width = max([len("publish"), *(len(label) for label in labels.values())])
    lines: list[Text] = []
    for first in range(0, len(grid.dates), DATES_PER_BLOCK):
        block = grid.dates[first : first + DATES_PER_BLOCK]
        lines.append(Text(""))
        header = Text(" " * width, style="bold")
        for day in block:
            header.append(day.date[5:].rjust(COLUMN_WIDTH))
        lines.append(header)
        for store in grid.stores:
            line = Text(labels[store].ljust(width))
            for day in block:
                code, style = _cell_code(day, store)
                line.append(code.rjust(COLUMN_WIDTH), style=style)
            lines.append(line)
        publish = Text("publish".ljust(width), style="bold")
        for day in block:
            publish.append(
                PUBLISH_CODES[day.publish].rjust(COLUMN_WIDTH), style=PUBLISH_STYLES[day.publish]
            )
        lines.append(publish)
    lines.append(Text(""))
    return lines


def legend_lines() -> list[Text]:
    lines = []
    for label, entries in zip(_LEGEND_LABELS, _LEGEND, strict=True):
        line = Text(label.ljust(9))
        for position, (key, meaning) in enumerate(entries):
            if position:
                line.append("  ")
            code = CELL_CODES.get(key) or PUBLISH_CODES.get(key) or key
            line.append(code, style=CELL_STYLES.get(key) or PUBLISH_STYLES.get(key) or "bold")
            if meaning:
                line.append(f" {meaning}")
        lines.append(line)
    return lines


def summary_line(grid: StatusGrid) -> str:
    """E.g. ``3 days published, 1 partial, 1 stale; 2 store-days failed, 1 missing.``"""
    counts = grid.publish_counts()
    names = {"none": "with nothing to publish"}
    day_parts = [f"{counts[state]} {names.get(state, state)}" for state in PUBLISH_STATES]
    day_parts = [part for part in day_parts if not part.startswith("0 ")]
    if day_parts:
        count, rest = day_parts[0].split(" ", 1)
        day_parts[0] = f"{count} {'day' if count == '1' else 'days'} {rest}"
    running = sum(day.publish_running for day in grid.dates)
    if running:
        day_parts.append(f"{running} publish{'es' if running > 1 else ''} running")
    cells = grid.cell_counts()
    problems = [
        f"{cells[status]} {status.lower()}"
        for status in ("FAILED", "REJECTED", "MISSING", "RUNNING")
        if cells.get(status)
    ]
    problems += [
        f"{count} {status}"
        for status, count in sorted(cells.items())
        if count and status not in CELL_CODES
    ]
    if problems:
        count, rest = problems[0].split(" ", 1)
        problems[0] = f"{count} {'store-day' if count == '1' else 'store-days'} {rest}"
        store_part = ", ".join(problems)
    elif sum(cells.values()):
        store_part = "every store-day succeeded or had no data"
    else:
        store_part = "no store-days"
    verdict = "all settled" if grid.settled else "a person should look"
    return f"Summary: {', '.join(day_parts) or 'no dates'}; {store_part} ({verdict})."


def problem_lines(grid: StatusGrid) -> list[str]:
    """:func:`problems`, each line within 80 columns, at most MAX_PROBLEM_LINES of them."""
    found = problems(grid)
    shown = [f"  {shorten(line, WIDTH - 2)}" for line in found[:MAX_PROBLEM_LINES]]
    if len(found) > MAX_PROBLEM_LINES:
        shown.append(f"  ... and {len(found) - MAX_PROBLEM_LINES} more (--json lists them all)")
    return shown


def problems(grid: StatusGrid) -> list[str]:
    """One line per date or store-day that is not settled, oldest first."""
    lines: list[str] = []
    for day in grid.dates:
        if day.publish not in SETTLED_PUBLISH_STATES or day.publish_running:
            why = "; ".join(day.reasons) or "a publish is running"
            lines.append(f"{day.date} publish {day.publish}: {why}")
        for store, cell in sorted(day.stores.items()):
            if cell.settled:
                continue
            detail = {
                "MISSING": "expected, no file",
                "RUNNING": f"since {cell.item.get('started_at', '?')} ({cell.execution})",
            }.get(cell.status)
            if detail is None:
                where = f"in {cell.failed_state}: " if cell.failed_state else ""
                detail = f"{where}{cell.reason or cell.execution or ''}"
            lines.append(f"{day.date} {store} {cell.status}: {detail}")
    return lines


def _cell_code(day: DateStatus, store: str) -> tuple[str, str]:
    cell = day.stores.get(store)
    if cell is None:
        return _NOT_EXPECTED, "dim"
    code = CELL_CODES.get(cell.status, cell.status[:5])
    if cell.data_run and not cell.published and day.published_at:
        code += _UNPUBLISHED_MARK
    return code, CELL_STYLES.get(cell.status, "bold")


def _label(store: str) -> str:
    return store if len(store) <= LABEL_WIDTH else store[: LABEL_WIDTH - 3] + "..."


def _left_shorten(text: str, width: int) -> str:
    """Keep the end of a long line (a path's tail says more than its head)."""
    return text if len(text) <= width else "..." + text[-(width - 3) :]
