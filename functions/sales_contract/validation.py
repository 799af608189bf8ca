"""Streaming validation of one sales file: the single implementation of the contract.

The Lambda (reading from S3) and ``stepline validate`` (reading a local file)
both call :func:`validate_sales_stream`. It reads the file once, front to back,
and keeps no per-row state, so memory stays bounded whatever the file size:

* bytes are read through a buffered reader (and ``gzip`` for ``.csv.gz``),
* each physical line is decoded as UTF-8 on its own, so a bad byte is reported
  with the exact line it is on,
* ``csv.reader`` joins quoted multi-line records and tracks line numbers,
* good rows are written, in the canonical column order, to a gzip stream the
  caller provides (a temp file in the Lambda), rejected rows to a CSV stream.

Duplicate ``(order_id, sku)`` rows are deliberately *not* detected here: that
needs per-key state, and the Glue clean step removes them.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import IO, Any, Protocol

from .layout import RawSalesKey
from .rules import COLUMNS, RowChecker, check_header

#: Default share of rejected rows above which the whole file is rejected.
DEFAULT_MAX_REJECT_RATIO = 0.01
#: A physical line longer than this rejects the file: it bounds memory, and no
#: honest sales row comes anywhere near it.
MAX_LINE_BYTES = 1024 * 1024
#: Columns of the rejects file.
REJECTS_COLUMNS = ("line", "column", "reason", "record")

_READ_BUFFER_BYTES = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Level 6 is gzip's own default trade-off; 9 costs far more CPU for ~1% size.
_GZIP_LEVEL = 6


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
    """What validating one file found. ``accepted`` is the verdict."""

    max_reject_ratio: float
    rows: int = 0
    good_rows: int = 0
    rejected_rows: int = 0
    #: Why the file as a whole breaks the contract (empty when it does not).
    file_problems: list[Problem] = field(default_factory=list)
    #: The first ``max_reasons`` row problems, in file order.
    row_problems: list[Problem] = field(default_factory=list)
    #: How many row problems there were in total (a row may have several).
    row_problem_count: int = 0

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


class _FileProblem(Exception):
    """Raised inside the read loop when the file itself breaks the contract."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


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


def _decoded_lines(binary: io.BufferedIOBase, looks_gzipped: bool) -> Iterator[str]:
    """Yield the file's physical lines as text, failing on the first non-UTF-8 byte."""
    line_number = 0
    readline = binary.readline
    while True:
        raw_line = readline(MAX_LINE_BYTES + 1)
        if not raw_line:
            return
        line_number += 1
        if len(raw_line) > MAX_LINE_BYTES:
            reason = f"line {line_number} is longer than {MAX_LINE_BYTES} bytes"
            raise _FileProblem(Problem(line_number, None, reason))
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as error:
            reason = f"not valid UTF-8 (byte 0x{raw_line[error.start]:02x} at line {line_number})"
            if looks_gzipped and line_number == 1:
                reason += "; the file looks gzip-compressed: name it .csv.gz"
            raise _FileProblem(Problem(line_number, None, reason)) from None
        if line_number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


def _record_as_text(record: list[str]) -> str:
    # A "\n" terminator (stripped afterwards) makes the writer quote embedded newlines.
    buffer = io.StringIO()
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
) -> ValidationReport:
    """Validate one sales file, streaming, and return the verdict.

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
    buffered = io.BufferedReader(_RawStream(raw), buffer_size=_READ_BUFFER_BYTES)
    first_bytes = buffered.peek(2)[:2]
    if not first_bytes:
        report.file_problems.append(Problem(None, None, "the object is empty (0 bytes)"))
        return report

    binary: io.BufferedIOBase = buffered
    if key.compressed:
        if first_bytes != _GZIP_MAGIC:
            report.file_problems.append(Problem(None, None, "not a valid gzip file"))
            return report
        binary = gzip.GzipFile(fileobj=buffered, mode="rb")

    looks_gzipped = not key.compressed and first_bytes == _GZIP_MAGIC
    reader = csv.reader(_decoded_lines(binary, looks_gzipped=looks_gzipped))
    try:
        _validate_records(reader, key, report, good_rows_out, rejects_out, max_reasons)
    except _FileProblem as error:
        report.file_problems.append(error.problem)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        detail = "it is truncated" if isinstance(error, EOFError) else str(error)
        report.file_problems.append(Problem(None, None, f"not a valid gzip file ({detail})"))

    if report.accepted and _too_many_rejects(report):
        share = report.rejected_rows / report.rows
        report.file_problems.append(
            Problem(
                None,
                None,
                f"too many rejected rows: {report.rejected_rows} of {report.rows} "
                f"({share:.2%}) is more than MaxRejectRatio {max_reject_ratio:g}",
            )
        )
    return report


def _too_many_rejects(report: ValidationReport) -> bool:
    # Decimal of the ratio's shortest repr keeps "exactly at the limit" exact
    # (0.01 * 300 is 3.0000000000000004 in binary floating point).
    limit = Decimal(repr(report.max_reject_ratio)) * report.rows
    return report.rejected_rows > limit


def _validate_records(
    reader: Any,
    key: RawSalesKey,
    report: ValidationReport,
    good_rows_out: IO[bytes] | None,
    rejects_out: IO[bytes] | None,
    max_reasons: int,
) -> None:
    header = _read_header(reader)
    header_problems = check_header(header)
    if header_problems:
        report.file_problems.extend(Problem(1, None, reason) for reason in header_problems)
        return

    checker = RowChecker(header, key.run_date, key.store_id)
    check = checker.check
    good_text: io.TextIOWrapper | None = None
    write_good = None
    if good_rows_out is not None:
        # No file name and no mtime in the gzip header: same input, same bytes.
        compressed = gzip.GzipFile(
            filename="", fileobj=good_rows_out, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0
        )
        good_text = io.TextIOWrapper(compressed, encoding="utf-8", newline="")
        good_writer = csv.writer(good_text, lineterminator="\n")
        good_writer.writerow(COLUMNS)
        write_good = good_writer.writerow
    # Reorder to the canonical column order only when the file uses another one.
    reorder = None
    if tuple(header) != COLUMNS:
        reorder = itemgetter(*(header.index(name) for name in COLUMNS))

    rejects = _RejectsWriter(rejects_out)
    rows = 0
    rejected_rows = 0
    previous_end = reader.line_num  # the record being read starts on the next line
    try:
        while True:
            try:
                for record in reader:
                    if not record:  # a blank line: not a row
                        previous_end = reader.line_num
                        continue
                    rows += 1
                    problems = check(record)
                    if problems is None:
                        if write_good is not None:
                            write_good(record if reorder is None else reorder(record))
                    else:
                        rejected_rows += 1
                        rejects.add(report, previous_end + 1, problems, record, max_reasons)
                    previous_end = reader.line_num
                break
            except csv.Error as error:
                # The reader resynchronises on the next line; count the broken record.
                rows += 1
                rejected_rows += 1
                problem: list[tuple[str | None, str]] = [(None, f"malformed CSV record: {error}")]
                rejects.add(report, previous_end + 1, problem, None, max_reasons)
                previous_end = reader.line_num
    finally:
        report.rows = rows
        report.rejected_rows = rejected_rows
        report.good_rows = rows - rejected_rows
        if good_text is not None:
            good_text.close()  # writes the gzip trailer; the caller's stream stays open
        rejects.close()


def _read_header(reader: Any) -> list[str]:
    try:
        header: list[str] = next(reader)
    except StopIteration:
        raise _FileProblem(Problem(None, None, "no header row: the file has no lines")) from None
    except csv.Error as error:
        reason = f"no header row: malformed first line ({error})"
        raise _FileProblem(Problem(1, None, reason)) from None
    if not header or header == [""]:
        raise _FileProblem(Problem(1, None, "no header row: the first line is empty"))
    return header


class _RejectsWriter:
    """Writes rejected rows as CSV and keeps the first few as report reasons."""

    def __init__(self, out: IO[bytes] | None) -> None:
        self._out = out
        self._text: io.TextIOWrapper | None = None
        self._writer: Any = None

    def add(
        self,
        report: ValidationReport,
        line: int,
        problems: list[tuple[str | None, str]],
        record: list[str] | None,
        max_reasons: int,
    ) -> None:
        report.row_problem_count += len(problems)
        for column, reason in problems:
            if len(report.row_problems) < max_reasons:
                report.row_problems.append(Problem(line, column, reason))
        if self._out is None:
            return
        if self._writer is None:
            self._text = io.TextIOWrapper(self._out, encoding="utf-8", newline="")
            self._writer = csv.writer(self._text, lineterminator="\n")
            self._writer.writerow(REJECTS_COLUMNS)
        record_text = "" if record is None else _record_as_text(record)
        for column, reason in problems:
            self._writer.writerow((line, column or "", reason, record_text))

    def close(self) -> None:
        if self._text is not None:
            self._text.flush()
            self._text.detach()  # leave the caller's stream open
            self._text = None
