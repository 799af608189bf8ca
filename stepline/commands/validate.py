"""``stepline validate``: check a local sales file against the data contract.

Runs exactly the validation the Lambda runs (the same
:func:`sales_contract.columnar.validate_sales_object`), without S3: the ``--key``
says which store and day the file is for, and whether it is gzip. ``--stage``
takes the reject threshold from that stage's deployed Lambda, so the verdict is
the one the stage would give. ``--engine reference`` runs the row-by-row
reference implementation instead (same verdict, several times slower).

Exit status: 0 accepted, 1 rejected, 2 a usage or environment problem (one
line on stderr saying what is wrong and what to do; ``--debug`` adds the
traceback).
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
from sales_contract.allocator import keep_freed_buffers

from stepline.cli import UsageError
from stepline.commands._arguments import stored_key

#: At most this many reasons are printed (``reasons_truncated`` says when more exist).
MAX_PRINTED_REASONS = 1000
#: Reasons shown by the text summary (``--json`` shows up to MAX_PRINTED_REASONS).
MAX_SUMMARY_REASONS = 50

#: The two validators: the same verdicts (tests/contract/test_contract_differential.py).
ENGINES = ("columnar", "reference")

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

# The handler of the function whose environment holds the stage's threshold.
_VALIDATION_HANDLER_PREFIX = "validate_sales_file."


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a local sales CSV against the data contract, as the Lambda does",
        description=(
            "Validate a local sales file exactly as the validation Lambda does. "
            "Exit status 0 when the file is accepted (possibly with rejected rows), "
            "1 when it is rejected, 2 for a usage or environment problem."
        ),
    )
    parser.add_argument("path", type=Path, help="the local .csv or .csv.gz file")
    parser.add_argument(
        "--key",
        required=True,
        type=stored_key,
        help=f"the raw key the file would land under: {RAW_KEY_PATTERN_TEXT}",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="columnar",
        help="columnar (the Lambda's, the default) or reference (the row-by-row "
        "implementation the columnar one is tested against): the same verdict",
    )
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument(
        "--max-reject-ratio",
        type=_ratio,
        default=None,
        help=f"share of rejected rows above which the file is rejected "
        f"(default {DEFAULT_MAX_REJECT_RATIO}, the template's default)",
    )
    threshold.add_argument(
        "--stage",
        help="judge the file as this stage's Lambda does: its MaxRejectRatio comes from "
        "samconfig.toml (dev, staging, prod)",
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
    max_reject_ratio = _max_reject_ratio(args)
    # This process only validates: let the scan reuse the memory it frees, as
    # the Lambda does (sales_contract.allocator; template.yaml sets the same).
    keep_freed_buffers()
    verdict = validate_local_file(
        args.path, args.key, max_reject_ratio=max_reject_ratio, engine=args.engine
    )
    if args.json:
        print(json.dumps(verdict, indent=2))
    else:
        print(_summary(args.path, args.key, verdict, args.stage))
    return EXIT_ACCEPTED if verdict["accepted"] else EXIT_REJECTED


def _max_reject_ratio(args: argparse.Namespace) -> float:
    if args.stage is not None:
        return stage_max_reject_ratio(args.stage)
    if args.max_reject_ratio is not None:
        return float(args.max_reject_ratio)
    return DEFAULT_MAX_REJECT_RATIO


def stage_max_reject_ratio(stage: str) -> float:
    """The MaxRejectRatio the stage's validation Lambda runs with.

    Read the way the Lambda reads it: the function's environment as the stage
    deploys it (``MAX_REJECT_RATIO``, from the ``MaxRejectRatio`` parameter in
    samconfig.toml), parsed by the Lambda's own settings model.
    """
    # Imported here: loading the template is only needed with --stage.
    from validate_sales_file.settings import SettingsError, ValidatorSettings

    from stepline.definition import DefinitionError, load_deployed_stack

    try:
        deployed = load_deployed_stack(stage)
        functions = [
            spec
            for spec in deployed.functions.values()
            if spec.handler.startswith(_VALIDATION_HANDLER_PREFIX)
        ]
        if len(functions) != 1:
            raise UsageError(
                f"--stage {stage}: template.yaml deploys {len(functions)} validation functions, "
                "expected 1; use --max-reject-ratio instead"
            )
        return ValidatorSettings.from_environ(functions[0].environment).max_reject_ratio
    except (DefinitionError, SettingsError) as error:
        raise UsageError(
            f"--stage {stage}: {error} (name a stage of samconfig.toml, or use --max-reject-ratio)"
        ) from error


def validate_local_file(
    path: Path,
    key: str,
    *,
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO,
    engine: str = "columnar",
) -> dict[str, Any]:
    """Validate ``path`` as if it had landed under ``key``; return the JSON verdict.

    Raises :class:`UsageError` when the file cannot be read, whatever the key.
    """
    try:
        # First, so that a wrong path is never judged by its key alone.
        path.open("rb").close()
    except OSError as error:
        detail = error.strerror or str(error)
        raise UsageError(f"cannot read {path}: {detail} (check the path)") from error
    if not is_sales_key(key):
        reason = f"{key!r} is outside sales/: Stepline would ignore it"
        return _key_verdict(reason, max_reject_ratio)
    try:
        raw_key = parse_raw_key(key)
    except RawKeyError as error:
        return _key_verdict(str(error), max_reject_ratio)
    try:
        if engine == "reference":
            with path.open("rb") as raw:
                report = validate_sales_stream(
                    raw, raw_key, max_reject_ratio=max_reject_ratio,
                    max_reasons=MAX_PRINTED_REASONS,
                )
        else:
            # Imported here: numpy is only needed to validate.
            from sales_contract.columnar import validate_sales_object

            report = validate_sales_object(
                lambda: path.open("rb"), raw_key, max_reject_ratio=max_reject_ratio,
                max_reasons=MAX_PRINTED_REASONS,
            )
    except OSError as error:
        detail = error.strerror or str(error)
        raise UsageError(f"cannot read {path}: {detail} (check the path)") from error
    return _verdict(report)


def _verdict(report: ValidationReport) -> dict[str, Any]:
    reasons = report.reasons(MAX_PRINTED_REASONS)
    total = len(report.file_problems) + report.row_problem_count
    return {
        "accepted": report.accepted,
        "rows": report.rows,
        "good_rows": report.good_rows,
        "rejected_rows": report.rejected_rows,
        "lines": report.lines,
        "counts_complete": report.counts_complete,
        "max_reject_ratio": report.max_reject_ratio,
        "rejection_reason": report.rejection_reason,
        "reasons": [problem.as_dict() for problem in reasons],
        "reasons_truncated": total > len(reasons),
    }


def _key_verdict(reason: str, max_reject_ratio: float) -> dict[str, Any]:
    return {
        "accepted": False,
        "rows": 0,
        "good_rows": 0,
        "rejected_rows": 0,
        "lines": 0,
        "counts_complete": False,
        "max_reject_ratio": max_reject_ratio,
        "rejection_reason": reason,
        "reasons": [{"line": None, "column": None, "reason": reason}],
        "reasons_truncated": False,
    }


def _summary(path: Path, key: str, verdict: dict[str, Any], stage: str | None) -> str:
    threshold = f"MaxRejectRatio {verdict['max_reject_ratio']:g}"
    if stage is not None:
        threshold += f" of stage {stage}"
    outcome = "ACCEPTED" if verdict["accepted"] else "REJECTED"
    if verdict["counts_complete"]:
        counts = (
            f"{verdict['rows']} rows, {verdict['good_rows']} good, "
            f"{verdict['rejected_rows']} rejected"
        )
    else:
        counts = "the file breaks the contract as a whole (rows not counted)"
    lines = [f"{path}  (as {key}, {threshold})", f"  {outcome}: {counts}"]
    if verdict["rejection_reason"]:
        lines.append(f"  reason: {verdict['rejection_reason']}")
    for reason in verdict["reasons"][:MAX_SUMMARY_REASONS]:
        where = f"line {reason['line']}" if reason["line"] is not None else "file"
        lines.append(f"  - {where}: {reason['reason']}")
    hidden = len(verdict["reasons"]) - MAX_SUMMARY_REASONS
    if hidden > 0 or verdict["reasons_truncated"]:
        lines.append(f"  ... more reasons: use --json to see up to {MAX_PRINTED_REASONS}")
    return "\n".join(lines)
