"""Realistic sales files and S3 arrival events, for demos, tests and load checks.

:func:`write_sales_csv` streams a store's day of sales to disk with constant
memory, whatever the row count, and is deterministic for a given seed. It can
inject duplicate ``(order_id, sku)`` rows (a later ``sold_at``, as when a till
re-sends a corrected line) and rows that break the contract, so every branch of
the pipeline can be exercised. :func:`object_created_event` builds the
EventBridge "Object Created" event S3 would send for an uploaded file, which
the local runtime uses to replay arrivals.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip as gzip_module
import hashlib
import io
import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from sales_contract import COLUMNS, raw_key

__all__ = [
    "GeneratedSales",
    "object_created_event",
    "raw_key",
    "sales_rows",
    "write_sales_csv",
]

EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_REGION = "us-east-1"
EXAMPLE_RAW_BUCKET = f"stepline-sales-dev-raw-{EXAMPLE_ACCOUNT}-{EXAMPLE_REGION}"
EXAMPLE_LAKE_BUCKET = f"stepline-sales-dev-lake-{EXAMPLE_ACCOUNT}-{EXAMPLE_REGION}"

# (category, SKU prefix, lowest price, highest price). Two names carry a comma
# or an ampersand so that generated files exercise CSV quoting.
_CATEGORIES = (
    ("Grocery", "GRO", 0.49, 24.99),
    ("Beverages", "BEV", 0.79, 39.99),
    ("Household", "HOU", 1.29, 49.99),
    ("Personal Care", "PER", 1.49, 59.99),
    ("Electronics", "ELE", 4.99, 899.00),
    ("Toys & Games", "TOY", 2.99, 129.99),
    ("Home, Garden & DIY", "HGD", 1.99, 249.00),
    ("Apparel", "APP", 3.99, 149.99),
)
_SKUS_PER_CATEGORY = 40
_STORE_OFFSETS = ("Z", "+00:00", "+01:00", "-05:00", "+05:30", "-08:00")
_RETURN_SHARE = 0.02
# How many recent lines a duplicate may copy from (bounds memory).
_RECENT_LINES = 64
_BAD_ROW_KINDS = (
    "quantity_zero",
    "price_three_decimals",
    "sold_at_without_offset",
    "other_store",
    "missing_field",
    "negative_price",
    "empty_sku",
    "sold_at_other_day",
)


@dataclass(frozen=True, slots=True)
class GeneratedSales:
    """What :func:`write_sales_csv` wrote."""

    path: Path
    run_date: dt.date
    store_id: str
    #: Data rows in the file (header excluded), duplicates and bad rows included.
    rows: int
    duplicates: int
    bad_rows: int
    returns: int
    size_bytes: int

    @property
    def expected_good_rows(self) -> int:
        """Rows that pass validation (duplicates pass; the Glue step removes them)."""
        return self.rows - self.bad_rows


@dataclass(slots=True)
class _Counts:
    returns: int = 0


@dataclass(frozen=True, slots=True)
class _Product:
    sku: str
    category: str
    price: str


def _catalog(seed: int) -> list[_Product]:
    rng = random.Random(f"stepline-catalog:{seed}")
    products = []
    for category, prefix, low, high in _CATEGORIES:
        for number in range(1, _SKUS_PER_CATEGORY + 1):
            # Log-uniform prices: many cheap items, a few expensive ones.
            price = low * (high / low) ** rng.random()
            products.append(_Product(f"{prefix}-{number:05d}", category, f"{price:.2f}"))
    return products


def _timestamp(run_date: dt.date, second_of_day: int, offset: str) -> str:
    hours, rest = divmod(min(max(second_of_day, 0), 86_399), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{run_date.isoformat()}T{hours:02d}:{minutes:02d}:{seconds:02d}{offset}"


def sales_rows(
    run_date: dt.date | str,
    store_id: str,
    rows: int,
    *,
    seed: int = 0,
    duplicates: int = 0,
    bad_rows: int = 0,
    _counts: _Counts | None = None,
) -> Iterator[list[str]]:
    """Yield ``rows`` data rows in the canonical column order (no header).

    Rows are in time order through the store's local day; orders have 1 to 4
    lines with distinct SKUs; about 2% of lines are returns (negative
    quantity). ``duplicates`` rows repeat a recent ``(order_id, sku)`` with a
    later ``sold_at``; ``bad_rows`` rows each break one contract rule.
    """
    if isinstance(run_date, str):
        run_date = dt.date.fromisoformat(run_date)
    if rows < 0 or duplicates < 0 or bad_rows < 0:
        raise ValueError("rows, duplicates and bad_rows must not be negative")
    if duplicates + bad_rows > max(rows - 1, 0):
        raise ValueError(
            f"duplicates + bad_rows ({duplicates + bad_rows}) must be smaller than rows ({rows})"
        )
    counts = _counts if _counts is not None else _Counts()
    rng = random.Random(f"stepline-sales:{seed}:{run_date.isoformat()}:{store_id}")
    products = _catalog(seed)
    offset = rng.choice(_STORE_OFFSETS)
    # The first row is never special, so a duplicate always has a row to copy.
    special = rng.sample(range(1, rows), duplicates + bad_rows) if rows > 1 else []
    duplicate_at = set(special[:duplicates])
    bad_at = set(special[duplicates:])
    recent: deque[tuple[list[str], int]] = deque(maxlen=_RECENT_LINES)
    compact_date = run_date.strftime("%Y%m%d")
    order_number = 0
    order_lines: list[_Product] = []

    for position in range(rows):
        second_of_day = int((position + rng.random()) * 86_400 / max(rows, 1))
        if position in duplicate_at:
            original, original_second = rng.choice(recent)
            row = list(original)
            later = min(max(second_of_day, original_second + 1), 86_399)
            row[2] = _timestamp(run_date, later, offset)
            if row[5].startswith("-"):
                counts.returns += 1
            yield row
            continue
        if not order_lines:
            order_number += 1
            order_lines = rng.sample(products, rng.choices((1, 2, 3, 4), (50, 25, 15, 10))[0])
        product = order_lines.pop()
        order_id = f"{store_id}-{compact_date}-{order_number:06d}"
        if rng.random() < _RETURN_SHARE:
            quantity = -rng.choice((1, 1, 1, 2))
            counts.returns += 1
        else:
            quantity = rng.choices((1, 2, 3, 4, 6, 12), (60, 20, 8, 6, 4, 2))[0]
        row = [
            order_id,
            store_id,
            _timestamp(run_date, second_of_day, offset),
            product.sku,
            product.category,
            str(quantity),
            product.price,
        ]
        if position in bad_at:
            if quantity < 0:
                counts.returns -= 1
            yield _break_row(row, rng.choice(_BAD_ROW_KINDS), run_date)
            continue
        recent.append((row, second_of_day))
        yield row


def _break_row(row: list[str], kind: str, run_date: dt.date) -> list[str]:
    broken = list(row)
    if kind == "quantity_zero":
        broken[5] = "0"
    elif kind == "price_three_decimals":
        broken[6] = f"{broken[6]}5"
    elif kind == "sold_at_without_offset":
        broken[2] = broken[2][:19]
    elif kind == "other_store":
        broken[1] = f"{broken[1][:28]}-X"
    elif kind == "missing_field":
        del broken[4]
    elif kind == "negative_price":
        broken[6] = f"-{broken[6]}"
    elif kind == "empty_sku":
        broken[3] = ""
    elif kind == "sold_at_other_day":
        previous_day = (run_date - dt.timedelta(days=1)).isoformat()
        broken[2] = previous_day + broken[2][10:]
    return broken


def write_sales_csv(
    path: str | Path,
    run_date: dt.date | str,
    store_id: str,
    rows: int,
    *,
    seed: int = 0,
    duplicates: int = 0,
    bad_rows: int = 0,
    gzip: bool = False,
) -> GeneratedSales:
    """Write a store's day of sales as CSV (UTF-8, LF, canonical header), streaming.

    The same arguments always give the same bytes (gzip output carries no
    timestamp), so generated files can be compared and checked in.
    """
    if isinstance(run_date, str):
        run_date = dt.date.fromisoformat(run_date)
    path = Path(path)
    counts = _Counts()
    with path.open("wb") as raw:
        binary: io.BufferedWriter | gzip_module.GzipFile = raw
        if gzip:
            # No file name and no mtime in the gzip header: same arguments, same bytes.
            binary = gzip_module.GzipFile(
                filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0
            )
        with io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(
                sales_rows(
                    run_date,
                    store_id,
                    rows,
                    seed=seed,
                    duplicates=duplicates,
                    bad_rows=bad_rows,
                    _counts=counts,
                )
            )
    return GeneratedSales(
        path=path,
        run_date=run_date,
        store_id=store_id,
        rows=rows,
        duplicates=duplicates,
        bad_rows=bad_rows,
        returns=counts.returns,
        size_bytes=path.stat().st_size,
    )


def s3_etag(data: bytes) -> str:
    """The ETag S3 gives a single-part upload (the MD5 of the bytes), without quotes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def object_created_event(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None = None,
    time: dt.datetime | None = None,
    region: str = EXAMPLE_REGION,
    account: str = EXAMPLE_ACCOUNT,
    requester: str = EXAMPLE_ACCOUNT,
    sequencer: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event S3 sends when ``key`` is created in ``bucket``.

    The key is URL-encoded the way S3 encodes keys in event notifications
    (spaces become ``+``, ``=`` becomes ``%3D``); ``/`` is kept. The event id and
    request id are derived from the object, so replaying the same upload gives
    the same event, as a duplicate EventBridge delivery would.
    """
    when = (time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    identity = f"s3://{bucket}/{key}#{etag}#{version_id}"
    digest = hashlib.sha256(identity.encode()).hexdigest().upper()
    detail_object: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "etag": etag.strip('"'),
    }
    if version_id is not None:
        detail_object["version-id"] = version_id
    detail_object["sequencer"] = sequencer or digest[:16]
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, identity)),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": detail_object,
            "request-id": digest[16:32],
            "requester": requester,
            "source-ip-address": "203.0.113.10",
            "reason": "PutObject",
        },
    }
