"""``stepline demo``: the main job, end to end, and its HTML run report in a real browser."""

from __future__ import annotations

import pytest

from stepline.cli import main


@pytest.mark.slow
@pytest.mark.spark
def test_demo_runs_every_store_and_writes_reports(capsys, tmp_path, chromium):
    """The demo loads three stores, rejects the broken file, prints the report and the pages."""
    code = main(["demo", "--date", "2026-11-20", "--workdir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert code == 0, out
    for store in ("store_001", "store_002", "store_003"):
        assert f"ok {store}: SUCCEEDED" in out
    assert "ok store_004: FAILED (Stepline.FileRejected)" in out
    assert "Stepline sales: file rejected 2026-11-20 store_004" in out
    assert "Daily report for 2026-11-20" in out
    assert "all runs ended as expected" in out
    pages = sorted(p.name for p in (tmp_path / "demo" / "runs").glob("*.html"))
    assert pages == [f"store_00{i}.html" for i in range(1, 5)]

    page = tmp_path / "demo" / "runs" / "store_001.html"
    shot = tmp_path / "store_001.png"
    chromium.run(tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "a blank page compresses to almost nothing"
    dom = chromium.run(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert "Notify that the run succeeded" in dom
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
