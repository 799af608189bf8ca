"""``stepline status``: the run ledger's grid of dates x stores, and each date's publish.

Reads the run ledger of a stage, on AWS (``--aws``, ``--profile``,
``--region``) or in the local environment (``--local DIR``, the default),
one query per date, and shows every store-day's status and every date's
publish state. ``--from`` and ``--to`` (``YYYY-MM-DD``, inclusive, UTC dates)
default to the 7 days up to yesterday; ``--to`` alone ends the week there,
``--from`` alone runs to yesterday (or is one day when later). At most 93
days. Shown stores: the stage's ``ExpectedStores`` and every store the
ledger has in the range, or only the stores given with ``--store``.

A cell is the store-day's ledger status: ``SUCCEEDED``, ``REJECTED``,
``NO_DATA``, ``FAILED``, ``RUNNING``, or ``MISSING`` (an expected store with no
ledger item for the date). A store neither expected nor in the ledger that
day has no cell.

A date's publish state, from its ``PUBLISH`` item, where *holding* is the
(store, ``data_run``) of every store-day that holds data (whatever its
status), *included* the (store, run) of ``published_stores`` (the last
successful publish), a publish is *running* while its lease is held and not
expired, and a request is *outstanding* when ``requested >
published_covered``; the first that applies:

* ``none``: no publish ever succeeded, none is running or was requested, and
  no store-day holds data: nothing to publish.
* ``pending``: no publish succeeded yet, but one is running or was requested,
  or a store-day holds data.
* ``stale``: a publish succeeded, but the data changed after it: *holding*
  differs from *included* (a store-day's ``data_run`` is not in
  ``published_stores``, or a published generation is no longer its
  store-day's data), or a request is outstanding and no publish is running.
* ``partial``: the last publish is current, but an expected store is not
  ``SUCCEEDED`` (missing, rejected, no data, failed or running).
* ``published``: the last publish included every store-day that holds data,
  no request is left without a publish, and every expected store succeeded.

The publish state is the date's, over all its stores, also with ``--store``.

``--json`` prints one object (keys sorted; every key always present, ``null``
when the ledger has no value)::

    {"stage", "from", "to", "expected_stores": [...], "stores": [...shown],
     "settled": bool,
     "summary": {"publish": {"published": n, "partial": n, "stale": n, "pending": n,
                             "none": n},
                 "store_days": {"SUCCEEDED": n, "NO_DATA": n, "REJECTED": n,
                                "FAILED": n, "RUNNING": n, "MISSING": n},
                 "publishes_running": n},
     "dates": [{"date", "publish", "publish_running": bool, "reasons": [str],
                "requested": int, "published_covered", "published_at",
                "published_execution", "publish_execution", "publishes": int,
                "stores": {"<store>": {"status", "execution", "execution_arn",
                                       "reason", "failed_state", "rows_in",
                                       "rows_rejected", "rows_out", "data_run",
                                       "published": bool, "ended_at",
                                       "object_key"}}}]}

``dates`` is in date order; a date's ``stores`` holds the shown stores that
have a cell; ``published`` says the store-day's ``data_run`` is in the date's
last publish; ``reasons`` says why a date is not ``published`` or ``none``;
``publishes`` counts the publish passes completed; ``publish_execution`` is
the running publish or the one of the last pass.

``--html FILE`` writes one self-contained page: dates x stores, each cell
coloured by status and linked to its execution in the AWS console; locally,
also to a run report written in ``<FILE stem>-runs/``.

Exit status: 0 when every shown store-day is SUCCEEDED or NO_DATA, every
date is ``published`` or ``none`` and no publish is running; 1 when
something is missing, rejected, failed, running, partial, pending or stale
(a person should look); 2 for a usage or environment problem (a bad date,
``--from`` after ``--to``, an unknown stage, a busy or absent local
environment), one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from stepline.cli import UsageError
from stepline.commands._arguments import iso_date, store_id
from stepline.commands._target import add_target_arguments, open_target

EXIT_SETTLED = 0
EXIT_ATTENTION = 1
DEFAULT_DAYS = 7


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="the run ledger's grid of dates x stores and each date's publish state",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=iso_date,
        metavar="D",
        help="first date, YYYY-MM-DD (default: 6 days before --to)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=iso_date,
        metavar="D",
        help="last date, YYYY-MM-DD, inclusive (default: yesterday, UTC)",
    )
    parser.add_argument(
        "--store",
        dest="stores",
        action="extend",
        nargs="+",
        default=[],
        type=store_id,
        metavar="S",
        help="show only these stores (default: the expected ones and all in the ledger)",
    )
    parser.add_argument("--json", action="store_true", help="print the grid as one JSON object")
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the grid as a self-contained page"
    )
    add_target_arguments(parser)
    parser.set_defaults(handler=run_status)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def date_bounds(
    start: dt.date | None, end: dt.date | None, *, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The inclusive range the options name (see the module docstring); UsageError if bad."""
    from stepline.ops.status import MAX_DAYS

    yesterday = today - dt.timedelta(days=1)
    if end is None:
        end = yesterday if start is None or start <= yesterday else start
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise UsageError(f"--from {start} is after --to {end}: give the earlier date first")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise UsageError(
            f"{start} to {end} is {days} days; at most {MAX_DAYS} at a time: narrow --from/--to"
        )
    return start, end


def run_status(args: argparse.Namespace) -> int:
    from stepline.definition import PROJECT_ROOT, load_stage_config
    from stepline.ops.status import read_status
    from stepline.ops.status_text import make_console, print_status

    start, end = date_bounds(args.start, args.end, today=utc_today())
    load_stage_config(PROJECT_ROOT, args.stage)  # an unknown stage, before anything else
    if args.html is not None and args.html.is_dir():
        raise UsageError(f"--html {args.html} is a folder: give the page's file name")
    with open_target(args) as target:
        grid = read_status(target, start, end, stores=args.stores)
        where = _where(args, target)
        written = None
        if args.html is not None:
            from stepline.ops.status_html import write_status_html

            written = write_status_html(args.html, grid, target, where=where)
    if args.json:
        print(json.dumps(grid.as_json(), indent=2, sort_keys=True, default=str))
    else:
        print_status(make_console(sys.stdout), grid, where=where)
    if written is not None:
        page, reports = written
        runs = f" and {len(reports)} run report(s) in {reports[0].parent}" if reports else ""
        # stdout stays pure JSON with --json.
        print(f"Wrote {page}{runs}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_SETTLED if grid.settled else EXIT_ATTENTION


def _where(args: argparse.Namespace, target: Any) -> str:
    if target.kind == "aws":
        return f"stack {target.stack_name} in {target.region} (AWS)"
    from stepline.local.session import DEFAULT_WORKDIR

    return f"local environment {(args.local or DEFAULT_WORKDIR) / args.stage}"


