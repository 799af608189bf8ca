"""``stepline cost``: what a run, a day and a month of Stepline cost on AWS, next to MWAA.

Counts, does not guess: the command runs the stage's deployed machines in a
temporary local environment (test case ``SparkAndWarehouseMocked``: Glue,
EMR, Redshift and Athena mocked, everything else real), three times - one
store's file and its publish, the same with one transient Glue failure
retried, and ``--stores`` files landing together so the publish coalesces -
and prices what their histories show: state transitions (each state entered,
each retry again, as AWS bills them), Express executions and their duration,
DynamoDB, SNS, S3, Lambda, Glue and Athena requests. The validation's
duration is measured by validating a generated file in-process and scaled to
``--rows-per-store-day``. The always-on EMR cluster is shown on its own line.
Prices come from ``stepline/ops/prices.json`` (us-east-1, each with its
source page and the date it was read); the output says when they were read.

A run is one day's files from ``--stores`` stores and their publish;
``--runs-per-day`` of them a day, a month being 365/12 days.

``--json`` prints one object::

    {"stage", "region", "prices_read_on": "YYYY-MM-DD", "warning",
     "stores", "runs_per_day", "rows_per_store_day",
     "transitions_per_arrival": int,  # the arrival of the one-store run
     "transitions_per_publish": int,  # its publish (one pass)
     "transitions_per_run": int,      # every Standard execution of the --stores run
     "retry_extra_transitions": int, "retry_extra_usd",
     "per_run_usd", "per_day_usd", "per_month_usd",   # pay per use, without EMR
     "emr_cluster_per_month_usd", "emr_cluster": "<id>, taken as 3 x m5.xlarge",
     "per_month_with_emr_usd",
     "mwaa_small_per_month_usd",
     "mwaa_per_month_usd": {"mw1.micro": null | usd, "mw1.small", "mw1.medium", "mw1.large"},
     "mwaa_serverless": {"task_hour_usd", "task_hours_per_run", "task_hours_per_month",
                         "per_month_usd"},
     "breakdown": {"stepfunctions_standard" | "stepfunctions_express" | "lambda" | "glue"
                   | "athena" | "dynamodb" | "sns" | "s3_requests":
                   {"per_run_usd", "per_day_usd", "per_month_usd", "usage": {...}, "basis"}},
     "measured": {"validation_seconds_per_row", ...}, "assumptions": [str],
     "unverified_prices": [key],
     "runs": {"happy_path" | "retry" | "burst":
              {"stores", "transitions", "arrivals", "publishes", "publish_passes",
               "executions": [{"machine", "name", "type", "status", "transitions", ...}]}}}

``--keep DIR`` keeps the three local environments (``DIR/<run>/local/<stage>/``,
histories under ``executions/``) for inspection. Exit status: 0, or 2 for a
usage problem (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from stepline.cli import UsageError

#: Every store's arrival really runs locally (a second or so each).
MAX_STORES = 500
TEXT_WIDTH = 80


def register(subparsers: Any) -> None:
    from stepline.ops.cost import DEFAULT_ROWS_PER_STORE_DAY

    parser = subparsers.add_parser(
        "cost",
        help="cost per run, day and month, counted from local executions, next to MWAA",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--stores",
        type=_bounded(1, MAX_STORES),
        default=10,
        metavar="N",
        help="store files landing together in a run (default 10)",
    )
    parser.add_argument(
        "--runs-per-day",
        type=_bounded(1, 1440),
        default=1,
        metavar="N",
        help="runs a day (default 1: the stores' daily files)",
    )
    parser.add_argument(
        "--rows-per-store-day",
        type=_bounded(1, 10**9),
        default=DEFAULT_ROWS_PER_STORE_DAY,
        metavar="N",
        help=f"rows in one store's daily file (default {DEFAULT_ROWS_PER_STORE_DAY:,})",
    )
    parser.add_argument("--stage", default="dev", help="samconfig.toml environment (default dev)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the local environments of the runs in DIR (a new or empty folder)",
    )
    parser.add_argument("--json", action="store_true", help="print the estimate as one JSON object")
    parser.set_defaults(handler=run_cost)


def _bounded(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low:,} and {high:,}")
        return value

    return parse


def run_cost(args: argparse.Namespace) -> int:
    from stepline.definition import find_project_root, load_deployed_stack
    from stepline.ops import cost

    if not (find_project_root() / cost.MOCK_CONFIG).is_file():
        raise UsageError(
            f"{cost.MOCK_CONFIG} is missing: stepline cost runs its {cost.TEST_CASE} test case; "
            "run it from a Stepline checkout"
        )
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        raise UsageError(f"{args.keep} is not empty: give --keep a new or empty folder")
    try:
        prices = cost.load_prices()
    except cost.PricesError as problem:
        raise UsageError(str(problem)) from problem
    stack = load_deployed_stack(args.stage)
    sizes = cost.stage_sizes(stack)
    if sys.stderr.isatty():
        print(
            f"stepline cost: running the {args.stage} machines locally "
            f"(1 + 1 + {args.stores} arrivals)...",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="stepline-cost-") as scratch:
        folder = args.keep if args.keep is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        timing = cost.measure_validation(Path(scratch))
        scenarios = cost.run_scenarios(args.stage, args.stores, folder)
    result = cost.estimate(
        scenarios,
        sizes=sizes,
        timing=timing,
        prices=prices,
        rows_per_store_day=args.rows_per_store_day,
        runs_per_day=args.runs_per_day,
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(render_text(result, prices))
    return 0


def money(usd: float | None) -> str:
    """Dollars with the precision a figure needs: $525.60, $0.1234, $0.000031."""
    if usd is None:
        return "n/a"
    if usd >= 100:
        return f"${usd:,.2f}"
    if usd >= 0.01:
        return f"${usd:.4f}"
    return f"${usd:.6f}"


def _monthly(usd: float | None) -> str:
    return "not found" if usd is None else money(usd)


def _label(line: Any) -> str:
    usage = line.usage
    labels = {
        "stepfunctions_standard": f"Step Functions, {usage.get('transitions')} transitions",
        "stepfunctions_express": f"Express, {usage.get('executions')} executions",
        "lambda": (
            f"Lambda, {usage.get('invocations')} x {usage.get('billed_seconds_each', 0):.2f} s"
            f" {usage.get('memory_mb')} MB"
        ),
        "glue": (
            f"Glue, {usage.get('job_runs')} x {usage.get('workers')} {usage.get('worker_type')}"
            f" x {usage.get('billed_seconds_each', 0):.0f} s"
        ),
        "athena": f"Athena, {usage.get('queries')} x {usage.get('billed_mb_each', 0):.0f} MB",
        "dynamodb": (
            f"DynamoDB, {usage.get('write_request_units')} WRU"
            f" + {usage.get('read_request_units', 0):g} RRU"
        ),
        "sns": f"SNS, {usage.get('publishes')} publishes",
        "s3_requests": f"S3, {usage.get('get')} GET + {usage.get('put_list')} PUT",
    }
    return str(labels.get(line.service, line.service))


def render_text(result: Any, prices: Any) -> str:
    """The estimate in at most TEXT_WIDTH columns."""
    from stepline.ops.cost import DAYS_PER_MONTH, PRICE_WARNING, TEST_CASE

    burst = result.scenarios.burst
    unverified = len(result.unverified_prices)
    lines = [
        f"Stepline cost: stage {result.stage}, {result.region}, {result.stores} stores, "
        f"{result.runs_per_day} run(s) a day",
        f"Prices read {result.prices_read_on.isoformat()} ({unverified} of "
        f"{len(prices.prices)} from secondary pages: see prices.json).",
        f"{PRICE_WARNING}.",
        "",
        f"Counted in real local executions (test case {TEST_CASE}):",
        f"  one arrival       {result.transitions_per_arrival:>5} transitions"
        f"   one publish pass  {result.transitions_per_publish:>5} transitions",
        f"  a Glue retry      {'+' + str(result.retry_extra_transitions):>5} transitions"
        f"   this run          {burst.transitions():>5} transitions",
        f"  ({len(burst.of('SalesArrival'))} arrivals, {len(burst.of('SalesPublish'))} "
        f"publish execution(s), {burst.publish_passes} pass(es))",
        "",
        f"  {'Pay per use':<34}{'per run':>12}{'per day':>12}{'per month':>12}",
    ]
    for line in result.lines:
        per_day = line.per_run_usd * result.runs_per_day
        lines.append(
            f"  {_label(line):<34}{money(line.per_run_usd):>12}{money(per_day):>12}"
            f"{money(per_day * DAYS_PER_MONTH):>12}"
        )
    lines.append(
        f"  {'Total':<34}{money(result.per_run_usd):>12}{money(result.per_day_usd):>12}"
        f"{money(result.per_month_usd):>12}"
    )
    lines += [
        "",
        "Always on, not a cost of a run (per month):",
        f"  {'EMR cluster ' + result.emr_cluster:<58}{money(result.emr_per_month_usd):>12}",
        f"  {'Total with the EMR cluster':<58}"
        f"{money(result.per_month_usd + result.emr_per_month_usd):>12}",
        "",
        "Orchestrating the same with MWAA instead (per month, environment only):",
    ]
    classes = list(result.mwaa_per_month_usd.items())
    for left, right in zip(classes[::2], classes[1::2], strict=False):
        lines.append(
            f"  {left[0]:<12}{_monthly(left[1]):>12}      {right[0]:<12}{_monthly(right[1]):>12}"
        )
    serverless = result.mwaa_serverless
    serverless_label = (
        f"MWAA Serverless, {serverless['task_hours_per_month']:.1f} task-hours"
        f" x {money(serverless['task_hour_usd'])}"
    )
    lines += [
        f"  {serverless_label:<42}{money(serverless['per_month_usd']):>12}",
        "",
        "Assumptions:",
        *(f"  {assumption}" for assumption in result.assumptions),
    ]
    too_wide = [line for line in lines if len(line) > TEXT_WIDTH]
    if too_wide:  # a bug, not a usage problem: the layout above must keep to 80 columns
        raise AssertionError(f"cost text wider than {TEXT_WIDTH} columns: {too_wide[0]!r}")
    return "\n".join(lines)
