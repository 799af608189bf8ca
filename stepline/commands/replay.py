"""``stepline replay EVENT.json``: run one arrival event through the deployed definition.

Modes:

* ``local`` (default): real handlers and Spark jobs on embedded stand-ins
  (see :mod:`stepline.local.services`); with ``--mock-config`` and
  ``--test-case`` the Tasks that test case lists are mocked for this run.
* ``mock``: every Task answered by a Step Functions Local MockConfigFile.
* ``--endpoint-url``: any Step Functions API endpoint (Step Functions Local
  in Docker, moto's server, or AWS itself) runs the definition.

Prints a readable trace (``--show-io`` adds each state's input and output,
``--json`` a machine-readable summary) and exits non-zero unless the
execution succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stepline.local.session import DEFAULT_WORKDIR, MOCK_STATE_MACHINE_NAME


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
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="local mode: folder standing in for S3 and the warehouse",
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


def _fail(message: str) -> int:
    print(f"stepline replay: {message}", file=sys.stderr)
    return 2


def _object_uri(event: dict[str, Any]) -> str:
    detail = event.get("detail", {})
    return f"s3://{detail.get('bucket', {}).get('name')}/{detail.get('object', {}).get('key')}"


def run(args: argparse.Namespace) -> int:
    event = json.loads(args.event.read_text())
    mock_config = json.loads(args.mock_config.read_text()) if args.mock_config else None
    notifications: list[Any] = []
    if args.endpoint_url:
        # The endpoint has its own mocks (Step Functions Local's SFN_MOCK_CONFIG), so
        # --test-case alone selects one; it finds it by the state machine's name.
        from stepline.definition import load_deployed_definition
        from stepline.local.endpoint import run_via_endpoint

        if mock_config is not None:
            return _fail("--mock-config is not used with --endpoint-url (the endpoint has its own)")
        definition = load_deployed_definition(args.stage).definition
        result = run_via_endpoint(
            definition,
            event,
            endpoint_url=args.endpoint_url,
            test_case=args.test_case,
            name=MOCK_STATE_MACHINE_NAME,
        )
    elif (mock_config is None) != (args.test_case is None):
        return _fail("--mock-config and --test-case go together")
    elif args.mode == "mock":
        if mock_config is None:
            return _fail("--mode mock needs --mock-config and --test-case")
        from stepline.definition import load_deployed_definition
        from stepline.local import run_state_machine

        definition = load_deployed_definition(args.stage).definition
        result = run_state_machine(
            definition,
            event,
            mock_config=mock_config,
            test_case=args.test_case,
            state_machine_name=MOCK_STATE_MACHINE_NAME,
            virtual_time=not args.real_time,
        )
    else:
        from stepline.local.session import LocalSession

        with LocalSession(
            args.stage,
            workdir=args.workdir,
            mock_config=mock_config,
            test_case=args.test_case,
            virtual_time=not args.real_time,
            lambda_logs=args.lambda_logs,
        ) as session:
            if args.file:
                key = event["detail"]["object"]["key"]
                event = session.land_file(args.file, key)
            elif not session.has_object(event):
                return _fail(
                    f"{_object_uri(event)} is not in the local raw bucket of stage "
                    f"{args.stage!r}; land a file at that key with --file PATH"
                )
            local_run = session.replay(event)
            result, definition = local_run.result, session.deployed.definition
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
        from stepline.report.text import format_trace

        print(format_trace(timeline, show_io=args.show_io, color=sys.stdout.isatty()))
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
