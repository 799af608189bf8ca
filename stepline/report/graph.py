"""The state graph of a definition and its top-to-bottom layout, for the HTML run report.

:func:`build_state_graph` reads an Amazon States Language definition into
nodes (states) and edges (``Next``, Choice rules and ``Default``, ``Catch``).
:func:`layout_graph` places them in layers, top to bottom, the way a data
engineer draws the pipeline on a whiteboard:

* loops (the Redshift poll loop) are found by a depth-first walk from
  ``StartAt``; their back-edges are set aside so the rest is acyclic;
* each state goes one layer below its deepest predecessor (longest path);
* within a layer, states sit under their predecessors, the state with the
  most descendants (the main path) keeps its place so the spine stays
  straight, and side branches are pushed left and right;
* edges between neighbouring layers are drawn as short orthogonal elbows;
  edges that skip layers (``Catch`` to the failure notifier) and back-edges
  run along vertical lanes beside the graph, bundled per target.

Parallel and Map states are drawn as boxes holding the layout of their
branches. Everything is deterministic: the same definition gives the same
picture, so reports of different runs compare at a glance. Pure functions,
no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "EdgeKind",
    "GraphEdge",
    "GraphLayout",
    "GraphNode",
    "NodeBox",
    "RoutedEdge",
    "StateGraph",
    "build_state_graph",
    "layout_graph",
    "summarize_choice_rule",
]

NODE_WIDTH = 204.0
NODE_HEIGHT = 56.0
NODE_GAP = 30.0
"""Horizontal space between two states of one layer."""
LAYER_GAP = 50.0
"""Vertical space between two layers: room for elbows, lane exits and entries."""
LANE_OFFSET = 18.0
LANE_STEP = 12.0
TRACK_STEP = 6.0
SIDE_STUB = 12.0
BRANCH_PADDING = 14.0
BRANCH_HEADER = 46.0
BRANCH_GAP = 18.0
MARGIN = 24.0
START_SPACE = 30.0


class EdgeKind(StrEnum):
    NEXT = "next"
    CHOICE = "choice"
    DEFAULT = "default"
    CATCH = "catch"


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    kind: EdgeKind
    label: str | None = None


@dataclass
class GraphNode:
    name: str
    state_type: str
    detail: str | None = None
    """A short description under the type: the task integration, the wait time..."""
    branches: list[StateGraph] = field(default_factory=list)
    """Parallel branches, or the one Map item processor."""


@dataclass
class StateGraph:
    start_at: str
    nodes: dict[str, GraphNode]
    edges: list[GraphEdge]

    def all_state_names(self) -> list[str]:
        """Every state, including the ones inside Parallel branches and Map processors."""
        names: list[str] = []
        for node in self.nodes.values():
            names.append(node.name)
            for branch in node.branches:
                names.extend(branch.all_state_names())
        return names


# Longest suffix first, so "NumericGreaterThanEquals" is not read as "Equals".
_OPERATOR_SYMBOLS = (
    ("GreaterThanEquals", ">="),
    ("LessThanEquals", "<="),
    ("GreaterThan", ">"),
    ("LessThan", "<"),
    ("Equals", "="),
    ("Matches", "~"),
)


def _short_path(path: str) -> str:
    """``$.load.describe.status`` -> ``status``: the last field is what a reader needs."""
    segments = [segment for segment in re.split(r"[.\[\]]", path) if segment and segment != "$"]
    return segments[-1] if segments else path


def _comparison(rule: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(variable, operator, value) of a simple JSONPath Choice rule, or None."""
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        return None
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        if key.startswith("Is"):
            return (_short_path(variable), key[2:].lower(), "" if value else "not")
        base = key.removesuffix("Path")
        for suffix, symbol in _OPERATOR_SYMBOLS:
            if base.endswith(suffix):
                shown = _short_path(str(value)) if key.endswith("Path") else _literal(value)
                return (_short_path(variable), symbol, shown)
    return None


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def summarize_choice_rule(rule: Mapping[str, Any]) -> str:
    """A short label for a Choice rule: ``accepted = false``, ``status in FAILED, ABORTED``."""
    condition = rule.get("Condition")
    if isinstance(condition, str):  # JSONata rule: show the expression itself.
        return condition.removeprefix("{%").removesuffix("%}").strip()
    comparison = _comparison(rule)
    if comparison is not None:
        variable, symbol, value = comparison
        if symbol in ("present", "null", "string", "numeric", "boolean", "timestamp"):
            return f"{variable} {'is not' if value == 'not' else 'is'} {symbol}"
        return f"{variable} {symbol} {value}"
    for operator, joiner in (("Or", " or "), ("And", " and ")):
        children = rule.get(operator)
        if isinstance(children, list) and children:
            parts = [_comparison(child) for child in children]
            variables = {part[0] for part in parts if part}
            if (
                operator == "Or"
                and all(parts)
                and len(variables) == 1
                and all(part[1] == "=" for part in parts if part)
            ):
                values = ", ".join(part[2] for part in parts if part)
                return f"{variables.pop()} in {values}"
            return joiner.join(summarize_choice_rule(child) for child in children)
    inner = rule.get("Not")
    if isinstance(inner, Mapping):
        return f"not ({summarize_choice_rule(inner)})"
    return "rule"


def _state_detail(state: Mapping[str, Any]) -> str | None:
    state_type = state.get("Type")
    if state_type == "Task":
        resource = str(state.get("Resource", ""))
        if resource.startswith("arn:aws:states:::"):
            resource = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
        elif resource.startswith("arn:aws:lambda:"):
            resource = "lambda:" + resource.rsplit(":", 1)[-1]
        return resource or None
    if state_type == "Wait":
        for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"):
            if key in state:
                value = state[key]
                return f"{value} s" if key == "Seconds" else f"{key}: {value}"
    if state_type == "Fail" and isinstance(state.get("Error"), str):
        error = state["Error"]
        return None if error.startswith("{%") else error
    if state_type == "Map":
        return "for each item"
    return None


def build_state_graph(definition: Mapping[str, Any]) -> StateGraph:
    """Read the states and transitions of an ASL definition (or of a Parallel branch)."""
    states: Mapping[str, Any] = definition.get("States", {})
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    for name, state in states.items():
        state_type = str(state.get("Type", "?"))
        branches: list[StateGraph] = []
        if state_type == "Parallel":
            branches = [build_state_graph(branch) for branch in state.get("Branches", [])]
        elif state_type == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, Mapping):
                branches = [build_state_graph(processor)]
        nodes[name] = GraphNode(name, state_type, _state_detail(state), branches)

        if state_type == "Choice":
            for rule in state.get("Choices", []):
                if "Next" in rule:
                    edges.append(
                        GraphEdge(name, rule["Next"], EdgeKind.CHOICE, summarize_choice_rule(rule))
                    )
            if "Default" in state:
                edges.append(GraphEdge(name, state["Default"], EdgeKind.DEFAULT, "default"))
        elif isinstance(state.get("Next"), str):
            edges.append(GraphEdge(name, state["Next"], EdgeKind.NEXT))
        for catcher in state.get("Catch", []):
            if isinstance(catcher.get("Next"), str):
                errors = catcher.get("ErrorEquals", [])
                edges.append(GraphEdge(name, catcher["Next"], EdgeKind.CATCH, ", ".join(errors)))
    # Drop edges to states that do not exist: statelint reports those, the picture just skips them.
    edges = [edge for edge in edges if edge.target in nodes]
    return StateGraph(str(definition.get("StartAt", "")), nodes, edges)


@dataclass
class NodeBox:
    """Where a state is drawn: top-left corner, size, and the layouts of its branches."""

    name: str
    x: float
    y: float
    width: float
    height: float
    layer: int
    branches: list[tuple[float, float, GraphLayout]] = field(default_factory=list)
    """(x offset, y offset, layout) of each Parallel branch / Map processor inside the box."""

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def right(self) -> float:
        return self.x + self.width


@dataclass
class RoutedEdge:
    edge: GraphEdge
    points: list[tuple[float, float]]
    back: bool = False
    """A loop edge: it goes back up to an earlier layer."""
    label_at: tuple[float, float] | None = None


@dataclass
class GraphLayout:
    graph: StateGraph
    boxes: dict[str, NodeBox]
    edges: list[RoutedEdge]
    width: float
    height: float
    start_marker: tuple[float, float] | None
    """Where the start dot is drawn (just above the StartAt state)."""

    def all_boxes(self, dx: float = 0.0, dy: float = 0.0) -> list[tuple[NodeBox, float, float]]:
        """Every box with the offset to draw it at, branches included."""
        found: list[tuple[NodeBox, float, float]] = []
        for box in self.boxes.values():
            found.append((box, dx, dy))
            for bx, by, inner in box.branches:
                found.extend(inner.all_boxes(dx + box.x + bx, dy + box.y + by))
        return found


def _find_back_edges(graph: StateGraph) -> tuple[set[int], list[str]]:
    """Edges closing a loop (found depth-first from StartAt) and the discovery order of states."""
    outgoing: dict[str, list[int]] = {name: [] for name in graph.nodes}
    for index, edge in enumerate(graph.edges):
        outgoing[edge.source].append(index)
    status: dict[str, int] = {}  # 1: on the walk's stack, 2: done
    back: set[int] = set()
    order: list[str] = []

    roots = [graph.start_at] if graph.start_at in graph.nodes else []
    roots += [name for name in graph.nodes if name != graph.start_at]
    for root in roots:
        if root in status:
            continue
        # Iterative DFS so a very long definition cannot hit the recursion limit.
        status[root] = 1
        order.append(root)
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            name, position = stack[-1]
            if position == len(outgoing[name]):
                status[name] = 2
                stack.pop()
                continue
            stack[-1] = (name, position + 1)
            edge_index = outgoing[name][position]
            target = graph.edges[edge_index].target
            if status.get(target) == 1:
                back.add(edge_index)
            elif target not in status:
                status[target] = 1
                order.append(target)
                stack.append((target, 0))
    return back, order


def _layers(graph: StateGraph, back: set[int], order: list[str]) -> dict[str, int]:
    """Longest-path layering of the graph without its back-edges."""
    forward = [edge for index, edge in enumerate(graph.edges) if index not in back]
    indegree = {name: 0 for name in graph.nodes}
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for edge in forward:
        indegree[edge.target] += 1
        successors[edge.source].append(edge.target)
    layer = {name: 0 for name in graph.nodes}
    rank = {name: position for position, name in enumerate(order)}
    ready = sorted((name for name, degree in indegree.items() if degree == 0), key=rank.__getitem__)
    while ready:
        name = ready.pop(0)
        for target in successors[name]:
            layer[target] = max(layer[target], layer[name] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
                ready.sort(key=rank.__getitem__)
    return layer


def _descendant_counts(graph: StateGraph, back: set[int], layer: dict[str, int]) -> dict[str, int]:
    """How many states each state leads to (without loops): the main path has the most."""
    successors: dict[str, set[str]] = {name: set() for name in graph.nodes}
    for index, edge in enumerate(graph.edges):
        # Catch edges are the failure path, not the main path: they add no weight.
        if index not in back and edge.kind != EdgeKind.CATCH:
            successors[edge.source].add(edge.target)
    reach: dict[str, set[str]] = {}
    for name in sorted(graph.nodes, key=lambda state: -layer[state]):
        reached: set[str] = set()
        for target in successors[name]:
            reached.add(target)
            reached |= reach.get(target, set())
        reach[name] = reached
    return {name: len(reached) for name, reached in reach.items()}


def _arrange_ties(
    group: list[str], priority: dict[str, tuple[int, int]], left_count: int, right_count: int
) -> list[str]:
    """Order states that want the same spot: the heaviest in the middle, the rest split
    to whichever side of the layer has more room."""
    if len(group) < 2:
        return group
    heaviest = max(group, key=priority.__getitem__)
    others = [name for name in group if name != heaviest]
    best_left = min(
        range(len(others) + 1),
        key=lambda n_left: (
            max(left_count + n_left, right_count + len(others) - n_left),
            -n_left,
        ),
    )
    left = others[:best_left]
    right = others[best_left:]
    return [*reversed(left), heaviest, *right] if len(left) > 1 else [*left, heaviest, *right]


def _node_size(node: GraphNode, inner: list[GraphLayout]) -> tuple[float, float]:
    if not inner:
        return NODE_WIDTH, NODE_HEIGHT
    width = sum(layout.width for layout in inner) + BRANCH_GAP * (len(inner) - 1)
    height = max(layout.height for layout in inner)
    return max(NODE_WIDTH, width + 2 * BRANCH_PADDING), height + BRANCH_HEADER + BRANCH_PADDING


def layout_graph(graph: StateGraph) -> GraphLayout:
    """Place every state and route every edge; coordinates are in SVG pixels from (0, 0)."""
    inner_layouts = {
        name: [layout_graph(branch) for branch in node.branches]
        for name, node in graph.nodes.items()
    }
    sizes = {name: _node_size(node, inner_layouts[name]) for name, node in graph.nodes.items()}
    back, order = _find_back_edges(graph)
    layer = _layers(graph, back, order)
    weight = _descendant_counts(graph, back, layer)
    rank = {name: position for position, name in enumerate(order)}
    # The main path keeps its place: most descendants first, then first discovered
    # (Choice rules are listed before Default, Next before Catch).
    priority = {name: (weight[name], -rank[name]) for name in graph.nodes}
    layer_count = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(layer_count)]
    for name in sorted(graph.nodes, key=rank.__getitem__):
        layers[layer[name]].append(name)

    def gap(a: str, b: str) -> float:
        return (sizes[a][0] + sizes[b][0]) / 2 + NODE_GAP

    # Horizontal placement, layer by layer from the top: each state wants to sit
    # under its predecessors; overlaps are resolved around the heaviest state.
    center: dict[str, float] = {}
    for names in layers:
        desired: dict[str, float] = {}
        for name in names:
            incoming = [
                edge
                for index, edge in enumerate(graph.edges)
                if index not in back and edge.target == name and edge.source in center
            ]
            # Sit under the normal-flow predecessor one layer up if there is one;
            # Catch edges only pull a state when nothing else leads to it.
            normal = [edge for edge in incoming if edge.kind != EdgeKind.CATCH]
            sources: list[str] = []
            for candidates in (normal, incoming):
                adjacent = [e.source for e in candidates if layer[e.source] == layer[name] - 1]
                sources = adjacent or [e.source for e in candidates]
                if sources:
                    break
            if sources:
                desired[name] = sum(center[source] for source in sources) / len(sources)
        floating = [name for name in names if name not in desired]
        for name in floating:
            # No predecessor (the start, or an unreachable state): append on the right.
            desired[name] = max(desired.values(), default=-gap(name, name)) + gap(name, name)
        groups: dict[float, list[str]] = {}
        for name in names:
            groups.setdefault(round(desired[name], 3), []).append(name)
        keys = sorted(groups)
        row: list[str] = []
        for position, key in enumerate(keys):
            left_count = sum(len(groups[k]) for k in keys[:position])
            right_count = sum(len(groups[k]) for k in keys[position + 1 :])
            row.extend(_arrange_ties(groups[key], priority, left_count, right_count))
        anchor = max(range(len(row)), key=lambda i: priority[row[i]]) if row else 0
        xs = [desired[name] for name in row]
        for i in range(anchor + 1, len(row)):
            xs[i] = max(xs[i], xs[i - 1] + gap(row[i - 1], row[i]))
        for i in range(anchor - 1, -1, -1):
            xs[i] = min(xs[i], xs[i + 1] - gap(row[i], row[i + 1]))
        center.update(zip(row, xs, strict=True))
        layers[layers.index(names)] = row

    # Vertical placement: layers stacked, states top-aligned within a layer.
    layer_top: list[float] = []
    y = START_SPACE
    for names in layers:
        layer_top.append(y)
        y += max(sizes[name][1] for name in names) + LAYER_GAP
    layer_bottom = [
        top + max(sizes[name][1] for name in names)
        for top, names in zip(layer_top, layers, strict=True)
    ]

    boxes: dict[str, NodeBox] = {}
    for name in graph.nodes:
        width, height = sizes[name]
        box = NodeBox(
            name, center[name] - width / 2, layer_top[layer[name]], width, height, layer[name]
        )
        offset_x = (
            width
            - (
                sum(lay.width for lay in inner_layouts[name])
                + BRANCH_GAP * (len(inner_layouts[name]) - 1)
            )
        ) / 2
        for inner in inner_layouts[name]:
            box.branches.append((offset_x, BRANCH_HEADER, inner))
            offset_x += inner.width + BRANCH_GAP
        boxes[name] = box

    routed = _route_edges(graph, boxes, back, layer, layer_bottom, layer_top)
    return _normalized(graph, boxes, routed)


def _route_edges(
    graph: StateGraph,
    boxes: dict[str, NodeBox],
    back: set[int],
    layer: dict[str, int],
    layer_bottom: list[float],
    layer_top: list[float],
) -> list[RoutedEdge]:
    spine_x = boxes[graph.start_at].center_x if graph.start_at in boxes else 0.0
    routed: list[RoutedEdge] = []

    # Elbows between neighbouring layers: spread a state's outgoing elbows over its bottom.
    adjacent = [
        index
        for index, edge in enumerate(graph.edges)
        if index not in back and layer[edge.target] == layer[edge.source] + 1
    ]
    by_source: dict[str, list[int]] = {}
    for index in adjacent:
        by_source.setdefault(graph.edges[index].source, []).append(index)
    for source, indexes in by_source.items():
        box = boxes[source]
        # Distinct targets get distinct ports, ordered left to right like the targets.
        targets = sorted(
            {graph.edges[i].target for i in indexes}, key=lambda name: boxes[name].center_x
        )
        ports = _ports(box, [boxes[name] for name in targets])
        for index in indexes:
            edge = graph.edges[index]
            target = boxes[edge.target]
            start_x = ports[edge.target]
            if abs(start_x - target.center_x) < 0.5:
                points = [(start_x, box.bottom), (target.center_x, target.y)]
            else:
                mid_y = layer_bottom[layer[edge.source]] + LAYER_GAP / 2
                points = [
                    (start_x, box.bottom),
                    (start_x, mid_y),
                    (target.center_x, mid_y),
                    (target.center_x, target.y),
                ]
            label_at = (
                (target.center_x + 6, target.y - 6)
                if edge.label and edge.kind != EdgeKind.CATCH
                else None
            )
            routed.append(RoutedEdge(edge, points, label_at=label_at))

    # Edges that skip layers or loop back run along lanes beside the graph,
    # bundled by (target, side) so ten Catch edges to one notifier read as one rail.
    lane_edges = [
        index
        for index, edge in enumerate(graph.edges)
        if index in back or layer[edge.target] != layer[edge.source] + 1
    ]
    bundles: dict[tuple[str, str], list[int]] = {}
    for index in lane_edges:
        edge = graph.edges[index]
        # The lane runs on the target's side of the main path (the source's side
        # when the target is on it), so the rail stays close to where it ends.
        target_x = boxes[edge.target].center_x
        anchor_x = boxes[edge.source].center_x if abs(target_x - spine_x) < 1 else target_x
        side = "right" if anchor_x >= spine_x else "left"
        bundles.setdefault((edge.target, side), []).append(index)

    def span_of(key: tuple[str, str]) -> tuple[int, int]:
        involved = [layer[key[0]]] + [layer[graph.edges[i].source] for i in bundles[key]]
        return min(involved), max(involved)

    lane_x: dict[tuple[str, str], float] = {}
    taken: dict[str, list[tuple[int, int, int]]] = {"left": [], "right": []}
    for key in sorted(bundles, key=lambda k: (span_of(k)[1] - span_of(k)[0], k)):
        low, high = span_of(key)
        side = key[1]
        in_range = [box for box in boxes.values() if low <= box.layer <= high]
        busy = {slot for (a, b, slot) in taken[side] if not (b < low or a > high)}
        slot = next(s for s in range(len(bundles) + 1) if s not in busy)
        taken[side].append((low, high, slot))
        if side == "right":
            lane_x[key] = max(box.right for box in in_range) + LANE_OFFSET + LANE_STEP * slot
        else:
            lane_x[key] = min(box.x for box in in_range) - LANE_OFFSET - LANE_STEP * slot

    exit_tracks: dict[int, int] = {}
    entry_tracks: dict[int, int] = {}
    entry_track_of: dict[tuple[str, str], int] = {}
    for key in sorted(bundles, key=lambda k: (layer[k[0]], k)):
        target_layer = layer[key[0]]
        entry_track_of[key] = entry_tracks.get(target_layer, 0)
        entry_tracks[target_layer] = entry_track_of[key] + 1
    for key in sorted(bundles, key=lambda k: (layer[k[0]], k)):
        side = key[1]
        lane = lane_x[key]
        target = boxes[key[0]]
        target_layer = layer[key[0]]
        entry_y = layer_top[target_layer] - LAYER_GAP + 8 + TRACK_STEP * entry_track_of[key]
        if target_layer == 0:
            entry_y = target.y - 14
        for index in bundles[key]:
            edge = graph.edges[index]
            source_box = boxes[edge.source]
            source_layer = layer[edge.source]
            track = exit_tracks.get(source_layer, 0)
            exit_tracks[source_layer] = track + 1
            exit_y = layer_bottom[source_layer] + 8 + TRACK_STEP * track
            side_x = source_box.right if side == "right" else source_box.x
            stub_x = side_x + (SIDE_STUB if side == "right" else -SIDE_STUB)
            mid_y = source_box.y + min(source_box.height / 2, NODE_HEIGHT / 2)
            entry_x = target.center_x + (8 if side == "right" else -8)
            points = [
                (side_x, mid_y),
                (stub_x, mid_y),
                (stub_x, exit_y),
                (lane, exit_y),
                (lane, entry_y),
                (entry_x, entry_y),
                (entry_x, target.y),
            ]
            label_at = None
            if edge.label and edge.kind in (EdgeKind.CHOICE, EdgeKind.DEFAULT):
                label_at = (stub_x + (4 if side == "right" else -4), exit_y - 4)
            routed.append(RoutedEdge(edge, points, back=index in back, label_at=label_at))
    return routed


def _ports(box: NodeBox, targets: list[NodeBox]) -> dict[str, float]:
    """Where each elbow leaves the bottom of ``box`` (targets sorted left to right).

    A target straight below keeps the centre, so the main path is a straight
    line; the others leave a little to their side, so a Choice fans out cleanly.
    """
    if len(targets) == 1:
        return {targets[0].name: box.center_x}
    step = min(22.0, (box.width / 2 - 16) / max(1, len(targets)))
    below = [t for t in targets if abs(t.center_x - box.center_x) < 0.5]
    if below:
        pivot = targets.index(below[0])
        return {t.name: box.center_x + step * (i - pivot) for i, t in enumerate(targets)}
    spread = step * (len(targets) - 1)
    return {t.name: box.center_x - spread / 2 + step * i for i, t in enumerate(targets)}


def _normalized(
    graph: StateGraph, boxes: dict[str, NodeBox], routed: list[RoutedEdge]
) -> GraphLayout:
    """Shift everything so the drawing starts at the margin; size the canvas to fit."""
    xs = [box.x for box in boxes.values()] + [x for edge in routed for x, _ in edge.points]
    right = [box.right for box in boxes.values()] + [x for edge in routed for x, _ in edge.points]
    bottoms = [box.bottom for box in boxes.values()] + [
        y for edge in routed for _, y in edge.points
    ]
    if not boxes:
        return GraphLayout(graph, {}, [], 2 * MARGIN, 2 * MARGIN, None)
    dx = MARGIN - min(xs)
    dy = MARGIN - START_SPACE + 8
    for box in boxes.values():
        box.x += dx
        box.y += dy
    for edge in routed:
        edge.points = [(x + dx, y + dy) for x, y in edge.points]
        if edge.label_at is not None:
            edge.label_at = (edge.label_at[0] + dx, edge.label_at[1] + dy)
    start = boxes.get(graph.start_at)
    marker = (start.center_x, start.y - 18) if start else None
    return GraphLayout(
        graph,
        boxes,
        routed,
        width=max(right) + dx + MARGIN,
        height=max(bottoms) + dy + MARGIN,
        start_marker=marker,
    )
