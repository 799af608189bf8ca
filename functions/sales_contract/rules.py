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

# ISO-8601 "extended" timestamp with an explicit UTC offset.
_SOLD_AT_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
_SOLD_AT_WITHOUT_OFFSET_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?", re.ASCII
)
_QUANTITY_RE = re.compile(r"-?\d{1,10}", re.ASCII)
_PRICE_RE = re.compile(r"(\d+)(?:\.(\d+))?", re.ASCII)
_PRICE_OK_RE = re.compile(rf"\d{{1,{MAX_PRICE_INTEGER_DIGITS}}}(?:\.\d{{1,2}})?", re.ASCII)


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


def _whitespace_problem(column: str, value: str) -> str | None:
    if value != value.strip():
        return f"{column}: {value!r} has leading or trailing whitespace"
    return None


class RowChecker:
    """Checks the data rows of one file against the contract.

    Built once per file from its header, so that each row check only indexes
    a list. ``check(record)`` returns ``None`` for a good row (the common case,
    kept allocation-free) or the list of ``(column, reason)`` problems.
    """

    __slots__ = ("_index", "_run_date", "_store_id", "field_count")

    def __init__(self, header: Sequence[str], run_date: dt.date, store_id: str) -> None:
        self._index = {name: position for position, name in enumerate(header)}
        self._run_date = run_date.isoformat()
        self._store_id = store_id
        self.field_count = len(header)

    def check(self, record: list[str]) -> list[tuple[str | None, str]] | None:
        if len(record) != self.field_count:
            return [(None, f"expected {self.field_count} fields, found {len(record)}")]
        index = self._index
        order_id = record[index["order_id"]]
        store_id = record[index["store_id"]]
        sold_at = record[index["sold_at"]]
        sku = record[index["sku"]]
        category = record[index["category"]]
        quantity = record[index["quantity"]]
        unit_price = record[index["unit_price"]]
        # Fast path: one cheap test per column; only a failing row pays for
        # the detailed diagnosis below.
        if (
            0 < len(order_id) <= MAX_ORDER_ID_CHARS
            and store_id == self._store_id
            and sold_at[:10] == self._run_date
            and _SOLD_AT_RE.fullmatch(sold_at) is not None
            and _is_real_timestamp(sold_at)
            and 0 < len(sku) <= MAX_TEXT_CHARS
            and 0 < len(category) <= MAX_TEXT_CHARS
            and _QUANTITY_RE.fullmatch(quantity) is not None
            and 0 < abs(int(quantity)) <= MAX_ABS_QUANTITY
            and _PRICE_OK_RE.fullmatch(unit_price) is not None
            and order_id == order_id.strip()
            and sku == sku.strip()
            and category == category.strip()
        ):
            return None
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
        checks = (
            ("order_id", _order_id_problem(order_id)),
            ("store_id", _store_id_problem(store_id, self._store_id)),
            ("sold_at", _sold_at_problem(sold_at, self._run_date)),
            ("sku", _text_problem("sku", sku)),
            ("category", _text_problem("category", category)),
            ("quantity", _quantity_problem(quantity)),
            ("unit_price", _unit_price_problem(unit_price)),
        )
        problems: list[tuple[str | None, str]] = [
            (column, reason) for column, reason in checks if reason is not None
        ]
        return problems


def _is_real_timestamp(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


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
        if _SOLD_AT_WITHOUT_OFFSET_RE.fullmatch(value) is not None:
            return f"sold_at: {value!r} has no UTC offset (end it with Z or e.g. +01:00)"
        return (
            f"sold_at: {value!r} is not an ISO-8601 timestamp like 2026-11-20T14:03:00Z "
            "or 2026-11-20T14:03:00+05:30"
        )
    if not _is_real_timestamp(value):
        return f"sold_at: {value!r} is not a real date and time"
    if value[:10] != run_date:
        return f"sold_at: local date {value[:10]} differs from the run date {run_date}"
    return None


def _text_problem(column: str, value: str) -> str | None:
    if not value:
        return f"{column}: must not be empty"
    if len(value) > MAX_TEXT_CHARS:
        return f"{column}: {len(value)} characters, more than {MAX_TEXT_CHARS}"
    return _whitespace_problem(column, value)


def _quantity_problem(value: str) -> str | None:
    if _QUANTITY_RE.fullmatch(value) is None or int(value) == 0:
        if re.fullmatch(r"-?\d+", value, re.ASCII) and int(value) != 0:
            return f"quantity: {value!r} is out of range (at most {MAX_ABS_QUANTITY} either way)"
        return f"quantity: {value!r} is not a non-zero integer"
    if abs(int(value)) > MAX_ABS_QUANTITY:
        return f"quantity: {value!r} is out of range (at most {MAX_ABS_QUANTITY} either way)"
    return None


def _unit_price_problem(value: str) -> str | None:
    if _PRICE_OK_RE.fullmatch(value) is not None:
        return None
    match = _PRICE_RE.fullmatch(value.removeprefix("-"))
    if match is None:
        return f"unit_price: {value!r} is not a decimal number like 12.50"
    if value.startswith("-"):
        return f"unit_price: {value!r} is negative"
    if match[2] is not None and len(match[2]) > 2:
        return f"unit_price: {value!r} has more than 2 decimal places"
    return (
        f"unit_price: {value!r} is too large "
        f"(at most {MAX_PRICE_INTEGER_DIGITS} digits before the point)"
    )
