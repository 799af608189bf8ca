"""Write the validation corpus: a small file per contract rule, and what validation must say.

Run from the repository root after changing the contract::

    .venv/bin/python tests/contract/corpus/make_corpus.py

It writes ``tests/contract/corpus/files/*`` and ``tests/contract/corpus/manifest.json``.
Every case names its raw key, the MaxRejectRatio to judge it with, and the expected
verdict: ``accepted``, the counts, ``counts_complete``, the file problems and the row
problems (each with its line, column and exact reason). The expected reasons and line
numbers are written here by hand from docs/data-contract.md, never computed by the
validator; rows and lines follow from how each file is built, so they are an
independent count of what the file holds.

The same cases run through ``stepline validate`` (tests/contract/test_contract_corpus.py)
and through the validation Lambda's logic on moto S3
(tests/functions/test_validate_corpus.py); a test fails when the files on disk differ
from what this script generates. Cases too large to commit (tens of thousands of rows)
are in :data:`LARGE_CASES`, built by the tests at run time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent
FILES = CORPUS / "files"
MANIFEST = CORPUS / "manifest.json"

RUN_DATE = "2026-11-20"
STORE = "store_001"
COLUMNS = ("order_id", "store_id", "sold_at", "sku", "category", "quantity", "unit_price")
DEFAULT_RATIO = 0.01

# Reasons that recur, spelled out as the contract states them.
EMPTY_LINE = "empty line inside the data: the contract allows empty lines only at the end"
BARE_CR = (
    "carriage return (CR) outside quotes: lines must end with LF or CRLF, "
    "and a value holding a line break must be quoted"
)
AFTER_QUOTE = (
    'text after the closing quote: a quoted value must be followed by a comma or the end '
    'of the line (write "" for a quote inside it)'
)
NOT_ISO = (
    "is not an ISO-8601 timestamp: the contract wants YYYY-MM-DDTHH:MM:SS with Z or an "
    "offset, like 2026-11-20T14:03:00Z or 2026-11-20T14:03:00+05:30"
)
NOT_DECIMAL = (
    "is not a decimal number: the contract wants digits with an optional point and at "
    "most 2 decimals, like 12.50"
)


def unterminated(line: int) -> str:
    return (
        f"unterminated quote: the quoted value that opens at line {line} is never closed "
        '(every " that opens a value needs a closing ")'
    )


def control(column: str, code: int, name: str) -> str:
    return (
        f"{column}: contains the control character U+{code:04X} ({name}): values may hold "
        "no control characters but tab and quoted line breaks"
    )


def oversized(size: int, first: int, last: int) -> str:
    where = f" on lines {first}-{last}" if last > first else ""
    return f"record of {size} bytes{where} is longer than 65536 bytes, the most one row may have"


def good_row(number: int = 1, **values: str) -> dict[str, str]:
    """A row that passes every rule; keyword arguments replace single values."""
    row = {
        "order_id": f"S1-{number:04d}",
        "store_id": STORE,
        "sold_at": f"{RUN_DATE}T10:15:00Z",
        "sku": "GRO-00001",
        "category": "Grocery",
        "quantity": "2",
        "unit_price": "3.49",
    }
    row.update(values)
    return row


class CsvBuilder:
    """Builds a file's text and counts, by construction, its lines, rows and good rows."""

    def __init__(self, newline: str = "\n", columns: Sequence[str] = COLUMNS) -> None:
        self.newline = newline
        self.columns = list(columns)
        self._parts: list[str] = []
        self._lines = 0  # line endings written so far
        self.rows = 0
        self.good = 0
        self._pending_empty = 0
        #: Bytes of the last record added (line ending included).
        self.last_size = 0

    @property
    def next_line(self) -> int:
        """The line number the next piece of text starts on."""
        return self._lines + 1

    def header(self, names: Sequence[str] | None = None) -> int:
        return self._add(self.format(list(names or self.columns)), rows=0, good=0)

    def row(self, values: dict[str, str] | None = None, *, good: bool = True) -> int:
        """Add a row (dict in this file's column order); return the line it starts on."""
        values = values or good_row(self.rows + 1)
        return self._add(self.format([values[name] for name in self.columns]), 1, int(good))

    def rows_of(self, count: int, **values: str) -> None:
        for _ in range(count):
            self.row(good_row(self.rows + 1, **values))

    def raw(self, text: str, *, rows: int = 1, good: int = 0) -> int:
        """Add text exactly as given (it holds ``rows`` records, ``good`` of them good)."""
        return self._add(text, rows, good)

    def empty(self, newline: str | None = None) -> int:
        line = self.next_line
        self._parts.append(newline or self.newline)
        self._lines += 1
        self._pending_empty += 1
        return line

    def text(self) -> str:
        return "".join(self._parts)

    def data(self, encoding: str = "utf-8") -> bytes:
        return self.text().encode(encoding)

    @property
    def lines(self) -> int:
        """Physical lines: line endings, plus a last line that has none."""
        text = self.text()
        return self._lines + (1 if text and not text.endswith("\n") else 0)

    def format(self, values: list[str]) -> str:
        """One record as this builder writes it (with its line ending)."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=self.newline).writerow(values)
        return buffer.getvalue()

    def _add(self, text: str, rows: int, good: int) -> int:
        line = self.next_line
        if rows:
            # Empty lines followed by a row are inside the data: rejected rows.
            self.rows += self._pending_empty
            self._pending_empty = 0
        self._parts.append(text)
        self._lines += text.count("\n")
        self.rows += rows
        self.good += good
        self.last_size = len(text.encode("utf-8"))
        return line


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no name, no time in the header)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


@dataclass
class Case:
    """One corpus file and the verdict the contract gives it."""

    file: str
    data: bytes
    rule: str
    accepted: bool
    #: Counts by construction (of the decompressed text). ``None`` for a file rejected as a
    #: whole: it reports no counts.
    counts: tuple[int, int, int] | None
    #: Physical lines of the decompressed text, or ``None`` when it has none to count.
    physical_lines: int | None
    file_problems: list[tuple[int | None, str]] = field(default_factory=list)
    row_problems: list[tuple[int, str | None, str]] = field(default_factory=list)
    max_reject_ratio: float = DEFAULT_RATIO
    key: str | None = None

    @property
    def raw_key(self) -> str:
        return self.key or f"sales/date={RUN_DATE}/store={STORE}/{self.file}"

    def manifest_entry(self) -> dict[str, Any]:
        complete = self.counts is not None
        rows, good, rejected = self.counts or (0, 0, 0)
        return {
            "name": self.file,
            "file": f"files/{self.file}",
            "key": self.raw_key,
            "max_reject_ratio": self.max_reject_ratio,
            "rule": self.rule,
            "physical_lines": self.physical_lines,
            "expected": {
                "accepted": self.accepted,
                "rows": rows,
                "good_rows": good,
                "rejected_rows": rejected,
                "lines": (self.physical_lines or 0) if complete else 0,
                "counts_complete": complete,
                "rejection_reason": "; ".join(reason for _, reason in self.file_problems)
                or None,
                "file_problems": [
                    {"line": line, "column": None, "reason": reason}
                    for line, reason in self.file_problems
                ],
                "row_problems": [
                    {"line": line, "column": column, "reason": reason}
                    for line, column, reason in self.row_problems
                ],
            },
        }


def accepted(
    b: CsvBuilder,
    file: str,
    rule: str,
    row_problems: Sequence[tuple[int, str | None, str]] = (),
    *,
    data: bytes | None = None,
    ratio: float = DEFAULT_RATIO,
) -> Case:
    """A file judged row by row and accepted (its counts come from the builder)."""
    counts = (b.rows, b.good, b.rows - b.good)
    data = b.data() if data is None else data
    return Case(file, data, rule, True, counts, b.lines, [], list(row_problems), ratio)


def rejected_whole(file: str, data: bytes, rule: str, problems: list[tuple[int | None, str]],
                   physical_lines: int | None, *, key: str | None = None) -> Case:
    return Case(file, data, rule, False, None, physical_lines, problems, [], key=key)


# ---------------------------------------------------------------------------- files
def file_level_cases() -> list[Case]:
    """Encoding, compression, lines, the header, the key and the reject ratio."""
    cases: list[Case] = []

    b = CsvBuilder()
    b.header()
    b.row()
    b.row(good_row(2, category="Home, Garden & DIY"))
    b.row(good_row(3, category="Home\nGarden"))
    b.row(good_row(4, quantity="-1"))
    b.row(good_row(5, sold_at="2026-11-20T02:00:00+05:30"))
    b.row(good_row(6, sold_at="2026-11-20T23:59:59.250-08:00", unit_price="0"))
    b.row(good_row(7, category="Toys\tGames"))
    b.raw('S1-0008,store_001,2026-11-20T10:15:00Z,GRO-8"in,Grocery,1,2.50\n', good=1)
    cases.append(accepted(b, "good.csv", "a file following every rule: quoted comma and line "
                          "break, a return, local-date offsets, a tab, a quote inside an "
                          "unquoted value"))

    b = CsvBuilder(newline="\r\n")
    b.header()
    b.row()
    b.row(good_row(2, category="Home\r\nGarden"))
    cases.append(accepted(b, "crlf.csv", "CRLF line endings, and a quoted CRLF line break"))

    b = CsvBuilder()
    b.raw("\ufeff", rows=0)
    b.header()
    b.rows_of(2)
    cases.append(accepted(b, "bom.csv", "a UTF-8 BOM before the header"))

    b = CsvBuilder(columns=list(reversed(COLUMNS)))
    b.header()
    b.rows_of(2)
    cases.append(accepted(b, "shuffled_columns.csv", "the columns in another order"))

    b = CsvBuilder()
    b.header()
    cases.append(accepted(b, "header_only.csv", "a header and no rows: valid, 0 rows"))

    b = CsvBuilder()
    b.header()
    b.rows_of(2)
    b.empty()
    b.empty("\r\n")
    cases.append(accepted(b, "trailing_empty_lines.csv",
                          "empty lines at the very end of the file are not rows"))

    b = CsvBuilder()
    b.header()
    b.rows_of(1)
    b.raw(b.format(list(good_row(2).values())).removesuffix("\n"), good=1)
    cases.append(accepted(b, "no_final_newline.csv", "the last line needs no line ending"))

    b = CsvBuilder()
    b.header()
    b.rows_of(3)
    cases.append(accepted(b, "good.csv.gz", "a .csv.gz key holds gzip", data=gzip_bytes(b.data())))

    b = CsvBuilder()
    b.header()
    b.rows_of(1)
    first_member = b.data()
    b.rows_of(2)
    second_member = b.data()[len(first_member):]
    cases.append(accepted(b, "multi_member.csv.gz", "several gzip members are one file",
                          data=gzip_bytes(first_member) + gzip_bytes(second_member)))

    cases.append(rejected_whole("empty.csv", b"", "a 0-byte object",
                                [(None, "the object is empty (0 bytes)")], 0))

    b = CsvBuilder()
    b.rows_of(2)
    cases.append(rejected_whole(
        "no_header.csv", b.data(), "the first line must be the header",
        [(1, "no header row: the first line ('S1-0001,store_001,2026-11-20T10:15:00Z,GRO-00001,"
             "Grocery,2,3.49') names none of the columns order_id,store_id,sold_at,sku,"
             "category,quantity,unit_price")], b.lines))

    b = CsvBuilder()
    b.empty()
    b.header()
    b.rows_of(1)
    cases.append(rejected_whole("first_line_empty.csv", b.data(), "the header is the first line",
                                [(1, "no header row: the first line is empty")], b.lines))

    for file, names, problems in [
        ("missing_column.csv", [c for c in COLUMNS if c != "sku"], ["missing column(s): sku"]),
        ("unknown_column.csv", [("colour" if c == "category" else c) for c in COLUMNS],
         ["missing column(s): category", "unknown column(s): colour"]),
        ("duplicated_column.csv", [*COLUMNS, "sku"], ["duplicated column(s): sku"]),
        ("column_case.csv", [("SKU" if c == "sku" else c) for c in COLUMNS],
         ["missing column(s): sku", "unknown column(s): SKU"]),
    ]:
        b = CsvBuilder(columns=names)
        b.header()
        cases.append(rejected_whole(file, b.data(), "the header names exactly the seven columns",
                                    [(1, problem) for problem in problems], b.lines))

    b = CsvBuilder()
    b.header()
    b.row()
    b.row(good_row(2, category="Épicerie"))
    b.row()
    cases.append(rejected_whole(
        "latin1.csv", b.data("latin-1"), "UTF-8 only; a Latin-1 file reports no partial counts",
        [(3, "not valid UTF-8 (byte 0xc9 at line 3): save the file as UTF-8")], b.lines))

    b = CsvBuilder()
    b.header()
    b.rows_of(2)
    cases.append(rejected_whole(
        "gzip_named_csv.csv", gzip_bytes(b.data()), "gzip bytes under a .csv key",
        [(1, "not valid UTF-8 (byte 0x8b at line 1): save the file as UTF-8; the file looks "
             "gzip-compressed: name it .csv.gz")], None))

    cases.append(rejected_whole(
        "not_gzip.csv.gz", b.data(), "a .csv.gz key must hold gzip",
        [(None, "not a valid gzip file: it does not start with the gzip signature 1f 8b "
                "(a plain CSV file must be named .csv)")], None))

    b = CsvBuilder()
    b.header()
    b.rows_of(300)
    compressed = gzip_bytes(b.data())
    cases.append(rejected_whole(
        "truncated.csv.gz", compressed[: len(compressed) // 2],
        "a truncated gzip file reports no partial counts",
        [(None, "not a valid gzip file: it is truncated (the compressed data ends early): "
                "upload the complete file")], None))

    b = CsvBuilder()
    b.header()
    b.rows_of(3)
    cases.append(rejected_whole(
        "trailing_garbage.csv.gz", gzip_bytes(b.data()) + b"garbage\n",
        "nothing but gzip data in a .csv.gz",
        [(None, "not a valid gzip file: bytes after the compressed data are not gzip: the file "
                "must hold gzip data only")], None))

    corrupt = bytearray(gzip_bytes(b.data()))
    corrupt[-8] ^= 0xFF  # the first byte of the CRC-32
    cases.append(rejected_whole(
        "corrupt_crc.csv.gz", bytes(corrupt), "gzip data must pass its checksum",
        [(None, "not a valid gzip file: the compressed data is corrupt (a checksum or the "
                "deflate data is wrong)")], None))

    b = CsvBuilder(newline="\r")
    b.header()
    b.rows_of(3)
    cases.append(rejected_whole(
        "cr_line_endings.csv", b.data(), "lines end with LF or CRLF, not CR alone",
        [(1, "line 1 uses CR (carriage return) line endings: the contract wants LF or CRLF")],
        1))

    b = CsvBuilder()
    b.header()
    b.row()
    long_line = b.row(good_row(2, category="z" * (1024 * 1024)))
    b.row()
    cases.append(rejected_whole(
        "long_line.csv.gz", gzip_bytes(b.data()), "a physical line is at most 1048576 bytes",
        [(long_line, f"line {long_line} is longer than 1048576 bytes, the most a line may have")],
        b.lines))

    for file, rows, opening_row in [("unterminated_quote.csv", 20, 10),
                                    ("unterminated_quote_near_end.csv", 30, 29)]:
        b = CsvBuilder()
        b.header()
        b.rows_of(opening_row - 1)
        opened = b.raw(f'S1-{opening_row:04d},store_001,2026-11-20T10:15:00Z,GRO-00001,'
                       '"Grocery,2,3.49\n')
        b.rows_of(rows - opening_row)
        cases.append(rejected_whole(file, b.data(), "a quoted value must close; the file is "
                                    "rejected at the line the quote opens",
                                    [(opened, unterminated(opened))], b.lines))

    b = CsvBuilder()
    b.raw('"order_id,store_id,sold_at,sku,category,quantity,unit_price\n', rows=0)
    b.rows_of(2)
    cases.append(rejected_whole("unterminated_quote_header.csv", b.data(),
                                "a quote opened in the header", [(1, unterminated(1))], b.lines))

    b = CsvBuilder()
    b.header()
    b.rows_of(9)
    first_bad = b.row(good_row(10, quantity="0"), good=False)
    b.rows_of(50)
    second_bad = b.row(good_row(61, quantity="0"), good=False)
    b.rows_of(39)
    cases.append(Case(
        "too_many_rejects.csv", b.data(), "above MaxRejectRatio the whole file is rejected, "
        "with complete counts", False, (b.rows, b.good, b.rows - b.good), b.lines,
        [(None, "too many rejected rows: 2 of 100 (2.00%) is more than MaxRejectRatio 0.01")],
        [(first_bad, "quantity", "quantity: '0' is not a non-zero integer"),
         (second_bad, "quantity", "quantity: '0' is not a non-zero integer")]))

    b = CsvBuilder()
    b.header()
    b.rows_of(49)
    empty = b.empty()
    b.rows_of(50)
    cases.append(accepted(b, "empty_line_inside.csv", "an empty line inside the data is a "
                          "rejected row (here exactly MaxRejectRatio: accepted)",
                          [(empty, None, EMPTY_LINE)]))

    b = CsvBuilder()
    b.header()
    b.rows_of(1)
    cases.append(rejected_whole(
        "bad_key.csv", b.data(), "the key must follow the raw key pattern",
        [(None, "key does not match sales/date=YYYY-MM-DD/store=<store_id>/<name>.csv[.gz]: "
                "it has 2 '/' where the pattern has 3: sales/, date=YYYY-MM-DD/, "
                "store=<store_id>/ and the name")],
        b.lines, key=f"sales/{RUN_DATE}/{STORE}.csv"))

    b = CsvBuilder()
    b.header()
    b.rows_of(1)
    cases.append(rejected_whole(
        "upper_case_extension.csv", b.data(), "an upper-case .CSV is named as such",
        [(None, "key does not match sales/date=YYYY-MM-DD/store=<store_id>/<name>.csv[.gz]: "
                "the name ends in '.CSV': the extension must be lower-case .csv or .csv.gz")],
        b.lines, key=f"sales/date={RUN_DATE}/store={STORE}/upper_case_extension.CSV"))
    return cases


# ----------------------------------------------------------------------------- rows
def row_cases() -> list[Case]:
    """One file per column (and one for record structure), each bad row breaking one rule."""
    cases: list[Case] = []

    def column_file(file: str, column: str, rule: str,
                    bad: list[tuple[str, str]], good: Sequence[str] = ()) -> Case:
        b = CsvBuilder()
        b.header()
        problems: list[tuple[int, str | None, str]] = []
        for value in good:
            b.row(good_row(b.rows + 1, **{column: value}))
        for value, reason in bad:
            line = b.row(good_row(b.rows + 1, **{column: value}), good=False)
            problems.append((line, column, reason))
        return accepted(b, file, rule, problems, ratio=1.0)

    cases.append(column_file(
        "rows_order_id.csv", "order_id", "order_id: 1 to 64 characters, not padded",
        [("", "order_id: must not be empty"),
         ("o" * 65, "order_id: 65 characters, more than 64"),
         (" S1-1", "order_id: ' S1-1' has leading or trailing whitespace")],
        good=["o" * 64]))

    cases.append(column_file(
        "rows_store_id.csv", "store_id", "store_id equals the key's store",
        [("store_002", "store_id: 'store_002' differs from the key's store 'store_001'"),
         ("", "store_id: '' differs from the key's store 'store_001'")]))

    cases.append(column_file(
        "rows_sold_at.csv", "sold_at", "sold_at: YYYY-MM-DDTHH:MM:SS[.ffffff] with Z or an "
        "offset, on the run date in its own offset",
        [
            ("2026-11-20T10:15:00",
             "sold_at: '2026-11-20T10:15:00' has no UTC offset (end it with Z or e.g. +01:00)"),
            ("2026-11-19T23:30:00-01:00",
             "sold_at: local date 2026-11-19 differs from the run date 2026-11-20"),
            ("2026-11-20T25:00:00Z",
             "sold_at: '2026-11-20T25:00:00Z' is not a real date and time"),
            ("2026-11-20 10:15:00Z",
             "sold_at: '2026-11-20 10:15:00Z' has ' ' between the date and the time: the "
             "contract wants T, like 2026-11-20T14:03:00Z"),
            ("2026-11-20T10:00Z",
             "sold_at: '2026-11-20T10:00Z' has no seconds: the contract wants HH:MM:SS, like "
             "2026-11-20T14:03:00Z"),
            ("10:00Z",
             "sold_at: '10:00Z' has no date: the contract wants a date and a time, like "
             "2026-11-20T14:03:00Z"),
            ("2026-11-20",
             "sold_at: '2026-11-20' has no time of day: the contract wants one, like "
             "2026-11-20T14:03:00Z"),
            ("2026-11-20T10:15:00+0100",
             "sold_at: '2026-11-20T10:15:00+0100' has the offset '+0100' without a colon: the "
             "contract wants +HH:MM, like +01:00"),
            ("2026-11-20T10:15:00+01",
             "sold_at: '2026-11-20T10:15:00+01' has the offset '+01' without minutes: the "
             "contract wants +HH:MM, like +01:00"),
            ("2026-11-20T10:15:00z",
             "sold_at: '2026-11-20T10:15:00z' ends with a lowercase z: the contract wants Z"),
            ("2026-11-20T10:15:00.1234567Z",
             "sold_at: '2026-11-20T10:15:00.1234567Z' has a malformed fraction of a second: "
             "the contract wants a point and 1 to 6 digits, like 2026-11-20T14:03:00.25Z"),
            ("", "sold_at: must not be empty"),
            ("20/11/2026 10:15", f"sold_at: '20/11/2026 10:15' {NOT_ISO}"),
        ],
        good=["2026-11-20T02:00:00+05:30", "2026-11-20T10:15:00.123456Z"]))

    for column in ("sku", "category"):
        cases.append(column_file(
            f"rows_{column}.csv", column, f"{column}: 1 to 256 characters, not padded",
            [("", f"{column}: must not be empty"),
             ("x" * 257, f"{column}: 257 characters, more than 256"),
             ("Grocery ", f"{column}: 'Grocery ' has leading or trailing whitespace")],
            good=["😀" * 256]))

    cases.append(column_file(
        "rows_quantity.csv", "quantity", "quantity: a non-zero integer within 32 bits",
        [("0", "quantity: '0' is not a non-zero integer"),
         ("1.5", "quantity: '1.5' is not a non-zero integer"),
         ("two", "quantity: 'two' is not a non-zero integer"),
         ("+3", "quantity: '+3' is not a non-zero integer"),
         ("", "quantity: '' is not a non-zero integer"),
         ("99999999999", "quantity: '99999999999' is out of range (at most 2147483647 either "
                         "way)")],
        good=["-2", "2147483647"]))

    cases.append(column_file(
        "rows_unit_price.csv", "unit_price", "unit_price: a decimal >= 0, at most 2 decimals "
        "and 10 integer digits",
        [("3.495", "unit_price: '3.495' has more than 2 decimal places"),
         ("-1.00", "unit_price: '-1.00' is negative"),
         ("1,50", "unit_price: '1,50' has a decimal comma: the contract wants a point, like "
                  "1.50"),
         (".5", "unit_price: '.5' has no digit before the point: the contract wants e.g. 0.5"),
         ("5.", "unit_price: '5.' has no digit after the point: the contract wants e.g. 5"),
         ("+3", "unit_price: '+3' has a plus sign: the contract wants the number alone, like 3"),
         ("", "unit_price: must not be empty"),
         (" 3", "unit_price: ' 3' has leading or trailing whitespace"),
         ("3.50 EUR", f"unit_price: '3.50 EUR' {NOT_DECIMAL}"),
         ("12345678901",
          "unit_price: '12345678901' is too large (at most 10 digits before the point)")],
        good=["0", "3.5", "1234567890.99"]))

    b = CsvBuilder()
    b.header()
    b.row(good_row(1, quantity="1000000", unit_price="9999999999.99"))  # 9999999999990000.00
    b.row(good_row(2, quantity="-1000000", unit_price="9999999999.99"))
    problems = []
    for number, (quantity, price, revenue) in enumerate(
        [("2147483647", "9999999.99", "21474836448525163.53"),
         ("-2000000", "5000000000", "-10000000000000000")], start=3):
        line = b.row(good_row(number, quantity=quantity, unit_price=price), good=False)
        problems.append((line, "unit_price", f"unit_price: {quantity} x {price} = {revenue} is "
                         "more than the revenue column holds (DECIMAL(18,2), at most "
                         "9999999999999999.99 either way)"))
    cases.append(accepted(b, "rows_revenue.csv", "quantity x unit_price fits DECIMAL(18,2)",
                          problems, ratio=1.0))

    b = CsvBuilder()
    b.header()
    problems: list[tuple[int, str | None, str]] = []
    b.row()
    line = b.raw("S1-0002,store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2\n")
    problems.append((line, None, "expected 7 fields, found 6"))
    line = b.raw("S1-0003,store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2,3.49,x\n")
    problems.append((line, None, "expected 7 fields, found 8"))
    line = b.raw("S1-0004,store_001,2026-11-20T10:15:00Z,GRO-00001,Gro\rcery,2,3.49\n")
    problems.append((line, "category", f"category: {BARE_CR}"))
    line = b.raw('S1-0005,store_001,2026-11-20T10:15:00Z,GRO-00001,"Grocery"x,2,3.49\n')
    problems.append((line, "category", f"category: {AFTER_QUOTE}"))
    line = b.raw('S1-0006,store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2,3.49,"x"\ry\n')
    problems.append((line, None, f"field 8: {BARE_CR}"))
    line = b.raw(",".join(COLUMNS) + "\n")
    problems.append((line, None, "the header line repeats here: is this two files joined "
                                 "together?"))
    line = b.row(good_row(8, sku="", quantity="0", unit_price="-1"), good=False)
    problems += [(line, "sku", "sku: must not be empty"),
                 (line, "quantity", "quantity: '0' is not a non-zero integer"),
                 (line, "unit_price", "unit_price: '-1' is negative")]
    line = b.empty()
    problems.append((line, None, EMPTY_LINE))
    b.row()
    cases.append(accepted(b, "rows_structure.csv", "record structure: field count, CR outside "
                          "quotes, text after a closing quote, a repeated header, several "
                          "problems in one row, an empty line", problems, ratio=1.0))

    b = CsvBuilder()
    b.header()
    b.row(good_row(1, category="Toys\tGames"))
    problems = []
    for number, (column, char, name) in enumerate(
        [("category", 0x00, "NUL"), ("sku", 0x01, "SOH"), ("order_id", 0x1B, "ESC"),
         ("quantity", 0x1F, "US")], start=2):
        base = good_row(number)
        value = base[column][:1] + chr(char) + base[column][1:]
        line = b.row(good_row(number, **{column: value}), good=False)
        problems.append((line, column, control(column, char, name)))
    line = b.raw('S1-0006,store_001,2026-11-20T10:15:00Z,"GRO\r1",Grocery,2,3.49\n')
    problems.append((line, "sku", "sku: holds a carriage return (CR) not followed by LF: a line "
                                  "break inside a quoted value must be LF or CRLF"))
    cases.append(accepted(b, "control_characters.csv", "no C0 control characters in values but "
                          "tab and quoted line breaks", problems, ratio=1.0))

    b = CsvBuilder()
    b.header()
    b.rows_of(49)
    line = b.row(good_row(50, sku="s" * 200_000), good=False)
    size = b.last_size
    b.rows_of(50)
    cases.append(accepted(b, "oversized_record.csv", "a record is at most 65536 bytes: a 200 KB "
                          "value is one rejected row", [(line, None, oversized(size, line, line))]))

    b = CsvBuilder()
    b.header()
    b.rows_of(29)
    line = b.row(good_row(30, category="\n".join(["m" * 30_000] * 5)), good=False)
    size = b.last_size
    b.rows_of(70)
    cases.append(accepted(b, "oversized_multiline.csv.gz", "a quoted multi-line record over "
                          "128 KiB is one rejected row, named with its lines",
                          [(line, None, oversized(size, line, line + 4))],
                          data=gzip_bytes(b.data())))

    b = CsvBuilder()
    b.header()
    b.rows_of(2)
    line = b.raw('S1-0003,store_001,2026-11-20T10:15:00Z,GRO-00001,"Grocery,2,3.49\n'
                 "S1-0004,store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2,3.49\n"
                 "S1-0005,store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2,3.49\n"
                 'S1-0006",store_001,2026-11-20T10:15:00Z,GRO-00001,Grocery,2,3.49\n')
    b.rows_of(4)
    cases.append(accepted(b, "merged_by_unbalanced_quotes.csv", "a quote closed lines later "
                          "makes one record; its reason names the lines it spans",
                          [(line, None, f"expected 7 fields, found 11 in a record spanning lines "
                                        f"{line}-{line + 3} (a quoted value left open too long?)")],
                          ratio=1.0))
    return cases


def cases() -> list[Case]:
    """Every committed corpus case, in manifest order."""
    return file_level_cases() + row_cases()


def _unterminated_in_large_file(rows: int, opening_row: int) -> Case:
    b = CsvBuilder()
    b.header()
    b.rows_of(opening_row - 1)
    opened = b.raw(f'S1-{opening_row:04d},store_001,2026-11-20T10:15:00Z,GRO-00001,'
                   '"Grocery,2,3.49\n')
    b.rows_of(rows - opening_row)
    return rejected_whole(
        f"unterminated_quote_{opening_row}_of_{rows}.csv", b.data(),
        "a quote opened early in a large file rejects it, at the line it opens",
        [(opened, unterminated(opened))], b.lines)


def _empty_line_in_large_file() -> Case:
    b = CsvBuilder()
    b.header()
    b.rows_of(9_999)
    empty = b.empty()
    b.rows_of(10_000)
    return accepted(b, "empty_line_in_20000.csv", "an empty line inside a large file",
                    [(empty, None, EMPTY_LINE)])


#: Cases too big to commit (a few MB each): the tests build them at run time, by name.
LARGE_CASES = {
    "unterminated_quote_10_of_20000.csv": lambda: _unterminated_in_large_file(20_000, 10),
    "unterminated_quote_990_of_1000.csv": lambda: _unterminated_in_large_file(1_000, 990),
    "empty_line_in_20000.csv": _empty_line_in_large_file,
}


def committed_cases() -> dict[str, dict[str, Any]]:
    """The committed manifest's cases by name."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {case["name"]: case for case in manifest["cases"]}


def case_names() -> list[str]:
    """Every case the tests run: the committed ones, then the large ones built on demand."""
    return [*committed_cases(), *LARGE_CASES]


def corpus_case(name: str) -> tuple[dict[str, Any], bytes]:
    """A case's manifest entry and its bytes (large cases are built now, never committed)."""
    committed = committed_cases()
    if name in committed:
        return committed[name], (CORPUS / committed[name]["file"]).read_bytes()
    case = LARGE_CASES[name]()
    return case.manifest_entry(), case.data


def build() -> dict[str, bytes]:
    """Every file of the corpus (relative to the corpus folder) with its bytes."""
    all_cases = cases()
    names = [case.file for case in all_cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"corpus file names used twice: {duplicates}")
    manifest = {
        "about": "Expected verdicts of stepline validate and the validation Lambda; "
                 "generated by make_corpus.py, do not edit by hand",
        "run_date": RUN_DATE,
        "store_id": STORE,
        "cases": [case.manifest_entry() for case in all_cases],
    }
    files = {f"files/{case.file}": case.data for case in all_cases}
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    return files


def main(argv: Sequence[str] = ()) -> int:
    files = build()
    FILES.mkdir(exist_ok=True)
    for stale in FILES.iterdir():
        if f"files/{stale.name}" not in files:
            stale.unlink()
    for relative, data in files.items():
        (CORPUS / relative).write_bytes(data)
    total = sum(len(data) for data in files.values())
    print(f"wrote {len(files) - 1} corpus files and manifest.json ({total} bytes) to {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
