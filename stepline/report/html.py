"""The HTML run report: one self-contained page per execution.

:func:`render_html` draws the state machine as an inline SVG graph with the
path the run took highlighted, a table of every state run (with its input,
output, errors and causes one click away) and a header with the execution's
status. The page has no external resources at all (inline CSS and a few lines
of inline JavaScript, system fonts), so it can be attached to a ticket, opened
from an S3 console download or archived next to the run's data, and it reads
the same offline. Without JavaScript it loses nothing but the convenience of
clicking a state in the graph to open its rows.

Everything that comes from the execution (state names, inputs, outputs,
errors, causes) is HTML-escaped: a payload holding ``<script>`` is shown, never
run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from stepline.report.graph import (
    EdgeKind,
    GraphLayout,
    NodeBox,
    RoutedEdge,
    build_state_graph,
    layout_graph,
)
from stepline.report.text import format_duration, run_mark, shorten
from stepline.report.timeline import RunOutcome, StateRun, Timeline

__all__ = [
    "escape",
    "html_table",
    "json_block",
    "render_html",
    "render_state_graph_svg",
    "write_html",
]

# Payloads bigger than this are cut in the page (the full value stays in the history).
_MAX_JSON_CHARS = 200_000
_NAME_CHARS_PER_LINE = 25
_DETAIL_CHARS = 30


def escape(value: Any) -> str:
    """HTML-escape anything for text and attribute positions (quotes included).

    The one escaper of every Stepline page (the run report, ``stepline status --html``).
    """
    return html.escape(str(value), quote=True)


_e = escape


def _pretty_json(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > _MAX_JSON_CHARS:
        cut = len(text) - _MAX_JSON_CHARS
        text = f"{text[:_MAX_JSON_CHARS]}\n... ({cut} more characters not shown)"
    return text


def json_block(value: Any) -> str:
    """A ``<pre>`` block of pretty, escaped JSON: for ``extra_sections`` content."""
    return f'<pre class="json">{_e(_pretty_json(value))}</pre>'


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> str:
    """An escaped HTML table (rows as sequences or as mappings keyed by column).

    Meant for ``extra_sections``: e.g. the day's report rows from Athena.
    Numbers are right-aligned.
    """
    table = [
        [row.get(column) for column in columns] if isinstance(row, Mapping) else list(row)
        for row in rows
    ]

    def numeric(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    numeric_columns = {
        position
        for position in range(len(columns))
        if table and all(numeric(row[position]) for row in table if position < len(row))
    }
    head = "".join(
        f'<th class="num">{_e(column)}</th>'
        if position in numeric_columns
        else f"<th>{_e(column)}</th>"
        for position, column in enumerate(columns)
    )
    body_rows = []
    for values in table:
        cells = []
        for value in values:
            shown = "" if value is None else value
            cell_class = ' class="num"' if numeric(value) else ""
            cells.append(f"<td{cell_class}>{_e(shown)}</td>")
        body_rows.append(f"<tr>{''.join(cells)}</tr>")
    if not body_rows:
        body_rows.append(f'<tr><td colspan="{len(columns)}" class="empty">No rows</td></tr>')
    return (
        f'<table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )


def _format_timestamp(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d} UTC"


def _format_offset(seconds: float) -> str:
    """Time since the execution started, as ``+m:ss.s`` (``+1:02:03`` past an hour)."""
    whole_minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(whole_minutes), 60)
    if hours:
        return f"+{hours}:{minutes:02d}:{secs:04.1f}"
    return f"+{minutes}:{secs:04.1f}"


def _wrap_name(name: str, per_line: int = _NAME_CHARS_PER_LINE) -> list[str]:
    """Split a state name into at most two lines for its box; the box's title holds the rest."""
    lines: list[str] = []
    current = ""
    for word in name.split():
        candidate = f"{current} {word}".strip()
        if len(candidate) <= per_line or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    return [shorten(line, per_line) if len(line) > per_line else line for line in lines]


def _rounded_path(points: Sequence[tuple[float, float]], radius: float = 6.0) -> str:
    """An SVG path through orthogonal points with softly rounded corners."""
    if not points:
        return ""
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for previous, corner, following in zip(points, points[1:], points[2:], strict=False):
        before = _towards(corner, previous, radius)
        after = _towards(corner, following, radius)
        parts.append(f"L{before[0]:.1f},{before[1]:.1f}")
        parts.append(f"Q{corner[0]:.1f},{corner[1]:.1f} {after[0]:.1f},{after[1]:.1f}")
    parts.append(f"L{points[-1][0]:.1f},{points[-1][1]:.1f}")
    return " ".join(parts)


def _towards(
    origin: tuple[float, float], target: tuple[float, float], distance: float
) -> tuple[float, float]:
    dx, dy = target[0] - origin[0], target[1] - origin[1]
    length = (dx * dx + dy * dy) ** 0.5
    if length == 0:
        return origin
    step = min(distance, length / 2)
    return origin[0] + dx / length * step, origin[1] + dy / length * step


class _GraphPainter:
    """Writes the SVG of a layout, coloured by what the timeline says happened."""

    def __init__(self, timeline: Timeline | None) -> None:
        self.timeline = timeline
        self.outcomes = timeline.state_outcomes() if timeline else {}
        self.visits = timeline.visit_counts() if timeline else {}
        self.retries: dict[str, int] = {}
        self.first_run: dict[str, int] = {}
        self.taken: set[tuple[str, str]] = set()
        self.caught_states: set[str] = set()
        self.normal_exit_states: set[str] = set()
        if timeline:
            for run in timeline.runs:
                self.retries[run.name] = self.retries.get(run.name, 0) + run.retries
                self.first_run.setdefault(run.name, run.index)
                if run.outcome is RunOutcome.CAUGHT:
                    self.caught_states.add(run.name)
                elif run.outcome is RunOutcome.SUCCEEDED:
                    self.normal_exit_states.add(run.name)
            self.taken = set(timeline.transitions)
        self.node_ids: dict[str, str] = {}
        self.parts: list[str] = []

    def node_id(self, name: str) -> str:
        if name not in self.node_ids:
            self.node_ids[name] = f"node-{len(self.node_ids) + 1}"
        return self.node_ids[name]

    def edge_taken(self, routed: RoutedEdge) -> bool:
        edge = routed.edge
        if (edge.source, edge.target) not in self.taken:
            return False
        # A Next and a Catch can join the same two states: the run's outcome says which was used.
        if edge.kind == EdgeKind.CATCH:
            return edge.source in self.caught_states
        return edge.source in self.normal_exit_states

    def paint(self, layout: GraphLayout, dx: float = 0.0, dy: float = 0.0) -> None:
        routed = sorted(layout.edges, key=self.edge_taken)  # taken edges drawn last, on top
        for edge in routed:
            self.paint_edge(edge, dx, dy)
        if layout.start_marker:
            x, y = layout.start_marker[0] + dx, layout.start_marker[1] + dy
            self.parts.append(
                f'<g class="start"><circle cx="{x:.1f}" cy="{y - 4:.1f}" r="5"/>'
                f'<line x1="{x:.1f}" y1="{y + 1:.1f}" x2="{x:.1f}" y2="{y + 16:.1f}" '
                f'marker-end="url(#arrow-start)"/></g>'
            )
        for box in layout.boxes.values():
            self.paint_node(layout, box, dx, dy)
            for bx, by, inner in box.branches:
                ox, oy = dx + box.x + bx, dy + box.y + by
                self.parts.append(
                    f'<rect class="branch" x="{ox:.1f}" y="{oy:.1f}" '
                    f'width="{inner.width:.1f}" height="{inner.height:.1f}" rx="8"/>'
                )
                self.paint(inner, ox, oy)
        for edge in routed:
            self.paint_edge_label(edge, dx, dy)

    def paint_edge(self, routed: RoutedEdge, dx: float, dy: float) -> None:
        taken = self.edge_taken(routed)
        classes = ["edge", routed.edge.kind.value]
        if routed.back:
            classes.append("back")
        if taken:
            classes.append("taken")
        marker = "arrow"
        if routed.edge.kind == EdgeKind.CATCH:
            marker += "-catch"
        if taken:
            marker += "-taken"
        points = [(x + dx, y + dy) for x, y in routed.points]
        title = f"{routed.edge.source} \u2192 {routed.edge.target}"
        if routed.edge.kind == EdgeKind.CATCH:
            title += f" (Catch {routed.edge.label})" if routed.edge.label else " (Catch)"
        elif routed.edge.label:
            title += f" ({routed.edge.label})"
        self.parts.append(
            f'<path class="{" ".join(classes)}" d="{_rounded_path(points)}" '
            f'marker-end="url(#{marker})" data-source="{_e(routed.edge.source)}" '
            f'data-target="{_e(routed.edge.target)}"><title>{_e(title)}</title></path>'
        )

    def paint_edge_label(self, routed: RoutedEdge, dx: float, dy: float) -> None:
        if routed.label_at is None or not routed.edge.label:
            return
        x, y = routed.label_at[0] + dx, routed.label_at[1] + dy
        taken = " taken" if self.edge_taken(routed) else ""
        self.parts.append(
            f'<text class="edge-label{taken}" x="{x:.1f}" y="{y:.1f}">'
            f"{_e(shorten(routed.edge.label, 34))}</text>"
        )

    def paint_node(self, layout: GraphLayout, box: NodeBox, dx: float, dy: float) -> None:
        node = layout.graph.nodes[box.name]
        x, y = box.x + dx, box.y + dy
        visits = self.visits.get(box.name, 0)
        outcome = self.outcomes.get(box.name)
        classes = ["node", f"type-{node.state_type.lower()}"]
        classes.append("visited" if visits else "not-visited")
        if outcome is not None:
            classes.append(f"outcome-{outcome.value}")
        if node.branches:
            classes.append("container")
        retries = self.retries.get(box.name, 0)
        if retries:
            classes.append("retried")

        status_text = "not visited"
        if visits:
            outcome_text = outcome.value if outcome else "visited"
            status_text = f"{outcome_text}, entered {visits} time{'s' * (visits != 1)}"
            if retries:
                status_text += f", {retries} retr{'ies' if retries != 1 else 'y'}"
        kind = node.state_type.upper()
        detail = f"{kind} \u00b7 {node.detail}" if node.detail else kind
        kind_line = f"{node.state_type} - {node.detail}" if node.detail else node.state_type
        title = f"{box.name}\n{kind_line}\n{status_text}"

        body: list[str] = [
            f"<title>{_e(title)}</title>",
            f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="9"/>',
            self.icon(node.state_type, x + 14, y + 14),
            f'<text class="kind" x="{x + 24:.1f}" y="{y + 18:.1f}">'
            f"{_e(shorten(detail, _DETAIL_CHARS))}</text>",
        ]
        name_lines = _wrap_name(box.name)
        if node.branches:
            body.append(
                f'<text class="name" x="{x + 12:.1f}" y="{y + 35:.1f}">'
                f"{_e(' '.join(name_lines))}</text>"
            )
        else:
            first_y = y + (37 if len(name_lines) == 1 else 33)
            for offset, line in enumerate(name_lines):
                body.append(
                    f'<text class="name" x="{x + 12:.1f}" y="{first_y + 15 * offset:.1f}">'
                    f"{_e(line)}</text>"
                )
        # Badges sit on the box's top edge, right-aligned: visit count, then retries.
        right = x + box.width - 8
        if visits > 1:
            badge, width = _badge("visits", f"\u00d7{visits}", right, y, padding=10)
            body.append(badge)
            right -= width + 6
        if retries:
            body.append(_badge("retries", f"\u21bb{retries}", right, y, padding=12)[0])
        content = "".join(body)
        if visits:
            run_index = self.first_run[box.name]
            content = f'<a class="node-link" href="#run-{run_index}">{content}</a>'
        self.parts.append(
            f'<g class="{" ".join(classes)}" id="{self.node_id(box.name)}" '
            f'data-state="{_e(box.name)}" data-visits="{visits}">{content}</g>'
        )

    @staticmethod
    def icon(state_type: str, cx: float, cy: float) -> str:
        """A small glyph drawn with SVG shapes (no icon font): the state's type at a glance."""
        if state_type == "Choice":
            return (
                f'<path class="icon" d="M{cx:.1f},{cy - 5:.1f} L{cx + 5:.1f},{cy:.1f} '
                f'L{cx:.1f},{cy + 5:.1f} L{cx - 5:.1f},{cy:.1f} Z"/>'
            )
        if state_type in ("Wait", "Succeed", "Fail"):
            return f'<circle class="icon" cx="{cx:.1f}" cy="{cy:.1f}" r="4.5"/>'
        if state_type == "Pass":
            return (
                f'<path class="icon" d="M{cx - 4:.1f},{cy - 5:.1f} L{cx + 5:.1f},{cy:.1f} '
                f'L{cx - 4:.1f},{cy + 5:.1f} Z"/>'
            )
        x, y = cx - 4.5, cy - 4.5
        return f'<rect class="icon" x="{x:.1f}" y="{y:.1f}" width="9" height="9" rx="2"/>'


def _badge(kind: str, label: str, right: float, y: float, *, padding: int) -> tuple[str, float]:
    """A pill-shaped SVG badge ending at ``right`` on the line ``y``; returns it and its width."""
    width = padding + 7 * len(label)
    left = right - width
    svg = (
        f'<g class="badge {kind}"><rect x="{left:.1f}" y="{y - 9:.1f}" '
        f'width="{width:.1f}" height="18" rx="9"/>'
        f'<text x="{left + width / 2:.1f}" y="{y + 4:.1f}" text-anchor="middle">'
        f"{_e(label)}</text></g>"
    )
    return svg, width


def _marker(marker_id: str, color: str, size: int) -> str:
    return (
        f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="{size}" markerHeight="{size}" orient="auto-start-reverse">'
        f'<path d="M0,1 L9,5 L0,9 z" fill="{color}"/></marker>'
    )


_SVG_DEFS = (
    "<defs>"
    + _marker("arrow", "#aab4bf", 7)
    + _marker("arrow-taken", "#0969da", 6)
    + _marker("arrow-catch", "#e3b48f", 7)
    + _marker("arrow-catch-taken", "#d4570b", 6)
    + _marker("arrow-start", "#57606a", 7)
    + "</defs>"
)


def _graph_svg(
    definition: Mapping[str, Any], timeline: Timeline | None
) -> tuple[str, dict[str, str], int]:
    """(svg markup, node id of each state, number of states) for a definition."""
    graph = build_state_graph(definition)
    layout = layout_graph(graph)
    painter = _GraphPainter(timeline)
    painter.paint(layout)
    svg = (
        f'<svg class="state-graph" xmlns="http://www.w3.org/2000/svg" '
        f'width="{layout.width:.0f}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" role="img" '
        f'aria-label="State graph: the path this run took is highlighted">'
        f"{_SVG_DEFS}{''.join(painter.parts)}</svg>"
    )
    return svg, painter.node_ids, len(graph.all_state_names())


def render_state_graph_svg(definition: Mapping[str, Any], timeline: Timeline | None = None) -> str:
    """The definition's state graph as an inline ``<svg>``, coloured by ``timeline`` if given.

    The page's stylesheet gives it its colours: embed it in :func:`render_html`'s
    page, or style the ``.node`` / ``.edge`` classes yourself.
    """
    return _graph_svg(definition, timeline)[0]


_STATUS_LABELS = {
    "ok": "ok",
    "retried": "retried",
    "caught": "caught",
    "FAILED": "failed",
    "stopped": "stopped",
}


def _error_html(run: StateRun) -> str:
    if not run.errors:
        return ""
    items = []
    for error in run.errors:
        flag = "retried" if error.retried else ("caught" if run.caught else "")
        flag_html = f' <span class="flag">{flag}</span>' if flag else ""
        cause_html = (
            f'<pre class="cause">{_e(_pretty_cause(error.cause))}</pre>' if error.cause else ""
        )
        items.append(
            f'<li><code class="error-name">{_e(error.error or "error")}</code>{flag_html}'
            f"{cause_html}</li>"
        )
    return f'<div class="io-block"><h4>Errors</h4><ul class="errors">{"".join(items)}</ul></div>'


def _pretty_cause(cause: str) -> str:
    """Causes are often JSON (a Lambda error, a Redshift statement): show them indented."""
    stripped = cause.strip()
    if stripped.startswith(("{", "[")):
        try:
            return _pretty_json(json.loads(stripped))
        except ValueError:
            pass
    return cause


def _run_rows(timeline: Timeline, node_ids: Mapping[str, str]) -> str:
    started = timeline.started
    total = timeline.duration_seconds or 0.0
    depth: dict[int, int] = {}
    rows: list[str] = []
    for run in timeline.runs:
        depth[run.index] = 0 if run.parent_index is None else depth.get(run.parent_index, 0) + 1
        mark = run_mark(run)
        offset = (run.entered - started).total_seconds() if started else 0.0
        if total > 0:
            left = min(100.0, max(0.0, offset / total * 100))
            width = min(100.0 - left, max(0.6, run.duration_seconds / total * 100))
        else:
            left, width = 0.0, 100.0
        visit = f' <span class="visit">#{run.visit}</span>' if run.visit > 1 else ""
        resource = (
            f'<div class="resource">{_e(run.task_resource)}</div>' if run.task_resource else ""
        )
        error_line = ""
        if run.last_error is not None:
            error = run.last_error
            note = " (retried)" if error.retried else ""
            error_line = (
                f'<div class="error-line"><code>{_e(error.error or "error")}</code>{note}'
                f"{': ' + _e(shorten(error.cause, 140)) if error.cause else ''}</div>"
            )
        io_blocks = [
            f'<div class="io-block"><h4>Input</h4>{json_block(run.input)}</div>',
        ]
        if run.exited is not None:
            io_blocks.append(f'<div class="io-block"><h4>Output</h4>{json_block(run.output)}</div>')
        io_html = "".join(io_blocks) + _error_html(run)
        node_attr = f' data-node="{node_ids[run.name]}"' if run.name in node_ids else ""
        rows.append(
            f'<tr id="run-{run.index}" class="run mark-{mark.lower()}"{node_attr}>'
            f'<td class="num">{run.index}</td>'
            f'<td class="state" style="padding-left:{10 + 18 * depth[run.index]}px">'
            f'<details><summary><span class="state-name">{_e(run.name)}</span>{visit}</summary>'
            f'<div class="io">{io_html}</div></details>{resource}{error_line}</td>'
            f"<td>{_e(run.state_type)}</td>"
            f'<td class="num mono">{_e(_format_offset(offset))}</td>'
            f'<td class="num">{_e(format_duration(run.duration_seconds))}</td>'
            f'<td class="num">{run.retries or ""}</td>'
            f'<td><span class="pill mark-{mark.lower()}">{_STATUS_LABELS[mark]}</span></td>'
            f'<td class="gantt" aria-hidden="true"><div class="track">'
            f'<div class="bar mark-{mark.lower()}" '
            f'style="left:{left:.2f}%;width:{width:.2f}%"></div>'
            f"</div></td></tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="8" class="empty">No state was entered.</td></tr>')
    return "".join(rows)


def _header(timeline: Timeline, title: str, state_count: int) -> str:
    status = timeline.status.value
    visited = len(timeline.visit_counts())
    facts = [
        ("Started", _format_timestamp(timeline.started)),
        ("Stopped", _format_timestamp(timeline.stopped)),
        ("Duration", format_duration(timeline.duration_seconds)),
        ("State runs", str(len(timeline.runs))),
        ("States visited", f"{visited} of {state_count}"),
        ("Retries", str(timeline.total_retries)),
    ]
    facts_html = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    error_html = ""
    if timeline.error or timeline.cause:
        cause = (
            f'<pre class="cause">{_e(_pretty_cause(timeline.cause))}</pre>'
            if timeline.cause
            else ""
        )
        error_html = (
            f'<div class="exec-error"><div class="exec-error-title">'
            f"<code>{_e(timeline.error or 'error')}</code></div>{cause}</div>"
        )
    data_blocks = [
        f'<div class="io-block"><h4>Execution input</h4>{json_block(timeline.input)}</div>'
    ]
    if timeline.output is not None:
        data_blocks.append(
            f'<div class="io-block"><h4>Execution output</h4>{json_block(timeline.output)}</div>'
        )
    return (
        f'<header class="card run-header"><div class="title-row">'
        f"<h1>{_e(title)}</h1>"
        f'<span class="status status-{_e(status.lower())}">{_e(status)}</span></div>'
        f'<dl class="facts">{facts_html}</dl>{error_html}'
        f'<details class="exec-data"><summary>Execution input and output</summary>'
        f'<div class="io">{"".join(data_blocks)}</div></details></header>'
    )


_LEGEND = """<ul class="legend">
<li><span class="swatch outcome-succeeded"></span>succeeded</li>
<li><span class="swatch outcome-caught"></span>caught by a Catch</li>
<li><span class="swatch outcome-failed"></span>failed</li>
<li><span class="swatch outcome-stopped"></span>stopped</li>
<li><span class="swatch not-visited"></span>not visited</li>
<li><span class="line taken"></span>path taken</li>
<li><span class="line catch"></span>Catch</li>
<li><span class="line back"></span>loop back</li>
<li><span class="chip visits">&#215;3</span>entered 3 times</li>
<li><span class="chip retries">&#8635;1</span>retried once</li>
</ul>"""


_CSS = """
:root{
  --bg:#f6f8fa;--card:#fff;--border:#d0d7de;--text:#1f2328;--muted:#59636e;--ok:#1a7f37;
  --ok-bg:#dafbe1;--caught:#bc4c00;--caught-bg:#fff1e5;--fail:#cf222e;--fail-bg:#ffebe9;
  --stop:#8250df;--stop-bg:#fbefff;--blue:#0969da;--amber:#9a6700;--amber-bg:#fff8c5}
*{box-sizing:border-box}
body{
  margin:0;background:var(--bg);color:var(--text);
  font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans","Liberation Sans",
    "DejaVu Sans",Helvetica,Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:24px}
code,pre,.mono{
  font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",
    "DejaVu Sans Mono",monospace}
.card{
  background:var(--card);border:1px solid var(--border);border-radius:10px;padding:18px 22px;
  margin-bottom:20px}
h1{font-size:22px;margin:0;font-weight:600}
h2{font-size:16px;margin:0 0 12px;font-weight:600}
h4{
  font-size:12px;margin:0 0 4px;color:var(--muted);text-transform:uppercase;
  letter-spacing:.04em}
.title-row{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.status{
  font-weight:600;font-size:12px;letter-spacing:.05em;padding:4px 12px;border-radius:999px;
  border:1px solid}
.status-succeeded{color:var(--ok);background:var(--ok-bg);border-color:#4ac26b}
.status-failed,.status-timed_out{
  color:var(--fail);background:var(--fail-bg);border-color:#ff8182}
.status-aborted,.status-running{
  color:var(--stop);background:var(--stop-bg);border-color:#d8b9ff}
.facts{display:flex;flex-wrap:wrap;gap:10px 44px;margin:16px 0 0}
.facts dd{white-space:nowrap}
.facts dt{font-size:12px;color:var(--muted)}
.facts dd{margin:2px 0 0;font-weight:600;font-variant-numeric:tabular-nums}
.exec-error{
  margin-top:16px;border:1px solid #ff8182;background:var(--fail-bg);border-radius:8px;
  padding:10px 14px}
.exec-error-title code{color:var(--fail);font-weight:600}
pre{margin:6px 0 0;white-space:pre-wrap;word-break:break-word;font-size:12px;line-height:1.45}
pre.cause{max-height:240px;overflow:auto}
pre.json{
  background:var(--bg);border:1px solid var(--border);border-radius:6px;padding:8px 10px;
  max-height:360px;overflow:auto}
details>summary{cursor:pointer}
.exec-data{margin-top:14px}
.exec-data>summary{color:var(--blue);font-size:13px}
.io{
  display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px;
  margin:10px 0 4px}
.graph-card{overflow-x:auto}
.graph-wrap{display:flex;justify-content:center;min-width:min-content}
.legend{
  list-style:none;display:flex;flex-wrap:wrap;gap:6px 18px;padding:0;margin:0 0 10px;
  font-size:12px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{width:14px;height:14px;border-radius:4px;border:1.5px solid}
.swatch.outcome-succeeded{background:var(--ok-bg);border-color:var(--ok)}
.swatch.outcome-caught{background:var(--caught-bg);border-color:var(--caught)}
.swatch.outcome-failed{background:var(--fail-bg);border-color:var(--fail)}
.swatch.outcome-stopped{background:var(--stop-bg);border-color:var(--stop)}
.swatch.not-visited{background:#f6f8fa;border-color:#d0d7de}
.line{width:26px;height:0;border-top:2.5px solid var(--blue)}
.line.catch{border-top:2px dashed #d4570b}
.line.back{border-top:2px dashed #aab4bf}
.chip{
  font-size:11px;font-weight:600;color:#fff;border-radius:999px;padding:0 7px;line-height:17px}
.chip.visits{background:var(--blue)}
.chip.retries{background:#bf8700}
svg.state-graph{display:block;font-family:inherit}
svg .edge{fill:none;stroke:#c2cad3;stroke-width:1.4}
svg .edge.catch{stroke:#ecc9ad;stroke-dasharray:5 4}
svg .edge.back{stroke-dasharray:6 4}
svg .edge.taken{stroke:var(--blue);stroke-width:2.6}
svg .edge.catch.taken{stroke:#d4570b}
svg .edge-label{
  font-size:10.5px;fill:#6e7781;paint-order:stroke;stroke:#fff;stroke-width:4px;
  stroke-linejoin:round}
svg .edge-label.taken{fill:#0550ae;font-weight:600}
svg .start circle{fill:#57606a}
svg .start line{stroke:#57606a;stroke-width:1.6}
svg .branch{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:4 3}
svg .node .box{fill:#f6f8fa;stroke:#d0d7de;stroke-width:1.4}
svg .node .kind{font-size:10px;fill:#8c959f;letter-spacing:.03em}
svg .node .name{font-size:13px;font-weight:600;fill:#8c959f}
svg .node .icon{fill:#afb8c1}
svg .node.visited .name{fill:var(--text)}
svg .node.visited .kind{fill:var(--muted)}
svg .node.outcome-succeeded .box{fill:var(--ok-bg);stroke:var(--ok);stroke-width:1.8}
svg .node.outcome-succeeded .icon{fill:var(--ok)}
svg .node.outcome-caught .box{fill:var(--caught-bg);stroke:var(--caught);stroke-width:1.8}
svg .node.outcome-caught .icon{fill:var(--caught)}
svg .node.outcome-failed .box{fill:var(--fail-bg);stroke:var(--fail);stroke-width:2.2}
svg .node.outcome-failed .icon{fill:var(--fail)}
svg .node.outcome-stopped .box{fill:var(--stop-bg);stroke:var(--stop);stroke-width:1.8}
svg .node.outcome-stopped .icon{fill:var(--stop)}
svg .node.container>.box,svg .node.container>a>.box{fill-opacity:.35}
svg .node-link{cursor:pointer}
svg .node-link:hover .box{filter:drop-shadow(0 2px 4px rgba(31,35,40,.25))}
svg .node-link:focus{outline:none}
svg .node-link:focus .box{stroke:var(--blue);stroke-width:2.6}
svg .badge text{font-size:11px;font-weight:600;fill:#fff}
svg .badge.visits rect{fill:var(--blue)}
svg .badge.retries rect{fill:#bf8700}
table{width:100%;border-collapse:collapse}
table.runs{table-layout:fixed}
th{
  text-align:left;font-size:12px;color:var(--muted);font-weight:600;
  border-bottom:1px solid var(--border);padding:8px 10px;white-space:nowrap}
td{border-bottom:1px solid #eaeef2;padding:8px 10px;vertical-align:top}
tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.empty{text-align:center;color:var(--muted)}
.runs col.c-num{width:46px}
.runs col.c-type{width:84px}
.runs col.c-start{width:88px}
.runs col.c-dur{width:100px}
.runs col.c-retries{width:70px}
.runs col.c-status{width:92px}
.runs col.c-gantt{width:22%}
.runs tr.run:hover td{background:#f6f8fa}
.runs tr.run:target td,.runs tr.run.flash td{background:#ddf4ff}
.state summary{font-weight:600}
.state .visit{color:var(--blue);font-weight:600;font-size:12px}
.resource{font-size:12px;color:var(--muted);margin-top:2px}
.error-line{font-size:12px;color:var(--fail);margin-top:3px;word-break:break-word}
.error-line code{font-weight:600}
tr.mark-caught .error-line{color:var(--caught)}
tr.mark-ok .error-line,tr.mark-retried .error-line{color:var(--amber)}
.errors{list-style:none;margin:0;padding:0}
.errors li{margin-bottom:8px}
.error-name{font-weight:600}
.flag{
  font-size:11px;border-radius:999px;padding:0 6px;background:var(--amber-bg);
  color:var(--amber);margin-left:4px}
.pill{
  display:inline-block;font-size:12px;font-weight:600;border-radius:999px;padding:1px 9px;
  border:1px solid}
.pill.mark-ok{color:var(--ok);background:var(--ok-bg);border-color:#4ac26b}
.pill.mark-retried{color:var(--amber);background:var(--amber-bg);border-color:#d4a72c}
.pill.mark-caught{color:var(--caught);background:var(--caught-bg);border-color:#fb8f44}
.pill.mark-failed{color:var(--fail);background:var(--fail-bg);border-color:#ff8182}
.pill.mark-stopped{color:var(--stop);background:var(--stop-bg);border-color:#d8b9ff}
.gantt .track{position:relative;height:10px;margin-top:5px;background:#eff2f5;border-radius:5px}
.gantt .bar{
  position:absolute;top:0;bottom:0;border-radius:5px;min-width:3px;background:var(--ok)}
.gantt .bar.mark-retried{background:#d4a72c}
.gantt .bar.mark-caught{background:#fb8f44}
.gantt .bar.mark-failed{background:var(--fail)}
.gantt .bar.mark-stopped{background:var(--stop)}
table.data{font-size:13px}
table.data th{background:var(--bg)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 24px}
@media (max-width:900px){
  .runs col.c-gantt{width:0}
  .gantt{display:none}
  main{padding:12px}
}
"""

# Progressive enhancement only: anchors already scroll to the row without it.
_JS = """
(function(){
  document.documentElement.classList.add('js');
  function openRuns(nodeId){
    var rows=document.querySelectorAll('tr.run[data-node="'+nodeId+'"]');
    for(var i=0;i<rows.length;i++){
      var d=rows[i].querySelector('details'); if(d){d.open=true;}
      rows[i].classList.remove('flash'); void rows[i].offsetWidth; rows[i].classList.add('flash');
    }
  }
  document.addEventListener('click',function(event){
    var link=event.target.closest?event.target.closest('a.node-link'):null;
    if(!link){return;}
    var node=link.closest('.node'); if(node){openRuns(node.id);}
  });
})();
"""


def render_html(
    definition: Mapping[str, Any],
    timeline: Timeline,
    *,
    title: str,
    extra_sections: list[tuple[str, str]] | None = None,
) -> str:
    """The run report page for one execution of ``definition``.

    ``extra_sections`` are ``(heading, html)`` pairs appended after the state
    runs; the heading is escaped, the HTML is inserted as given (build it with
    :func:`html_table` / :func:`json_block`, which escape their data).
    """
    svg, node_ids, state_count = _graph_svg(definition, timeline)
    extras = "".join(
        f'<section class="card extra"><h2>{_e(heading)}</h2>{body}</section>'
        for heading, body in (extra_sections or [])
    )
    table = (
        '<table class="runs"><colgroup><col class="c-num"><col class="c-state"><col class="c-type">'
        '<col class="c-start"><col class="c-dur"><col class="c-retries"><col class="c-status">'
        '<col class="c-gantt"></colgroup><thead><tr><th class="num">#</th><th>State</th>'
        '<th>Type</th><th class="num">Start</th><th class="num">Duration</th>'
        '<th class="num">Retries</th><th>Status</th><th>Timeline</th></tr></thead>'
        f"<tbody>{_run_rows(timeline, node_ids)}</tbody></table>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} - {_e(timeline.status.value)}</title>"
        f"<style>{_CSS}</style></head><body><main>"
        f"{_header(timeline, title, state_count)}"
        f'<section class="card graph-card" id="graph"><h2>State graph</h2>{_LEGEND}'
        f'<div class="graph-wrap">{svg}</div></section>'
        f'<section class="card" id="runs"><h2>State runs</h2>{table}</section>'
        f"{extras}"
        "<footer>Stepline run report &middot; generated from the execution history</footer>"
        f"</main><script>{_JS}</script></body></html>\n"
    )


def write_html(path: str | Path, page: str) -> Path:
    """Write a rendered page as UTF-8 (creating parent folders) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
