"""``stepline generate``: write a realistic sales CSV of any size, streamed to disk.

Deterministic for a given ``--seed``; can inject duplicate ``(order_id, sku)``
rows and rows that break the contract. Prints the raw key to upload it under.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sales_contract import STORE_ID_PATTERN, raw_key

from stepline.cli import UsageError
from stepline.commands._arguments import iso_date
from stepline.sample_data import write_sales_csv


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a realistic sales CSV for one store and day",
        description=(
            "Write a store's day of sales as CSV, streamed with constant memory. "
            "--rows counts every data row, injected duplicates and bad rows included."
        ),
    )
    parser.add_argument("--date", required=True, type=iso_date, help="the sales day, YYYY-MM-DD")
    parser.add_argument("--store", required=True, help=f"the store id ({STORE_ID_PATTERN})")
    parser.add_argument("--rows", required=True, type=_count, help="data rows to write")
    parser.add_argument(
        "--out",
        type=Path,
        help="output file (default: sales-<date>-<store>.csv[.gz] in the current folder)",
    )
    parser.add_argument("--gzip", action="store_true", help="gzip the output (.csv.gz)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--duplicates", type=_count, default=0, help="rows repeating an (order_id, sku)"
    )
    parser.add_argument("--bad-rows", type=_count, default=0, help="rows breaking the contract")
    parser.set_defaults(handler=run_generate)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def run_generate(args: argparse.Namespace) -> int:
    suffix = ".csv.gz" if args.gzip else ".csv"
    out = args.out or Path(f"sales-{args.date.isoformat()}-{args.store}{suffix}")
    # The name says how to read the file (the contract goes by .csv / .csv.gz):
    # a gzip named .csv, or plain text named .csv.gz, would be rejected once uploaded.
    if out.name.endswith(".csv.gz") and not args.gzip:
        raise UsageError(f"--out {out} ends in .gz: add --gzip")
    if out.name.endswith(".csv") and args.gzip:
        raise UsageError(f"--gzip writes gzip, but --out {out} ends in .csv: name it .csv.gz")
    try:
        name = out.name.removesuffix(".gz").removesuffix(".csv")
        key = raw_key(args.date, args.store, name, gzip=args.gzip)
        generated = write_sales_csv(
            out,
            args.date,
            args.store,
            args.rows,
            seed=args.seed,
            duplicates=args.duplicates,
            bad_rows=args.bad_rows,
            gzip=args.gzip,
        )
    except ValueError as error:
        print(f"stepline generate: error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {generated.path} ({generated.size_bytes} bytes): {generated.rows} rows, "
        f"{generated.duplicates} duplicates, {generated.bad_rows} bad rows, "
        f"{generated.returns} returns"
    )
    print(f"upload it as: {key}")
    return 0
