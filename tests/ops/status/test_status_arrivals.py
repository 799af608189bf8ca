"""``stepline status`` after real local arrivals that need no Spark: an empty and a rejected file.

``land`` runs the real starter, arrival, validation Lambda and run ledger;
status then reads what they wrote, and --html links each cell to a run report
of its execution, rendered from the local history.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report.page_parser import parse_page

from stepline.cli import main
from stepline.definition import load_deployed_stack

SAMPLES = Path("events/samples")


def expected_stores(stage: str) -> set[str]:
    text = load_deployed_stack(stage).parameters.get("ExpectedStores", "")
    return {store.strip() for store in text.split(",") if store.strip()}


DATE = "2026-11-20"


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    """A local environment where store_004 sent a header-only file and store_005 a bad header."""
    folder = tmp_path_factory.mktemp("landed")
    code = main(
        [
            "land",
            str(SAMPLES / "header_only.csv"),
            "--key",
            f"sales/date={DATE}/store=store_004/sales.csv",
            str(SAMPLES / "bad_header.csv"),
            "--key",
            f"sales/date={DATE}/store=store_005/sales.csv",
            "--local",
            str(folder),
        ]
    )
    assert code == 0
    return folder


def test_status_reads_what_the_arrivals_recorded(capsys, landed, tmp_path):
    """NO_DATA and REJECTED cells with their executions; nothing to publish; exit 1 (rejected)."""
    capsys.readouterr()
    page = tmp_path / "grid.html"
    code = main(
        [
            "status",
            "--local",
            str(landed),
            "--from",
            DATE,
            "--to",
            DATE,
            "--json",
            "--html",
            str(page),
        ]
    )
    out = capsys.readouterr()
    assert code == 1, out.err
    [day] = json.loads(out.out)["dates"]
    assert day["publish"] == "none"
    cells = day["stores"]
    # dev expects the demo's stores: those that sent nothing are MISSING, with no execution.
    missing = {store for store in expected_stores("dev") if store not in ("store_004", "store_005")}
    assert {store: cell["status"] for store, cell in cells.items()} == {
        "store_004": "NO_DATA",
        "store_005": "REJECTED",
        **dict.fromkeys(missing, "MISSING"),
    }
    assert all(cells[store]["execution"] is None for store in missing)
    assert cells["store_004"]["execution"].startswith(f"{DATE}_store_004_")
    assert cells["store_005"]["reason"]
    assert f"Wrote {page} and 2 run report(s)" in out.err  # stdout stays pure JSON


def test_each_cell_links_to_a_local_run_report_of_its_execution(capsys, landed, tmp_path):
    """Locally, each cell's report link opens the run report of its execution, beside the page."""
    page_path = tmp_path / "grid.html"
    window = ["--from", DATE, "--to", DATE]
    main(["status", "--local", str(landed), *window, "--json", "--html", str(page_path)])
    [day] = json.loads(capsys.readouterr().out)["dates"]
    executions = {cell["execution"] for cell in day["stores"].values() if cell["execution"]}
    assert len(executions) == 2
    page = parse_page(page_path.read_text())
    links = {a.attrs["href"] for a in page.find("a", "report")}
    assert links == {f"grid-runs/{name}.html" for name in executions}
    for href in links:
        report = (tmp_path / href).read_text()
        assert "Validate the sales file" in report  # the arrival's own state graph
        assert "Run ledger record" in report
        assert href.removeprefix("grid-runs/").removesuffix(".html") in report
    consoles = {a.attrs["href"] for a in page.find("a", "console")}
    assert {href.rsplit(":", 1)[-1] for href in consoles} == executions
