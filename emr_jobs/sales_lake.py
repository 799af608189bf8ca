"""The shape of Stepline's sales data downstream of validation: one owner for every zone.

Everything after the validation Lambda reads or writes these locations and
schemas: the Glue clean job, the EMR aggregation step, the state machines
(which build the same keys in JSONata), the template's Glue table, the
Redshift and Athena SQL and the local runtime. They all import this module or
are checked against it by tests (``tests/lake``), so a layout change is made
here once. (Raw keys and the validated and quarantine zones belong to the
data contract, ``functions/sales_contract``, which the Lambda ships with.)

The data-lake bucket holds::

    clean/sales/sale_date=D/store_id=S/run=R/part-*.parquet  one arrival's cleaned rows
    clean/_metrics/date=D/store=S/run=R.json                 that arrival's clean counts
    curated/daily_sales/sale_date=D/publish=P/part-*.parquet one publish pass's day (a generation)
    curated/_manifests/date=D/<publish>.json                 the store-days a publish read
    curated/_summaries/date=D/<publish>.json                 per-store and day totals it wrote
    reports/daily_sales/date=D/<query-id>.csv                each Athena report run of the day
    reports/latest/daily_sales/date=D.csv                    the day's latest report, one key

``R`` is the arrival's execution name (a *generation*): each arrival writes
only under its own run, so two arrivals of one store-day never overwrite each
other, and the run ledger says which generation is the store-day's data.
``<publish>`` (``P``) is the publish execution name and the request count it
covered (``<execution>-c<N>``). The curated day is generation-addressed too:
each pass writes its own ``publish=P/`` folder and never touches another, and
readers follow a pointer to the current one (the pass's own steps use ``P``;
the run ledger's ``published_pass`` names it for everyone else), so a reader
sees the old day or the new day, never a gap or half a day.

This file is published next to the EMR script and passed to both Spark jobs
(``--py-files`` / ``--extra-py-files``), so it imports nothing but the
standard library; the Spark schemas are built by :func:`spark_schema` on demand.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CLEAN_ROOT = "clean/sales/"
CLEAN_METRICS_ROOT = "clean/_metrics/"
CURATED_ROOT = "curated/daily_sales/"
#: The curated zone's second partition column: the publish pass that wrote the day.
CURATED_GENERATION_KEY = "publish"
MANIFESTS_ROOT = "curated/_manifests/"
SUMMARIES_ROOT = "curated/_summaries/"
REPORTS_ROOT = "reports/daily_sales/"
LATEST_REPORTS_ROOT = "reports/latest/daily_sales/"

#: Store ids become path segments; mirrors the data contract's pattern.
STORE_ID_PATTERN = r"[A-Za-z0-9_-]{1,32}"
#: Run (generation) ids are Step Functions execution names; only these characters
#: are allowed in them, so they are safe in S3 keys and Hive partition values.
RUN_ID_PATTERN = r"[A-Za-z0-9_-]{1,80}"


@dataclass(frozen=True)
class Column:
    """One column of a zone, with its type in every engine that reads it."""

    name: str
    spark: str  # Spark SQL DDL type
    glue: str  # Glue Data Catalog / Athena type
    redshift: str  # Redshift DDL type


#: The clean zone's Parquet columns (``sale_date`` and ``store_id`` are the partition
#: directories, ``run`` the generation directory), in file order.
CLEAN_COLUMNS: tuple[Column, ...] = (
    Column("order_id", "string", "string", "VARCHAR(256)"),
    Column("sold_at", "timestamp", "timestamp", "TIMESTAMP"),
    Column("sold_at_offset", "string", "string", "VARCHAR(6)"),
    Column("sku", "string", "string", "VARCHAR(1024)"),
    Column("category", "string", "string", "VARCHAR(1024)"),
    Column("quantity", "int", "int", "INTEGER"),
    Column("unit_price", "decimal(12,2)", "decimal(12,2)", "DECIMAL(12,2)"),
    Column("revenue", "decimal(18,2)", "decimal(18,2)", "DECIMAL(18,2)"),
)

#: The curated zone's Parquet columns, in file order. Redshift's ``COPY ... FORMAT
#: AS PARQUET`` maps them by position, so the order is part of the contract;
#: ``sale_date`` is the partition directory, not a column of the files.
CURATED_COLUMNS: tuple[Column, ...] = (
    Column("store_id", "string", "string", "VARCHAR(32)"),
    Column("category", "string", "string", "VARCHAR(1024)"),
    Column("revenue", "decimal(18,2)", "decimal(18,2)", "DECIMAL(18,2)"),
    Column("units", "bigint", "bigint", "BIGINT"),
    Column("orders", "bigint", "bigint", "BIGINT"),
    Column("returns", "bigint", "bigint", "BIGINT"),
)
CURATED_PARTITION_KEY = Column("sale_date", "string", "string", "DATE")

#: Keys of the publish summary JSON (per store and for the whole day).
SUMMARY_MEASURES: tuple[str, ...] = ("revenue", "units", "orders", "returns")


def _date_text(run_date: dt.date | str) -> str:
    if isinstance(run_date, dt.date):
        return run_date.isoformat()
    try:
        return dt.date.fromisoformat(run_date).isoformat()
    except ValueError:
        raise ValueError(f"run date {run_date!r} is not a YYYY-MM-DD date") from None


def _checked(value: str, pattern: str, what: str) -> str:
    if not re.fullmatch(pattern, value):
        raise ValueError(f"{what} {value!r} does not match {pattern}")
    return value


def lake_uri(bucket: str, key: str = "") -> str:
    """``s3://bucket/key`` for a key of this layout."""
    return f"s3://{bucket}/{key}"


def as_prefix(uri: str) -> str:
    """``uri`` with exactly one trailing ``/``, so prefixes join the same way everywhere."""
    if not uri or not uri.strip():
        raise ValueError("a path/URI argument is empty")
    return uri.rstrip("/") + "/"


def clean_run_key(run_date: dt.date | str, store_id: str, run_id: str) -> str:
    """The folder one arrival's cleaned rows are written to (its generation)."""
    store = _checked(store_id, STORE_ID_PATTERN, "store id")
    run = _checked(run_id, RUN_ID_PATTERN, "run id")
    return f"{CLEAN_ROOT}sale_date={_date_text(run_date)}/store_id={store}/run={run}/"


def clean_day_key(run_date: dt.date | str) -> str:
    """The folder holding every store's generations of one day (the Spark ``basePath``)."""
    return f"{CLEAN_ROOT}sale_date={_date_text(run_date)}/"


def clean_metrics_key(run_date: dt.date | str, store_id: str, run_id: str) -> str:
    """The clean counts of one arrival, read back by the arrival state machine."""
    store = _checked(store_id, STORE_ID_PATTERN, "store id")
    run = _checked(run_id, RUN_ID_PATTERN, "run id")
    return f"{CLEAN_METRICS_ROOT}date={_date_text(run_date)}/store={store}/run={run}.json"


def curated_day_key(run_date: dt.date | str) -> str:
    """The folder holding every curated generation of one day."""
    return f"{CURATED_ROOT}sale_date={_date_text(run_date)}/"


#: A publish pass id (:func:`publish_id`), as it appears in keys.
PUBLISH_ID_PATTERN = rf"{RUN_ID_PATTERN}-c\d+"


def curated_generation_key(run_date: dt.date | str, publish: str) -> str:
    """One publish pass's curated day: the EMR step writes it once, COPY and Athena read it."""
    checked = _checked(publish, PUBLISH_ID_PATTERN, "publish id")
    return f"{curated_day_key(run_date)}{CURATED_GENERATION_KEY}={checked}/"


def publish_id(execution_name: str, covered: int) -> str:
    """Names one publish pass: the execution and the request count it covered."""
    return f"{_checked(execution_name, RUN_ID_PATTERN, 'execution name')}-c{int(covered)}"


def manifest_key(run_date: dt.date | str, publish: str) -> str:
    """The list of store-day generations one publish pass aggregated."""
    return f"{MANIFESTS_ROOT}date={_date_text(run_date)}/{publish}.json"


def summary_key(run_date: dt.date | str, publish: str) -> str:
    """The per-store and day totals one publish pass wrote (read for the day notification)."""
    return f"{SUMMARIES_ROOT}date={_date_text(run_date)}/{publish}.json"


def reports_day_key(run_date: dt.date | str) -> str:
    """Where Athena files the day's report results (one object per query run)."""
    return f"{REPORTS_ROOT}date={_date_text(run_date)}/"


def latest_report_key(run_date: dt.date | str) -> str:
    """The day's latest report: each publish copies its report here, replacing the last."""
    return f"{LATEST_REPORTS_ROOT}date={_date_text(run_date)}.csv"


@dataclass(frozen=True)
class StoreDay:
    """One store-day generation a publish includes, as listed in the manifest."""

    store_id: str
    run: str
    clean_uri: str

    def __post_init__(self) -> None:
        _checked(self.store_id, STORE_ID_PATTERN, "store id")
        _checked(self.run, RUN_ID_PATTERN, "run id")


@dataclass(frozen=True)
class Manifest:
    """What the publish state machine writes before aggregating: the day's store-days."""

    run_date: str
    publish: str
    store_days: tuple[StoreDay, ...]

    @classmethod
    def from_json(cls, document: Any) -> Manifest:
        """Parse (and check) a manifest document; a malformed one raises ValueError."""
        if not isinstance(document, dict):
            raise ValueError("a publish manifest must be a JSON object")
        try:
            store_days = tuple(
                StoreDay(store_id=item["store_id"], run=item["run"], clean_uri=item["clean_uri"])
                for item in document.get("store_days") or []
            )
            manifest = cls(
                run_date=_date_text(document["run_date"]),
                publish=str(document["publish"]),
                store_days=store_days,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed publish manifest: missing {error}") from None
        stores = [day.store_id for day in manifest.store_days]
        if len(stores) != len(set(stores)):
            raise ValueError(f"publish manifest lists a store twice: {sorted(stores)}")
        return manifest

    def to_json(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date,
            "publish": self.publish,
            "store_days": [
                {"store_id": d.store_id, "run": d.run, "clean_uri": d.clean_uri}
                for d in self.store_days
            ],
        }


def spark_type(ddl: str) -> Any:
    """The PySpark type of one of this module's Spark DDL type names."""
    from pyspark.sql import types

    simple = {
        "string": types.StringType(),
        "int": types.IntegerType(),
        "bigint": types.LongType(),
        "timestamp": types.TimestampType(),
    }
    if ddl in simple:
        return simple[ddl]
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", ddl)
    if decimal is None:
        raise ValueError(f"no Spark type for {ddl!r}")
    return types.DecimalType(int(decimal[1]), int(decimal[2]))


def spark_schema(columns: Sequence[Column]) -> Any:
    """A ``pyspark.sql.types.StructType`` of ``columns`` (PySpark imported on demand)."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(c.name, spark_type(c.spark), True) for c in columns])


def redshift_columns_ddl(columns: Sequence[Column], *, not_null: bool) -> str:
    """``name TYPE[ NOT NULL], ...`` for a Redshift CREATE TABLE."""
    suffix = " NOT NULL" if not_null else ""
    return ", ".join(f"{c.name} {c.redshift}{suffix}" for c in columns)
