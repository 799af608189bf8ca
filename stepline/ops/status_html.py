"""The status grid as one self-contained HTML page (``stepline status --html FILE``).

Dates are rows (a long range scrolls down, as a calendar does) and stores
columns, with the date's publish state first. Each cell is coloured by its
status and links to its execution in the AWS Step Functions console
(``target.console_url``). On the local target, where that console cannot show
a local execution, each cell also links to a run report
(:func:`stepline.report.render_html` of the execution's definition and
history) written beside the page, in ``<FILE stem>-runs/``.

The page has no external resources (inline CSS, system fonts, no script);
everything from the ledger is escaped with the run report's one escaper.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stepline.ops.status import DateStatus, StatusGrid, StoreDayCell
from stepline.ops.status_text import CELL_CODES, PUBLISH_CODES, problems, summary_line
from stepline.report.html import escape, json_block, render_html, write_html

_CELL_MEANINGS = {
    "SUCCEEDED": "succeeded",
    "NO_DATA": "no data",
    "REJECTED": "rejected",
    "FAILED": "failed",
    "RUNNING": "running",
    "MISSING": "expected, no file",
}
_PUBLISH_MEANINGS = {
    "published": "the last publish holds every store-day",
    "partial": "published, an expected store not ok",
    "stale": "data changed after the publish",
    "pending": "not published yet",
    "none": "nothing to publish",
}

_CSS = """
:root{
  --bg:#f6f8fa;--card:#fff;--border:#d0d7de;--text:#1f2328;--muted:#59636e;
  --ok:#1a7f37;--ok-bg:#dafbe1;--empty:#0a6e7c;--empty-bg:#dff6f8;--rej:#9a6700;
  --rej-bg:#fff1c2;--fail:#cf222e;--fail-bg:#ffcfcb;--run:#0969da;--run-bg:#ddf4ff;
  --miss:#8250df;--miss-bg:#efdfff;--none:#6e7781;--none-bg:#f0f2f4}
*{box-sizing:border-box}
body{
  margin:0;background:var(--bg);color:var(--text);
  font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans","Liberation Sans",
    "DejaVu Sans",Helvetica,Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:24px}
.card{
  background:var(--card);border:1px solid var(--border);border-radius:10px;padding:18px 22px;
  margin-bottom:20px}
h1{font-size:22px;margin:0;font-weight:600}
h2{font-size:16px;margin:0 0 12px;font-weight:600}
.where{color:var(--muted);margin:6px 0 0}
.summary{margin:10px 0 0;font-weight:600}
.summary.settled{color:var(--ok)}
.summary.attention{color:var(--fail)}
.legend{
  list-style:none;display:flex;flex-wrap:wrap;gap:6px 16px;padding:0;margin:0 0 14px;
  font-size:12px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{
  display:inline-block;min-width:44px;text-align:center;border-radius:5px;padding:1px 6px;
  font-weight:600;font-size:11px}
.grid-wrap{overflow-x:auto}
table.grid{border-collapse:separate;border-spacing:3px;font-size:13px}
table.grid th{
  font-size:12px;color:var(--muted);font-weight:600;padding:4px 8px;white-space:nowrap;
  text-align:center}
table.grid th.date{text-align:left;font-variant-numeric:tabular-nums}
table.grid th.date .dow{color:#8c959f;font-weight:400;margin-left:6px}
table.grid td{
  min-width:86px;text-align:center;border-radius:6px;padding:6px 8px;white-space:nowrap;
  border:1px solid transparent;font-weight:600}
table.grid td a{color:inherit;text-decoration:none;font-weight:600}
table.grid td a:hover{text-decoration:underline}
table.grid td a.report{font-weight:400;font-size:11px;margin-left:6px;opacity:.8}
table.grid td.absent{background:transparent;color:#afb8c1;font-weight:400}
.status-succeeded,.publish-published{background:var(--ok-bg);color:var(--ok)}
.status-no_data{background:var(--empty-bg);color:var(--empty)}
.status-rejected,.publish-partial{background:var(--rej-bg);color:var(--rej)}
.status-failed,.publish-stale{background:var(--fail-bg);color:var(--fail)}
.status-running,.publish-pending{background:var(--run-bg);color:var(--run)}
.status-missing{background:var(--miss-bg);color:var(--miss)}
.publish-none,.status-unknown{background:var(--none-bg);color:var(--none)}
table.grid td.unpublished{border:1px dashed var(--fail)}
td.publish{border-right:3px solid var(--bg)}
ul.problems{margin:0;padding-left:20px}
ul.problems li{margin:3px 0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,
  "Liberation Mono","DejaVu Sans Mono",monospace;font-size:12px}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 24px}
"""


def render_status_html(
    grid: StatusGrid,
    *,
    where: str,
    console_url: Callable[[str], str],
    publish_arn: Callable[[DateStatus], str | None],
    reports: Mapping[str, str] | None = None,
) -> str:
    """The page: ``reports`` maps an execution ARN to the relative URL of its run report."""
    reports = reports or {}
    head = "".join(f'<th class="store" scope="col">{escape(store)}</th>' for store in grid.stores)
    rows = []
    for day in grid.dates:
        weekday = dt.date.fromisoformat(day.date).strftime("%a")
        cells = [_publish_cell(day, publish_arn(day), console_url, reports)]
        cells += [
            _store_cell(day, store, day.stores.get(store), console_url, reports)
            for store in grid.stores
        ]
        rows.append(
            f'<tr class="day" data-date="{escape(day.date)}">'
            f'<th class="date" scope="row">{escape(day.date)}'
            f'<span class="dow">{escape(weekday)}</span></th>{"".join(cells)}</tr>'
        )
    legend = "".join(
        f'<li><span class="swatch status-{escape(status.lower())}">{escape(code)}</span>'
        f"{escape(_CELL_MEANINGS[status])}</li>"
        for status, code in CELL_CODES.items()
    ) + "".join(
        f'<li><span class="swatch publish-{escape(state)}">{escape(state)}</span>'
        f"{escape(_PUBLISH_MEANINGS[state])}</li>"
        for state in PUBLISH_CODES
    )
    found = problems(grid)
    problem_html = (
        '<section class="card" id="problems"><h2>Needs a look</h2><ul class="problems">'
        + "".join(f"<li>{escape(line)}</li>" for line in found)
        + "</ul></section>"
        if found
        else ""
    )
    title = f"Stepline status {grid.stage} {grid.start} to {grid.end}"
    summary_class = "settled" if grid.settled else "attention"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<header class="card"><h1>Stepline status: stage {escape(grid.stage)}</h1>'
        f'<p class="where">{escape(grid.start)} to {escape(grid.end)} (UTC) &middot; '
        f"{escape(where)}</p>"
        f'<p class="summary {summary_class}">{escape(summary_line(grid))}</p></header>'
        f'<section class="card" id="grid"><ul class="legend">{legend}</ul>'
        '<div class="grid-wrap"><table class="grid"><thead><tr><th class="date">Date</th>'
        f'<th class="publish" scope="col">Publish</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
        f"{problem_html}"
        "<footer>Stepline status &middot; generated from the run ledger</footer>"
        "</main></body></html>\n"
    )


def _store_cell(
    day: DateStatus,
    store: str,
    cell: StoreDayCell | None,
    console_url: Callable[[str], str],
    reports: Mapping[str, str],
) -> str:
    data = f'data-date="{escape(day.date)}" data-store="{escape(store)}"'
    if cell is None:
        return f'<td class="cell absent" {data} data-status="" title="no file, not expected">-</td>'
    status_class = (
        f"status-{cell.status.lower()}" if cell.status in CELL_CODES else "status-unknown"
    )
    unpublished = bool(cell.data_run and not cell.published and day.published_at)
    classes = f"cell {status_class}{' unpublished' if unpublished else ''}"
    code = CELL_CODES.get(cell.status, cell.status) + ("*" if unpublished else "")
    title = "; ".join(
        part
        for part in (
            f"{store} {day.date}: {cell.status}",
            f"{cell.rows_out} rows" if cell.rows_out is not None else "",
            f"in {cell.failed_state}" if cell.failed_state else "",
            cell.reason or "",
            "its data is not in the last publish" if unpublished else "",
            cell.execution or "",
        )
        if part
    )
    body = escape(code)
    if cell.execution_arn:
        body = (
            f'<a class="console" href="{escape(console_url(cell.execution_arn))}">{body}</a>'
            + _report_link(cell.execution_arn, reports)
        )
    return (
        f'<td class="{classes}" {data} data-status="{escape(cell.status)}" '
        f'title="{escape(title)}">{body}</td>'
    )


def _publish_cell(
    day: DateStatus,
    arn: str | None,
    console_url: Callable[[str], str],
    reports: Mapping[str, str],
) -> str:
    label = day.publish + (" (running)" if day.publish_running else "")
    title = "; ".join(
        [f"{day.date}: {label}", *day.reasons]
        + ([f"published {day.published_at}"] if day.published_at else [])
    )
    body = escape(label)
    if arn:
        body = f'<a class="console" href="{escape(console_url(arn))}">{body}</a>' + _report_link(
            arn, reports
        )
    return (
        f'<td class="publish publish-{escape(day.publish)}" data-date="{escape(day.date)}" '
        f'data-publish="{escape(day.publish)}" title="{escape(title)}">{body}</td>'
    )


def _report_link(arn: str, reports: Mapping[str, str]) -> str:
    if arn not in reports:
        return ""
    return f'<a class="report" href="{escape(reports[arn])}">report</a>'


# ------------------------------------------------------------------ the local run reports


def write_status_html(
    path: Path, grid: StatusGrid, target: Any, *, where: str
) -> tuple[Path, list[Path]]:
    """Write the page (and, on the local target, a run report per execution); their paths."""
    publish_arns = {day.date: _publish_arn(target, day) for day in grid.dates}
    written: list[Path] = []
    reports: dict[str, str] = {}
    if target.kind == "local":
        folder = path.parent / f"{path.stem}-runs"
        executions: list[tuple[str, str, dict[str, Any]]] = []
        for day in grid.dates:
            arn = publish_arns[day.date]
            if arn:
                executions.append((arn, f"publish {day.date}", {}))
            executions += [
                (cell.execution_arn, f"{store} {day.date}", cell.item)
                for store, cell in sorted(day.stores.items())
                if cell.execution_arn
            ]
        for arn, what, item in executions:
            page = local_run_report(target, arn, what=what, ledger_item=item)
            if page is None:
                continue
            report = write_html(folder / f"{_file_name(arn)}.html", page)
            written.append(report)
            reports[arn] = f"{folder.name}/{report.name}"
    page = render_status_html(
        grid,
        where=where,
        console_url=target.console_url,
        publish_arn=lambda day: publish_arns[day.date],
        reports=reports,
    )
    return write_html(path, page), written


def local_run_report(
    target: Any, arn: str, *, what: str, ledger_item: Mapping[str, Any]
) -> str | None:
    """The run report of a local execution, or None when the environment does not hold it."""
    from stepline.definition import UnknownResourceError
    from stepline.report.timeline import build_timeline

    machine_name = arn.split(":")[6] if arn.count(":") >= 7 else ""
    try:
        machine = target.session.deployed.machine(machine_name)
        history = target.execution_history(arn)
    except (KeyError, UnknownResourceError):
        return None
    if not history:
        return None
    extra = [("Run ledger record", json_block(dict(ledger_item)))] if ledger_item else []
    return render_html(
        machine.definition,
        build_timeline(history),
        title=f"{machine.mock_name} {what}",
        extra_sections=extra,
    )


def _publish_arn(target: Any, day: DateStatus) -> str | None:
    """The ARN of the date's publish: the one running, else the last one that ran a pass."""
    name = day.publish_execution or day.published_execution
    if not name:
        return None
    return str(target.execution_arn("SalesPublish", name))


def _file_name(arn: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", arn.rsplit(":", 1)[-1]) or "execution"
