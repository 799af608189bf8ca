"""MaxRejectRatio and the shape of the validated and rejects outputs."""

from __future__ import annotations

import csv
import gzip
import io

from sales_contract import COLUMNS, REJECTS_COLUMNS, parse_raw_key, validate_sales_stream


def _file_with_bad_rows(kit, rows: int, bad: int) -> str:
    return kit.csv(
        [kit.row(order_id=f"o-{n}", quantity="0" if n < bad else "1") for n in range(rows)]
    )


def test_reject_ratio_exactly_at_the_limit_is_accepted(kit) -> None:
    """1 bad row in 100 with MaxRejectRatio 0.01 continues with the 99 good rows."""
    validated = kit.validate(_file_with_bad_rows(kit, 100, 1), max_reject_ratio=0.01)
    assert validated.report.accepted
    assert (validated.report.good_rows, validated.report.rejected_rows) == (99, 1)


def test_reject_ratio_at_the_limit_is_exact_despite_floating_point(kit) -> None:
    """3 in 300 is exactly 1% (0.01 * 300 is 3.0000000000000004 in floats)."""
    validated = kit.validate(_file_with_bad_rows(kit, 300, 3), max_reject_ratio=0.01)
    assert validated.report.accepted


def test_reject_ratio_just_above_the_limit_rejects_the_file(kit) -> None:
    """2 bad rows in 100 with MaxRejectRatio 0.01 rejects the whole file."""
    validated = kit.validate(_file_with_bad_rows(kit, 100, 2), max_reject_ratio=0.01)
    assert not validated.report.accepted
    assert validated.report.rejection_reason == (
        "too many rejected rows: 2 of 100 (2.00%) is more than MaxRejectRatio 0.01"
    )


def test_zero_ratio_rejects_a_file_with_any_bad_row(kit) -> None:
    """MaxRejectRatio 0 tolerates no bad row."""
    validated = kit.validate(_file_with_bad_rows(kit, 100, 1), max_reject_ratio=0.0)
    assert not validated.report.accepted


def test_validated_output_is_canonical_gzip_csv(kit) -> None:
    """Good rows are gzip CSV, UTF-8 without BOM, LF, canonical header, values as given."""
    row = kit.row(category='Say "hi", then', unit_price="3.5", sold_at="2026-11-20T02:00:00+05:30")
    validated = kit.validate(b"\xef\xbb\xbf" + kit.csv([row], newline="\r\n").encode())
    lines = validated.good_csv.split("\n")
    assert lines[0] == ",".join(COLUMNS)
    assert next(csv.reader([lines[1]])) == [row[name] for name in COLUMNS]
    assert lines[2] == ""  # ends with a single LF


def test_rejects_output_lists_line_column_reason_and_record(kit) -> None:
    """Each row problem is a rejects line with its line, column, reason and raw record."""
    bad = kit.row(quantity="0", unit_price="1.234")
    validated = kit.validate(kit.csv([kit.row(), bad]), max_reject_ratio=1.0)
    rows = list(csv.reader(io.StringIO(validated.rejects_csv)))
    assert rows[0] == list(REJECTS_COLUMNS)
    record = ",".join(bad[name] for name in COLUMNS)
    assert rows[1:] == [
        ["3", "quantity", "quantity: '0' is not a non-zero integer", record],
        ["3", "unit_price", "unit_price: '1.234' has more than 2 decimal places", record],
    ]


def test_nothing_is_written_to_rejects_when_all_rows_are_good(kit) -> None:
    """The rejects stream stays empty for a clean file (so no rejects object is uploaded)."""
    assert kit.validate(kit.csv([kit.row()])).rejects_csv == ""


def test_output_bytes_are_deterministic(kit) -> None:
    """The same input gives byte-identical gzip output (no timestamp in the gzip header)."""
    text = kit.csv([kit.row(order_id=f"o-{n}") for n in range(50)])
    outputs = []
    for _ in range(2):
        good = io.BytesIO()
        validate_sales_stream(io.BytesIO(text.encode()), parse_raw_key(kit.key), good_rows_out=good)
        outputs.append(good.getvalue())
    assert outputs[0] == outputs[1]
    assert gzip.decompress(outputs[0]).decode() == text


def test_reasons_are_capped_but_counted(kit) -> None:
    """Only max_reasons reasons are kept, while every problem is counted."""
    validated = kit.validate(_file_with_bad_rows(kit, 30, 30), max_reject_ratio=1.0, max_reasons=5)
    assert len(validated.report.row_problems) == 5
    assert validated.report.row_problem_count == 30
    assert validated.report.rejected_rows == 30
