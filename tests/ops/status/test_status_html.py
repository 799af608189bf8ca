"""``stepline status --html``: one self-contained page, a coloured cell per store-day, links.

Read with the stdlib's html.parser (tests/report/page_parser.py); the browser
test renders the same page in Chromium.
"""

from __future__ import annotations

import datetime as dt
import re

from report.page_parser import parse_page
from status_ledger import (
    ARRIVAL_ARN,
    WEEK_CELLS,
    WEEK_STATES,
    LedgerOnlyTarget,
    run_name,
    store_day,
)

from stepline.cli import main
from stepline.ops.status import read_status
from stepline.ops.status_html import render_status_html

CONSOLE = (
    "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"
)
WEEK = ["--from", "2026-11-14", "--to", "2026-11-20"]


def write_week_page(capsys, environment, tmp_path):
    page = tmp_path / "status.html"
    code = main(["status", "--local", str(environment), *WEEK, "--html", str(page)])
    out = capsys.readouterr()
    assert code == 1, out.err
    assert f"Wrote {page}" in out.out
    return page


def test_every_store_day_is_a_cell_coloured_by_status(
    capsys, week_environment, expected_stores, tmp_path
):
    """One td per date and shown store, classed and tagged with its status; publish per date."""
    page = parse_page(write_week_page(capsys, week_environment, tmp_path).read_text())
    assert page.errors == []
    cells = page.find("td", "cell")
    assert len(cells) == 7 * 4
    seen = {(c.attrs["data-date"], c.attrs["data-store"]): c.attrs["data-status"] for c in cells}
    expected = {
        (date, store): status
        for date, stores in WEEK_CELLS.items()
        for store, status in stores.items()
    }
    assert {key: status for key, status in seen.items() if status} == expected
    for cell in cells:
        status = cell.attrs["data-status"]
        assert (f"status-{status.lower()}" if status else "absent") in cell.classes
    publishes = {c.attrs["data-date"]: c.attrs["data-publish"] for c in page.find("td", "publish")}
    assert publishes == WEEK_STATES
    assert (
        "unpublished"
        in next(
            c
            for c in cells
            if (c.attrs["data-date"], c.attrs["data-store"]) == ("2026-11-16", "store_002")
        ).classes
    )


def test_each_cell_links_to_its_execution_in_the_console(
    capsys, week_environment, expected_stores, tmp_path
):
    """A store-day with an execution links to the console URL of its ARN; MISSING has no link."""
    page_path = write_week_page(capsys, week_environment, tmp_path)
    page = parse_page(page_path.read_text())
    links = [a.attrs["href"] for a in page.find("a", "console")]
    arn = ARRIVAL_ARN + run_name("2026-11-17", "store_003")
    assert CONSOLE + arn in links
    with_executions = sum(
        status != "MISSING" for stores in WEEK_CELLS.values() for status in stores.values()
    )
    publish_links = sum(1 for state in WEEK_STATES.values() if state != "none")
    assert len(links) == with_executions + publish_links
    # The executions of a hand-written ledger are not in the environment: no run report.
    assert page.find("a", "report") == []
    assert not (tmp_path / "status-runs").exists()


def test_the_page_is_self_contained(capsys, week_environment, expected_stores, tmp_path):
    """No stylesheet, script, image or font is fetched: everything is inline."""
    text = write_week_page(capsys, week_environment, tmp_path).read_text()
    page = parse_page(text)
    assert page.find("link") == [] and page.find("img") == [] and page.find("script") == []
    assert re.search(r"url\(|@import|src=", text) is None
    assert len(page.find("style")) == 1


def test_ledger_text_is_escaped():
    """A reason holding markup is shown as text: no element is injected."""
    item = store_day("2026-11-20", "store_001", "REJECTED", reason='<script>alert("x")</script>')
    grid = read_status(
        LedgerOnlyTarget([item], expected=("store_001",)),
        dt.date(2026, 11, 20),
        dt.date(2026, 11, 20),
    )
    text = render_status_html(
        grid,
        where="<b>here</b>",
        console_url=lambda arn: CONSOLE + arn,
        publish_arn=lambda day: None,
    )
    page = parse_page(text)
    assert page.find("script") == [] and page.find("b") == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "&lt;b&gt;here&lt;/b&gt;" in text
