"""``stepline replay EVENT.json``: run one arrival of an S3 event through the deployed machines.

The event becomes the arrival the starter would start (same input), as a
fresh execution: a replay is an engineer's rerun, never a duplicate. Modes:

* ``local`` (default): real handlers and Spark jobs on embedded stand-ins
  (see :mod:`stepline.local.services`) in the persisted local environment
  (``--local DIR``); everything the arrival causes (the date's publish) runs
  to its end too. With ``--mock-config`` and ``--test-case`` the Tasks that
  test case lists are mocked.
* ``mock``: every Task of the arrival answered by a Step Functions Local
  MockConfigFile (nothing else runs).
* ``--endpoint-url``: any Step Functions API endpoint (Step Functions Local
  in Docker, moto's server, or AWS itself) runs the arrival definition.

Prints a readable trace of the arrival (``--show-io`` adds each state's input
and output, ``--json`` a machine-readable summary) and exits 1 unless it
succeeded (a rejected file succeeds: bad data is an outcome).

An event that AWS would never turn into an arrival is refused with exit 2 and
one line saying why, before anything runs: an ``Object Deleted`` (or any other
kind than ``Object Created``) event, which the arrival rule does not match; an
event of another bucket than the stage's raw bucket (unless ``--file`` lands
the file in the stage's raw bucket at the event's key); a folder marker (a
key ending in ``/``), which the arrival starter counts instead of starting.
The event's key is URL-encoded as S3 sends it and is decoded as the Lambda
decodes it (``%3D`` is ``=``, ``+`` a space).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from stepline.cli import UsageError
from stepline.local.session import DEFAULT_WORKDIR


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay an S3 'Object Created' event through the state machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("event", type=Path, help="EventBridge event JSON (see events/)")
    parser.add_argument("--mode", choices=("local", "mock"), default="local")
    parser.add_argument("--mock-config", type=Path, help="Step Functions Local MockConfigFile")
    parser.add_argument("--test-case", help="test case of the MockConfigFile to use")
    parser.add_argument("--stage", default="dev", help="samconfig.toml environment (default dev)")
    parser.add_argument("--endpoint-url", help="run on this Step Functions endpoint instead")
    parser.add_argument(
        "--file", type=Path, help="local mode: land this file at the event's key before replaying"
    )
    parser.add_argument(
        "--local",
        "--workdir",
        dest="local",
        type=Path,
        default=DEFAULT_WORKDIR,
        metavar="DIR",
        help=f"local mode: the persisted local environment (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument(
        "--real-time", action="store_true", help="really sleep in Wait states and Retry delays"
    )
    parser.add_argument("--show-io", action="store_true", help="print each state's input/output")
    parser.add_argument(
        "--lambda-logs",
        action="store_true",
        help="local mode: print the handlers' Powertools logs and EMF metrics",
    )
    parser.add_argument("--html", type=Path, help="also write the HTML run report here")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    parser.set_defaults(handler=run)


def _object_uri(event: dict[str, Any]) -> str:
    detail = event.get("detail", {})
    return f"s3://{detail.get('bucket', {}).get('name')}/{detail.get('object', {}).get('key')}"


def _no_arrival(stack: Any, event: dict[str, Any], *, landing: bool) -> str | None:
    """Why AWS would start no arrival for this event (None when it would): replay refuses it.

    ``landing``: ``--file`` puts the file in the stage's raw bucket at the event's
    key, so the event's own bucket does not matter then.
    """
    kind = event.get("detail-type")
    detail = event["detail"] if isinstance(event["detail"], dict) else {}
    obj, where = detail.get("object"), detail.get("bucket")
    key = obj.get("key") if isinstance(obj, dict) else None
    if kind != "Object Created":
        return (
            f"the event is of type {kind!r}: the arrival rule matches only 'Object Created' "
            "events, so AWS starts nothing for it (replay the Object Created event of a file)"
        )
    if not isinstance(key, str) or not key:
        return "the event names no object key (detail.object.key); see events/"
    bucket = where.get("name") if isinstance(where, dict) else None
    raw_bucket = stack.outputs.get("RawBucketName")
    if not landing and raw_bucket and bucket != raw_bucket:
        return (
            f"the event is for bucket {bucket!r}, not the raw bucket {raw_bucket!r} of stage "
            f"{stack.stage!r}: the arrival rule ignores it (fix the bucket, pick the right "
            "--stage, or land a file at its key with --file PATH)"
        )
    if unquote_plus(key).endswith("/"):
        return (
            f"{unquote_plus(key)!r} is a folder marker: the arrival starter counts it "
            "(Stepline/IgnoredObjects) and starts no arrival (replay the event of a file)"
        )
    return None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what} file; check the path") from None
    except json.JSONDecodeError as error:
        article = "an" if what[0] in "AEIOU" else "a"
        raise UsageError(f"{path} is not JSON ({error}); give {article} {what} file") from None


def _check_test_case(raw: Any, test_case: str, path: Path) -> None:
    """A malformed MockConfigFile or an unknown test case: a usage problem, before anything runs."""
    from stepline.local.mocks import MockConfigError, parse_mock_config

    try:
        config = parse_mock_config(raw)
    except MockConfigError as error:
        raise UsageError(f"{path}: {error}") from None
    known = sorted({case for cases in config.test_cases.values() for case in cases})
    if test_case not in known:
        raise UsageError(
            f"--test-case {test_case}: {path} defines no such test case; it has: "
            f"{', '.join(known) or 'none'}"
        )


def run(args: argparse.Namespace) -> int:
    from stepline.definition import load_deployed_stack
    from stepline.local.session import started_by_event

    event = _read_json(args.event, "EventBridge event")
    if not isinstance(event, dict) or "detail" not in event:
        raise UsageError(
            f"{args.event} is not an S3 Object Created event (no 'detail'); see events/"
        )
    refusal = _no_arrival(load_deployed_stack(args.stage), event, landing=args.file is not None)
    if refusal:
        raise UsageError(f"{args.event}: {refusal}")
    mock_config = _read_json(args.mock_config, "MockConfigFile") if args.mock_config else None
    if mock_config is not None and args.test_case is not None and not args.endpoint_url:
        _check_test_case(mock_config, args.test_case, args.mock_config)
    notifications: list[Any] = []
    if args.endpoint_url:
        # The endpoint has its own mocks (Step Functions Local's SFN_MOCK_CONFIG), so
        # --test-case alone selects one; it finds it by the state machine's name.
        from stepline.local.endpoint import run_via_endpoint

        if mock_config is not None:
            raise UsageError(
                "--mock-config is not used with --endpoint-url (the endpoint has its own)"
            )
        stack = load_deployed_stack(args.stage)
        started = started_by_event(stack, event)
        arrival, arrival_input = started.machine, started.input
        definition = arrival.definition
        result = run_via_endpoint(
            definition,
            arrival_input,
            endpoint_url=args.endpoint_url,
            test_case=args.test_case,
            name=arrival.mock_name,
        )
    elif (mock_config is None) != (args.test_case is None):
        raise UsageError("--mock-config and --test-case go together")
    elif args.mode == "mock":
        if mock_config is None:
            raise UsageError("--mode mock needs --mock-config and --test-case")
        from stepline.local import MockConfigError, run_state_machine

        stack = load_deployed_stack(args.stage)
        started = started_by_event(stack, event)
        arrival, arrival_input = started.machine, started.input
        definition = arrival.definition
        try:
            result = run_state_machine(
                definition,
                arrival_input,
                mock_config=mock_config,
                test_case=args.test_case,
                state_machine_name=arrival.mock_name,
                state_machine_arn=arrival.arn,
                virtual_time=not args.real_time,
            )
        except MockConfigError as error:
            # e.g. the test case is another machine's: nothing of the arrival ran.
            raise UsageError(f"{args.mock_config}: {error}") from None
    else:
        from stepline.local.session import LocalSession

        with LocalSession(
            args.stage,
            workdir=args.local,
            mock_config=mock_config,
            test_case=args.test_case,
            virtual_time=not args.real_time,
            lambda_logs=args.lambda_logs,
        ) as session:
            if args.file:
                key = unquote_plus(event["detail"]["object"]["key"])
                event = session.land_file(args.file, key)
            elif not session.has_object(event):
                raise UsageError(
                    f"{_object_uri(event)} is not in the local raw bucket of stage "
                    f"{args.stage!r}; land a file at that key with --file PATH"
                )
            local_run = session.replay(event)
            result = local_run.result
            definition = started_by_event(session.deployed, event).machine.definition
            notifications = local_run.notifications
    return report(result, definition, notifications, args)


def report(
    result: Any, definition: dict[str, Any], notifications: list[Any], args: argparse.Namespace
) -> int:
    """Print the trace or JSON summary, write the HTML page if asked; the exit code."""
    from stepline.report.timeline import build_timeline
    from stepline.testing import ExecutionView

    view = ExecutionView(result)
    timeline = build_timeline(result.history)
    if args.json:
        summary = {
            "status": result.status,
            "error": result.error,
            "cause": result.cause,
            "output": result.output,
            "states": view.visited,
            "notifications": [
                {"state": n.state, "subject": n.subject, "message": n.message, "sent": n.sent}
                for n in view.notifications
            ],
        }
        print(json.dumps(summary, indent=2, default=str))
    else:
        from stepline.report.text import format_trace, wants_color

        print(format_trace(timeline, show_io=args.show_io, color=wants_color(sys.stdout)))
        for note in notifications:
            print(f"  published: {note['subject']}")
    if args.html:
        from stepline.report.html import render_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(
            render_html(definition, timeline, title=f"Replay of {args.event.name}")
        )
        if not args.json:
            print(f"run report: {args.html}")
    return 0 if result.status == "SUCCEEDED" else 1
