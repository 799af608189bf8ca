"""``stepline rerun EXECUTION | --date D [--store S]``: run failed work again.

An arrival is run again as a fresh execution with its original input, named
``<name>-r<N>``; a publish is run again by requesting its date's publish
(see :mod:`stepline.ops.rerun` for why not ``RedriveExecution``). With
``--date``, every FAILED store-day of the date (or of ``--store``) is rerun;
when none failed but the date's publish failed or is behind, the publish is
requested again. Locally the reruns always run to their end (local
executions live only as long as the command); on AWS ``--wait`` follows them.

Prints one line per rerun saying what was run again and how; ``--json``
prints ``{"reruns": [{"original", "kind", "execution", "name", "run_date",
"store"}], "statuses": {name: status}}``. Exit status: 0 when the reruns
succeeded (or were only started, without --wait on AWS), 1 when one did not,
2 for usage problems (nothing failed, an unknown execution...).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from stepline.cli import UsageError
from stepline.commands._arguments import iso_date_text
from stepline.commands._target import add_target_arguments, open_target


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rerun",
        help="run a failed arrival again, or a date's failed work",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "execution", nargs="?", help="an arrival or publish execution (name or ARN)"
    )
    parser.add_argument("--date", type=iso_date_text, help="rerun this date's failed work")
    parser.add_argument("--store", action="append", default=[], help="with --date: only this store")
    parser.add_argument("--force", action="store_true", help="rerun an execution that did not fail")
    parser.add_argument("--wait", action="store_true", help="on AWS: wait for the reruns to end")
    parser.add_argument("--json", action="store_true", help="print the reruns as JSON")
    add_target_arguments(parser)
    parser.set_defaults(handler=run_rerun)


def run_rerun(args: argparse.Namespace) -> int:
    from stepline.ops import rerun

    # --store first: without --date it would otherwise be told "(not both)".
    if args.store and args.date is None:
        raise UsageError("--store goes with --date: give --date D --store S")
    if (args.execution is None) == (args.date is None):
        raise UsageError("give an EXECUTION or --date D (not both)")
    with open_target(args) as target:
        if args.execution is not None:
            reruns = [rerun.rerun_execution(target, args.execution, force=args.force)]
        else:
            reruns = rerun.rerun_date(target, args.date, args.store)
        statuses: dict[str, Any] = {}
        if target.kind == "local" or args.wait:
            statuses = rerun.wait_and_report(target, reruns, timeout=6 * 3600)
            if target.kind == "local":
                target.session.wait()
    if args.json:
        print(json.dumps({"reruns": [asdict(r) for r in reruns], "statuses": statuses}, indent=2))
    else:
        for item in reruns:
            status = statuses.get(item.name)
            print(rerun.describe_rerun(item) + (f": {status}" if status else ""))
    return 1 if any(status != "SUCCEEDED" for status in statuses.values()) else 0
