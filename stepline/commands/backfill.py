"""``stepline backfill --from D --to D``: run what the ledger says a date range still needs.

Finds each store's latest file per date in the raw bucket (the source of
truth), decides from the run ledger what to start under ``--reprocess``
(``none``: only store-days that never ran, or whose newer file never ran;
``failed``: also FAILED and REJECTED ones; ``completed``: everything; a
running store-day is never started twice), starts them through the same
deterministic names as arrivals with at most ``--max-active`` running at
once (oldest date first, or ``--backwards``), and requests each date's
publish once, after its last store-day ended. Interrupted, the same command
run again starts nothing twice (see :mod:`stepline.ops.backfill`).

``--dry-run`` prints the plan and starts nothing; with ``--json`` the plan is
``{"plan": [{"date", "store", "action": "start"|"skip", "reason", "key",
"execution"}]}``. A run prints a summary, or with ``--json``
``{"plan": [...], "started": [names], "already_started": [names],
"statuses": {name: status}, "published": [dates]}``. Exit status: 0 when
every started arrival succeeded, 1 when one did not, 2 for usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from stepline.cli import UsageError
from stepline.commands._arguments import iso_date, positive_int, store_id
from stepline.commands._target import add_target_arguments, open_target

MAX_DAYS = 366


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="run the store-days of a date range that never ran (or failed, or all)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="start", type=iso_date, required=True, metavar="D")
    parser.add_argument("--to", dest="end", type=iso_date, required=True, metavar="D")
    parser.add_argument("--stores", type=_stores, default=[], help="only these stores (a,b,c)")
    parser.add_argument(
        "--reprocess",
        choices=("none", "failed", "completed"),
        default="none",
        help="which store-days that ran are started again (default none)",
    )
    parser.add_argument(
        "--max-active", type=positive_int, default=4, metavar="N", help="arrivals running at once"
    )
    parser.add_argument("--backwards", action="store_true", help="newest date first")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, start nothing")
    parser.add_argument("--json", action="store_true", help="print the plan and outcome as JSON")
    add_target_arguments(parser)
    parser.set_defaults(handler=run_backfill)


def _stores(text: str) -> list[str]:
    # Each a store id: one no raw key can hold would make the plan silently empty.
    return [store_id(store.strip()) for store in text.split(",") if store.strip()]


def run_backfill(args: argparse.Namespace) -> int:
    from stepline.definition import load_deployed_stack
    from stepline.ops import backfill

    if args.start > args.end:
        raise UsageError(
            f"--from {args.start} is after --to {args.end}: give the earlier date first"
        )
    if (args.end - args.start).days + 1 > MAX_DAYS:
        raise UsageError(f"the range has more than {MAX_DAYS} days: backfill a year at a time")
    run_id = backfill.backfill_id(args.start, args.end, args.stores, args.reprocess)
    stack = load_deployed_stack(args.stage)
    dates = backfill.dates_between(args.start, args.end, backwards=args.backwards)
    with open_target(args) as target:
        items = backfill.plan(
            target, stack, dates, stores=args.stores, reprocess=args.reprocess, run_id=run_id
        )
        if args.dry_run:
            _print_plan(items, args)
            return 0
        outcome = _execute(target, items, args, run_id)
    if args.json:
        print(
            json.dumps(
                {
                    "plan": [item.as_json() for item in items],
                    "started": [item.name for item in outcome.started],
                    "already_started": [item.name for item in outcome.already],
                    "statuses": outcome.statuses,
                    "published": outcome.published,
                },
                indent=2,
            )
        )
    else:
        print(_summary(outcome))
    return 1 if outcome.failed else 0


def _execute(target: Any, items: list[Any], args: argparse.Namespace, run_id: str) -> Any:
    from rich.progress import Progress

    from stepline.ops import backfill

    starts = sum(1 for item in items if item.action == "start")
    show = sys.stdout.isatty() and not args.json
    with Progress(disable=not show, transient=True) as progress:
        task = progress.add_task(f"backfill {run_id}", total=starts)

        def advance(item: Any, status: str) -> None:
            progress.advance(task)
            if show:
                progress.console.print(f"{item.date} {item.store}: {status}")

        outcome = backfill.run(
            target, items, max_active=args.max_active, run_id=run_id, on_progress=advance
        )
        if target.kind == "local":
            # Local executions live only as long as this command: let the publishes end.
            target.session.wait()
    return outcome


def _print_plan(items: list[Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({"plan": [item.as_json() for item in items]}, indent=2))
        return
    for item in items:
        print(f"{item.date}  {item.store:<20} {item.action:<5}  {item.reason}")
    counts = Counter(item.action for item in items)
    print(f"{counts['start']} to start, {counts['skip']} to skip (dry run: nothing started)")


def _summary(outcome: Any) -> str:
    lines = [
        f"started {len(outcome.started)}, already started {len(outcome.already)}, "
        f"skipped {len(outcome.skipped)}"
    ]
    for reason, count in sorted(Counter(item.reason for item in outcome.skipped).items()):
        lines.append(f"  skipped {count}: {reason}")
    for name, status in sorted(outcome.statuses.items()):
        if status != "SUCCEEDED":
            lines.append(f"  {status}: {name}")
    if outcome.published:
        lines.append(f"published once each: {', '.join(outcome.published)}")
    return "\n".join(lines)
