"""The self-contained HTML run report and the state graph layout behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.report.graph import (
    EdgeKind,
    build_state_graph,
    layout_graph,
    summarize_choice_rule,
)
from stepline.report.html import html_table, json_block, render_html, write_html
from stepline.report.timeline import build_timeline

from .definitions import NESTED_DEFINITION
from .histories import HistoryBuilder, failing_history, happy_path_history, nested_history
from .page_parser import parse_page

# A realistic 22-state machine (the pipeline before it was split per arrival and per date):
# a poll loop, Catch edges, JSONata and JSONPath states, which the histories below follow.
DEFINITION_PATH = Path(__file__).parent / "fixtures" / "one_machine_pipeline.asl.json"
INJECTION = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def happy_page(definition) -> str:
    return render_html(
        definition, build_timeline(happy_path_history()), title="Daily sales 2024-03-04 S042"
    )


@pytest.fixture(scope="module")
def failing_page(definition) -> str:
    return render_html(definition, build_timeline(failing_history()), title="Failed run")


def _nodes(page: str) -> dict[str, set[str]]:
    """Classes of each SVG state node, by state name."""
    parsed = parse_page(page)
    return {element.attrs["data-state"]: element.classes for element in parsed.find("g", "node")}


def _edges(page: str) -> list[tuple[str, str, set[str]]]:
    parsed = parse_page(page)
    return [
        (element.attrs["data-source"], element.attrs["data-target"], element.classes)
        for element in parsed.find("path", "edge")
    ]


def test_page_parses_with_every_tag_closed(happy_page, failing_page):
    """The page is well-formed enough for html.parser: no mis-nested or unclosed tags."""
    for page in (happy_page, failing_page):
        assert page.startswith("<!DOCTYPE html>")
        assert parse_page(page).errors == []


def test_every_state_of_the_definition_is_an_svg_node(happy_page, definition):
    """Each state of the definition appears once as a node of the inline SVG."""
    parsed = parse_page(happy_page)
    (svg,) = parsed.find("svg")
    assert svg.attrs["viewbox"].startswith("0 0 ")
    names = [element.attrs["data-state"] for element in parsed.find("g", "node")]
    assert sorted(names) == sorted(definition["States"])


def test_visited_nodes_carry_the_visited_class_and_outcome(happy_page):
    """Visited states are 'visited' with their outcome; the others are 'not-visited'."""
    nodes = _nodes(happy_page)
    assert {"visited", "outcome-succeeded"} <= nodes["Validate the sales file"]
    assert {"visited", "retried"} <= nodes["Clean the sales file"]
    assert "not-visited" in nodes["Notify that the run failed"]
    assert "visited" not in nodes["File rejected"]
    visited = {name for name, classes in nodes.items() if "visited" in classes}
    assert len(visited) == 14


def test_failure_colours_caught_and_failed_states(failing_page):
    """The caught task is coloured 'caught', the Fail state 'failed', later states unvisited."""
    nodes = _nodes(failing_page)
    assert "outcome-caught" in nodes["Aggregate the day's sales"]
    assert "outcome-failed" in nodes["Run failed"]
    assert "outcome-succeeded" in nodes["Notify that the run failed"]
    assert "not-visited" in nodes["Load the day into Redshift"]


def test_edges_taken_are_marked_and_the_poll_loop_is_a_back_edge(happy_page):
    """Edges the run took are 'taken'; the poll loop's return edge is drawn as a back-edge."""
    edges = {
        (source, target, tuple(sorted(classes))) for source, target, classes in _edges(happy_page)
    }
    by_pair = {}
    for source, target, classes in edges:
        by_pair.setdefault((source, target), []).append(set(classes))
    (loop,) = by_pair[("Count the poll", "Wait for the load")]
    assert {"back", "taken"} <= loop
    assert "taken" in by_pair[("Is the load finished?", "Build the daily report")][0]
    assert (
        "taken" not in by_pair[("Was the file accepted?", "Notify that the file was rejected")][0]
    )
    catches = [c for c in by_pair[("Validate the sales file", "Notify that the run failed")]]
    assert catches == [{"edge", "catch"}]


def test_caught_run_highlights_the_catch_edge_not_the_next_edge(failing_page):
    """When a Catch was used, its edge is taken and the state's Next edge is not."""
    edges = _edges(failing_page)
    catch = [c for s, t, c in edges if s == "Aggregate the day's sales" and "catch" in c]
    following = [c for s, t, c in edges if s == "Aggregate the day's sales" and "next" in c]
    assert "taken" in catch[0]
    assert "taken" not in following[0]


def test_loop_visits_are_counted_on_the_node(happy_page):
    """States entered more than once show their visit count on the graph."""
    parsed = parse_page(happy_page)
    wait = next(e for e in parsed.find("g", "node") if e.attrs["data-state"] == "Wait for the load")
    assert wait.attrs["data-visits"] == "3"
    assert "\u00d73" in wait.text


def test_nodes_link_to_their_first_run_row(happy_page):
    """Clicking a visited node follows a plain link to its first row (works without JS)."""
    parsed = parse_page(happy_page)
    row_ids = {element.attrs["id"] for element in parsed.find("tr", "run")}
    links = [element.attrs["href"] for element in parsed.find("a", "node-link")]
    assert len(links) == 14
    assert all(link.removeprefix("#") in row_ids for link in links)
    assert "#run-8" in links  # the first "Wait for the load"


def test_run_table_has_a_row_per_run_with_expandable_io(happy_page):
    """The state-run table has one row per run, each with a <details> holding its input."""
    parsed = parse_page(happy_page)
    rows = parsed.find("tr", "run")
    assert len(rows) == 21
    assert len(parsed.find("details")) >= 21
    clean = next(row for row in rows if row.attrs["id"] == "run-4")
    assert "Glue.ConcurrentRunsExceededException" in clean.text
    assert "retried" in clean.text
    assert '"validated_prefix"' in clean.text  # pretty JSON input


def test_header_shows_status_and_execution_error(failing_page):
    """The header carries the status badge and the execution's error and cause."""
    parsed = parse_page(failing_page)
    (badge,) = parsed.find("span", "status")
    assert badge.text == "FAILED"
    (error,) = parsed.find("div", "exec-error")
    assert "States.TaskFailed" in error.text
    assert "java.lang.OutOfMemoryError" in error.text


def test_execution_data_and_names_are_escaped():
    """A <script> in an input and quotes in a state name are shown as text, never as markup."""
    name = 'Aggregate the day\'s "sales" <b>now</b>'
    definition = {
        "StartAt": name,
        "States": {name: {"Type": "Pass", "Next": "End"}, "End": {"Type": "Succeed"}},
    }
    builder = HistoryBuilder().start({"note": INJECTION})
    builder.passes(name, {"note": INJECTION, "quote": 'it\'s "quoted"'})
    builder.succeed_state("End")
    page = render_html(
        definition,
        build_timeline(builder.succeed_execution()),
        title=f"Run {INJECTION}",
        extra_sections=[(f"Heading {INJECTION}", html_table(["value"], [[INJECTION]]))],
    )
    assert INJECTION not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>now</b>" not in page
    assert page.count("<script>") == 1  # the page's own few lines of JS
    parsed = parse_page(page)
    assert parsed.errors == []
    assert {e.attrs["data-state"] for e in parsed.find("g", "node")} == {name, "End"}


def test_page_is_self_contained(happy_page):
    """No external resource: no stylesheet link, no script src, no URL but the SVG namespace."""
    parsed = parse_page(happy_page)
    assert parsed.find("link") == []
    assert all("src" not in element.attrs for element in parsed.elements)
    without_namespace = happy_page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_namespace
    assert "https://" not in without_namespace
    assert "@import" not in happy_page and "url(http" not in happy_page


def test_extra_sections_are_appended_with_escaped_headings(definition):
    """extra_sections add named blocks after the run table, in order."""
    page = render_html(
        definition,
        build_timeline(happy_path_history()),
        title="Run",
        extra_sections=[
            (
                "Daily report",
                html_table(["store_id", "revenue"], [{"store_id": "S042", "revenue": 12.5}]),
            ),
            ("SNS messages", json_block({"outcome": "SUCCEEDED"})),
        ],
    )
    parsed = parse_page(page)
    headings = [element.text for element in parsed.find("h2")]
    assert headings == ["State graph", "State runs", "Daily report", "SNS messages"]
    (table,) = parsed.find("table", "data")
    assert "S042" in table.text and "12.5" in table.text
    assert any('"outcome": "SUCCEEDED"' in pre.text for pre in parsed.find("pre", "json"))


def test_nested_map_and_parallel_states_are_drawn_inside_their_box():
    """Map and Parallel states are boxes holding their inner states, which are nodes too."""
    page = render_html(NESTED_DEFINITION, build_timeline(nested_history()), title="Nested")
    nodes = _nodes(page)
    assert "container" in nodes["Process every store"]
    assert "container" in nodes["Publish in parallel"]
    for inner in ("Check the store file", "Store missing", "Publish to SNS", "Audit written"):
        assert inner in nodes
    assert "visited" in nodes["Write the audit row"]
    assert "not-visited" in nodes["Store missing"]
    assert parse_page(page).errors == []


def test_write_html_creates_the_file(tmp_path, happy_page):
    """write_html writes the page as UTF-8, creating missing folders."""
    target = write_html(tmp_path / "reports" / "run.html", happy_page)
    assert target.read_text(encoding="utf-8") == happy_page


# --- graph and layout -----------------------------------------------------------------


def test_graph_reads_next_choice_default_and_catch_edges(definition):
    """The graph has Next, Choice rule, Default and Catch edges, labelled."""
    graph = build_state_graph(definition)
    edges = {(e.source, e.target, e.kind): e.label for e in graph.edges}
    assert (
        edges[("Was the file accepted?", "Notify that the file was rejected", EdgeKind.CHOICE)]
        == "accepted = false"
    )
    assert edges[("Is the load finished?", "Count the poll", EdgeKind.DEFAULT)] == "default"
    assert ("Check the load", "Notify that the run failed", EdgeKind.CATCH) in edges
    assert ("Count the poll", "Wait for the load", EdgeKind.NEXT) in edges
    assert graph.start_at == "Validate the sales file"


def test_layout_is_layered_top_down_without_overlaps(definition):
    """Forward edges go down, loops are the only back-edges, and no two boxes overlap."""
    layout = layout_graph(build_state_graph(definition))
    boxes = layout.boxes
    back = [(e.edge.source, e.edge.target) for e in layout.edges if e.back]
    assert back == [("Count the poll", "Wait for the load")]
    for routed in layout.edges:
        if not routed.back:
            assert boxes[routed.edge.target].layer > boxes[routed.edge.source].layer
    ordered = list(boxes.values())
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            separate = a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y
            assert separate, f"{a.name} overlaps {b.name}"
    # The main path is a straight vertical spine.
    spine = ["Validate the sales file", "Clean the sales file", "Load the day into Redshift"]
    assert len({boxes[name].center_x for name in spine}) == 1
    assert all(
        0 <= x <= layout.width and 0 <= y <= layout.height
        for e in layout.edges
        for x, y in e.points
    )


def test_layout_is_deterministic(definition):
    """The same definition always gives the same picture."""
    first = layout_graph(build_state_graph(definition))
    second = layout_graph(build_state_graph(definition))
    assert [(b.name, b.x, b.y) for b in first.boxes.values()] == [
        (b.name, b.x, b.y) for b in second.boxes.values()
    ]
    assert [e.points for e in first.edges] == [e.points for e in second.edges]


@pytest.mark.parametrize(
    ("rule", "label"),
    [
        ({"Variable": "$.validation.accepted", "BooleanEquals": False}, "accepted = false"),
        ({"Variable": "$.load.polls", "NumericGreaterThanEquals": 60}, "polls >= 60"),
        ({"Variable": "$.a", "NumericLessThanPath": "$.b.limit"}, "a < limit"),
        ({"Variable": "$.x", "IsPresent": False}, "x is not present"),
        (
            {
                "Or": [
                    {"Variable": "$.s", "StringEquals": "FAILED"},
                    {"Variable": "$.s", "StringEquals": "ABORTED"},
                ]
            },
            "s in FAILED, ABORTED",
        ),
        (
            {"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.b", "IsNull": True}]},
            "a = 1 and b is null",
        ),
        ({"Not": {"Variable": "$.a", "StringEquals": "x"}}, "not (a = x)"),
        ({"Condition": "{% $states.input.ok %}"}, "$states.input.ok"),
    ],
)
def test_choice_rule_labels(rule, label):
    """Choice rules are summarised into short edge labels."""
    assert summarize_choice_rule(rule) == label


def test_empty_history_renders_the_whole_graph_unvisited(definition):
    """A history with no events still gives a page: every state drawn, none visited."""
    page = render_html(definition, build_timeline([]), title="Not started")
    nodes = _nodes(page)
    assert len(nodes) == len(definition["States"])
    assert all("not-visited" in classes for classes in nodes.values())
    assert "No state was entered." in page
    assert parse_page(page).errors == []
