"""Regenerate ``status-grid.png``, the README's screenshot of ``stepline status --html``.

A realistic week, run for real on the local runtime (Glue and EMR scripts on
local PySpark, so Java 17 is needed; about 3 minutes on 2 cores): five stores
expected every day, files generated with ``stepline.sample_data``, the
failures a week brings injected with task hooks::

    2026-11-14  every store                          -> published
    2026-11-15  every store, the popup store empty   -> published
    2026-11-16  store_003's file has a broken header -> partial (REJ)
    2026-11-17  store_005 sends nothing              -> partial (MISS)
    2026-11-18  store_002 re-sends, that publish fails -> stale (ok*)
    2026-11-19  store_004's clean step fails         -> partial (FAIL)
    2026-11-20  every publish of the date fails      -> pending

Run from the repository root: ``.venv/bin/python docs/images/status_grid.py``
(the week's local environment stays in ``.stepline/status-grid``).
The stage's ExpectedStores is set on the target, as a deployed stage would have it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from stepline.local.session import LocalSession
from stepline.ops.status import read_status
from stepline.ops.status_html import write_status_html
from stepline.ops.status_text import make_console, print_status
from stepline.ops.target import open_local
from stepline.sample_data import write_sales_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples"
IMAGE = Path(__file__).resolve().parent / "status-grid.png"
EXPECTED = ("store_001", "store_002", "store_003", "store_004", "store_005")
POPUP = "store_popup"
START = dt.date(2026, 11, 14)
WINDOW = (1100, 640)


def land(env: LocalSession, folder: Path, date: str, store: str, kind: str = "good") -> None:
    """One store's file for ``date`` arrives (a new version when it already exists)."""
    path = folder / f"{date}_{store}_{len(list(folder.iterdir()))}.csv"
    if kind == "good":
        seed = sum(map(ord, date + store)) + len(list(folder.iterdir()))
        write_sales_csv(path, date, store, 400 + seed % 300, seed=seed, duplicates=3)
    else:
        shutil.copyfile(SAMPLES / ("bad_header.csv" if kind == "bad" else "header_only.csv"), path)
    env.deliver(env.land_file(path, f"sales/date={date}/store={store}/sales.csv"))


def build_week(env: LocalSession, folder: Path) -> None:
    """The week of the module docstring, one date after another.

    Each date's files land together (their arrivals run side by side, then the
    date's publish); the next date waits until the previous one ended, as days do.
    """
    hooks = env.stepfunctions.hooks
    days = [(START + dt.timedelta(days=n)).isoformat() for n in range(7)]

    def each(date: str, stores: tuple[str, ...], bad: str = "") -> None:
        for store in stores:
            land(env, folder, date, store, "bad" if store == bad else "good")
        env.wait()

    each(days[0], EXPECTED)
    land(env, folder, days[1], POPUP, "empty")
    each(days[1], EXPECTED)
    each(days[2], EXPECTED, bad="store_003")
    each(days[3], EXPECTED[:-1])
    each(days[4], EXPECTED)
    hooks.fail(
        "SalesPublish",
        "Aggregate the day's sales",
        "States.TaskFailed",
        "EMR step s-2K9Q0W1E3R4T FAILED: container killed (exit 137)",
    )
    each(days[4], ("store_002",))  # a corrected file, after the day was published
    hooks.fail(
        "SalesArrival",
        "Clean the sales file",
        "States.TaskFailed",
        "Glue job run jr_5f0c FAILED: the job's workers ran out of memory",
    )
    each(days[5], ("store_004",))
    each(days[5], tuple(s for s in EXPECTED if s != "store_004"))
    hooks.fail(
        "SalesPublish",
        "Load the day into Redshift",
        "States.TaskFailed",
        "Redshift workgroup stepline-dev is paused",
        times=20,
    )
    each(days[6], EXPECTED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".stepline/status-grid"),
        help="where the week's local environment is built (default .stepline/status-grid)",
    )
    args = parser.parse_args()
    workdir = args.workdir
    marker = workdir / ".status-grid"
    if workdir.exists() and any(workdir.iterdir()):
        if not marker.exists():
            parser.error(f"{workdir} is not empty and was not made by this script")
        shutil.rmtree(workdir)
    files = workdir / "files"
    files.mkdir(parents=True)
    marker.touch()
    with LocalSession("dev", workdir=workdir, lambda_logs=False) as env:
        build_week(env, files)
    with open_local(workdir, "dev") as target:
        target.parameters["ExpectedStores"] = ",".join(EXPECTED)
        grid = read_status(target, START, START + dt.timedelta(days=6))
        where = f"local environment {workdir / 'dev'}"
        print_status(make_console(sys.stdout), grid, where=where)
        page, _ = write_status_html(workdir / "status.html", grid, target, where=where)
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            # Paint everything before the shot (without these it may catch a half-drawn page).
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=2000",
            f"--user-data-dir={workdir / 'chromium'}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--screenshot={IMAGE}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    print(f"Wrote {IMAGE}; the week stays in {workdir} for stepline status --local {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
