"""The status page as headless Chromium shows it (Debian's chromium, no network).

Without Chromium the tests skip on a developer machine and fail under CI
(``CI`` set), as tests/report/test_report_browser.py does.
"""

from __future__ import annotations

import pytest
from report.page_parser import parse_page
from report.png_reader import read_png
from status_ledger import WEEK_CELLS, WEEK_STATES

from stepline.cli import main

WINDOW = (1200, 800)
# Colours the page's stylesheet paints: a succeeded, a failed and a missing cell, a stale publish.
SUCCEEDED_BACKGROUND = (0xDA, 0xFB, 0xE1)
FAILED_BACKGROUND = (0xFF, 0xCF, 0xCB)
MISSING_BACKGROUND = (0xEF, 0xDF, 0xFF)
RUNNING_BACKGROUND = (0xDD, 0xF4, 0xFF)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, chromium, week_environment, expected_stores_module):
    """The week's page written by stepline status --html, its screenshot and its DOM after load."""
    folder = tmp_path_factory.mktemp("status-browser")
    page = folder / "status.html"
    week = ["--from", "2026-11-14", "--to", "2026-11-20"]
    code = main(["status", "--local", str(week_environment), *week, "--html", str(page)])
    assert code == 1
    screenshot = folder / "status.png"
    shot = chromium.run(
        folder / "profile-shot",
        # Paint the whole page before the shot, so the colours below are never half drawn.
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=2000",
        f"--screenshot={screenshot}",
        page.as_uri(),
        window=WINDOW,
    )
    dom = chromium.run(folder / "profile-dom", "--dump-dom", page.as_uri(), window=WINDOW)
    return {"screenshot": screenshot, "shot": shot, "dom": dom}


def test_screenshot_shows_the_coloured_grid(rendered):
    """The screenshot is the window's size and holds the cells' status colours."""
    screenshot = rendered["screenshot"]
    assert screenshot.exists(), rendered["shot"].stderr[-2000:]
    png = read_png(screenshot.read_bytes(), max_rows=WINDOW[1])
    assert (png.width, png.height) == WINDOW
    colors = png.colors()
    for expected in (
        SUCCEEDED_BACKGROUND,
        FAILED_BACKGROUND,
        MISSING_BACKGROUND,
        RUNNING_BACKGROUND,
    ):
        assert colors.get(expected, 0) > 500, f"colour {expected} missing from the screenshot"


def test_dom_after_load_holds_every_cell_and_link(rendered):
    """Chromium's DOM: a cell per date and store with its status, console links, publish states."""
    dom = rendered["dom"]
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = parse_page(dom.stdout)
    cells = page.find("td", "cell")
    statuses = {
        (c.attrs["data-date"], c.attrs["data-store"]): c.attrs["data-status"]
        for c in cells
        if c.attrs["data-status"]
    }
    assert statuses == {
        (date, store): status
        for date, stores in WEEK_CELLS.items()
        for store, status in stores.items()
    }
    publishes = {c.attrs["data-date"]: c.attrs["data-publish"] for c in page.find("td", "publish")}
    assert publishes == WEEK_STATES
    links = [a.attrs["href"] for a in page.find("a", "console")]
    assert links and all(
        href.startswith("https://us-east-1.console.aws.amazon.com/states/home") for href in links
    )
