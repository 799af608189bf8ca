"""``stepline demo``: the main job, end to end, and its HTML run report in a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from stepline.cli import main

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.slow
@pytest.mark.spark
def test_demo_runs_every_store_and_writes_reports(capsys, tmp_path):
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
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/browser.sh should have installed it")
        pytest.skip("Debian's chromium is not installed (bash .ci/browser.sh installs it)")
    profile = tmp_path / "chromium-profile"
    shot = tmp_path / "store_001.png"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1400,1800",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "a blank page compresses to almost nothing"
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "Notify that the run succeeded" in dom
    assert "Notifications published" in dom
    shutil.rmtree(profile, ignore_errors=True)
