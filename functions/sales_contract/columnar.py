"""Columnar validation of a sales file: the reference's verdicts at the speed of a columnar reader.

:func:`validate_sales_object` gives exactly what the row-by-row reference,
:func:`sales_contract.validation.validate_sales_stream`, gives (verdict, counts,
every reason with its line and column, the good rows and the rejects), but
judges the rows in blocks of a few MB with vectorised numpy checks instead of a
Python call per row. README "Performance" gives its measured speed; the design:

* The decompressed bytes are read ahead by a thread (zlib and file reads release
  the GIL) and cut into blocks of whole lines.
* One pass over a block finds its special bytes (line feeds, commas, quotes,
  control characters); quote parity tells separators from commas inside quoted
  values. Each line then gets a verdict: **good**, proven by checks that are
  *stricter* than the contract's (a row they accept the reference accepts, with
  the same values), or **not proven**.
* A run of good lines is counted and copied to the good-rows output as it is
  (re-quoted or reordered, vectorised, only when the file's form is not the
  canonical one). Every line not proven good - a bad row, but also anything
  unusual: a quoted line break, a stray quote, a CR, an empty line, a value
  with non-ASCII ends or past a length the fast checks cover - is handed to the
  reference reader and row judge, starting at that very line, which read it
  (and the lines its record spans) exactly as they read a whole file. So every
  reason, line number and rejected record comes from the reference code.
* Asked to (``defer_good_rows``), the validator writes no good row while every
  byte it has read would go to the output unchanged: a clean file in the
  canonical form is its own validated copy, and the caller copies the object
  (S3 copies it server-side) instead of compressing and uploading it. At the
  first line that is not so (a rejected row, anything the reference reads, a
  re-quoted or reordered block) the bytes before it are read again from the
  object's start and written, and the output goes on as without deferral.
* A file-level problem of a ``.csv.gz`` object, or a broken gzip stream, makes
  the reference validate the object again from its start: where a gzip error
  shows up depends on how far ahead one reads, and only re-reading it the
  reference's way gives the reference's verdict.

Memory is bounded by the block size (about 20 times a block at the peak of a
scan), whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import io
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, Any, Final, Protocol, cast

import numpy as np
import numpy.typing as npt
from isal import igzip, isal_zlib
from isal.igzip_lib import IsalError

from .layout import RawSalesKey
from .records import FileProblem, Record, RecordReader
from .rules import (
    COLUMNS,
    MAX_ORDER_ID_CHARS,
    MAX_TEXT_CHARS,
    MAX_UTC_OFFSET_MINUTES,
    check_header,
)
from .validation import (
    DEFAULT_MAX_REJECT_RATIO,
    GZIP_ERRORS,
    Problem,
    Readable,
    RejectsWriter,
    RowJudge,
    ValidationReport,
    finish_report,
    open_sales_bytes,
    read_header,
    validate_sales_stream,
)

#: Bytes of whole lines judged at once. A scan's temporary arrays take about 20
#: times this at their peak, so 2 MiB keeps the validator far below 256 MB. Each
#: scan is a few hundred numpy calls whatever the block's size: 2 MiB against 1 MiB
#: was 0.92x the wall time and 0.95x the CPU of `stepline validate` on the 200 MB
#: bench file (farm-bench, 9 pairs, 2026-12-02), peak RSS 93 MiB against 78 MiB.
BLOCK_BYTES: Final = 2 * 1024 * 1024
#: What the read-ahead thread reads at a time, and how many reads it keeps ready.
_READ_BYTES: Final = 1024 * 1024
_READ_AHEAD: Final = 8
#: Blocks scanned at once, on threads of their own (numpy releases the GIL).
_SCANNERS: Final = 2
#: Smaller blocks (the end of a file, a small file) are scanned on the spot.
_THREADED_BYTES: Final = 256 * 1024
#: Zero bytes after each block copy, so 8-byte loads near its end stay inside it.
_PAD: Final = 64
#: ISA-L's level 1 (of 0 to 3) for the good rows: measured on a 211 MB generated
#: file, 0.34 s of CPU for 27 MB, where zlib's level 1 took 1.25 s for 30 MB and
#: level 6 3.2 s for 21 MB. The compression was the largest cost of the Lambda
#: path over the CLI path (which writes nothing); the output is plain gzip.
GOOD_ROWS_GZIP_LEVEL: Final = 1

#: The validated CSV's header line (csv.writer quotes none of the names).
VALIDATED_HEADER: Final = (",".join(COLUMNS) + "\n").encode("ascii")

#: What reading a broken .csv.gz raises: zlib's errors (the reference), and ISA-L's.
_BROKEN_GZIP: Final[tuple[type[BaseException], ...]] = (
    *GZIP_ERRORS,
    cast(type[BaseException], IsalError),  # isal's stubs give it no base class
)

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

class Writable(Protocol):
    """Where the good rows go: a file, or a stream that uploads as it is written."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


#: A callable that opens the object's bytes from their start, as stored.
Opener = Callable[[], AbstractContextManager[Readable]]


def validate_sales_object(
    open_raw: Opener,
    key: RawSalesKey,
    *,
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO,
    good_rows_out: Writable | None = None,
    rejects_out: IO[bytes] | None = None,
    max_reasons: int = 20,
    gzip_level: int = GOOD_ROWS_GZIP_LEVEL,
    block_bytes: int | None = None,
    defer_good_rows: bool = False,
) -> ValidationReport:
    """Validate one sales object and return the verdict the reference gives.

    ``open_raw()`` opens the object's bytes (a context manager yielding a
    :class:`~sales_contract.validation.Readable`); it is called once, and once
    more only for a ``.csv.gz`` object rejected as a whole, which the reference
    then reads again from the start. The outputs are those of
    :func:`~sales_contract.validation.validate_sales_stream`: ``good_rows_out``
    gets the good rows as gzip CSV (compressed on a thread of its own, at
    ``gzip_level``), ``rejects_out`` one CSV line per row problem. When the
    report is not ``accepted`` the caller must discard the good rows, and when it
    counts no rejected row, the rejects.

    With ``defer_good_rows``, good rows are written only once some line's output
    is not its bytes as read: when the report says ``good_rows_unchanged``, nothing
    was written to ``good_rows_out`` and the good rows are the object's
    (decompressed) bytes exactly, so the caller may copy the object instead.
    Otherwise ``open_raw`` is called once more, to write again the bytes read
    before that line, and the output is the same as without deferral.
    """
    report = ValidationReport(max_reject_ratio=max_reject_ratio)
    again = False
    with open_raw() as raw:
        # ISA-L decompresses about 3 times faster than zlib. A stream it finds
        # broken is validated again by the reference (with zlib), from its start,
        # so the verdict on a broken .csv.gz stays the reference's.
        opened = open_sales_bytes(raw, key, report, igzip.IGzipFile)
        if opened is None:
            return report
        binary, looks_gzipped = opened
        validator = _ColumnarValidation(
            binary, key, report, looks_gzipped, good_rows_out, rejects_out, max_reasons,
            gzip_level, BLOCK_BYTES if block_bytes is None else block_bytes,
            _reopener(open_raw, key) if defer_good_rows else None,
        )
        try:
            validator.run()
        except FileProblem as error:
            if key.compressed:
                again = True
            else:
                report.file_problems.append(Problem(error.line, None, error.reason))
        except _BROKEN_GZIP:
            again = True
        finally:
            validator.close(abandon=again)
    if again:
        return _again_by_reference(open_raw, key, max_reject_ratio, max_reasons)
    report.good_rows_unchanged = validator.unchanged
    return finish_report(report, validator.lines)


def _reopener(open_raw: Opener, key: RawSalesKey) -> Opener:
    """``open_raw``, decompressed the way the first read was (a ``.csv.gz`` through ISA-L)."""

    @contextmanager
    def reopen() -> Iterator[Readable]:
        with open_raw() as raw:
            if not key.compressed:
                yield raw
                return
            with igzip.IGzipFile(fileobj=raw, mode="rb") as binary:
                yield binary

    return reopen


def _ended_early() -> bytes:
    raise OSError(
        "the object ended early when read again to write its good rows: it changed"
        " while it was validated; validate it again"
    )


def _again_by_reference(
    open_raw: Opener, key: RawSalesKey, max_reject_ratio: float, max_reasons: int
) -> ValidationReport:
    # The file is rejected as a whole whichever problem the reference meets first,
    # so it writes no outputs: what was written so far is discarded by the caller.
    with open_raw() as raw:
        return validate_sales_stream(
            raw, key, max_reject_ratio=max_reject_ratio, max_reasons=max_reasons
        )


class _ColumnarValidation:
    """One file: the read-ahead source, the row judge, the block loop and the outputs."""

    def __init__(
        self,
        binary: io.BufferedIOBase,
        key: RawSalesKey,
        report: ValidationReport,
        looks_gzipped: bool,
        good_rows_out: Writable | None,
        rejects_out: IO[bytes] | None,
        max_reasons: int,
        gzip_level: int,
        block_bytes: int,
        reopen: Opener | None = None,
    ) -> None:
        self.key = key
        self.report = report
        self.looks_gzipped = looks_gzipped
        self.source = _Source(binary)
        self.good_rows_out = good_rows_out
        self.good: _GoodRows | None = None
        self.gzip_level = gzip_level
        self.rejects = RejectsWriter(rejects_out)
        self.max_reasons = max_reasons
        self.block_bytes = block_bytes
        #: Set while good rows are deferred: how to read the object again from its start.
        self.reopen = reopen if good_rows_out is not None else None
        #: Bytes the header took (the output's header is the canonical one).
        self.header_bytes = 0
        self.judge: RowJudge | None = None
        #: The number of the next line to judge; ``lines`` once the file is read.
        self.line = 1
        self.lines = 0

    def run(self) -> None:
        if self.reopen is not None:
            first = self.source.peek_block(len(VALIDATED_HEADER))
            if first is None or first.data[: first.size].tobytes() != VALIDATED_HEADER:
                self.reopen = None  # the output's header differs from the file's
        header, header_last_line = read_header(iter(self._reader(1)))
        header_problems = check_header(header)
        if header_problems:
            self.report.file_problems.extend(Problem(1, None, r) for r in header_problems)
            return
        self.header_bytes = self.source.tell()
        if self.good_rows_out is not None and self.reopen is None:
            self.good = _GoodRows(self.good_rows_out, self.gzip_level)
        self.judge = RowJudge(
            header,
            self.key,
            self.report,
            None if self.good_rows_out is None else self._write_row,
            self.rejects,
            self.max_reasons,
        )
        self.line = header_last_line + 1
        scanner = _Scanner(header, self.key, want_output=self.good_rows_out is not None)
        with ThreadPoolExecutor(_SCANNERS, thread_name_prefix="stepline-scan") as pool:
            self._judge_blocks(scanner, pool)
        self.lines = self.line - 1

    @property
    def unchanged(self) -> bool:
        """True while the good rows are deferred: every byte read is output as it is."""
        return self.reopen is not None

    def _write_row(self, row: Any) -> None:
        """The reference's good row (the file's output is no longer its bytes by then)."""
        assert self.good is not None, "the reference judges a line only once the output is made"
        self.good.writerow(row)

    def _stop_deferring(self) -> None:
        """Write the good rows deferred so far, the bytes before the current line, as read."""
        reopen, self.reopen = self.reopen, None
        if reopen is None:
            return
        assert self.good_rows_out is not None
        self.good = good = _GoodRows(self.good_rows_out, self.gzip_level)
        todo = self.source.tell() - self.header_bytes
        with reopen() as raw:
            skip = self.header_bytes
            while skip:
                skip -= len(raw.read(min(skip, _READ_BYTES)) or _ended_early())
            while todo:
                data = raw.read(min(todo, _READ_BYTES)) or _ended_early()
                good.write(data)
                todo -= len(data)

    def _judge_blocks(self, scanner: _Scanner, pool: ThreadPoolExecutor) -> None:
        """Scan blocks ahead on the pool, judge them in order.

        Each block is carved where the one before it ends, as if that one were
        judged to its end without the reference reading past it; when it is not so
        (a record the reference read went on past the block, or a scan stopped
        early), the blocks scanned ahead are dropped and carved again.
        """
        ahead: deque[Future[_Scan]] = deque()
        carve_at = 0  # where the next block starts, from the source's position
        while True:
            while len(ahead) < _SCANNERS:
                block = self.source.peek_block(self.block_bytes, carve_at)
                if block is None:
                    break
                if block.size >= _THREADED_BYTES:
                    ahead.append(pool.submit(scanner.scan, block))
                else:  # handing a small block to a thread costs more than scanning it
                    done: Future[_Scan] = Future()
                    done.set_result(scanner.scan(block))
                    ahead.append(done)
                carve_at += block.size
            if not ahead:
                if self.source.exhausted():
                    return
                # A line longer than a block, or the last line, with no line feed:
                # the reference reads it (and says what is wrong with it).
                self._stop_deferring()
                self._by_reference(self.line, self.line)
                continue
            scan = ahead.popleft().result()
            before = self.source.tell()
            self._judge_block(scan)
            consumed = self.source.tell() - before
            if consumed == scan.block.size:
                carve_at -= consumed
            else:
                for future in ahead:
                    future.cancel()
                ahead.clear()
                carve_at = 0

    def _reader(self, first_line: int) -> RecordReader:
        return RecordReader(self.source, looks_gzipped=self.looks_gzipped, first_line=first_line)

    def _by_reference(self, first_line: int, last_line: int) -> None:
        """The reference reads from ``first_line`` until a record covers ``last_line``."""
        assert self.judge is not None
        reached = first_line - 1

        def records() -> Iterator[tuple[int, int, Record]]:
            nonlocal reached
            for record in self._reader(first_line):
                reached = record[1]
                yield record
                if reached >= last_line:
                    return

        self.judge.feed(records())
        # Past the end of the data the reader yields nothing: the next line stays.
        self.line = max(reached + 1, first_line)

    def _judge_block(self, scan: _Scan) -> None:
        assert self.judge is not None
        block_line = self.line
        starts = scan.starts
        consumed = 0
        index = 0
        not_proven = np.flatnonzero(~scan.good).tolist()
        position = 0
        while True:
            # The next line at or after `index` the scan did not prove good.
            while position < len(not_proven) and not_proven[position] < index:
                position += 1
            stop = not_proven[position] if position < len(not_proven) else scan.count
            if stop > index:
                self.judge.add_good_rows(stop - index)
                if self.reopen is not None and not scan.unchanged_output:
                    self._stop_deferring()  # the source is at line `index`
                if self.good is not None:
                    self.good.write(scan.good_output(index, stop))
            if stop >= scan.count:
                break
            # Lines stop.. that are not proven good, consecutive, go to the reference.
            last = stop
            while position + 1 < len(not_proven) and not_proven[position + 1] == last + 1:
                position += 1
                last += 1
            self.source.consume(int(starts[stop]) - consumed)
            consumed = int(starts[stop])
            self._stop_deferring()
            self._by_reference(block_line + stop, block_line + last)
            index = self.line - block_line
            if index > scan.count:
                return  # the record went on past what the scan judged: rescan from here
            consumed = int(starts[index])
        self.source.consume(int(starts[scan.count]) - consumed)
        self.line = block_line + scan.count

    def close(self, *, abandon: bool = False) -> None:
        """Finish the counts and the outputs; ``abandon``: the file is read again."""
        try:
            if self.judge is not None:
                self.judge.finish()
            if self.good is not None:
                self.good.close(finish=not abandon)
            self.rejects.close()
        finally:
            self.source.close()


class _Source:
    """The file's decompressed bytes, read ahead on a thread, consumed in order.

    The reads are kept as they came (no buffer they are appended to, so each
    byte is copied once, into the block that judges it). Blocks of whole lines
    are *copied* out (:meth:`peek_block`) and consumed when judged; the
    reference reader takes lines one at a time (:meth:`readline`).
    """

    def __init__(self, binary: io.BufferedIOBase) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_READ_AHEAD)
        self._stop = threading.Event()
        #: The reads not wholly consumed; ``_offset`` bytes of the first one are.
        self._chunks: deque[bytes] = deque()
        self._offset = 0
        #: Bytes read and not consumed; bytes consumed since the start.
        self._held = 0
        self._consumed = 0
        self._ended = False
        self._thread = threading.Thread(
            target=self._read_ahead, args=(binary,), name="stepline-read-ahead", daemon=True
        )
        self._thread.start()

    def _read_ahead(self, binary: io.BufferedIOBase) -> None:
        try:
            while not self._stop.is_set():
                data = binary.read(_READ_BYTES)
                if not data:
                    break
                self._put(data)
            self._put(None)
        except BaseException as error:  # handed to the reading thread, raised there
            self._put(error)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _fill(self) -> bool:
        """Keep the next read; False at the end of the data."""
        if self._ended:
            return False
        item = self._queue.get()
        if item is None:
            self._ended = True
            return False
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        self._chunks.append(item)
        self._held += len(item)
        return True

    def _pieces(self, begin: int, end: int) -> list[tuple[bytes, int, int]]:
        """The unconsumed bytes ``begin``..``end`` (from the position), as (read, start, stop)."""
        pieces = []
        base = -self._offset  # where the first read starts, from the position
        for chunk in self._chunks:
            if base >= end:
                break
            if base + len(chunk) > begin:
                pieces.append((chunk, max(begin - base, 0), min(end - base, len(chunk))))
            base += len(chunk)
        return pieces

    def peek_block(self, size: int, skip: int = 0) -> _Block | None:
        """A copy of the whole lines in ``size`` bytes, ``skip`` bytes ahead (a line start).

        Nothing is consumed. ``None`` when those bytes hold no line feed: the data
        ends, or the line there is longer than ``size``, or is the last one and has
        no line feed.
        """
        while self._held < skip + size and self._fill():
            pass
        pieces = self._pieces(skip, skip + size)
        length = 0  # bytes up to and with the last line feed
        before = sum(stop - start for _, start, stop in pieces)
        for chunk, start, stop in reversed(pieces):
            before -= stop - start
            found = chunk.rfind(b"\n", start, stop)
            if found >= 0:
                length = before + found - start + 1
                break
        if length == 0:
            return None
        data = np.empty(length + _PAD, np.uint8)
        data[length:] = 0
        at = 0
        for chunk, start, stop in pieces:
            count = min(stop - start, length - at)
            data[at : at + count] = np.frombuffer(chunk, np.uint8, count, start)
            at += count
            if at == length:
                break
        return _Block(data, length)

    def consume(self, size: int) -> None:
        self._held -= size
        self._consumed += size
        self._offset += size
        while self._chunks and self._offset >= len(self._chunks[0]):
            self._offset -= len(self._chunks.popleft())

    def tell(self) -> int:
        """How many bytes were consumed since the start."""
        return self._consumed

    def readline(self, limit: int = -1, /) -> bytes:
        """Like ``io.BufferedReader.readline``: up to and with the next LF, at most ``limit``."""
        line = bytearray()
        while limit < 0 or len(line) < limit:
            if self._held == 0 and not self._fill():
                break
            chunk, start = self._chunks[0], self._offset
            stop = len(chunk) if limit < 0 else min(len(chunk), start + limit - len(line))
            found = chunk.find(b"\n", start, stop)
            end = stop if found < 0 else found + 1
            line += chunk[start:end]
            self.consume(end - start)
            if found >= 0:
                break
        return bytes(line)

    def exhausted(self) -> bool:
        return self._held == 0 and not self._fill()

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock a read-ahead waiting for room
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


@dataclass(slots=True)
class _Block:
    """A copy of whole lines (``size`` bytes, each ending with LF) and zero padding."""

    data: U8
    size: int


@dataclass(slots=True)
class _Scan:
    """What a scan found in a block: a verdict per line for its first ``count`` lines."""

    block: _Block
    #: Where each line starts (``count + 1`` entries: the last is where line ``count`` starts).
    starts: I64
    count: int
    #: True for a line proven to be a good row.
    good: Mask
    output: _Output | None

    @property
    def unchanged_output(self) -> bool:
        """True when the block's good lines are output exactly as they are."""
        return self.output is not None and self.output.keep is None and self.output.spans is None

    def good_output(self, first: int, stop: int) -> bytes:
        """Lines ``first``..``stop`` (all good) as the validated CSV has them."""
        if self.output is None:
            raise AssertionError("the scan was made without output")
        return self.output.rows(self, first, stop)


class _Output:
    """How good lines become validated CSV: as they are, or re-quoted and reordered."""

    def __init__(
        self, keep: Mask | None, spans: list[tuple[I64, I64]] | None
    ) -> None:
        #: Bytes to keep (a CR line ending, needless quotes dropped), or None for all.
        self.keep = keep
        #: Per canonical column, the (start, end) of its output text in each line,
        #: when the file's columns are in another order.
        self.spans = spans

    def rows(self, scan: _Scan, first: int, stop: int) -> bytes:
        data = scan.block.data
        begin, end = int(scan.starts[first]), int(scan.starts[stop])
        if self.spans is not None:
            return _gathered(data, scan.block.size, self.spans, first, stop)
        if self.keep is None:
            return data[begin:end].tobytes()
        return data[begin:end][self.keep[begin:end]].tobytes()


def _gathered(
    data: U8, size: int, spans: list[tuple[I64, I64]], first: int, stop: int
) -> bytes:
    """Lines first..stop with their fields in canonical order (``data[size]`` is ',')."""
    pieces: list[bytes] = []
    # Bounded pieces: the gather index takes 8 bytes per output byte.
    step = 8192
    for low in range(first, stop, step):
        high = min(stop, low + step)
        lines = high - low
        starts = np.empty((lines, 2 * len(spans)), np.int64)
        lengths = np.ones((lines, 2 * len(spans)), np.int64)
        for column, (begin, end) in enumerate(spans):
            starts[:, 2 * column] = begin[low:high]
            lengths[:, 2 * column] = end[low:high] - begin[low:high]
            starts[:, 2 * column + 1] = size  # the ',' after the block
        starts[:, -1] = size + 1  # the '\n' after it
        flat_starts = starts.ravel()
        flat_lengths = lengths.ravel()
        total = int(flat_lengths.sum())
        offsets = np.cumsum(flat_lengths) - flat_lengths
        index = np.repeat(flat_starts - offsets, flat_lengths) + np.arange(total)
        pieces.append(data[index].tobytes())
    return b"".join(pieces)


# ------------------------------------------------------------------ the scan

# Python's str.strip() and isspace() whitespace beyond ASCII, as UTF-8 (2 or 3
# bytes as one number); tests/contract/test_contract_columnar.py checks these
# against Python itself.
SPACE_2: Final = (0xC285, 0xC2A0)
SPACE_3: Final = (0xE19A80, *range(0xE28080, 0xE2808B), 0xE280A8, 0xE280A9, 0xE280AF,
                  0xE2819F, 0xE38080)


def _is_space_2(key: I64) -> Mask:
    return (key == SPACE_2[0]) | (key == SPACE_2[1])


def _is_space_3(key: I64) -> Mask:
    space = (key >= 0xE28080) & (key <= 0xE2808A)
    for code in (0xE19A80, 0xE280A8, 0xE280A9, 0xE280AF, 0xE2819F, 0xE38080):
        space |= key == code
    return space
_K30 = np.uint64(0x3030303030303030)
_K76 = np.uint64(0x7676767676767676)
_K80 = np.uint64(0x8080808080808080)
#: _LANES[n]: the low n bytes of a little-endian 8-byte word.
_LANES = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], np.uint64)
#: Clears lane 0 (a minus sign) where the index is 1.
_CLEAR_SIGN = np.array([2**64 - 1, 2**64 - 1 - 0xFF], np.uint64)
#: _POINT_LANE[n]: what turns a point in lane n (as '.' ^ '0') into 0; n = 8: nothing.
_POINT_LANE = np.array([0x1E << (8 * n) for n in range(8)] + [0], np.uint64)


def _lane(words: npt.NDArray[np.uint64], index: int | I64) -> npt.NDArray[np.uint64]:
    """Byte ``index`` of each little-endian word."""
    if isinstance(index, int):
        return (words >> np.uint64(8 * index)) & np.uint64(0xFF)
    return (words >> (index.astype(np.uint64) << np.uint64(3))) & np.uint64(0xFF)


def _lane2(words: npt.NDArray[np.uint64], index: int) -> npt.NDArray[np.uint64]:
    """Bytes ``index`` and ``index + 1`` of each word, as a 16-bit number."""
    return (words >> np.uint64(8 * index)) & np.uint64(0xFFFF)


def _template(
    words: npt.NDArray[np.uint64], expected: np.uint64, slack: np.uint64, mask: np.uint64
) -> Mask:
    """Each masked byte: equal to ``expected``'s, or above it by at most 0x7F - ``slack``'s.

    ``slack`` 0x7F in a lane: the byte must be equal; 0x76: a digit (0 to 9 above
    '0'); 0x7A: 0 to 5 above; 0x7D: 0 to 2 above. No lane carries into the next
    unless it already fails (its difference has the high bit set).
    """
    v = (words ^ expected) & mask
    return ((v | (v + slack)) & _K80) == 0


def _lanes_template(text: bytes, slack: bytes) -> tuple[np.uint64, np.uint64, np.uint64]:
    """(expected, slack, mask) for :func:`_template`: ``text`` with '0' where digits go."""
    mask = int.from_bytes(b"\xff" * len(text), "little")
    return _word(text), _word(slack), np.uint64(mask)


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


_EXACT, _DIGIT, _UP_TO_5, _UP_TO_2 = b"\x7f", b"\x76", b"\x7a", b"\x7d"
# sold_at from its 9th byte: "20THH:MM" (with the day's last two digits in front).
_CLOCK_SLACK = _EXACT * 3 + _UP_TO_2 + _DIGIT + _EXACT + _UP_TO_5 + _DIGIT
# From its 17th byte: ":SSZ", ":SS+HH:M" (the sign and the last digit apart), ":SS".
_SECONDS_Z = _lanes_template(b":00Z", _EXACT + _UP_TO_5 + _DIGIT + _EXACT)
_SECONDS_OFFSET = _lanes_template(
    # (b"\0" then "00": an octal escape "\000" would swallow the hour's digits.)
    b":00" + b"\0" + b"00:0",
    _EXACT + _UP_TO_5 + _DIGIT + b"\0" + _UP_TO_2 + _DIGIT + _EXACT + _UP_TO_5,
)
_SECONDS = _lanes_template(b":00", _EXACT + _UP_TO_5 + _DIGIT)
# An offset's "HH:MM".
_OFFSET = _lanes_template(b"00:00", _UP_TO_2 + _DIGIT + _EXACT + _UP_TO_5 + _DIGIT)
#: _HOUR_OK[tens | units << 8] (as bytes): hours 00 to 23, in ASCII.
_HOUR_OK = np.zeros(1 << 16, np.bool_)
for _hour in range(24):
    _HOUR_OK[ord(str(_hour // 10)) | ord(str(_hour % 10)) << 8] = True
#: _OFFSET_HOUR_OK[tens | units << 8]: a UTC offset's hours, 00 to 18 (see
#: ``MAX_UTC_OFFSET_MINUTES``; 18 only with minutes 00, checked apart).
_OFFSET_HOUR_OK = np.zeros(1 << 16, np.bool_)
for _hour in range(MAX_UTC_OFFSET_MINUTES // 60 + 1):
    _OFFSET_HOUR_OK[ord(str(_hour // 10)) | ord(str(_hour % 10)) << 8] = True
_EIGHTEEN = np.uint64(ord("1") | ord("8") << 8)
_ZERO_ZERO = np.uint64(ord("0") | ord("0") << 8)
#: _SIGN_OK[byte]: + or -.
_SIGN_OK = np.zeros(256, np.bool_)
_SIGN_OK[[ord("+"), ord("-")]] = True


class _Scanner:
    """The vectorised checks for one file's columns, store and day."""

    def __init__(self, header: list[str], key: RawSalesKey, *, want_output: bool) -> None:
        self.column = {name: header.index(name) for name in COLUMNS}
        self.canonical = tuple(header) == COLUMNS
        self.want_output = want_output
        self.store = key.store_id.encode("ascii")
        self.day = (key.run_date_text + "T").encode("ascii")
        self._day_word = _word(self.day[:8])
        self._clock = _lanes_template(self.day[8:] + b"00:00", _CLOCK_SLACK)

    def scan(self, block: _Block) -> _Scan:
        data, size = block.data, block.size
        body = data[:size]
        # Every byte <= ',' : LF, CR, tab and the other controls, space, quote, comma.
        special = np.flatnonzero(body <= 44)
        value = body[special]
        is_lf = value == 10
        line_feeds = special[is_lf]
        lines = line_feeds.size
        starts = np.empty(lines + 1, np.int64)
        starts[0] = 0
        starts[1:] = line_feeds + 1
        count = lines
        suspect: list[I64] = []

        # Bytes that are not UTF-8 end the scan at their line: the reference says why.
        wide = int(body.max()) >= 0x80
        if wide:
            try:
                codecs.utf_8_decode(body.data, "strict", True)
            except UnicodeDecodeError as error:
                count = min(count, int(np.searchsorted(line_feeds, error.start)))

        # Control characters (tab aside) and CRs that do not end a line.
        control = (value < 32) & ~is_lf & (value != 9)
        cr_end: Mask | None = None
        if control.any():
            at = special[control]
            line_end_cr = (value[control] == 13) & (data[at + 1] == 10)
            if line_end_cr.any():
                cr_end = data[np.maximum(line_feeds - 1, 0)] == 13
            if not line_end_cr.all():
                suspect.append(np.searchsorted(line_feeds, at[~line_end_cr]))
        lengths = line_feeds - starts[:-1]
        if cr_end is not None:
            lengths = lengths - cr_end
        suspect.append(np.flatnonzero(lengths == 0))  # empty lines

        # Quotes: every line's must pair up, open at a field's start, close before a
        # separator (or be doubled inside); commas between a pair are not separators.
        is_separator = is_lf | (value == 44)
        quote_index = np.flatnonzero(value == 34)
        opening_at: I64 | None = None
        quote_at: I64 | None = None
        if quote_index.size:
            quote_at = special[quote_index]
            quote_line = np.searchsorted(line_feeds, quote_at)
            odd = np.flatnonzero(np.bincount(quote_line, minlength=lines) & 1)
            if odd.size:
                # The reference reads the record that line opens; the scan stops there.
                count = min(count, int(odd[0]))
            before = data[quote_at - 1]
            before[quote_at == 0] = 10
            after = data[quote_at + 1]
            opening = (np.arange(quote_at.size) & 1) == 0
            wrong = np.where(
                opening,
                (before != 44) & (before != 10) & (before != 34),
                (after != 44) & (after != 10) & (after != 13) & (after != 34),
            )
            if wrong.any():
                suspect.append(quote_line[wrong])
            pairs = quote_index.size // 2
            first = quote_index[0 : 2 * pairs : 2] + 1
            between = quote_index[1 : 2 * pairs : 2] - first
            if between.any():
                inner = _ranges(first, between)
                is_separator[inner] = is_lf[inner]  # commas inside a value; LFs stay
            opening_at = quote_at[opening & (before != 34)]

        separators = special[is_separator]
        lf_index = np.flatnonzero(is_lf[is_separator])
        commas = np.diff(lf_index, prepend=-1) - 1
        regular = separators.size == 7 * lines and bool((commas == 6).all())
        if regular:
            field_end = separators.reshape(lines, 7)
            separator_row = np.arange(0, 7 * lines, 7, dtype=np.int64)
        else:
            suspect.append(np.flatnonzero(commas != 6))
            separator_row = np.maximum(lf_index - 6, 0)
            field_end = separators[
                np.minimum(separator_row[:, None] + np.arange(7), separators.size - 1)
            ]

        # A space or tab next to a separator, a quote or a line end is whitespace at
        # the edge of a value (or a quote next to it): never a proven good row.
        blank = np.flatnonzero((value == 32) | (value == 9))
        if blank.size:
            at = special[blank]
            previous = np.maximum(blank - 1, 0)
            edge = (special[previous] == at - 1) & (
                is_separator[previous] | (value[previous] == 34)
            )
            edge |= at == 0
            following = blank + 1  # the block ends with LF: a special follows every blank
            edge |= (special[following] == at + 1) & (
                is_separator[following] | (value[following] == 34) | (value[following] == 13)
            )
            if edge.any():
                suspect.append(np.searchsorted(line_feeds, at[edge]))

        good = np.ones(lines, np.bool_)
        for lines_at in suspect:
            good[lines_at] = False
        if count < lines:
            # The line the scan stopped at goes to the reference too (its record may
            # span lines); what follows it is scanned again after that record.
            good[count] = False
            count += 1

        quoted_field: Mask | None = None
        if opening_at is not None and opening_at.size:
            quoted_field = np.zeros(separators.size + 1, np.bool_)
            quoted_field[np.searchsorted(separators, opening_at)] = True

        fields = _Fields(
            starts[:-1], field_end, separator_row, regular, quoted_field, cr_end
        )
        loads = _Loads(data, size)

        good &= self._text(data, fields.value(self.column["order_id"]), MAX_ORDER_ID_CHARS, wide)
        good &= self._literal(loads, data, fields.value(self.column["store_id"]), self.store)
        good &= self._sold_at(loads, data, fields.value(self.column["sold_at"]))
        good &= self._text(data, fields.value(self.column["sku"]), MAX_TEXT_CHARS, wide)
        good &= self._text(data, fields.value(self.column["category"]), MAX_TEXT_CHARS, wide)
        good &= self._quantity(loads, data, fields.value(self.column["quantity"]))
        good &= self._unit_price(loads, data, fields.value(self.column["unit_price"]))

        output = None
        if self.want_output:
            output = self._output(
                data, size, special, value, is_separator, quote_at, separators, fields,
                line_feeds, good,
            )
        return _Scan(block, starts[: count + 1], count, good[:count], output)

    # Each check returns, per line, whether the value is *proven* to follow the
    # rule: bytes in ranges that imply the contract's wording (a length in bytes
    # within the limit in characters, ASCII digits, an ASCII first and last
    # character that is not a space...). Lines where it is not proven go to the
    # reference, which decides. Values that are not even where the file's
    # structure says (a line that failed a structure check) give garbage that
    # only ever turns a verdict to "not proven".

    @staticmethod
    def _text(data: U8, span: tuple[I64, I64], limit: int, wide: bool) -> Mask:
        """1 to ``limit`` characters, no leading or trailing whitespace (as str.strip).

        ASCII whitespace at the edges was looked for in the whole block; beyond
        ASCII, the first and last characters are compared with Python's own list.
        """
        start, end = span
        length = end - start
        good = (length >= 1) & (length <= limit)
        if not wide:
            return good
        first = data[start]
        last = data[end - 1]
        rows = np.flatnonzero(good & ((first >= 0x80) | (last >= 0x80)))
        if rows.size:
            s = start[rows]
            e = end[rows]
            b = [data[s + i].astype(np.int64) for i in range(3)]
            z = [data[e - 3 + i].astype(np.int64) for i in range(3)]
            lead2 = (b[0] << 8) | b[1]
            tail2 = (z[1] << 8) | z[2]
            space = (
                _is_space_2(lead2)
                | _is_space_3((lead2 << 8) | b[2])
                | _is_space_2(tail2)
                | _is_space_3((z[0] << 16) | tail2)
            )
            good[rows[space]] = False
        return good

    @staticmethod
    def _literal(loads: _Loads, data: U8, span: tuple[I64, I64], text: bytes) -> Mask:
        start, end = span
        good = (end - start) == len(text)
        if len(text) < 8:
            return good & ((loads(start) & _LANES[len(text)]) == _word(text))
        offset = 0
        while len(text) - offset >= 8:
            good &= loads(start + offset) == _word(text[offset : offset + 8])
            offset += 8
        if len(text) - offset > 2:  # the last 8 bytes, overlapping
            good &= loads(start + len(text) - 8) == _word(text[-8:])
        else:
            for index in range(offset, len(text)):
                good &= data[start + index] == text[index]
        return good

    def _sold_at(self, loads: _Loads, data: U8, span: tuple[I64, I64]) -> Mask:
        """YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM) on the run date, a real time.

        The two usual lengths (20: ...SSZ, 25: ...SS+HH:MM) are checked with three
        word templates; other lengths (a fraction of a second) byte by byte.
        """
        start, end = span
        length = end - start
        good = loads(start) == self._day_word
        # "20THH:MM": the day's end, T, hour tens <= 2, ':', minute tens <= 5.
        clock = loads(start + 8)
        good &= _template(clock, *self._clock)
        good &= _HOUR_OK[_lane2(clock, 3)]
        tail = loads(start + 16)
        usual = ((length == 20) & _template(tail, *_SECONDS_Z)) | (
            (length == 25)
            & _template(tail, *_SECONDS_OFFSET)
            & _SIGN_OK[_lane(tail, 3)]
            & _OFFSET_HOUR_OK[_lane2(tail, 4)]
            & (data[start + 24] - np.uint8(48) <= 9)
            & ~(
                (_lane2(tail, 4) == _EIGHTEEN)
                & ((_lane(tail, 7) != ord("0")) | (data[start + 24] != ord("0")))
            )
        )
        other = np.flatnonzero(good & ~usual & (length >= 22) & (length <= 32))
        good &= usual
        if other.size:
            good[other] = self._sold_at_fraction(loads, data, start[other], end[other])
        return good

    def _sold_at_fraction(self, loads: _Loads, data: U8, start: I64, end: I64) -> Mask:
        """The seconds followed by a point and 1 to 6 digits, then Z or an offset."""
        length = end - start
        good = (length >= 22) & (length <= 32)
        good &= _template(loads(start + 16), *_SECONDS)
        utc = data[end - 1] == ord("Z")
        y = loads(end - 6)
        offset = _SIGN_OK[_lane(y, 0)] & _template(y >> np.uint64(8), *_OFFSET)
        offset &= _OFFSET_HOUR_OK[_lane2(y, 1)]
        offset &= ~((_lane2(y, 1) == _EIGHTEEN) & (_lane2(y, 4) != _ZERO_ZERO))
        good &= utc | offset
        fraction = length - 19 - np.where(utc, 1, 6)
        good &= (fraction >= 2) & (fraction <= 7) & (data[start + 19] == ord("."))
        good &= self._digits(loads, start + 20, fraction - 1)
        return good

    @staticmethod
    def _digits(loads: _Loads, start: I64, count: I64) -> Mask:
        """Whether the ``count`` (0..8) bytes at ``start`` are all ASCII digits."""
        lanes = _LANES[np.clip(count, 0, 8)]
        x = (loads(start) ^ _K30) & lanes
        return ((x | (x + _K76)) & _K80) == 0

    def _quantity(self, loads: _Loads, data: U8, span: tuple[I64, I64]) -> Mask:
        """-?[1-9][0-9]{0,6}: a non-zero integer well inside 32 bits (at most 8 bytes)."""
        start, end = span
        length = end - start
        x = loads(start)
        negative = (x & np.uint64(0xFF)) == ord("-")
        # Digits as 0..9 in each lane; a minus sign's lane is cleared.
        v = (x ^ _K30) & _LANES[np.clip(length, 0, 8)] & _CLEAR_SIGN[negative.view(np.uint8)]
        good = (length >= 1 + negative) & (length <= 8)
        good &= ((v | (v + _K76)) & _K80) == 0
        first = v >> (negative.view(np.uint8) * np.uint64(8))
        good &= (first & np.uint64(0xFF)) != 0
        return good

    def _unit_price(self, loads: _Loads, data: U8, span: tuple[I64, I64]) -> Mask:
        r"""\d{1,7}(\.\d{1,2})? (at most 8 bytes): within \d{1,10}(\.\d{1,2})?."""
        start, end = span
        length = end - start
        fits = np.clip(length, 0, 8)
        x = loads(start)
        v = (x ^ _K30) & _LANES[fits]
        # A point two or three bytes from the end (as 0..9 lanes, a point is 0x1E).
        two = (length >= 4) & (_lane(v, fits - 3) == 0x1E)
        one = ~two & (length >= 3) & (_lane(v, fits - 2) == 0x1E)
        point = np.where(two, fits - 3, np.where(one, fits - 2, 8))
        v ^= _POINT_LANE[point]
        good = (length >= 1) & (length <= 8)
        good &= ((v | (v + _K76)) & _K80) == 0
        return good

    # ---------------------------------------------------------------- output

    def _output(
        self,
        data: U8,
        size: int,
        special: I64,
        value: U8,
        is_separator: Mask,
        quote_at: I64 | None,
        separators: I64,
        fields: _Fields,
        line_feeds: I64,
        good: Mask,
    ) -> _Output:
        """How this block's good lines are written: csv.writer quotes a value only
        when it holds a comma or a quote (no good value holds a line break here)."""
        if self.canonical and fields.cr_end is None and fields.quoted_field is None:
            return _Output(None, None)  # the lines as they are: the usual case
        columns = range(7)
        out = [fields.field(c) for c in columns]
        drop: list[I64] = []
        if fields.quoted_field is not None and quote_at is not None:
            # A quoted field keeps its quotes when its value holds a comma or a quote.
            needs = np.zeros(separators.size + 1, np.bool_)
            comma_inside = special[(value == 44) & ~is_separator]
            needs[np.searchsorted(separators, comma_inside)] = True
            doubled = quote_at[:-1][np.diff(quote_at) == 1]
            needs[np.searchsorted(separators, doubled)] = True
            for c in columns:
                is_quoted = fields.per_field(fields.quoted_field, c)
                # Only good lines: the fields of others may be garbage, anywhere.
                strip = is_quoted & ~fields.per_field(needs, c) & good
                if strip.any():
                    start, end = out[c]
                    out[c] = (start + strip, end - strip)
                    drop.append(start[strip])
                    drop.append(end[strip] - 1)
        if not self.canonical:
            data[size] = ord(",")
            data[size + 1] = ord("\n")
            return _Output(None, [out[self.column[name]] for name in COLUMNS])
        if fields.cr_end is not None:
            drop.append(line_feeds[fields.cr_end] - 1)
        if not drop:
            return _Output(None, None)
        keep = np.ones(size, np.bool_)
        for positions in drop:
            keep[positions] = False
        return _Output(keep, None)


class _Fields:
    """Where each line's fields are: separators by line, quoting, a CR line end."""

    def __init__(
        self,
        line_start: I64,
        field_end: I64,
        separator_row: I64,
        regular: bool,
        quoted_field: Mask | None,
        cr_end: Mask | None,
    ) -> None:
        self.line_start = line_start
        self.field_end = field_end
        self.separator_row = separator_row
        self.regular = regular
        #: Per separator: whether the field it ends is quoted.
        self.quoted_field = quoted_field
        self.cr_end = cr_end

    def per_field(self, flags: Mask, column: int) -> Mask:
        """``flags`` (one per separator) for the fields of ``column``."""
        if self.regular:
            return flags[column : column + 7 * self.line_start.size : 7]
        return flags[np.minimum(self.separator_row + column, flags.size - 1)]

    def field(self, column: int) -> tuple[I64, I64]:
        """Start and end (exclusive) of each line's field ``column``, quotes included."""
        start = self.line_start if column == 0 else self.field_end[:, column - 1] + 1
        end = self.field_end[:, column]
        if column == 6 and self.cr_end is not None:
            end = end - self.cr_end
        return start, end

    def value(self, column: int) -> tuple[I64, I64]:
        """Start and end of each line's value in ``column`` (inside its quotes)."""
        start, end = self.field(column)
        if self.quoted_field is None:
            return start, end
        quoted = self.per_field(self.quoted_field, column)
        return start + quoted, end - quoted


class _Loads:
    """8-byte little-endian loads at any offsets of a padded block."""

    def __init__(self, data: U8, size: int) -> None:
        # Items of 8 bytes, 1 byte apart: item i is bytes i..i+7 (a void type, so
        # numpy copies them whole, without the slow path of unaligned integers).
        self._items: npt.NDArray[np.void] = np.ndarray(
            (size + _PAD - 8,), np.dtype("V8"), data, 0, (1,)
        )

    def __call__(self, at: I64) -> npt.NDArray[np.uint64]:
        return self._items[at].view(np.uint64)


def _ranges(first: I64, length: I64) -> I64:
    """The indices first[i] .. first[i] + length[i] - 1, for every i, in order."""
    total = int(length.sum())
    offsets = np.cumsum(length) - length
    return np.repeat(first - offsets, length) + np.arange(total)


# ------------------------------------------------------------------ outputs


class _GoodRows:
    """The good rows as gzip CSV: runs of bytes, and the reference's rows, in order."""

    def __init__(self, out: Writable, level: int) -> None:
        self._pipe = _GzipPipe(out, level)
        self._pipe.write(VALIDATED_HEADER)
        self._text = io.StringIO()
        writer = csv.writer(self._text, lineterminator="\n")
        self.writerow: Callable[[Any], Any] = writer.writerow

    def write(self, data: bytes) -> None:
        self._flush_text()
        self._pipe.write(data)

    def _flush_text(self) -> None:
        text = self._text.getvalue()
        if text:
            self._pipe.write(text.encode("utf-8"))
            self._text.seek(0)
            self._text.truncate()

    def close(self, *, finish: bool = True) -> None:
        if finish:
            self._flush_text()
        self._pipe.close(finish=finish)


class _GzipPipe:
    """Compresses what it is given on a thread of its own (ISA-L releases the GIL)."""

    def __init__(self, out: Writable, level: int) -> None:
        # wbits 31: a gzip member, with mtime 0 and no file name: same input, same bytes.
        self._out = out
        self._compress = isal_zlib.compressobj(level, isal_zlib.DEFLATED, 31)
        self._queue: queue.Queue[bytes | None] = queue.Queue(16)
        self._error: BaseException | None = None
        self._finish = True
        self._thread = threading.Thread(target=self._run, name="stepline-gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                if self._error is None:
                    compressed = self._compress.compress(data)
                    if compressed:
                        self._out.write(compressed)
            if self._error is None and self._finish:
                self._out.write(self._compress.flush())  # the trailer; out stays open
        except BaseException as error:  # raised in the writing thread
            self._error = error
            while self._queue.get() is not None:  # let the writer finish
                pass

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self, *, finish: bool = True) -> None:
        self._finish = finish
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and finish:
            raise self._error
