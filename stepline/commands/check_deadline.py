"""``stepline check-deadline --date D``: the deadline check of one day, now.

Runs the stage's deadline check (the ``SalesDeadlineCheck`` machine that
EventBridge Scheduler starts every day at ``DeadlineTime``) for the given
day, on AWS or locally, and prints what it found: the expected stores whose
file is missing, rejected, failed or still running, and the day's publish
state; it sends the SNS alert exactly as the scheduled check would, and
nothing when all is well.

``--json`` prints the check's output: ``{"run_date", "expected_stores",
"missing", "rejected", "failed", "running", "no_data", "succeeded",
"publish", "alert_sent"}``. Exit status: 0 when all is well, 1 when the
alert was sent, 2 for usage problems.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from stepline.cli import UsageError
from stepline.commands._arguments import iso_date_text
from stepline.commands._target import add_target_arguments, open_target


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-deadline",
        help="check a day's files and publish as the scheduled deadline check does",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--date", type=iso_date_text, required=True, metavar="D", help="the day to check"
    )
    parser.add_argument("--json", action="store_true", help="print the check's output as JSON")
    add_target_arguments(parser)
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    with open_target(args) as target:
        started = target.start_execution("SalesDeadlineCheck", {"run_date": args.date})
        target.wait_for([started.arn], timeout=600)
        described = target.describe_execution(started.arn)
        if target.kind == "local":
            target.session.wait()
    if described["status"] != "SUCCEEDED":
        raise UsageError(
            f"the deadline check did not run: {described.get('error')}: {described.get('cause')}"
        )
    findings = json.loads(described["output"])
    if args.json:
        print(json.dumps(findings, indent=2, sort_keys=True))
    else:
        print(_text(findings))
    return 1 if findings.get("alert_sent") else 0


def _text(findings: dict[str, Any]) -> str:
    lines = [f"Deadline check of {findings['run_date']}: publish {findings['publish'].lower()}"]
    for label in ("missing", "rejected", "failed", "running", "no_data"):
        stores = findings.get(label) or []
        if stores:
            lines.append(f"  {label.replace('_', ' ')}: {', '.join(stores)}")
    lines.append("  alert sent" if findings.get("alert_sent") else "  all is well: no alert")
    return "\n".join(lines)
