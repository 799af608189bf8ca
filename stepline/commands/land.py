"""``stepline land FILE --key KEY [FILE --key KEY ...]``: files arrive, the day runs, locally.

Puts each file in the local raw bucket at its key (a new object version, as an
upload is), delivers each one's ``Object Created`` event to the local
EventBridge ``--times N`` times (EventBridge delivers at least once; the key
URL-encoded as S3 sends it), all at once, lets every execution this causes
run to its end (arrivals side by side, the date's publish one at a time),
then prints one line per execution and what each date touched now holds.

The environment persists in ``--local DIR`` (default ``.stepline/local``):
a later ``land`` or ``replay`` sees this one's objects, ledger, warehouse
and executions. Exit status: 0 when every execution succeeded (a rejected
file is a success: bad data is an outcome), 1 when one failed, 2 for a
usage or environment problem.

With ``--aws`` (or ``--profile``/``--region``) the files are uploaded to the
deployed stage's raw bucket instead, and S3 and EventBridge take it from
there; ``--wait`` then follows each file's arrival (named, as the starter
names it, from the uploaded version) to its end and prints its status
(``--json``: ``{"arrivals": [{"key", "execution", "status"}]}``).

``--json`` prints one object::

    {"executions": [{"name", "machine", "status", "date", "store"}],
     "days": [{"date", "publishes": int,
               "stores": {"<store>": {"status", "revenue": "<decimal>", "units": int,
                                      "orders": int, "returns": int}}}],
     "notifications": [{"subject", "message"}]}

``days[].stores`` holds every store of the date in the run ledger; the
figures are read from the local warehouse after the runs ended (``orders``
sums the per-category order counts) and are absent for a store with nothing
loaded. ``publishes`` counts the publish passes this command's executions
completed for the date.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stepline.cli import UsageError, one_line_errors
from stepline.commands._arguments import positive_int, stored_key
from stepline.commands._local import (
    day_summary,
    execution_day,
    execution_row,
    outcome_of,
)
from stepline.commands._target import add_target_arguments, wants_aws
from stepline.local.session import DEFAULT_WORKDIR

EXIT_OK = 0
EXIT_FAILED = 1


USAGE = (
    "stepline land FILE --key KEY [FILE --key KEY ...] [--times N] [--json] "
    "[--local DIR | --aws [--profile P] [--region R] [--wait]] [--stage STAGE]"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "land",
        help="land files in the local raw bucket and run everything they cause",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=USAGE,
        add_help=False,
    )
    # FILE and --key alternate, which one argparse pass over a sub-command cannot
    # parse; the land parser reads them intermixed. So this sub-parser takes every
    # word after "land" as given (options before a FILE and --help included, which
    # a REMAINDER argument would refuse) and leaves them to land_parser.
    def take_every_word(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace = namespace if namespace is not None else argparse.Namespace()
        namespace.argv = list(args or [])
        namespace.handler = run_land
        return namespace, []

    parser.parse_known_args = take_every_word


def land_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepline land",
        usage=USAGE,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    one_line_errors(parser)  # land parses its own arguments: errors as every command's
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a local sales file")
    parser.add_argument(
        "--key",
        action="append",
        type=stored_key,
        default=[],
        metavar="KEY",
        help="the raw key the FILE before it lands under (one per FILE)",
    )
    parser.add_argument(
        "--times",
        type=positive_int,
        default=1,
        metavar="N",
        help="deliver each Object Created event N times (default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    parser.add_argument(
        "--wait", action="store_true", help="on AWS: follow each file's arrival to its end"
    )
    add_target_arguments(parser)
    # Read by stepline.cli.main from the words given; here so that it is no error.
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    return parser


def pair_files_and_keys(files: list[Path], keys: list[str]) -> list[tuple[Path, str]]:
    if len(files) != len(keys):
        raise UsageError(
            f"{len(files)} FILE(s) but {len(keys)} --key(s): give one --key right after each FILE"
        )
    for path in files:
        if path.is_dir():
            raise UsageError(f"{path} is a folder: give each file to land, with its --key")
        if not path.is_file():
            raise UsageError(f"{path}: no such file; check the path")
    return list(zip(files, keys, strict=True))


def run_land(parsed: argparse.Namespace) -> int:
    from stepline.local.session import LocalSession

    args = land_parser().parse_intermixed_args(parsed.argv)
    pairs = pair_files_and_keys(args.files, args.key)
    if wants_aws(args):
        return _land_on_aws(args, pairs)
    args.local = args.local or DEFAULT_WORKDIR
    with LocalSession(args.stage, workdir=args.local, lambda_logs=False) as session:
        before = {execution.arn for execution in session.stepfunctions.executions()}
        events = [session.land_file(path, key) for path, key in pairs]
        ignored = [
            event["detail"]["object"]["key"]
            for event in events
            if not session.events.rules_matching(event)
        ]
        for event in events:
            session.deliver(event, times=args.times)
        notifications = session.wait()
        executions = [e for e in session.stepfunctions.executions() if e.arn not in before]
        dates = sorted({d for d in (execution_day(e)[0] for e in executions) if d})
        days = [day_summary(session, run_date, executions) for run_date in dates]
    failed = [e for e in executions if e.status != "SUCCEEDED"]
    if args.json:
        print(
            json.dumps(
                {
                    "executions": [execution_row(e) for e in executions],
                    "days": days,
                    "notifications": [
                        {"subject": n["subject"], "message": n["message"]} for n in notifications
                    ],
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(_text(args, pairs, executions, days, notifications, ignored))
    return EXIT_FAILED if failed else EXIT_OK


def _land_on_aws(args: argparse.Namespace, pairs: list[tuple[Path, str]]) -> int:
    from stepline.definition import load_deployed_stack
    from stepline.local.session import arrival_for_event
    from stepline.ops.backfill import object_event
    from stepline.ops.target import AwsTarget, RawObject, aws_errors

    if args.times != 1:
        raise UsageError("--times is for the local environment: on AWS, EventBridge delivers")
    target = AwsTarget(args.stage, profile=args.profile, region=args.region)
    s3 = target.client("s3")
    bucket = target.outputs["RawBucketName"]
    stack = load_deployed_stack(args.stage)
    arrivals: list[dict[str, Any]] = []
    for path, key in pairs:
        with aws_errors(f"uploading {path}"), path.open("rb") as body:
            put = s3.put_object(Bucket=bucket, Key=key, Body=body)
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=put.get("VersionId", "null"))
        obj = RawObject(
            bucket=bucket,
            key=key,
            version_id=put.get("VersionId"),
            etag=str(head["ETag"]).strip('"'),
            size=int(head["ContentLength"]),
            last_modified=head["LastModified"],
        )
        name, _ = arrival_for_event(stack, object_event(obj))
        arrivals.append({"key": key, "execution": name, "status": "UPLOADED"})
        if not args.json:
            print(f"uploaded s3://{bucket}/{key} -> arrival {name}")
    if args.wait:
        for arrival in arrivals:
            arn = target.execution_arn("SalesArrival", arrival["execution"])
            arrival["status"] = _wait_for_arrival(target, arn)
            if not args.json:
                print(f"  {arrival['execution']}: {arrival['status']}")
    if args.json:
        print(json.dumps({"arrivals": arrivals}, indent=2))
    return 1 if any(a["status"] not in ("UPLOADED", "SUCCEEDED") for a in arrivals) else 0


def _wait_for_arrival(target: Any, arn: str, timeout: float = 4 * 3600) -> str:
    """Poll until EventBridge has started the arrival and it has ended."""
    import time

    deadline = time.monotonic() + timeout
    sfn = target.client("stepfunctions")
    while time.monotonic() < deadline:
        try:
            status = str(target.describe_execution(arn)["status"])
        except sfn.exceptions.ExecutionDoesNotExist:
            status = "NOT STARTED"
        if status not in ("RUNNING", "NOT STARTED"):
            return status
        time.sleep(target.poll_seconds)
    return "STILL RUNNING"


def _text(
    args: argparse.Namespace,
    pairs: list[tuple[Path, str]],
    executions: list[Any],
    days: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    ignored: list[str],
) -> str:
    times = f", each delivered {args.times} times" if args.times > 1 else ""
    lines = [
        f"Landed {len(pairs)} file(s){times} in {args.local / args.stage} (stage {args.stage})"
    ]
    lines += [f"  ignored (no rule matches): {key}" for key in ignored]
    lines.append("Executions:")
    for execution in executions:
        run_date, store = execution_day(execution)
        where = " ".join(part for part in (run_date, store) if part)
        outcome = outcome_of(execution) or execution.error or ""
        lines.append(
            f"  {execution.machine.mock_name:<20} {execution.status:<9} {outcome:<10} "
            f"{where:<28} {execution.name}"
        )
    for day in days:
        lines.append(f"Day {day['date']}: {day['publishes']} publish pass(es)")
        for store, state in day["stores"].items():
            figures = (
                f"revenue {state['revenue']}, units {state['units']}, orders {state['orders']}, "
                f"returns {state['returns']}"
                if "revenue" in state
                else "nothing loaded"
            )
            lines.append(f"  {store:<20} {state['status']:<10} {figures}")
    if notifications:
        lines.append("Notifications:")
        lines += [f"  {note['subject']}" for note in notifications]
    return "\n".join(lines)
