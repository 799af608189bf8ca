"""``stepline demo``: the main job, end to end, and its HTML run report in a real browser."""

from __future__ import annotations

import pytest

from stepline.cli import main


@pytest.mark.slow
@pytest.mark.spark
def test_demo_runs_every_store_and_writes_reports(capsys, tmp_path, chromium):
    """All files land at once (one twice): one arrival per object, the day in one publish."""
    code = main(["demo", "--date", "2026-11-20", "--workdir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert code == 0, out
    for store in ("store_001", "store_002", "store_003"):
        assert f"ok {store}: SUCCEEDED" in out
    assert "ok store_004: REJECTED" in out
    assert "Stepline sales 2026-11-20 store_004: file rejected (bad data)" in out
    assert "stores included: store_001, store_002, store_003" in out
    assert "Daily report for 2026-11-20" in out
    assert "all runs ended as expected" in out
    runs = tmp_path / "demo" / "runs"
    arrivals = sorted(p.name for p in runs.glob("SalesArrival-*.html"))
    assert [name.split("_")[1] for name in arrivals] == ["store", "store", "store", "store"]
    assert len(list(runs.glob("SalesArrivalStarter-*.html"))) == 5  # one duplicate delivery
    [page] = runs.glob("SalesPublish-*.html")

    shot = tmp_path / "publish.png"
    chromium.run(tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "a blank page compresses to almost nothing"
    dom = chromium.run(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert "Notify that the day was published" in dom
    assert "Notifications published" in dom
    assert "Daily report 2026-11-20" in dom


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(capsys, tmp_path):
    """The demo clears only its own folder: a non-empty foreign --workdir is left intact."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    code = main(["demo", "--workdir", str(tmp_path)])
    assert code == 2
    assert precious.read_text() == "keep me"
    assert "not made by the demo" in capsys.readouterr().err
