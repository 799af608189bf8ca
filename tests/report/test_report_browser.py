"""The run report as a real browser shows it: Debian's headless Chromium, no network.

Chromium comes from Debian (``.ci/browser.sh`` installs it). Without it the
tests skip on a developer machine, but fail under CI (``CI`` set): CI must
prove the page renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.report.html import render_html, write_html
from stepline.report.timeline import build_timeline

from .histories import happy_path_history
from .page_parser import parse_page
from .png_reader import read_png

WINDOW = (1400, 2000)
# A realistic 22-state machine (the pipeline before it was split per arrival and per date):
# a poll loop, Catch edges, JSONata and JSONPath states, which the histories below follow.
DEFINITION_PATH = Path(__file__).parent / "fixtures" / "one_machine_pipeline.asl.json"

# Colours the page's stylesheet paints: page background, a succeeded state's
# fill, the highlighted path. Seeing them proves the CSS and the SVG rendered.
PAGE_BACKGROUND = (0xF6, 0xF8, 0xFA)
SUCCEEDED_FILL = (0xDA, 0xFB, 0xE1)
TAKEN_EDGE = (0x09, 0x69, 0xDA)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, chromium) -> dict[str, object]:
    """The happy-path page written to disk, its screenshot and its DOM after load."""
    folder = tmp_path_factory.mktemp("browser")
    definition = json.loads(DEFINITION_PATH.read_text(encoding="utf-8"))
    page_path = write_html(
        folder / "run-report.html",
        render_html(
            definition, build_timeline(happy_path_history()), title="Daily sales 2024-03-04 S042"
        ),
    )
    screenshot = folder / "page.png"
    shot = chromium.run(
        folder / "profile-shot", f"--screenshot={screenshot}", page_path.as_uri(), window=WINDOW
    )
    dom = chromium.run(folder / "profile-dom", "--dump-dom", page_path.as_uri(), window=WINDOW)
    return {
        "definition": definition,
        "screenshot": screenshot,
        "shot": shot,
        "dom": dom,
    }


def test_screenshot_is_a_png_of_the_window_size(rendered):
    """Chromium renders the page to a PNG screenshot the size of the window."""
    screenshot = rendered["screenshot"]
    assert screenshot.exists(), rendered["shot"].stderr[-2000:]
    png = read_png(screenshot.read_bytes(), max_rows=1)
    assert (png.width, png.height) == WINDOW


def test_screenshot_shows_the_styled_graph_not_a_blank_page(rendered):
    """The top of the screenshot holds many colours, among them the report's own."""
    png = read_png(rendered["screenshot"].read_bytes(), max_rows=600)
    colors = png.colors()
    assert len(colors) > 20
    for expected in (PAGE_BACKGROUND, SUCCEEDED_FILL, TAKEN_EDGE):
        assert colors.get(expected, 0) > 50, f"colour {expected} missing from the screenshot"


def test_dom_after_load_holds_the_svg_graph_and_every_state(rendered):
    """After load the DOM has the SVG graph with one node per state, and the script ran."""
    dom = rendered["dom"]
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = parse_page(dom.stdout)
    assert len(parsed.find("svg", "state-graph")) == 1
    names = sorted(element.attrs["data-state"] for element in parsed.find("g", "node"))
    assert names == sorted(rendered["definition"]["States"])
    assert "Aggregate the day's sales" in names
    visited = [e for e in parsed.find("g", "node") if "visited" in e.classes]
    assert len(visited) == 14
    (html_element,) = parsed.find("html")
    assert "js" in html_element.classes  # the inline script executed without error
