"""Suite-wide settings.

Tests that need a SparkSession (marker ``spark``) or run the whole pipeline
locally (marker ``slow``) share an xdist worker (``--dist loadgroup``): one
for tests/day, one for the rest, so the suite starts two JVMs, not one per test.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("spark") or item.get_closest_marker("slow"):
            # tests/day (whole days in local mode) gets a JVM of its own, so the two
            # workers overlap the day tests with the Spark job tests.
            day = Path(str(item.fspath)).is_relative_to(Path(__file__).parent / "day")
            item.add_marker(pytest.mark.xdist_group("day" if day else "spark"))


CHROMIUM = Path("/usr/bin/chromium")
# A guard against a hung browser, not a speed assertion: a render takes ~2 s.
BROWSER_TIMEOUT_SECONDS = 180


class Chromium:
    """Debian's headless Chromium with the flags this closed-network machine needs."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    )

    def run(
        self, user_data_dir: Path, *arguments: str, window: tuple[int, int] = (1400, 2000)
    ) -> subprocess.CompletedProcess[str]:
        """Run one headless invocation with a fresh profile folder; never raises on exit code."""
        command = [
            str(CHROMIUM),
            *self.FLAGS,
            f"--user-data-dir={user_data_dir}",
            f"--window-size={window[0]},{window[1]}",
            *arguments,
        ]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Headless Chromium; skips on a developer machine without it, fails under CI (CI set)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: .ci/browser.sh must install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (run .ci/browser.sh); CI runs this test")
    return Chromium()
