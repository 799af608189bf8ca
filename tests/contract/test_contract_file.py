"""File-level rules: encoding, compression, line endings, quoting and the header."""

from __future__ import annotations

import csv
import gzip
import io
import random

import pytest
from sales_contract import COLUMNS, parse_raw_key, validate_sales_stream


def test_good_file_is_accepted_with_every_row(kit) -> None:
    """A file following the contract is accepted and every row is good."""
    validated = kit.validate(kit.csv([kit.row(), kit.row(order_id="o-2")]))
    assert validated.report.accepted
    assert (validated.report.rows, validated.report.good_rows) == (2, 2)
    assert validated.report.rejection_reason is None


def test_utf8_bom_is_accepted_and_not_copied(kit) -> None:
    """A UTF-8 BOM before the header is allowed and the output carries none."""
    validated = kit.validate(b"\xef\xbb\xbf" + kit.csv([kit.row()]).encode())
    assert validated.report.accepted
    assert validated.good_csv.startswith("order_id,")


def test_crlf_line_endings_are_accepted_and_output_uses_lf(kit) -> None:
    """CRLF files are accepted; validated output uses LF."""
    validated = kit.validate(kit.csv([kit.row(), kit.row(order_id="o-2")], newline="\r\n"))
    assert validated.report.accepted and validated.report.good_rows == 2
    assert "\r" not in validated.good_csv


def test_quoted_commas_and_newlines_keep_line_numbers_right(kit) -> None:
    """Quoted commas/newlines stay inside a value and later rows report their physical line."""
    text = kit.csv(
        [
            kit.row(category="Home, Garden"),
            kit.row(category="two\nlines"),
            kit.row(category="three\nphysical\nlines"),
            kit.row(quantity="0"),
        ]
    )
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert validated.report.rows == 4
    # header=1, row1=2, row2=3-4, row3=5-7, row4 starts on line 8.
    assert [(p.line, p.column) for p in validated.report.row_problems] == [(8, "quantity")]
    assert '"Home, Garden"' in validated.good_csv
    assert '"three\nphysical\nlines"' in validated.good_csv


def test_gzip_file_is_accepted(kit) -> None:
    """A .csv.gz key is read through gzip."""
    data = gzip.compress(kit.csv([kit.row()]).encode())
    validated = kit.validate(data, key=kit.gz_key)
    assert validated.report.accepted and validated.report.good_rows == 1


def test_bytes_that_are_not_gzip_under_a_gz_key_are_rejected(kit) -> None:
    """A .csv.gz key holding plain text is rejected as not gzip."""
    validated = kit.validate(kit.csv([kit.row()]), key=kit.gz_key)
    assert not validated.report.accepted
    assert validated.report.rejection_reason == (
        "not a valid gzip file: it does not start with the gzip signature 1f 8b "
        "(a plain CSV file must be named .csv)"
    )


def test_truncated_gzip_is_rejected_without_partial_counts(kit) -> None:
    """A gzip stream cut short is rejected as truncated, and reports no row counts."""
    data = gzip.compress(kit.csv([kit.row(order_id=f"o-{n}") for n in range(3000)]).encode())
    validated = kit.validate(data[: len(data) // 2], key=kit.gz_key)
    assert validated.report.rejection_reason == (
        "not a valid gzip file: it is truncated (the compressed data ends early): "
        "upload the complete file"
    )
    report = validated.report
    assert (report.rows, report.good_rows, report.rejected_rows, report.lines) == (0, 0, 0, 0)
    assert not report.counts_complete and report.row_problems == []


def test_corrupt_gzip_body_is_rejected(kit) -> None:
    """A gzip stream with a corrupted body is rejected as corrupt."""
    data = bytearray(gzip.compress(kit.csv([kit.row()] * 200).encode()))
    data[20:40] = bytes(random.Random(1).randbytes(20))
    validated = kit.validate(bytes(data), key=kit.gz_key)
    assert validated.report.rejection_reason == (
        "not a valid gzip file: the compressed data is corrupt "
        "(a checksum or the deflate data is wrong)"
    )


def test_gzip_checksum_mismatch_is_rejected_as_corrupt(kit) -> None:
    """A gzip member whose CRC does not match its data is rejected as corrupt."""
    data = bytearray(gzip.compress(kit.csv([kit.row()]).encode()))
    data[-8] ^= 0xFF  # first byte of the CRC-32 in the trailer
    validated = kit.validate(bytes(data), key=kit.gz_key)
    assert validated.report.rejection_reason.startswith(
        "not a valid gzip file: the compressed data is corrupt"
    )


def test_bytes_after_the_gzip_data_are_rejected(kit) -> None:
    """Bytes appended to a gzip file are named as such, not as Python's 'Not a gzipped file'."""
    data = gzip.compress(kit.csv([kit.row()]).encode()) + b"garbage"
    validated = kit.validate(data, key=kit.gz_key)
    assert validated.report.rejection_reason == (
        "not a valid gzip file: bytes after the compressed data are not gzip: "
        "the file must hold gzip data only"
    )
    assert validated.report.rows == 0 and not validated.report.counts_complete


def test_several_gzip_members_are_one_file(kit) -> None:
    """Concatenated gzip members (as `cat a.gz b.gz`) are read as one file."""
    header, row = kit.csv([kit.row()]).splitlines(keepends=True)
    data = gzip.compress((header + row).encode()) + gzip.compress(row.encode())
    validated = kit.validate(data, key=kit.gz_key)
    assert validated.report.accepted and validated.report.rows == 2


def test_gzip_data_under_a_csv_key_gets_a_hint(kit) -> None:
    """Gzip bytes under a .csv key are rejected as non-UTF-8 with a hint to rename."""
    validated = kit.validate(gzip.compress(kit.csv([kit.row()]).encode()))
    assert not validated.report.accepted
    assert "name it .csv.gz" in validated.report.rejection_reason


def test_zero_byte_object_is_rejected(kit) -> None:
    """An empty object is rejected."""
    validated = kit.validate(b"")
    assert validated.report.rejection_reason == "the object is empty (0 bytes)"


def test_header_only_file_is_accepted_with_zero_rows(kit) -> None:
    """A header with no rows is valid and produces a header-only output."""
    validated = kit.validate(kit.csv([]))
    assert validated.report.accepted and validated.report.rows == 0
    assert validated.good_csv == ",".join(COLUMNS) + "\n"


def test_file_whose_first_row_is_data_has_no_header(kit) -> None:
    """A file starting with a data row is rejected for having no header."""
    text = kit.csv([kit.row()]).split("\n", 1)[1]
    validated = kit.validate(text)
    assert not validated.report.accepted
    assert validated.report.rejection_reason.startswith("no header row")


def test_missing_column_is_rejected(kit) -> None:
    """A header without a required column rejects the file and names the column."""
    header = [name for name in COLUMNS if name != "sku"]
    validated = kit.validate(kit.csv([], header=header))
    assert validated.report.rejection_reason == "missing column(s): sku"


def test_unknown_column_is_rejected(kit) -> None:
    """A header with an extra column rejects the file and names the column."""
    validated = kit.validate(kit.csv([], header=[*COLUMNS, "colour"]))
    assert validated.report.rejection_reason == "unknown column(s): colour"


def test_blank_or_padded_column_names_are_shown_quoted(kit) -> None:
    """A trailing comma or padded name is reported visibly, e.g. '' or ' sku'."""
    header = [" sku" if name == "sku" else name for name in COLUMNS] + [""]
    validated = kit.validate(kit.csv([], header=header))
    assert validated.report.rejection_reason == (
        "missing column(s): sku; unknown column(s): ' sku', ''"
    )


def test_duplicated_column_is_rejected(kit) -> None:
    """A header naming a column twice rejects the file."""
    validated = kit.validate(kit.csv([], header=[*COLUMNS, "sku"]))
    assert validated.report.rejection_reason == "duplicated column(s): sku"


def test_column_names_are_case_sensitive(kit) -> None:
    """'SKU' is not 'sku': exact names only."""
    header = ["SKU" if name == "sku" else name for name in COLUMNS]
    validated = kit.validate(kit.csv([], header=header))
    assert validated.report.rejection_reason == "missing column(s): sku; unknown column(s): SKU"
    assert all(problem.line == 1 for problem in validated.report.file_problems)


def test_shuffled_columns_are_accepted_and_reordered(kit) -> None:
    """Columns in any order are accepted; the output uses the canonical order."""
    header = list(reversed(COLUMNS))
    row = kit.row(category="Toys & Games")
    validated = kit.validate(kit.csv([row], header=header))
    assert validated.report.accepted
    lines = validated.good_csv.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == ",".join(row[name] for name in COLUMNS)


def test_non_utf8_byte_in_header_is_rejected_with_line_1(kit) -> None:
    """A Latin-1 byte in the header rejects the file, naming the byte and line 1."""
    data = kit.csv([kit.row()]).encode().replace(b"category", b"cat\xe9gory")
    validated = kit.validate(data)
    assert validated.report.rejection_reason == (
        "not valid UTF-8 (byte 0xe9 at line 1): save the file as UTF-8"
    )
    assert validated.report.file_problems[0].line == 1


def test_non_utf8_byte_mid_file_is_rejected_with_its_line(kit) -> None:
    """A bad byte deep in the file is reported on its own physical line."""
    rows = [kit.row(order_id=f"o-{n}") for n in range(5000)]
    data = kit.csv(rows).encode()
    lines = data.split(b"\n")
    lines[4000] = lines[4000].replace(b"Grocery", b"Groc\xffery")
    validated = kit.validate(b"\n".join(lines))
    assert validated.report.rejection_reason == (
        "not valid UTF-8 (byte 0xff at line 4001): save the file as UTF-8"
    )


def test_latin1_file_reports_no_partial_counts(kit) -> None:
    """A file rejected for its encoding reports 0 rows, not the rows read before the bad byte."""
    data = kit.csv([kit.row(), kit.row(category="Épicerie")]).encode("latin-1")
    report = kit.validate(data).report
    assert report.rejection_reason == (
        "not valid UTF-8 (byte 0xc9 at line 3): save the file as UTF-8"
    )
    assert (report.rows, report.good_rows, report.rejected_rows) == (0, 0, 0)
    assert not report.counts_complete


def test_multibyte_utf8_values_are_accepted(kit) -> None:
    """Non-ASCII UTF-8 text is fine."""
    validated = kit.validate(kit.csv([kit.row(category="Épicerie fine", sku="寿司-01")]))
    assert validated.report.accepted
    assert "Épicerie fine" in validated.good_csv


def test_row_with_wrong_field_count_is_a_row_error(kit) -> None:
    """A row with too few or too many fields is rejected on its own, not the file."""
    good = [kit.row()[name] for name in COLUMNS]
    validated = kit.validate(kit.csv([good, good[:-1], [*good, "x"]]), max_reject_ratio=1.0)
    assert validated.report.accepted
    assert [(p.line, p.reason) for p in validated.report.row_problems] == [
        (3, "expected 7 fields, found 6"),
        (4, "expected 7 fields, found 8"),
    ]


def test_empty_line_inside_the_data_is_a_rejected_row(kit) -> None:
    """An empty line between rows is a rejected row at its own line, not silently dropped."""
    good = kit.csv([kit.row(), kit.row(order_id="o-2")]).split("\n")
    text = "\n".join([good[0], good[1], "", "", good[2]]) + "\n"
    validated = kit.validate(text, max_reject_ratio=1.0)
    report = validated.report
    assert (report.rows, report.good_rows, report.rejected_rows) == (4, 2, 2)
    reason = "empty line inside the data: the contract allows empty lines only at the end"
    assert [(p.line, p.column, p.reason) for p in report.row_problems] == [
        (3, None, reason), (4, None, reason)
    ]
    assert validated.rejects_csv.splitlines()[1:] == [f"3,,{reason},", f"4,,{reason},"]


def test_empty_lines_at_the_end_are_not_rows(kit) -> None:
    """Empty lines (LF or CRLF) after the last row are not rows, but are physical lines."""
    text = kit.csv([kit.row()]) + "\n\r\n\n"
    report = kit.validate(text).report
    assert report.accepted and (report.rows, report.rejected_rows) == (1, 0)
    assert report.lines == 5 and report.counts_complete


def test_empty_line_right_after_the_header_is_inside_the_data(kit) -> None:
    """An empty line before the first row is inside the data, hence a rejected row."""
    header, row = kit.csv([kit.row()]).splitlines(keepends=True)
    report = kit.validate(header + "\n" + row, max_reject_ratio=1.0).report
    assert (report.rows, report.rejected_rows) == (2, 1)
    assert report.row_problems[0].line == 2


def test_stray_carriage_return_is_a_row_error(kit) -> None:
    """A bare CR inside an unquoted value rejects that row, naming the column."""
    text = kit.csv([kit.row(), kit.row()]).replace("Grocery", "Gro\rcery", 1)
    # Write the raw text so the CR is not quoted.
    text = text.replace('"Gro\rcery"', "Gro\rcery")
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert validated.report.rows == 2 and validated.report.rejected_rows == 1
    problem = validated.report.row_problems[0]
    assert (problem.line, problem.column) == (2, "category")
    assert problem.reason == (
        "category: carriage return (CR) outside quotes: lines must end with LF or CRLF, "
        "and a value holding a line break must be quoted"
    )


def test_crlf_line_break_inside_quotes_is_kept_in_the_value(kit) -> None:
    """A quoted CRLF line break is part of the value, kept as given (and quoted) in the output."""
    text = kit.csv([kit.row()]).replace("Grocery", '"Gro\r\ncery"')
    validated = kit.validate(text)
    assert validated.report.accepted and validated.report.good_rows == 1
    assert '"Gro\r\ncery"' in validated.good_csv


def test_lone_carriage_return_inside_quotes_is_a_row_error(kit) -> None:
    """A quoted lone CR is rejected: the LF-terminated output could not carry it safely."""
    text = kit.csv([kit.row()]).replace("Grocery", '"Gro\rcery"')
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert [(p.line, p.column, p.reason) for p in validated.report.row_problems] == [
        (2, "category", "category: holds a carriage return (CR) not followed by LF: a line "
                        "break inside a quoted value must be LF or CRLF")
    ]
    rejects = list(csv.reader(io.StringIO(validated.rejects_csv, newline="")))
    assert len(rejects) == 2 and "Gro\rcery" in rejects[1][3]


@pytest.mark.parametrize("size", [2000, 2_000_000], ids=["small", "over-1-MiB"])
def test_cr_only_line_endings_reject_the_file(kit, size: int) -> None:
    """A file with CR-only (old Mac) line endings is rejected, saying so, whatever its size."""
    rows = [kit.row(order_id=f"o-{n}") for n in range(size // 90)]
    text = kit.csv(rows, newline="\r")
    validated = kit.validate(text)
    assert validated.report.rejection_reason == (
        "line 1 uses CR (carriage return) line endings: the contract wants LF or CRLF"
    )
    assert validated.report.file_problems[0].line == 1


def test_text_after_a_closing_quote_is_a_row_error(kit) -> None:
    """'"Grocery"x' is not RFC 4180: the row is rejected, naming the column."""
    text = kit.csv([kit.row()]).replace("Grocery", '"Grocery"x')
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert [(p.line, p.column, p.reason) for p in validated.report.row_problems] == [
        (2, "category", 'category: text after the closing quote: a quoted value must be '
                        'followed by a comma or the end of the line (write "" for a quote '
                        'inside it)')
    ]


def test_quote_inside_an_unquoted_value_is_an_ordinary_character(kit) -> None:
    """A " that does not start a value is kept as a character, as Python's csv reads it."""
    text = kit.csv([kit.row()]).replace("GRO-00001", 'GRO-"1')
    validated = kit.validate(text)
    assert validated.report.accepted
    assert 'GRO-""1' in validated.good_csv  # re-quoted in the output


class _TrickleStream:
    """A stream returning at most 3 bytes per read, like a slow network."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = self._data[:3], self._data[3:]
        return chunk


def test_short_reads_from_the_source_do_not_change_the_verdict(kit) -> None:
    """A source returning tiny chunks (as a network stream may) validates the same."""
    data = gzip.compress(kit.csv([kit.row(order_id=f"o-{n}") for n in range(100)]).encode())
    report = validate_sales_stream(_TrickleStream(data), parse_raw_key(kit.gz_key))
    assert report.accepted and report.rows == 100
