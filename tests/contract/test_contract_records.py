"""Records: quoting, size limits, and every physical line accounted for."""

from __future__ import annotations

import csv
import io
import random

import pytest
from sales_contract.records import (
    BARE_CR_REASON,
    MAX_LINE_BYTES,
    MAX_RECORD_BYTES,
    TEXT_AFTER_QUOTE_REASON,
    MalformedRecord,
    ends_inside_quotes,
    split_record,
)

UNTERMINATED = (
    "unterminated quote: the quoted value that opens at line {line} is never closed "
    '(every " that opens a value needs a closing ")'
)


def _rows(kit, count: int) -> list[dict[str, str]]:
    return [kit.row(order_id=f"o-{n}") for n in range(count)]


def _open_quote_at(kit, rows: int, row_number: int) -> str:
    """A file of ``rows`` rows whose row ``row_number`` (1-based) opens a quote it never closes."""
    lines = kit.csv(_rows(kit, rows)).split("\n")
    lines[row_number] = lines[row_number].replace(",Grocery,", ',"Grocery,')
    return "\n".join(lines)


@pytest.mark.parametrize(("rows", "row_number"), [(20_000, 10), (1_000, 990), (3, 3)])
def test_unterminated_quote_rejects_the_file_at_the_line_it_opens(
    kit, rows: int, row_number: int
) -> None:
    """A quote that never closes rejects the file, named at its line, with no partial counts."""
    report = kit.validate(_open_quote_at(kit, rows, row_number)).report
    line = row_number + 1
    assert report.rejection_reason == UNTERMINATED.format(line=line)
    assert [(p.line, p.column) for p in report.file_problems] == [(line, None)]
    assert (report.rows, report.good_rows, report.rejected_rows) == (0, 0, 0)
    assert not report.counts_complete


def test_unterminated_quote_in_the_header_is_named_at_line_1(kit) -> None:
    """An open quote in the header is reported as such, at line 1."""
    text = kit.csv([kit.row()]).replace("order_id", '"order_id', 1)
    assert kit.validate(text).report.rejection_reason == UNTERMINATED.format(line=1)


def test_quote_closed_much_later_merges_rows_into_one_named_rejected_row(kit) -> None:
    """Two unbalanced quotes make one record; its reason names the lines it swallowed."""
    lines = kit.csv(_rows(kit, 10)).split("\n")
    lines[3] = lines[3].replace(",Grocery,", ',"Grocery,')
    lines[6] = lines[6].replace("o-5,", 'o-5",', 1)
    report = kit.validate("\n".join(lines), max_reject_ratio=1.0).report
    assert (report.rows, report.good_rows, report.rejected_rows) == (7, 6, 1)
    assert [(p.line, p.reason) for p in report.row_problems] == [
        (4, "expected 7 fields, found 11 in a record spanning lines 4-7 "
            "(a quoted value left open too long?)")
    ]
    assert report.lines == 11


def test_record_over_the_limit_on_one_line_is_one_rejected_row(kit) -> None:
    """A 200 KB value is one rejected row with a size reason; the next rows are still read."""
    rows = [kit.row(), kit.row(category="x" * 200_000), kit.row(), kit.row(quantity="0")]
    validated = kit.validate(kit.csv(rows), max_reject_ratio=1.0)
    report = validated.report
    size = len(kit.csv([rows[1]]).split("\n")[1]) + 1
    assert (report.rows, report.good_rows, report.rejected_rows) == (4, 2, 2)
    assert [(p.line, p.reason) for p in report.row_problems] == [
        (3, f"record of {size} bytes is longer than 65536 bytes, the most one row may have"),
        (5, "quantity: '0' is not a non-zero integer"),
    ]
    assert validated.rejects_csv.splitlines()[1].endswith(",")  # the record itself is not kept


def test_quoted_multi_line_record_over_the_limit_is_counted_once(kit) -> None:
    """A quoted value of 5 lines and 160 KiB is one rejected row, named with its lines."""
    value = "\n".join(["y" * 32_768] * 5)
    rows = [kit.row(), kit.row(sku=value), kit.row()]
    report = kit.validate(kit.csv(rows), max_reject_ratio=1.0).report
    size = len(kit.csv([rows[1]]).split("\n", 1)[1].encode())
    assert (report.rows, report.good_rows, report.rejected_rows) == (3, 2, 1)
    assert [(p.line, p.reason) for p in report.row_problems] == [
        (3, f"record of {size} bytes on lines 3-7 is longer than 65536 bytes, "
            "the most one row may have")
    ]
    assert report.lines == 8


def test_record_of_exactly_the_limit_is_judged_by_its_values(kit) -> None:
    """At MAX_RECORD_BYTES a record is still parsed; one byte more and it is oversized."""
    base = kit.csv([kit.row(category="")]).split("\n")[1]
    for extra, expected in ((0, "category: 65"), (1, "record of 65537 bytes")):
        padding = MAX_RECORD_BYTES - len(base) - 1 + extra  # minus the LF
        text = kit.csv([kit.row(category="c" * padding)])
        (problem,) = kit.validate(text, max_reject_ratio=1.0).report.row_problems
        assert problem.reason.startswith(expected)


def test_line_over_1_mib_rejects_the_file(kit) -> None:
    """A physical line longer than MAX_LINE_BYTES rejects the file, naming the line."""
    text = kit.csv([kit.row(), kit.row(category="z" * MAX_LINE_BYTES)])
    report = kit.validate(text).report
    assert report.rejection_reason == (
        "line 3 is longer than 1048576 bytes, the most a line may have"
    )
    assert report.file_problems[0].line == 3 and report.rows == 0


def test_field_count_reason_of_a_one_line_record_has_no_span(kit) -> None:
    """A single-line record with a field missing keeps the short reason."""
    text = kit.csv([["a", "b"]])
    (problem,) = kit.validate(text, max_reject_ratio=1.0).report.row_problems
    assert problem.reason == "expected 7 fields, found 2"


def test_lines_count_every_physical_line(kit) -> None:
    """report.lines is the header's, each row's (multi-line ones whole) and trailing empty lines."""
    text = kit.csv([kit.row(), kit.row(category="a\nb\nc"), kit.row()]) + "\n\n"
    report = kit.validate(text).report
    assert (report.rows, report.lines) == (3, 1 + 1 + 3 + 1 + 2)


def test_file_without_a_final_line_ending_counts_its_last_line(kit) -> None:
    """The last line needs no LF; it is a row and a physical line."""
    text = kit.csv([kit.row(), kit.row(order_id="o-2")]).rstrip("\n")
    report = kit.validate(text).report
    assert report.accepted and (report.rows, report.lines) == (2, 3)


# --- the splitter against a reference reading of the documented syntax -------------------


def _reference_split(body: str) -> list[str] | tuple[int, str]:
    """RFC 4180 as docs/data-contract.md states it, one character at a time (slow, obvious)."""
    fields: list[str] = []
    value: list[str] = []
    state = "start"  # start | unquoted | quoted | after_quote
    for char in body:
        if state == "quoted":
            if char == '"':
                state = "after_quote"
            else:
                value.append(char)
        elif state == "after_quote":
            if char == '"':  # a doubled quote inside the value
                value.append('"')
                state = "quoted"
            elif char == ",":
                fields.append("".join(value))
                value, state = [], "start"
            else:
                reason = BARE_CR_REASON if char == "\r" else TEXT_AFTER_QUOTE_REASON
                return len(fields), reason
        elif char == ",":
            fields.append("".join(value))
            value, state = [], "start"
        elif char == "\r":
            return len(fields), BARE_CR_REASON
        elif state == "start" and char == '"':
            state = "quoted"
        else:
            value.append(char)
            state = "unquoted"
    assert state != "quoted"
    fields.append("".join(value))
    return fields if body else []


def test_splitter_agrees_with_the_reference_on_random_records() -> None:
    """Quote detection, the fast csv path and the diagnosis all read the syntax as documented."""
    rng = random.Random(8)
    alphabet = ['a', 'b', ',', '"', '""', '\r', '\n', ' ', '\x00']
    checked = 0
    for _ in range(20_000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        body = body.replace("\n", "") if rng.random() < 0.5 else body
        lines = body.split("\n")
        # Only complete records reach the splitter: every line but the last ends inside quotes.
        inside = False
        complete = True
        for number, line in enumerate(lines):
            ending = "\n" if number < len(lines) - 1 else ""
            inside = ends_inside_quotes(line + ending, inside)
            if inside == (number == len(lines) - 1):
                complete = False
                break
        if not complete:
            continue
        checked += 1
        expected = _reference_split(body)
        actual = split_record(body)
        if isinstance(actual, MalformedRecord):
            assert (actual.field, actual.reason) == expected, repr(body)
            assert actual.text == body
        else:
            assert actual == expected, repr(body)
    assert checked > 5_000


# --- every physical line is accounted for -------------------------------------------------


def _random_file(kit, rng: random.Random) -> tuple[str, tuple[int, int, int, int]]:
    """A file of random record kinds, and its (rows, good, rejected, lines) by construction."""
    newline = rng.choice(["\n", "\r\n"])
    header = kit.csv([], newline=newline)
    pieces = [header]
    rows = good = 0
    lines = 1
    trailing_empty = 0
    for number in range(rng.randint(0, 30)):
        kind = rng.choice(
            ["good", "good", "good", "multi_line", "bad_value", "short", "empty", "bare_cr",
             "header_again", "oversized"]
        )
        if kind == "oversized" and rng.random() < 0.8:
            kind = "good"  # keep most files small
        row = kit.row(order_id=f"o-{number}")
        if kind == "empty":
            pieces.append(newline)
            trailing_empty += 1
            lines += 1
            continue
        rows += trailing_empty  # empty lines followed by a row are rejected rows
        trailing_empty = 0
        if kind == "multi_line":
            breaks = rng.randint(1, 3)
            row["category"] = newline.join(["Home"] * (breaks + 1))
            text, span = kit.csv([row], newline=newline).split(newline, 1)[1], breaks + 1
        elif kind == "bad_value":
            text, span = kit.csv([kit.row(quantity="0")], newline=newline).split(newline, 1)[1], 1
        elif kind == "short":
            text, span = "a,b" + newline, 1
        elif kind == "bare_cr":
            text, span = kit.csv([row], newline=newline).split(newline, 1)[1].replace(
                "Grocery", "Gro\rcery"), 1
        elif kind == "header_again":
            text, span = header, 1
        elif kind == "oversized":
            row["sku"] = "s" * MAX_RECORD_BYTES
            text, span = kit.csv([row], newline=newline).split(newline, 1)[1], 1
        else:
            text, span = kit.csv([row], newline=newline).split(newline, 1)[1], 1
        pieces.append(text)
        rows += 1
        good += kind in ("good", "multi_line")
        lines += span
    data = "".join(pieces)
    if not trailing_empty and rows and rng.random() < 0.3:
        data = data.removesuffix(newline)  # no line ending after the last row
    return data, (rows, good, rows - good, lines)


def test_every_physical_line_is_accounted_for_in_random_files(kit) -> None:
    """rows = good + rejected, and header + rows' lines + trailing empty lines = all lines."""
    rng = random.Random(20261120)
    for _ in range(150):
        data, expected = _random_file(kit, rng)
        validated = kit.validate(data, max_reject_ratio=1.0)
        report = validated.report
        assert report.counts_complete, data[:200]
        assert (report.rows, report.good_rows, report.rejected_rows, report.lines) == expected
        physical = data.count("\n") + (0 if data.endswith("\n") else 1)
        assert report.lines == physical
        good_records = list(csv.reader(io.StringIO(validated.good_csv, newline="")))
        assert len(good_records) - 1 == report.good_rows
