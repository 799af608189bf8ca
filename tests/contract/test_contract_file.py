"""File-level rules: encoding, compression, line endings, quoting and the header."""

from __future__ import annotations

import gzip
import random

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
    assert validated.report.rejection_reason == "not a valid gzip file"


def test_truncated_gzip_is_rejected(kit) -> None:
    """A gzip stream cut short is rejected, not an exception."""
    data = gzip.compress(kit.csv([kit.row()] * 200).encode())
    validated = kit.validate(data[: len(data) // 2], key=kit.gz_key)
    assert not validated.report.accepted
    assert validated.report.rejection_reason.startswith("not a valid gzip file")


def test_corrupt_gzip_body_is_rejected(kit) -> None:
    """A gzip stream with a corrupted body is rejected as not gzip."""
    data = bytearray(gzip.compress(kit.csv([kit.row()] * 200).encode()))
    data[20:40] = bytes(random.Random(1).randbytes(20))
    validated = kit.validate(bytes(data), key=kit.gz_key)
    assert not validated.report.accepted
    assert validated.report.rejection_reason.startswith("not a valid gzip file")


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
    assert validated.report.rejection_reason == "not valid UTF-8 (byte 0xe9 at line 1)"


def test_non_utf8_byte_mid_file_is_rejected_with_its_line(kit) -> None:
    """A bad byte deep in the file is reported on its own physical line."""
    rows = [kit.row(order_id=f"o-{n}") for n in range(5000)]
    data = kit.csv(rows).encode()
    lines = data.split(b"\n")
    lines[4000] = lines[4000].replace(b"Grocery", b"Groc\xffery")
    validated = kit.validate(b"\n".join(lines))
    assert validated.report.rejection_reason == "not valid UTF-8 (byte 0xff at line 4001)"


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


def test_blank_lines_are_skipped_not_counted(kit) -> None:
    """Empty lines are not rows, but still count as physical lines."""
    text = kit.csv([kit.row()]) + "\n\n" + kit.csv([kit.row(quantity="0")]).split("\n", 1)[1]
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert validated.report.rows == 2
    assert validated.report.row_problems[0].line == 5


def test_stray_carriage_return_is_a_row_error(kit) -> None:
    """A bare CR inside an unquoted value is reported as a malformed record on its line."""
    text = kit.csv([kit.row(), kit.row()]).replace("Grocery", "Gro\rcery", 1)
    # Write the raw text so the CR is not quoted.
    text = text.replace('"Gro\rcery"', "Gro\rcery")
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert validated.report.rows == 2 and validated.report.rejected_rows == 1
    assert validated.report.row_problems[0].line == 2
    assert validated.report.row_problems[0].reason.startswith("malformed CSV record")


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
