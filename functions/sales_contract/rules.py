"""The column rules of a sales file, and the per-row check.

The per-row check runs once for every row of files that are several GB, so it
is written as a hot loop: precompiled regexes, plain string comparisons, no
pydantic, no object per row. Values are checked exactly as given (nothing is
trimmed or reformatted), so the validated output carries the same text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Final

#: The canonical column order of validated files (and of generated samples).
COLUMNS: Final = ("order_id", "store_id", "sold_at", "sku", "category", "quantity", "unit_price")

MAX_ORDER_ID_CHARS: Final = 64
# The warehouse column is VARCHAR(1024), which Redshift counts in bytes; a UTF-8
# character takes up to 4 bytes, so 256 characters always fit.
MAX_TEXT_CHARS: Final = 256
# quantity must fit a 32-bit signed integer (the Spark/Glue INT type).
MAX_ABS_QUANTITY: Final = 2**31 - 1
# unit_price must fit the clean zone's DECIMAL(12,2) (glue_jobs/clean_sales.py):
# at most 10 digits before the point.
MAX_PRICE_INTEGER_DIGITS: Final = 10
# quantity x unit_price (the row's revenue) must fit the clean zone's and the
# warehouse's DECIMAL(18,2); 2**31 - 1 units at a 10-digit price would not.
MAX_ABS_REVENUE: Final = Decimal("9999999999999999.99")
# sold_at's UTC offset must be one the clean zone can type: at most 18:00 either
# side of UTC with minutes 00 to 59, java.time.ZoneOffset's range, which Spark
# (Glue, EMR) casts sold_at with. Python's fromisoformat also takes offsets up
# to 23:59 and minutes past 59 ("+05:75" read as +06:15); Spark types those
# NULL, so a file passing here would fail its clean job.
MAX_UTC_OFFSET_MINUTES: Final = 18 * 60

# ISO-8601 "extended" timestamp with an explicit UTC offset.
_SOLD_AT_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
_QUANTITY_RE = re.compile(r"-?\d{1,10}", re.ASCII)
_PRICE_RE = re.compile(r"(\d+)(?:\.(\d+))?", re.ASCII)
_PRICE_OK_RE = re.compile(rf"\d{{1,{MAX_PRICE_INTEGER_DIGITS}}}(?:\.\d{{1,2}})?", re.ASCII)
# What a failing sold_at is made of, to say precisely what is wrong with it.
_SOLD_AT_LOOSE_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:(?P<separator>[ Tt]?)(?P<time>\d{2}:\d{2})(?P<seconds>:\d{2})?(?P<fraction>[.,]\d*)?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_TIME_ONLY_RE = re.compile(
    r"\d{2}:\d{2}(?::\d{2})?(?:[.,]\d*)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?", re.ASCII
)
_SOLD_AT_EXAMPLE = "2026-11-20T14:03:00Z"
_LOOSE_DECIMAL_RE = re.compile(r"\d*(?:\.\d*)?", re.ASCII)
_COMMA_DECIMAL_RE = re.compile(r"\d+,\d{1,2}", re.ASCII)
# C0 control characters except tab (NUL and the others break Redshift, and
# no till means them), and a CR that is not part of a CRLF line break: the
# validated CSV is written with LF line ends, and Python's csv writer would
# leave a value with a lone CR unquoted, which the clean step would then read
# as a line end. A quoted LF or CRLF line break is allowed (RFC 4180).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|\r(?!\n)")
_CONTROL_NAMES = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
    "FS", "GS", "RS", "US",
)


def check_header(header: Sequence[str]) -> list[str]:
    """Return what is wrong with a header row (empty list when it is right).

    Columns may come in any order but must be exactly :data:`COLUMNS`.
    """
    known = set(COLUMNS)
    if not any(name in known for name in header):
        shown = ",".join(header)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return [f"no header row: the first line ({shown!r}) names none of the columns "
                f"{','.join(COLUMNS)}"]
    problems: list[str] = []
    seen: set[str] = set()
    duplicated: list[str] = []
    for name in header:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    missing = [name for name in COLUMNS if name not in seen]
    unknown = [name for name in header if name not in known]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(_shown_name(name) for name in unknown)}")
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    return problems


def _shown_name(name: str) -> str:
    # Quote names that would be invisible or misleading bare ('' or ' sku').
    return name if name and name == name.strip() else repr(name)


def field_count_reason(expected: int, found: int, first_line: int, line_count: int) -> str:
    """Why a record with the wrong number of fields is rejected.

    A record spanning several lines with the wrong count is most often a quote
    that was not closed where it should have been: say so, with the lines.
    """
    reason = f"expected {expected} fields, found {found}"
    if line_count > 1:
        last_line = first_line + line_count - 1
        reason += (
            f" in a record spanning lines {first_line}-{last_line} "
            "(a quoted value left open too long?)"
        )
    return reason


def _control_problem(column: str, value: str) -> str | None:
    match = _CONTROL_RE.search(value)
    if match is None:
        return None
    code = ord(match.group())
    if code == 0x0D:
        return (
            f"{column}: holds a carriage return (CR) not followed by LF: a line break inside "
            "a quoted value must be LF or CRLF"
        )
    return (
        f"{column}: contains the control character U+{code:04X} ({_CONTROL_NAMES[code]}): "
        "values may hold no control characters but tab and quoted line breaks"
    )


def _whitespace_problem(column: str, value: str) -> str | None:
    if value != value.strip():
        return f"{column}: {value!r} has leading or trailing whitespace"
    return None


class RowChecker:
    """Checks the data rows of one file against the contract.

    Built once per file from its header, so that each row check picks its
    values with one C call. ``check(record)`` returns ``None`` for a good row
    (the common case, kept allocation-free) or the list of ``(column, reason)``
    problems.
    """

    __slots__ = ("_header", "_run_date", "_store_id", "_values", "field_count")

    def __init__(self, header: Sequence[str], run_date: dt.date, store_id: str) -> None:
        self._header = list(header)
        # The values in the canonical column order, whatever the file's order.
        self._values = itemgetter(*(self._header.index(name) for name in COLUMNS))
        self._run_date = run_date.isoformat()
        self._store_id = store_id
        self.field_count = len(header)

    def check(self, record: list[str]) -> list[tuple[str | None, str]] | None:
        if len(record) != self.field_count:
            return [(None, field_count_reason(self.field_count, len(record), 0, 1))]
        order_id, store_id, sold_at, sku, category, quantity, unit_price = self._values(record)
        # Fast path: one cheap test per column; only a failing row pays for
        # the detailed diagnosis below.
        if (
            0 < len(order_id) <= MAX_ORDER_ID_CHARS
            and store_id == self._store_id
            and sold_at[:10] == self._run_date
            and _SOLD_AT_RE.fullmatch(sold_at) is not None
            and _is_real_timestamp(sold_at)
            and (sold_at[-1] == "Z" or _utc_offset_problem(sold_at) is None)
            and 0 < len(sku) <= MAX_TEXT_CHARS
            and 0 < len(category) <= MAX_TEXT_CHARS
            and _QUANTITY_RE.fullmatch(quantity) is not None
            and 0 < abs(int(quantity)) <= MAX_ABS_QUANTITY
            and _PRICE_OK_RE.fullmatch(unit_price) is not None
            # Fewer than 17 characters together cannot overflow the revenue.
            and (len(quantity) + len(unit_price) <= 16 or _revenue_fits(quantity, unit_price))
            and order_id == order_id.strip()
            and sku == sku.strip()
            and category == category.strip()
            # The other columns' checks above already exclude control characters.
            # isprintable() is a fast C test, True for almost every value; only a
            # value with a tab, a quoted line break or an unusual character pays
            # for the regex.
            and (order_id.isprintable() or _CONTROL_RE.search(order_id) is None)
            and (sku.isprintable() or _CONTROL_RE.search(sku) is None)
            and (category.isprintable() or _CONTROL_RE.search(category) is None)
        ):
            return None
        if record == self._header:
            return [(None, "the header line repeats here: is this two files joined together?")]
        return self._diagnose(order_id, store_id, sold_at, sku, category, quantity, unit_price)

    def _diagnose(
        self,
        order_id: str,
        store_id: str,
        sold_at: str,
        sku: str,
        category: str,
        quantity: str,
        unit_price: str,
    ) -> list[tuple[str | None, str]]:
        # One reason per column at most, in the canonical column order; a
        # control character is named first (it hides whatever else is wrong).
        checks = (
            ("order_id", order_id, _order_id_problem),
            ("store_id", store_id, lambda value: _store_id_problem(value, self._store_id)),
            ("sold_at", sold_at, lambda value: _sold_at_problem(value, self._run_date)),
            ("sku", sku, lambda value: _text_problem("sku", value)),
            ("category", category, lambda value: _text_problem("category", value)),
            ("quantity", quantity, _quantity_problem),
            ("unit_price", unit_price, _unit_price_problem),
        )
        problems: list[tuple[str | None, str]] = []
        for column, value, problem_of in checks:
            reason = _control_problem(column, value) or problem_of(value)
            if reason is not None:
                problems.append((column, reason))
        numbers_good = all(column not in ("quantity", "unit_price") for column, _ in problems)
        if numbers_good and not _revenue_fits(quantity, unit_price):
            problems.append(("unit_price", _revenue_problem(quantity, unit_price)))
        return problems


def _is_real_timestamp(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _utc_offset_problem(value: str) -> str | None:
    """Why the ``+HH:MM`` that ``value`` (of the contract's form) ends with is no real offset."""
    if value[-1] == "Z":
        return None
    hours, minutes = int(value[-5:-3]), int(value[-2:])
    if minutes <= 59 and hours * 60 + minutes <= MAX_UTC_OFFSET_MINUTES:
        return None
    return (
        f"sold_at: {value!r} has the offset {value[-6:]!r}, which is no UTC offset: the "
        "contract wants minutes 00 to 59 and at most 18:00 either side, like +05:30"
    )


def _order_id_problem(value: str) -> str | None:
    if not value:
        return "order_id: must not be empty"
    if len(value) > MAX_ORDER_ID_CHARS:
        return f"order_id: {len(value)} characters, more than {MAX_ORDER_ID_CHARS}"
    return _whitespace_problem("order_id", value)


def _store_id_problem(value: str, expected: str) -> str | None:
    if value != expected:
        return f"store_id: {value!r} differs from the key's store {expected!r}"
    return None


def _sold_at_problem(value: str, run_date: str) -> str | None:
    if _SOLD_AT_RE.fullmatch(value) is None:
        return _sold_at_form_problem(value)
    if not _is_real_timestamp(value):
        return f"sold_at: {value!r} is not a real date and time"
    offset_problem = _utc_offset_problem(value)
    if offset_problem is not None:
        return offset_problem
    if value[:10] != run_date:
        return f"sold_at: local date {value[:10]} differs from the run date {run_date}"
    return None


def _sold_at_form_problem(value: str) -> str:
    """What keeps ``value`` from the form ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)``."""
    if not value:
        return "sold_at: must not be empty"
    shown = f"sold_at: {value!r}"
    if _TIME_ONLY_RE.fullmatch(value):
        return f"{shown} has no date: the contract wants a date and a time, like {_SOLD_AT_EXAMPLE}"
    parts = _SOLD_AT_LOOSE_RE.fullmatch(value)
    if parts is None:
        return _not_a_timestamp(shown)
    if parts["time"] is None:
        return f"{shown} has no time of day: the contract wants one, like {_SOLD_AT_EXAMPLE}"
    separator = parts["separator"]
    if separator != "T":
        between = "nothing" if not separator else repr(separator)
        return (
            f"{shown} has {between} between the date and the time: the contract wants T, "
            f"like {_SOLD_AT_EXAMPLE}"
        )
    if parts["seconds"] is None:
        return f"{shown} has no seconds: the contract wants HH:MM:SS, like {_SOLD_AT_EXAMPLE}"
    fraction = parts["fraction"]
    if fraction is not None and (fraction[0] != "." or not 1 <= len(fraction) - 1 <= 6):
        return (
            f"{shown} has a malformed fraction of a second: the contract wants a point and "
            "1 to 6 digits, like 2026-11-20T14:03:00.25Z"
        )
    offset = parts["offset"]
    if offset is None:
        return f"{shown} has no UTC offset (end it with Z or e.g. +01:00)"
    if offset == "z":
        return f"{shown} ends with a lowercase z: the contract wants Z"
    if len(offset) in (3, 5):  # +01 or +0100
        missing = "minutes" if len(offset) == 3 else "a colon"
        return (
            f"{shown} has the offset {offset!r} without {missing}: the contract wants +HH:MM, "
            "like +01:00"
        )
    return _not_a_timestamp(shown)


def _not_a_timestamp(shown: str) -> str:
    return (
        f"{shown} is not an ISO-8601 timestamp: the contract wants YYYY-MM-DDTHH:MM:SS "
        f"with Z or an offset, like {_SOLD_AT_EXAMPLE} or 2026-11-20T14:03:00+05:30"
    )


def _text_problem(column: str, value: str) -> str | None:
    if not value:
        return f"{column}: must not be empty"
    if len(value) > MAX_TEXT_CHARS:
        return f"{column}: {len(value)} characters, more than {MAX_TEXT_CHARS}"
    return _whitespace_problem(column, value)


def _quantity_problem(value: str) -> str | None:
    if _QUANTITY_RE.fullmatch(value) is None or int(value) == 0:
        # Not int(value): a value of more than 4300 digits is a bad row, not a crash
        # (Python refuses to convert it).
        nonzero_digits = value.removeprefix("-").lstrip("0")
        if re.fullmatch(r"-?\d+", value, re.ASCII) and nonzero_digits:
            return f"quantity: {value!r} is out of range (at most {MAX_ABS_QUANTITY} either way)"
        return f"quantity: {value!r} is not a non-zero integer"
    if abs(int(value)) > MAX_ABS_QUANTITY:
        return f"quantity: {value!r} is out of range (at most {MAX_ABS_QUANTITY} either way)"
    return None


def _revenue_fits(quantity: str, unit_price: str) -> bool:
    """Whether quantity x unit_price (both valid on their own) fits DECIMAL(18,2)."""
    return abs(int(quantity) * Decimal(unit_price)) <= MAX_ABS_REVENUE


def _revenue_problem(quantity: str, unit_price: str) -> str:
    revenue = int(quantity) * Decimal(unit_price)
    return (
        f"unit_price: {quantity} x {unit_price} = {revenue} is more than the revenue column "
        f"holds (DECIMAL(18,2), at most {MAX_ABS_REVENUE} either way)"
    )


def _unit_price_problem(value: str) -> str | None:
    if _PRICE_OK_RE.fullmatch(value) is not None:
        return None
    if not value:
        return "unit_price: must not be empty"
    if value != value.strip():
        return _whitespace_problem("unit_price", value)
    shown = f"unit_price: {value!r}"
    unsigned = value[1:] if value[0] in "+-" else value
    if _LOOSE_DECIMAL_RE.fullmatch(unsigned) is None or unsigned in ("", "."):
        if _COMMA_DECIMAL_RE.fullmatch(value) is not None:
            with_point = value.replace(",", ".")
            return f"{shown} has a decimal comma: the contract wants a point, like {with_point}"
        return (
            f"{shown} is not a decimal number: the contract wants digits with an optional point "
            "and at most 2 decimals, like 12.50"
        )
    if value[0] == "-":
        return f"{shown} is negative"
    if value[0] == "+":
        return f"{shown} has a plus sign: the contract wants the number alone, like {unsigned}"
    integer, point, decimals = unsigned.partition(".")
    if not integer:
        return f"{shown} has no digit before the point: the contract wants e.g. 0{unsigned}"
    if point and not decimals:
        return f"{shown} has no digit after the point: the contract wants e.g. {integer}"
    if len(decimals) > 2:
        return f"{shown} has more than 2 decimal places"
    return f"{shown} is too large (at most {MAX_PRICE_INTEGER_DIGITS} digits before the point)"
