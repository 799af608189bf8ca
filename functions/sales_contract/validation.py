"""Streaming validation of one sales file: the single implementation of the contract.

The Lambda (reading from S3) and ``stepline validate`` (reading a local file)
both call :func:`validate_sales_stream`. It reads the file once, front to back,
and keeps no per-row state, so memory stays bounded whatever the file size:

* bytes are read through a buffered reader (and ``gzip`` for ``.csv.gz``),
* :class:`~sales_contract.records.RecordReader` cuts them into physical lines
  (each decoded as UTF-8 on its own, so a bad byte is reported with its line)
  and joins quoted line breaks into records, within fixed size limits,
* :class:`~sales_contract.rules.RowChecker` judges each record,
* good rows are written, in the canonical column order, to a gzip stream the
  caller provides (a temp file in the Lambda), rejected rows to a CSV stream.

Every physical line is accounted for: it is the header, part of a row (good or
rejected; an empty line inside the data is a rejected row), an empty line at
the very end of the file, or the file is rejected as a whole. A file rejected
as a whole reports no row counts (``counts_complete`` is false), never counts
of the part that happened to be read.

Duplicate ``(order_id, sku)`` rows are deliberately *not* detected here: that
needs per-key state, and the Glue clean step removes them.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import IO, Any, Protocol

from .layout import RawSalesKey
from .records import (
    BARE_CR_REASON,
    MAX_RECORD_BYTES,
    FileProblem,
    MalformedRecord,
    OversizedRecord,
    Record,
    RecordReader,
    cr_line_endings_reason,
)
from .rules import COLUMNS, RowChecker, check_header, field_count_reason

#: Default share of rejected rows above which the whole file is rejected.
DEFAULT_MAX_REJECT_RATIO = 0.01
#: Columns of the rejects file.
REJECTS_COLUMNS = ("line", "column", "reason", "record")

_READ_BUFFER_BYTES = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Level 6 is gzip's own default trade-off; 9 costs far more CPU for ~1% size.
GOOD_ROWS_GZIP_LEVEL = 6
#: What reading a broken gzip stream raises.
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)

EMPTY_LINE_REASON = "empty line inside the data: the contract allows empty lines only at the end"


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: a file, an S3 streaming body."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file or a row.

    ``line`` is the physical line (1 = header) where the record starts, or
    ``None`` when the problem is about the file as a whole.
    """

    line: int | None
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass(slots=True)
class ValidationReport:
    """What validating one file found. ``accepted`` is the verdict.

    The counts are complete (``counts_complete``) when the whole file was read
    and judged row by row: always for an accepted file, and for a file rejected
    for too many rejected rows. A file rejected as a whole for any other reason
    reports 0 for every count and no row problems, because the part read before
    the problem says nothing reliable about the rest.
    """

    max_reject_ratio: float
    #: Data rows: records after the header, an empty line inside the data included.
    rows: int = 0
    good_rows: int = 0
    rejected_rows: int = 0
    #: Physical lines of the (decompressed) file: the header's, every row's and
    #: the empty lines at the very end, which are not rows.
    lines: int = 0
    counts_complete: bool = False
    #: Why the file as a whole breaks the contract (empty when it does not).
    file_problems: list[Problem] = field(default_factory=list)
    #: The first ``max_reasons`` row problems, in file order.
    row_problems: list[Problem] = field(default_factory=list)
    #: How many row problems there were in total (a row may have several).
    row_problem_count: int = 0
    #: The good rows are the object's (decompressed) bytes exactly, and the
    #: validator was asked to defer them and wrote none: the caller copies the
    #: object (:func:`sales_contract.columnar.validate_sales_object`). Not a
    #: finding about the file, so reports compare equal whatever it is.
    good_rows_unchanged: bool = field(default=False, compare=False)

    @property
    def accepted(self) -> bool:
        return not self.file_problems

    @property
    def rejection_reason(self) -> str | None:
        if not self.file_problems:
            return None
        return "; ".join(problem.reason for problem in self.file_problems)

    def reasons(self, limit: int | None = None) -> list[Problem]:
        """File problems first, then row problems, at most ``limit`` of them."""
        everything = self.file_problems + self.row_problems
        return everything if limit is None else everything[:limit]


class _RawStream(io.RawIOBase):
    """Adapts anything with ``read(n)`` (e.g. botocore's StreamingBody) to raw I/O."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # Fill the whole buffer unless the stream ends: a short network read
        # must not look like a short file (e.g. half a gzip magic number).
        wanted = len(buffer)
        size = 0
        while size < wanted:
            data = self._source.read(wanted - size)
            if not data:
                break
            buffer[size : size + len(data)] = data
            size += len(data)
        return size


def _record_as_text(record: list[str]) -> str:
    # A "\n" terminator (stripped afterwards) makes the writer quote embedded
    # newlines; it would not quote a lone CR, so such a record is fully quoted.
    buffer = io.StringIO()
    if any("\r" in value for value in record):
        csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(record)
    else:
        csv.writer(buffer, lineterminator="\n").writerow(record)
    return buffer.getvalue()[:-1]


def validate_sales_stream(
    raw: Readable,
    key: RawSalesKey,
    *,
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO,
    good_rows_out: IO[bytes] | None = None,
    rejects_out: IO[bytes] | None = None,
    max_reasons: int = 20,
    gzip_level: int = GOOD_ROWS_GZIP_LEVEL,
) -> ValidationReport:
    """Validate one sales file, streaming, row by row, and return the verdict.

    This is the reference implementation of the contract, one record at a time.
    :func:`sales_contract.columnar.validate_sales_object` gives the same verdict,
    counts, reasons and outputs many times faster, and hands it every record it
    does not judge itself; tests/contract/test_contract_differential.py runs both
    on the whole corpus.

    ``raw`` yields the object's bytes exactly as stored (gzip for ``.csv.gz``
    keys). When given, ``good_rows_out`` receives the good rows as gzip CSV
    (UTF-8, LF, canonical header) and ``rejects_out`` receives one CSV line per
    row problem (``line,column,reason,record``); nothing is written to
    ``rejects_out`` when no row is rejected. The caller decides what to keep:
    when the report is not ``accepted`` the good rows must be discarded.

    Only contract breaches are turned into problems; read errors of the
    underlying stream (network, disk) propagate as exceptions.
    """
    report = ValidationReport(max_reject_ratio=max_reject_ratio)
    opened = open_sales_bytes(raw, key, report)
    if opened is None:
        return report
    binary, looks_gzipped = opened
    reader = RecordReader(binary, looks_gzipped=looks_gzipped)
    try:
        _validate_records(
            reader, key, report, good_rows_out, rejects_out, max_reasons, gzip_level
        )
    except FileProblem as error:
        report.file_problems.append(Problem(error.line, None, error.reason))
    except GZIP_ERRORS as error:
        report.file_problems.append(Problem(None, None, _gzip_reason(error)))
    return finish_report(report, reader.lines)


def open_sales_bytes(
    raw: Readable,
    key: RawSalesKey,
    report: ValidationReport,
    gzip_reader: Callable[..., io.BufferedIOBase] = gzip.GzipFile,
) -> tuple[io.BufferedIOBase, bool] | None:
    """The object's (decompressed) bytes and whether a ``.csv`` looks gzipped.

    ``None`` when the object is rejected before its first line: it is empty, or a
    ``.csv.gz`` key does not hold gzip (the problem is added to ``report``).
    ``gzip_reader(fileobj=..., mode="rb")`` decompresses a ``.csv.gz``.
    """
    buffered = io.BufferedReader(_RawStream(raw), buffer_size=_READ_BUFFER_BYTES)
    first_bytes = buffered.peek(2)[:2]
    if not first_bytes:
        report.file_problems.append(Problem(None, None, "the object is empty (0 bytes)"))
        return None

    binary: io.BufferedIOBase = buffered
    if key.compressed:
        if first_bytes != _GZIP_MAGIC:
            reason = (
                "not a valid gzip file: it does not start with the gzip signature 1f 8b "
                "(a plain CSV file must be named .csv)"
            )
            report.file_problems.append(Problem(None, None, reason))
            return None
        binary = gzip_reader(fileobj=buffered, mode="rb")
    return binary, not key.compressed and first_bytes == _GZIP_MAGIC


def finish_report(report: ValidationReport, lines: int) -> ValidationReport:
    """Complete a report once the file was read to its end (or rejected on the way)."""
    if report.file_problems:
        _drop_partial_counts(report)
        return report
    report.lines = lines
    report.counts_complete = True
    if _too_many_rejects(report):
        share = report.rejected_rows / report.rows
        report.file_problems.append(
            Problem(
                None,
                None,
                f"too many rejected rows: {report.rejected_rows} of {report.rows} "
                f"({share:.2%}) is more than MaxRejectRatio {report.max_reject_ratio:g}",
            )
        )
    return report


def _gzip_reason(error: Exception) -> str:
    """Say what is wrong with a gzip stream without the gzip module's wording."""
    if isinstance(error, EOFError):
        detail = "it is truncated (the compressed data ends early): upload the complete file"
    elif isinstance(error, gzip.BadGzipFile) and str(error).startswith("Not a gzipped file"):
        # The first member's magic was checked up front, so this is what follows it.
        detail = "bytes after the compressed data are not gzip: the file must hold gzip data only"
    else:
        detail = "the compressed data is corrupt (a checksum or the deflate data is wrong)"
    return f"not a valid gzip file: {detail}"


def _drop_partial_counts(report: ValidationReport) -> None:
    report.rows = report.good_rows = report.rejected_rows = report.lines = 0
    report.row_problems.clear()
    report.row_problem_count = 0


def _too_many_rejects(report: ValidationReport) -> bool:
    # Decimal of the ratio's shortest repr keeps "exactly at the limit" exact
    # (0.01 * 300 is 3.0000000000000004 in binary floating point).
    limit = Decimal(repr(report.max_reject_ratio)) * report.rows
    return report.rejected_rows > limit


def _validate_records(
    reader: RecordReader,
    key: RawSalesKey,
    report: ValidationReport,
    good_rows_out: IO[bytes] | None,
    rejects_out: IO[bytes] | None,
    max_reasons: int,
    gzip_level: int,
) -> None:
    records = iter(reader)
    header, _ = read_header(records)
    header_problems = check_header(header)
    if header_problems:
        report.file_problems.extend(Problem(1, None, reason) for reason in header_problems)
        return

    good_text: io.TextIOWrapper | None = None
    write_good = None
    if good_rows_out is not None:
        # No file name and no mtime in the gzip header: same input, same bytes.
        compressed = gzip.GzipFile(
            filename="", fileobj=good_rows_out, mode="wb", compresslevel=gzip_level, mtime=0
        )
        good_text = io.TextIOWrapper(compressed, encoding="utf-8", newline="")
        good_writer = csv.writer(good_text, lineterminator="\n")
        good_writer.writerow(COLUMNS)
        write_good = good_writer.writerow
    rejects = RejectsWriter(rejects_out)
    judge = RowJudge(header, key, report, write_good, rejects, max_reasons)
    try:
        judge.feed(records)
    finally:
        judge.finish()
        if good_text is not None:
            good_text.close()  # writes the gzip trailer; the caller's stream stays open
        rejects.close()


class RowJudge:
    """Judges the records of one file in file order: counts, rejects and good rows.

    Both validators use it: the reference feeds it every record of the file; the
    columnar validator feeds it only the records it does not judge itself, and
    counts the runs of good rows it judged with :meth:`add_good_rows`.
    """

    def __init__(
        self,
        header: list[str],
        key: RawSalesKey,
        report: ValidationReport,
        write_good: Callable[[Sequence[str]], object] | None,
        rejects: RejectsWriter,
        max_reasons: int,
    ) -> None:
        self.header = header
        self.checker = RowChecker(header, key.run_date, key.store_id)
        self.report = report
        self.write_good = write_good
        self.rejects = rejects
        self.max_reasons = max_reasons
        # Reorder to the canonical column order only when the file uses another one.
        self.reorder = None
        if tuple(header) != COLUMNS:
            self.reorder = itemgetter(*(header.index(name) for name in COLUMNS))
        self.rows = 0
        self.rejected_rows = 0
        # Empty lines are held back (as a count, so memory stays bounded) until a
        # row follows them: only then are they inside the data.
        self.empty_run_start = 0
        self.empty_run = 0

    def add_good_rows(self, count: int) -> None:
        """Count ``count`` good rows judged elsewhere (their output is the caller's)."""
        if self.empty_run:
            self._reject_held_empty_lines()
        self.rows += count

    def _reject_held_empty_lines(self) -> None:
        _reject_empty_lines(
            self.rejects, self.report, self.empty_run_start, self.empty_run, self.max_reasons
        )
        self.rows += self.empty_run
        self.rejected_rows += self.empty_run
        self.empty_run = 0

    def feed(self, records: Iterable[tuple[int, int, Record]]) -> None:
        """Judge ``records`` (``(first_line, last_line, record)``, in file order)."""
        # One loop with the state in locals: it runs once per row of big files.
        check = self.checker.check
        field_count = self.checker.field_count
        header = self.header
        report = self.report
        write_good = self.write_good
        reorder = self.reorder
        rejects = self.rejects
        max_reasons = self.max_reasons
        rows = self.rows
        rejected_rows = self.rejected_rows
        empty_run_start = self.empty_run_start
        empty_run = self.empty_run
        try:
            for first_line, last_line, record in records:
                if type(record) is list and not record:
                    if not empty_run:
                        empty_run_start = first_line
                    empty_run += 1
                    continue
                if empty_run:
                    # Empty lines followed by a record are inside the data: rejected rows.
                    _reject_empty_lines(rejects, report, empty_run_start, empty_run, max_reasons)
                    rows += empty_run
                    rejected_rows += empty_run
                    empty_run = 0
                rows += 1
                if type(record) is list and len(record) == field_count:
                    problems = check(record)
                    if problems is None:
                        if write_good is not None:
                            write_good(record if reorder is None else reorder(record))
                        continue
                    text = _record_as_text(record)
                else:
                    problems, text = _record_problem(record, first_line, last_line, header)
                rejected_rows += 1
                rejects.add(report, first_line, problems, text, max_reasons)
        finally:
            self.rows = rows
            self.rejected_rows = rejected_rows
            self.empty_run_start = empty_run_start
            self.empty_run = empty_run

    def finish(self) -> None:
        """Put the counts in the report (empty lines still held are the file's last)."""
        self.report.rows = self.rows
        self.report.rejected_rows = self.rejected_rows
        self.report.good_rows = self.rows - self.rejected_rows


def _reject_empty_lines(
    rejects: RejectsWriter, report: ValidationReport, start: int, count: int, max_reasons: int
) -> None:
    """Reject a run of empty lines that a row follows: each is a row at its own line."""
    for line in range(start, start + count):
        rejects.add(report, line, [(None, EMPTY_LINE_REASON)], "", max_reasons)


def _record_problem(
    record: Record, first_line: int, last_line: int, header: list[str]
) -> tuple[list[tuple[str | None, str]], str]:
    """Why a record that is not a row of the right shape is rejected, and its text."""
    if isinstance(record, OversizedRecord):
        where = f" on lines {first_line}-{last_line}" if last_line > first_line else ""
        reason = (
            f"record of {record.size} bytes{where} is longer than {MAX_RECORD_BYTES} bytes, "
            "the most one row may have"
        )
        return [(None, reason)], ""
    if isinstance(record, MalformedRecord):
        if record.field < len(header):
            column = header[record.field]
            return [(column, f"{column}: {record.reason}")], record.text
        return [(None, f"field {record.field + 1}: {record.reason}")], record.text
    reason = field_count_reason(len(header), len(record), first_line, last_line - first_line + 1)
    return [(None, reason)], _record_as_text(record)


def read_header(records: Iterator[tuple[int, int, Record]]) -> tuple[list[str], int]:
    """The header record and the line it ends on, or FileProblem."""
    first = next(records, None)
    if first is None:
        raise FileProblem(None, "no header row: the file has no lines")
    record = first[2]
    if isinstance(record, OversizedRecord):
        raise FileProblem(1, f"no header row: line 1 is longer than {MAX_RECORD_BYTES} bytes")
    if isinstance(record, MalformedRecord):
        if record.reason == BARE_CR_REASON:
            raise FileProblem(1, cr_line_endings_reason(1))
        raise FileProblem(1, f"no header row: field {record.field + 1}: {record.reason}")
    if not record:
        raise FileProblem(1, "no header row: the first line is empty")
    return record, first[1]


class RejectsWriter:
    """Writes rejected rows as CSV and keeps the first few as report reasons."""

    def __init__(self, out: IO[bytes] | None) -> None:
        self._out = out
        self._text: io.TextIOWrapper | None = None
        self._writer: Any = None
        # For a record holding a CR, which the minimal writer would not quote.
        self._quoting_writer: Any = None

    def add(
        self,
        report: ValidationReport,
        line: int,
        problems: list[tuple[str | None, str]],
        record_text: str,
        max_reasons: int,
    ) -> None:
        """Record one rejected row: ``record_text`` is the row as CSV ("" when not kept)."""
        report.row_problem_count += len(problems)
        for column, reason in problems:
            if len(report.row_problems) < max_reasons:
                report.row_problems.append(Problem(line, column, reason))
        if self._out is None:
            return
        if self._writer is None:
            self._text = io.TextIOWrapper(self._out, encoding="utf-8", newline="")
            self._writer = csv.writer(self._text, lineterminator="\n")
            self._quoting_writer = csv.writer(
                self._text, lineterminator="\n", quoting=csv.QUOTE_ALL
            )
            self._writer.writerow(REJECTS_COLUMNS)
        writer = self._quoting_writer if "\r" in record_text else self._writer
        for column, reason in problems:
            writer.writerow((line, column or "", reason, record_text))

    def close(self) -> None:
        if self._text is not None:
            self._text.flush()
            self._text.detach()  # leave the caller's stream open
            self._text = None
