"""How the bytes of a sales file become records: physical lines, quoting, size limits.

This is the CSV syntax of the contract (``docs/data-contract.md``, "Lines,
quoting and limits"). The ``csv`` module's C parser still splits records with
quotes (it is fast), but this module decides where each record starts and
ends, enforces the limits and names every problem, so that every physical
line is accounted for and each problem has a reason and a line of its own
(left to itself, ``csv`` lets a quote that never closes swallow the rest of
the file, and splits a record over its field limit into several):

* A **physical line** ends with LF; a CR right before that LF belongs to the
  line ending (CRLF). The last line may have no line ending. Lines are numbered
  from 1 (the header).
* A **record** is one physical line, or several when a quoted value holds line
  breaks. A value is quoted when its first character is ``"``; inside it ``""``
  is one quote and the value ends at the next single ``"``. A ``"`` anywhere
  else in an unquoted value is an ordinary character (as in Python's ``csv``).
* **Limits**: a physical line is at most :data:`MAX_LINE_BYTES` (beyond it the
  file is rejected), a record at most :data:`MAX_RECORD_BYTES` (beyond it the
  record is one rejected row and reading goes on with the next record).

Memory stays bounded: a line is read with a size limit, and a record is kept
only while it fits :data:`MAX_RECORD_BYTES`; past that only its size and
quoting state are tracked until it ends.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

#: A physical line (its LF included) longer than this rejects the file: no
#: sales row comes near it, and it bounds what one read may hold.
MAX_LINE_BYTES: Final = 1024 * 1024
#: A record (all its physical lines, line breaks included) longer than this is
#: a rejected row. The longest valid row is about 2.2 KB (64 + 32 + 35 + 2 x
#: 1024 bytes of text + numbers), so 64 KiB leaves room for any honest quoting.
MAX_RECORD_BYTES: Final = 64 * 1024

# One field as the csv module reads it: a quoted value ("" is a quote inside
# it) plus whatever follows the closing quote up to the next comma (a row
# error, but no quote), or an unquoted value (a " inside it is an ordinary
# character), or nothing. Possessive throughout, so matching never backtracks
# into another reading: 'x,"abc""' is an open quote, not 'abc"' closed.
_FIELD = r'(?:"(?:[^"]++|"")*+"[^,]*+|[^,"][^,]*+|)'
# A line all of whose quoted values are closed, starting outside or inside one.
_CLOSED_FROM_OUTSIDE = re.compile(rf"{_FIELD}(?:,{_FIELD})*+")
_CLOSED_FROM_INSIDE = re.compile(rf'(?:[^"]++|"")*+"[^,]*+(?:,{_FIELD})*+')
_QUOTED_VALUE = re.compile(r'"((?:[^"]++|"")*+)"')

BARE_CR_REASON: Final = (
    "carriage return (CR) outside quotes: lines must end with LF or CRLF, "
    "and a value holding a line break must be quoted"
)
TEXT_AFTER_QUOTE_REASON: Final = (
    'text after the closing quote: a quoted value must be followed by a comma '
    'or the end of the line (write "" for a quote inside it)'
)


class LineSource(Protocol):
    """What :class:`RecordReader` reads from: a binary stream's ``readline``."""

    def readline(self, size: int = -1, /) -> bytes: ...


class FileProblem(Exception):
    """The file breaks the contract as a whole; reading stops here."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OversizedRecord:
    """A record longer than :data:`MAX_RECORD_BYTES`: only its size is kept."""

    size: int
    line_count: int


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A complete record whose fields cannot be told apart."""

    #: 0-based position of the field where the problem is.
    field: int
    reason: str
    #: The record as it is in the file, without its final line ending.
    text: str


#: What the reader yields for one record: its fields (``[]`` for an empty
#: line), or why it has none.
Record = list[str] | MalformedRecord | OversizedRecord


def unterminated_quote_reason(line: int) -> str:
    return (
        f"unterminated quote: the quoted value that opens at line {line} is never closed "
        '(every " that opens a value needs a closing ")'
    )


def cr_line_endings_reason(line: int) -> str:
    return f"line {line} uses CR (carriage return) line endings: the contract wants LF or CRLF"


def _long_line_reason(line: int, raw_line: bytes) -> str:
    # A whole CR-only file reads as one enormous line: name the real cause.
    if b"\r" in raw_line.replace(b"\r\n", b""):
        return cr_line_endings_reason(line)
    return f"line {line} is longer than {MAX_LINE_BYTES} bytes, the most a line may have"


def _not_utf8_reason(line: int, raw_line: bytes, error: UnicodeDecodeError, gzipped: bool) -> str:
    byte = raw_line[error.start]
    reason = f"not valid UTF-8 (byte 0x{byte:02x} at line {line}): save the file as UTF-8"
    if gzipped and line == 1:
        reason += "; the file looks gzip-compressed: name it .csv.gz"
    return reason


def ends_inside_quotes(text: str, inside: bool) -> bool:
    """Whether ``text`` (one physical line) ends inside a quoted value.

    ``inside`` says whether the line starts inside one (the previous line ended
    in it).
    """
    closed = _CLOSED_FROM_INSIDE if inside else _CLOSED_FROM_OUTSIDE
    return closed.fullmatch(text) is None


def split_record(text: str) -> list[str] | MalformedRecord:
    """The fields of one complete record (line ending included), values as given.

    An empty line has no fields (``[]``), as in Python's ``csv``. Raises
    ValueError for text that ends inside a quoted value (not a whole record).
    """
    fields = _CsvSplitter().split(_without_line_ending(text))
    if fields is _OPEN:
        raise ValueError(f"the record ends inside a quoted value: {text!r}")
    return _diagnose(_without_line_ending(text)) if fields is _REFUSED else fields


def _without_line_ending(text: str) -> str:
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


#: What :meth:`_CsvSplitter.split` says instead of fields: the text ends inside a
#: quoted value, or the csv parser refused it (:func:`_diagnose` says why).
_OPEN: Final = ["<open>"]
_REFUSED: Final = ["<refused>"]


class _CsvSplitter:
    """Splits text with quotes using the csv module's C parser, kept for a whole file.

    The parser reads from a C iterator over a list the text is put in, so
    splitting costs no Python call per line. When the text ends inside a quoted
    value the parser asks for more and finds the list empty (IndexError).
    ``strict`` makes it refuse text after a closing quote and a CR outside
    quotes, except a CR at the very end, which is checked here.
    """

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._reader = csv.reader(iter(self._pending.pop, None), strict=True)

    def split(self, body: str) -> list[str]:
        """The fields of ``body`` (without its line ending), or _OPEN, or _REFUSED."""
        if '"' not in body:
            return _REFUSED if "\r" in body else body.split(",") if body else []
        if body.endswith("\r"):
            return _REFUSED
        self._pending.append(body)
        try:
            fields: list[str] = next(self._reader)
        except IndexError:
            return _OPEN
        except csv.Error:
            self._pending.clear()
            return _REFUSED
        return fields


def _diagnose(body: str) -> MalformedRecord:
    """Which field of a complete record the csv parser refused, and why."""
    position = 0
    field = 0
    while True:
        if body.startswith('"', position):
            match = _QUOTED_VALUE.match(body, position)
            # The reader hands over only records whose quotes are all closed.
            assert match is not None, "a record reached the splitter with a quote open"
            position = match.end()
            if position == len(body):
                break
            if body[position] != ",":
                # Named for the first character after the closing quote.
                reason = BARE_CR_REASON if body[position] == "\r" else TEXT_AFTER_QUOTE_REASON
                return MalformedRecord(field, reason, body)
        else:
            comma = body.find(",", position)
            value = body[position:] if comma == -1 else body[position:comma]
            if "\r" in value:
                return MalformedRecord(field, BARE_CR_REASON, body)
            if comma == -1:
                break
            position = comma
        position += 1
        field += 1
    raise AssertionError(f"the csv parser refused a record with nothing wrong: {body!r}")


def _plain_fields(body: str) -> list[str] | MalformedRecord:
    """The fields of a record without quotes (and without its line ending)."""
    if "\r" in body:
        return MalformedRecord(body[: body.index("\r")].count(","), BARE_CR_REASON, body)
    return body.split(",") if body else []


class RecordReader:
    """Iterates ``(first_line, last_line, record)`` over a file's bytes, streaming.

    ``record`` is a :data:`Record`: the fields, or why there are none. Raises
    :class:`FileProblem` for a line over :data:`MAX_LINE_BYTES`, bytes that are
    not UTF-8, and a quoted value still open at the end of the file. ``lines``
    is the number of physical lines once iteration has finished.

    ``first_line`` is the number of the first line ``binary`` holds: the columnar
    validator (:mod:`sales_contract.columnar`) hands this reader the lines it
    does not judge itself, in the middle of a file. ``binary`` needs only
    ``readline(limit)``; the reader never reads past the record it yields last.
    """

    def __init__(
        self, binary: LineSource, *, looks_gzipped: bool = False, first_line: int = 1
    ) -> None:
        self._binary = binary
        self._looks_gzipped = looks_gzipped
        self._first_line = first_line
        self.lines = 0

    def __iter__(self) -> Iterator[tuple[int, int, Record]]:
        # One loop with the common cases inlined: it runs once per line of
        # files with millions of lines.
        readline = self._binary.readline
        split = _CsvSplitter().split
        line = self._first_line - 1
        # The record being assembled across lines (only while a quote is open).
        inside = False
        start = size = 0
        parts: list[str] | None = None
        while True:
            raw_line = readline(MAX_LINE_BYTES + 1)
            if not raw_line:
                break
            line += 1
            if len(raw_line) > MAX_LINE_BYTES:
                raise FileProblem(line, _long_line_reason(line, raw_line))
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                reason = _not_utf8_reason(line, raw_line, error, self._looks_gzipped)
                raise FileProblem(line, reason) from None
            if line == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not inside:
                if len(raw_line) <= MAX_RECORD_BYTES:
                    if text.endswith("\n"):
                        body = text[:-2] if text.endswith("\r\n") else text[:-1]
                    else:
                        body = text
                    if '"' not in body:
                        # The common case: a whole record on one line, no quote.
                        if "\r" in body:
                            yield line, line, _plain_fields(body)
                        else:
                            yield line, line, body.split(",") if body else []
                        continue
                    fields = split(body)
                    if fields is not _OPEN and fields is not _REFUSED:
                        yield line, line, fields
                        continue
                    if fields is _REFUSED and not ends_inside_quotes(text, False):
                        yield line, line, _diagnose(body)
                        continue
                elif not ends_inside_quotes(text, False):
                    yield line, line, OversizedRecord(len(raw_line), 1)
                    continue
                # A quoted value goes on to the next line.
                inside, start, size = True, line, len(raw_line)
                parts = [text] if size <= MAX_RECORD_BYTES else None
                continue
            size += len(raw_line)
            inside = _CLOSED_FROM_INSIDE.fullmatch(text) is None
            if parts is not None:
                if size <= MAX_RECORD_BYTES:
                    parts.append(text)
                else:
                    parts = None  # too long to be a row: stop holding it
            if not inside:
                if parts is None:
                    yield start, line, OversizedRecord(size, line - start + 1)
                else:
                    yield start, line, split_record("".join(parts))
                parts = None
        self.lines = line
        if inside:
            raise FileProblem(start, unterminated_quote_reason(start))
