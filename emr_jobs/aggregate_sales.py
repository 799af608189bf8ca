"""Stepline's EMR aggregation step: a day of clean sales -> daily sales per store and category.

The state machine's "Aggregate the day's sales" state adds this EMR step
(EMR 7.x, Spark 3.5)::

    spark-submit --deploy-mode cluster aggregate_sales.py \\
        --run-date 2026-11-20 \\
        --clean-root s3://<lake>/clean/sales/ \\
        --curated-root s3://<lake>/curated/daily_sales/

It reads every store's clean Parquet of the day (``<clean-root>sale_date=D/``),
aggregates per store and category, and replaces
``<curated-root>sale_date=D/`` with Parquet files whose columns are exactly,
in this order::

    store_id string, category string, revenue decimal(18,2),
    units bigint, orders bigint, returns bigint

The order matters: Redshift's ``COPY ... FORMAT AS PARQUET`` maps columns by
position into the stage table, and Athena takes ``sale_date`` from the
partition directory (so it is not a column in the files).

The measures, per (store, category, day):

``revenue``
    Net revenue: the sum of ``quantity x unit_price`` over every line, so a
    return (negative quantity) subtracts its value. It can be negative.
``units``
    Units sold: the sum of the positive quantities. Returns do not reduce it.
``orders``
    Distinct ``order_id`` with at least one sale line (positive quantity) in the
    category. An order holding only returns is not counted.
``returns``
    Units returned: the sum of ``-quantity`` over lines with a negative quantity.

So ``units - returns`` is the net unit movement, and a category with only
returns that day has ``units = 0, orders = 0, returns > 0`` and a negative
revenue. No measure is ever NULL.

The script is uploaded to S3 on its own, so it imports nothing from Stepline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

logger = logging.getLogger("stepline.aggregate_sales")

REVENUE_TYPE = DecimalType(18, 2)

#: What the aggregation reads from the clean zone. ``store_id`` is the
#: partition directory; naming it here as a string stops Spark from inferring
#: store ``0042`` as the integer 42.
CLEAN_INPUT_SCHEMA = StructType(
    [
        StructField("order_id", StringType(), True),
        StructField("category", StringType(), True),
        StructField("quantity", IntegerType(), True),
        StructField("revenue", REVENUE_TYPE, True),
        StructField("store_id", StringType(), True),
    ]
)

#: The curated files' columns, in the order Redshift's COPY relies on.
CURATED_SCHEMA = StructType(
    [
        StructField("store_id", StringType(), True),
        StructField("category", StringType(), True),
        StructField("revenue", REVENUE_TYPE, True),
        StructField("units", LongType(), True),
        StructField("orders", LongType(), True),
        StructField("returns", LongType(), True),
    ]
)
CURATED_COLUMNS: tuple[str, ...] = tuple(field.name for field in CURATED_SCHEMA.fields)


def _as_prefix(uri: str) -> str:
    if not uri or not uri.strip():
        raise ValueError("a path/URI argument is empty")
    return uri.rstrip("/") + "/"


def _as_date(run_date: dt.date | str) -> dt.date:
    if isinstance(run_date, dt.date):
        return run_date
    try:
        return dt.date.fromisoformat(run_date)
    except ValueError:
        raise ValueError(f"run date {run_date!r} is not a YYYY-MM-DD date") from None


def clean_partition_uri(clean_root: str, run_date: dt.date | str) -> str:
    """The day's directory in the clean zone: one ``store_id=S/`` sub-directory per store."""
    return f"{_as_prefix(clean_root)}sale_date={_as_date(run_date).isoformat()}/"


def curated_partition_uri(curated_root: str, run_date: dt.date | str) -> str:
    """The day's directory in the curated zone, which this step owns and replaces."""
    return f"{_as_prefix(curated_root)}sale_date={_as_date(run_date).isoformat()}/"


def extract(spark: SparkSession, clean_uri: str) -> DataFrame:
    """Read one day of clean Parquet, all stores, with ``store_id`` from the directories."""
    return spark.read.schema(CLEAN_INPUT_SCHEMA).parquet(clean_uri)


def aggregate(clean: DataFrame) -> DataFrame:
    """Daily sales per store and category (pure: DataFrame in, DataFrame out).

    ``clean`` needs ``store_id, category, order_id, quantity, revenue``; the
    result has exactly :data:`CURATED_COLUMNS`. See the module docstring for
    what each measure means.
    """
    is_sale = F.col("quantity") > 0
    is_return = F.col("quantity") < 0
    daily = clean.groupBy("store_id", "category").agg(
        F.sum("revenue").alias("revenue"),
        F.sum(
            F.when(is_sale, F.col("quantity").cast(LongType())).otherwise(F.lit(0).cast(LongType()))
        ).alias("units"),
        # count(DISTINCT x) skips NULLs, so return-only orders are not counted.
        F.countDistinct(F.when(is_sale, F.col("order_id"))).alias("orders"),
        F.sum(
            F.when(is_return, -F.col("quantity").cast(LongType())).otherwise(
                F.lit(0).cast(LongType())
            )
        ).alias("returns"),
    )
    return daily.select(
        F.col("store_id").cast(StringType()).alias("store_id"),
        F.col("category").cast(StringType()).alias("category"),
        # sum(decimal(18,2)) widens to decimal(28,2); the files keep the
        # warehouse's decimal(18,2).
        F.col("revenue").cast(REVENUE_TYPE).alias("revenue"),
        F.col("units").cast(LongType()).alias("units"),
        F.col("orders").cast(LongType()).alias("orders"),
        F.col("returns").cast(LongType()).alias("returns"),
    )


def load(daily: DataFrame, curated_uri: str) -> None:
    """Replace the day's curated directory with ``daily`` (one file, sorted by store and category).

    Writing to the day's own directory with mode ``overwrite`` replaces that
    day only. One store x category row per line is small, so one file; sorted
    so reruns produce the same file content.
    """
    (
        daily.select(*CURATED_COLUMNS)
        .coalesce(1)
        .sortWithinPartitions("store_id", "category")
        .write.mode("overwrite")
        .parquet(curated_uri)
    )


def run(
    spark: SparkSession, run_date: dt.date | str, clean_root: str, curated_root: str
) -> dict[str, Any]:
    """Aggregate one day end to end; returns where it wrote and how many rows.

    Used by :func:`main` on EMR and by Stepline's local runtime with local
    paths. Fails (Spark's ``PATH_NOT_FOUND``) if the day has no clean data.
    """
    day = _as_date(run_date)
    clean_uri = clean_partition_uri(clean_root, day)
    curated_uri = curated_partition_uri(curated_root, day)
    logger.info("aggregating %s into %s", clean_uri, curated_uri)
    load(aggregate(extract(spark, clean_uri)), curated_uri)
    # Counted from the written files' footers: cheap, and it is what Redshift will load.
    rows = spark.read.schema(CURATED_SCHEMA).parquet(curated_uri).count()
    result = {"run_date": day.isoformat(), "curated_uri": curated_uri, "rows": rows}
    logger.info("aggregated %s", json.dumps(result))
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aggregate_sales.py",
        description="Aggregate one day of Stepline clean sales per store and category.",
    )
    parser.add_argument("--run-date", required=True, type=_as_date, help="YYYY-MM-DD")
    parser.add_argument("--clean-root", required=True, help="e.g. s3://<lake>/clean/sales/")
    parser.add_argument(
        "--curated-root", required=True, help="e.g. s3://<lake>/curated/daily_sales/"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``spark-submit`` entry point: parse the arguments, build the session, run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    spark = (
        SparkSession.builder.appName(f"stepline-aggregate-sales-{args.run_date.isoformat()}")
        # No _SUCCESS marker in the curated prefix: Redshift COPY loads every
        # object under it, and the marker is not Parquet.
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    run(spark, args.run_date, args.clean_root, args.curated_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
