"""``stepline validate``: check a local sales file against the data contract.

Runs exactly the validation the Lambda runs (the same
:func:`sales_contract.validate_sales_stream`), without S3: the ``--key`` says
which store and day the file is for, and whether it is gzip.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sales_contract import (
    DEFAULT_MAX_REJECT_RATIO,
    RAW_KEY_PATTERN_TEXT,
    RawKeyError,
    ValidationReport,
    is_sales_key,
    parse_raw_key,
    validate_sales_stream,
)

#: At most this many reasons are printed (``reasons_truncated`` says when more exist).
MAX_PRINTED_REASONS = 1000

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a local sales CSV against the data contract, as the Lambda does",
        description=(
            "Validate a local sales file exactly as the validation Lambda does. "
            "Exit status 0 when the file is accepted (possibly with rejected rows), "
            "1 when it is rejected."
        ),
    )
    parser.add_argument("path", type=Path, help="the local .csv or .csv.gz file")
    parser.add_argument(
        "--key",
        required=True,
        help=f"the raw key the file would land under: {RAW_KEY_PATTERN_TEXT}",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--max-reject-ratio",
        type=_ratio,
        default=DEFAULT_MAX_REJECT_RATIO,
        help=f"share of rejected rows above which the file is rejected "
        f"(default {DEFAULT_MAX_REJECT_RATIO})",
    )
    parser.set_defaults(handler=run_validate)


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def run_validate(args: argparse.Namespace) -> int:
    verdict = validate_local_file(args.path, args.key, max_reject_ratio=args.max_reject_ratio)
    if args.json:
        print(json.dumps(verdict, indent=2))
    else:
        print(_summary(args.path, args.key, verdict))
    return EXIT_ACCEPTED if verdict["accepted"] else EXIT_REJECTED


def validate_local_file(
    path: Path, key: str, *, max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO
) -> dict[str, Any]:
    """Validate ``path`` as if it had landed under ``key``; return the JSON verdict."""
    if not is_sales_key(key):
        return _key_verdict(f"{key!r} is outside sales/: Stepline would ignore it")
    try:
        raw_key = parse_raw_key(key)
    except RawKeyError as error:
        return _key_verdict(str(error))
    with path.open("rb") as raw:
        report = validate_sales_stream(
            raw, raw_key, max_reject_ratio=max_reject_ratio, max_reasons=MAX_PRINTED_REASONS
        )
    return _verdict(report)


def _verdict(report: ValidationReport) -> dict[str, Any]:
    reasons = report.reasons(MAX_PRINTED_REASONS)
    total = len(report.file_problems) + report.row_problem_count
    return {
        "accepted": report.accepted,
        "rows": report.rows,
        "good_rows": report.good_rows,
        "rejected_rows": report.rejected_rows,
        "rejection_reason": report.rejection_reason,
        "reasons": [problem.as_dict() for problem in reasons],
        "reasons_truncated": total > len(reasons),
    }


def _key_verdict(reason: str) -> dict[str, Any]:
    return {
        "accepted": False,
        "rows": 0,
        "good_rows": 0,
        "rejected_rows": 0,
        "rejection_reason": reason,
        "reasons": [{"line": None, "column": None, "reason": reason}],
        "reasons_truncated": False,
    }


def _summary(path: Path, key: str, verdict: dict[str, Any]) -> str:
    lines = [
        f"{path}  (as {key})",
        f"  {'ACCEPTED' if verdict['accepted'] else 'REJECTED'}: {verdict['rows']} rows, "
        f"{verdict['good_rows']} good, {verdict['rejected_rows']} rejected",
    ]
    if verdict["rejection_reason"]:
        lines.append(f"  reason: {verdict['rejection_reason']}")
    for reason in verdict["reasons"][:50]:
        where = f"line {reason['line']}" if reason["line"] is not None else "file"
        lines.append(f"  - {where}: {reason['reason']}")
    hidden = len(verdict["reasons"]) - 50
    if hidden > 0 or verdict["reasons_truncated"]:
        lines.append(f"  ... more reasons: use --json to see up to {MAX_PRINTED_REASONS}")
    return "\n".join(lines)
