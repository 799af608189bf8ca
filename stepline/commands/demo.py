"""``stepline demo``: the whole daily sales pipeline, end to end, on this machine.

Generates a day of sales files for several stores (one with duplicates, one
with a few bad rows, one that breaks the contract), lands them all at once in
the local raw bucket and delivers their Object Created events (one of them
twice, as EventBridge may), and runs everything that causes on the deployed
machines in local mode (Lambda in-process, Glue and EMR scripts on local
PySpark, Redshift and Athena SQL on DuckDB, S3, SNS and DynamoDB on moto):
one arrival per distinct object side by side, then the date's publish, one
at a time. Prints the executions, the run ledger's view of the day, the
report, the warehouse totals and the notifications, and writes an HTML run
report per execution. Last, its wall time split into where it went:
preparing (the input files, the local environment's start, the landing),
Spark's start (once, before the first Glue job), the executions (from the
first delivery until every execution has ended; each execution's own wall
time under it, arrivals overlapping as they run side by side), the report
(ledger, warehouse, printing and the HTML run reports) and saving the local
environment. The phases follow one another, so they add up to the total
but for the moment spent between them.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stepline.commands._arguments import iso_date_text
from stepline.ops.ledger import RunLedger

DEFAULT_DEMO_DIR = Path(".stepline/demo")
#: The demo wipes its folder on each run, but only a folder it made itself.
DEMO_MARKER = ".stepline-demo"


@dataclass(frozen=True)
class DemoFile:
    """One store's file for the demo day and the outcome the pipeline should reach."""

    store_id: str
    rows: int
    duplicates: int = 0
    bad_rows: int = 0
    gzip: bool = False
    broken_header: bool = False

    @property
    def expected_outcome(self) -> str:
        """What the run ledger records for the store-day (bad data is an outcome, not a failure)."""
        return "REJECTED" if self.broken_header else "SUCCEEDED"

    def key(self, run_date: str) -> str:
        suffix = ".csv.gz" if self.gzip else ".csv"
        return f"sales/date={run_date}/store={self.store_id}/sales{suffix}"


DEMO_FILES = (
    DemoFile("store_001", rows=400, duplicates=5),
    DemoFile("store_002", rows=300, bad_rows=2, gzip=True),
    DemoFile("store_003", rows=250),
    DemoFile("store_004", rows=20, broken_header=True),
)


@dataclass
class WallTimes:
    """Where a demo's wall time went: consecutive phases, and each execution within them."""

    started: float = field(default_factory=lambda: time.perf_counter())
    phases: list[tuple[str, float]] = field(default_factory=list)
    #: (machine, execution name, its own wall seconds), in start order.
    executions: list[tuple[str, str, float]] = field(default_factory=list)
    total: float = 0.0
    _mark: float = 0.0

    def __post_init__(self) -> None:
        self._mark = self.started

    def phase(self, label: str) -> None:
        """The phase ``label`` ended now: it lasted since the previous one ended."""
        now = time.perf_counter()
        self.phases.append((label, now - self._mark))
        self._mark = now

    def finish(self) -> None:
        self.total = time.perf_counter() - self.started

    def lines(self) -> list[str]:
        width = max(len(label) for label, _ in self.phases)
        lines = [f"Wall time {self.total:.2f} s:"]
        for label, seconds in self.phases:
            lines.append(f"  {label:<{width}}  {seconds:7.2f} s")
            if label == EXECUTIONS_PHASE:
                lines += [
                    f"    {machine:<20} {name}  {seconds:.2f} s"
                    for machine, name, seconds in self.executions
                ]
        return lines


EXECUTIONS_PHASE = "executions (arrivals side by side, then the publish)"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline locally on generated data", description=__doc__
    )
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    parser.add_argument(
        "--date",
        type=iso_date_text,
        default=yesterday,
        help="the run date, YYYY-MM-DD (default: yesterday, UTC)",
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_DEMO_DIR,
        help="demo folder (wiped first if the demo made it): local S3, warehouse, HTML reports",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(handler=run)


def _write_inputs(folder: Path, run_date: str, seed: int) -> list[tuple[DemoFile, Path]]:
    from stepline.sample_data import write_sales_csv

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, spec in enumerate(DEMO_FILES):
        path = folder / Path(spec.key(run_date)).name.replace("sales", spec.store_id)
        if spec.broken_header:
            with path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(
                    ["order_id", "store_id", "sold_at", "sku", "category", "qty", "price"]
                )
                writer.writerow(
                    ["o-1", spec.store_id, f"{run_date}T10:00:00Z", "SKU-1", "toys", 1, "9.99"]
                )
        else:
            write_sales_csv(
                path,
                run_date,
                spec.store_id,
                spec.rows,
                seed=seed + index,
                duplicates=spec.duplicates,
                bad_rows=spec.bad_rows,
                gzip=spec.gzip,
            )
        written.append((spec, path))
    return written


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return (rows[0], rows[1:]) if rows else ([], [])


def _print_table(columns: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  " + "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in cells))


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).lstrip("-").isdigit()


def run(args: argparse.Namespace) -> int:
    from stepline.cli import UsageError
    from stepline.commands._local import day_summary, execution_day, outcome_of
    from stepline.definition import find_project_root, load_stage_config
    from stepline.local.session import LocalSession
    from stepline.local.spark import local_spark
    from stepline.report import build_timeline, html_table, json_block, render_html, write_html

    run_date = args.date
    # An unknown stage before anything is written or wiped.
    load_stage_config(find_project_root(), args.stage)
    marker = args.workdir / DEMO_MARKER
    if args.workdir.exists() and any(args.workdir.iterdir()):
        if not marker.exists():
            raise UsageError(
                f"{args.workdir} is not empty and was not made by the demo; "
                "choose another --workdir"
            )
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    marker.write_text("Made by `stepline demo`, which wipes this folder on its next run.\n")
    wall = WallTimes()
    inputs = _write_inputs(args.workdir / "inputs", run_date, args.seed)
    print(
        f"Stepline demo: daily sales for {run_date}, {len(inputs)} store files landing at once, "
        f"stage {args.stage}"
    )
    reports_dir = args.workdir / "runs"
    reports_dir.mkdir(parents=True, exist_ok=True)
    with LocalSession(args.stage, workdir=args.workdir / "local", lambda_logs=False) as session:
        lake = session.lake
        assert lake is not None  # set up when the session is entered
        events = [session.land_file(path, spec.key(run_date)) for spec, path in inputs]
        wall.phase("prepare (input files, local environment, landing)")
        # Started before the executions so that their times are their own: the
        # first Glue job would otherwise pay for it.
        local_spark()
        wall.phase("Spark start")
        # EventBridge delivers at least once: the first store's event arrives twice.
        for index, event in enumerate(events):
            session.deliver(event, times=2 if index == 0 else 1)
        notifications = session.wait()
        wall.phase(EXECUTIONS_PHASE)
        executions = session.stepfunctions.executions()
        wall.executions = [
            (e.machine.mock_name, e.name, e.wall_seconds or 0.0) for e in executions
        ]
        day = day_summary(session, run_date, executions)
        publish = RunLedger(session).publish_record(run_date) or {}
        arrivals = [e for e in executions if e.machine.mock_name == "SalesArrival"]
        ok = len(arrivals) == len(inputs) and all(e.status == "SUCCEEDED" for e in executions)
        print(
            "\nExecutions (one arrival per distinct object; the duplicate delivery started none):"
        )
        for execution in executions:
            when, store = execution_day(execution)
            print(
                f"  {execution.machine.mock_name:<20} {execution.status:<9} "
                f"{outcome_of(execution) or '':<10} {store or when or ''}"
            )
        print(f"\nRun ledger, {run_date}:")
        for spec, _ in inputs:
            state = day["stores"].get(spec.store_id, {})
            status = state.get("status")
            expected = status == spec.expected_outcome
            ok &= expected
            mark = "ok " if expected else "!! "
            print(
                f"{mark}{spec.store_id}: {status}"
                f"{'' if expected else ' -- expected ' + spec.expected_outcome}"
            )
        included = ", ".join(s["store_id"] for s in publish.get("published_stores", []))
        print(
            f"   publish: {publish.get('publish_status')}, {day['publishes']} pass(es), "
            f"stores included: {included}"
        )
        report_uri = publish.get("published_report")
        report_section: list[tuple[str, str]] = []
        if report_uri:
            print(f"\nDaily report for {run_date} (Athena SQL on DuckDB, {report_uri}):")
            lake.pull(report_uri)  # the publish copied it to its one key in S3
            columns, rows = _read_csv(lake.path_for(report_uri))
            _print_table(columns, rows)
            report_section = [
                (f"Daily report {run_date} (Athena on DuckDB)", html_table(columns, rows))
            ]
        print("\nWarehouse (Redshift load on DuckDB), per store:")
        for store, state in day["stores"].items():
            if "revenue" in state:
                print(
                    f"  {store}: revenue {state['revenue']}, units {state['units']}, "
                    f"returns {state['returns']}"
                )
        print("\nNotifications:")
        for note in notifications:
            print(f"  SNS: {note['subject']}")
        for execution in executions:
            if execution.result is None:
                continue
            sections = [("Notifications published", json_block(notifications))]
            if execution.machine.mock_name == "SalesPublish":
                sections += report_section
            write_html(
                reports_dir / f"{execution.machine.mock_name}-{execution.name}.html",
                render_html(
                    execution.machine.definition,
                    build_timeline(execution.result.history),
                    title=f"Stepline sales {run_date}: {execution.machine.mock_name} "
                    f"{execution.name}",
                    extra_sections=sections,
                ),
            )
        wall.phase("report (ledger, warehouse, printing, HTML run reports)")
    wall.phase("save (the local environment to its folder)")
    wall.finish()
    print(f"\nHTML run reports: {reports_dir}/")
    print(f"Local environment: {args.workdir / 'local'}/")
    print()
    print("\n".join(wall.lines()))
    print(
        f"Done in {wall.total:.1f} s: "
        f"{'all runs ended as expected' if ok else 'UNEXPECTED OUTCOMES'}"
    )
    return 0 if ok else 1
