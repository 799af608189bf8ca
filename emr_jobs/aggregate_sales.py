"""Stepline's EMR aggregation step: one publish of a day -> daily sales per store and category.

The publish state machine writes the pass's manifest (the store-day
generations the run ledger names as the day's data) and then adds this EMR
step (EMR 7.x, Spark 3.5)::

    spark-submit --deploy-mode cluster --py-files s3://<assets>/sales_lake.py \\
        s3://<assets>/aggregate_sales.py \\
        --manifest s3://<lake>/curated/_manifests/date=D/<publish>.json \\
        --lake-root s3://<lake>/

The step

1. reads the manifest (:class:`sales_lake.Manifest`): the run date, the
   publish id and, per store, the generation ``clean_uri``
   (``clean/sales/sale_date=D/store_id=S/run=R/``) to aggregate;
2. reads exactly those generations, in one scan, with the clean zone's
   schema; any other generation on disk (an older or a newer arrival of a
   store-day) is not read. ``store_id`` comes from each file's path;
3. aggregates per store and category and writes the pass's own generation of
   the day, ``<lake-root>curated/daily_sales/sale_date=D/publish=P/``
   (:func:`sales_lake.curated_generation_key`; ``P`` is the manifest's publish
   id), with Parquet files whose columns are :data:`sales_lake.CURATED_COLUMNS`,
   exactly, in this order::

       store_id string, category string, revenue decimal(18,2),
       units bigint, orders bigint, returns bigint

   (Redshift's ``COPY ... FORMAT AS PARQUET`` maps columns by position; Athena
   takes ``sale_date`` and ``publish`` from the directories, so they are not
   columns in the files; no ``_SUCCESS`` marker is written, because COPY loads
   every object under the prefix). No other generation is deleted or
   rewritten: a reader of the day's current generation (the run ledger's
   ``published_pass``) keeps seeing it whole while this one is written, and a
   step that dies half way leaves only an unreferenced folder behind;
4. writes the pass's summary, one JSON object, to
   ``<lake-root>curated/_summaries/date=D/<publish>.json``, which the "Read the
   day's summary" state reads::

       {"run_date": "D", "publish": "<publish>", "rows": <curated rows written>,
        "stores": [{"store_id": "0042", "run": "<R>", "revenue": "123.45",
                    "units": 10, "orders": 3, "returns": 1}, ...],
        "totals": {"revenue": "...", "units": ..., "orders": ..., "returns": ...}}

   ``stores`` holds every store of the manifest, sorted by store id, with zeros
   for a generation without rows; revenue is an exact decimal string with two
   places. A manifest without store-days (every store rejected) publishes an
   empty day: a Parquet file with the columns and no rows, and zero totals.

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
revenue. No measure is ever NULL. In the summary a store's ``orders`` counts
each order once across its categories, and the day's ``orders`` is the sum over
stores (an order id belongs to its store).

The script is uploaded to S3 with ``emr_jobs/sales_lake.py`` beside it
(``--py-files``); apart from that module it imports only PySpark and the
standard library.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructType

if TYPE_CHECKING:  # mypy checks against the repository's module
    from emr_jobs import sales_lake
else:
    try:  # on EMR the module ships beside the script (--py-files)
        import sales_lake
    except ModuleNotFoundError:  # installed from this repository
        from emr_jobs import sales_lake

logger = logging.getLogger("stepline.aggregate_sales")

#: The clean zone's file columns, which every generation the manifest lists has.
CLEAN_SCHEMA: StructType = sales_lake.spark_schema(sales_lake.CLEAN_COLUMNS)

#: The curated files' columns, in the order Redshift's COPY relies on.
CURATED_SCHEMA: StructType = sales_lake.spark_schema(sales_lake.CURATED_COLUMNS)
CURATED_COLUMNS: tuple[str, ...] = tuple(CURATED_SCHEMA.fieldNames())
REVENUE_TYPE = CURATED_SCHEMA["revenue"].dataType

#: What :func:`extract` returns: the clean columns the measures need, and the store.
CLEAN_INPUT_COLUMNS: tuple[str, ...] = ("store_id", "order_id", "category", "quantity", "revenue")

#: A clean file's path ends ``store_id=S/run=R/<file>``; the store id is taken from it.
_STORE_FROM_PATH = (
    rf"/store_id=({sales_lake.STORE_ID_PATTERN})/run={sales_lake.RUN_ID_PATTERN}/[^/]+$"
)
#: ``sales_lake.publish_id``'s shape; the publish id becomes a key segment.
_PUBLISH_PATTERN = sales_lake.PUBLISH_ID_PATTERN

_CENT = Decimal("0.01")

TextReader = Callable[[str], str]
TextWriter = Callable[[str, str], None]
UriResolver = Callable[[str], str]


# --------------------------------------------------------------------------- manifest


def parse_manifest(text: str, manifest_uri: str) -> sales_lake.Manifest:
    """Parse and check the manifest; a malformed one raises ValueError, naming ``manifest_uri``.

    The publish id becomes a key segment of the summary, so it must have
    :func:`sales_lake.publish_id`'s shape. Each ``clean_uri`` must be its store
    and run's generation (ending ``.../sale_date=D/store_id=S/run=R/``): the
    store id is read back from the files' paths. (The manifest may be read
    from anywhere: the local runtime passes a rewritten copy.)
    """
    manifest = sales_lake.Manifest.from_json(json.loads(text))
    if not re.fullmatch(_PUBLISH_PATTERN, manifest.publish):
        raise ValueError(
            f"manifest {manifest_uri}: publish id {manifest.publish!r} does not match"
            f" {_PUBLISH_PATTERN}"
        )
    for day in manifest.store_days:
        key = sales_lake.clean_run_key(manifest.run_date, day.store_id, day.run)
        if not sales_lake.as_prefix(day.clean_uri).endswith("/" + key):
            raise ValueError(
                f"manifest {manifest_uri}: store {day.store_id} run {day.run} lists "
                f"{day.clean_uri}, which is not its generation {key}"
            )
    return manifest


# --------------------------------------------------------------------------- extract


def extract(spark: SparkSession, clean_uris: Sequence[str]) -> DataFrame:
    """Read exactly the given generations in one scan: :data:`CLEAN_INPUT_COLUMNS`.

    Each generation folder is named directly, so nothing else under the day
    is listed or read, and ``store_id`` is cut from each file's path
    (``_metadata.file_path``, Spark's own column) as a string, so ``0042``
    stays ``0042``. With no generations the frame is empty.
    """
    if not clean_uris:
        empty = spark.createDataFrame([], CLEAN_SCHEMA)
        return empty.select(
            F.lit(None).cast(StringType()).alias("store_id"), *CLEAN_INPUT_COLUMNS[1:]
        )
    files = spark.read.schema(CLEAN_SCHEMA).parquet(*clean_uris)
    store_id = F.regexp_extract(F.col("_metadata.file_path"), _STORE_FROM_PATH, 1)
    return files.select(store_id.alias("store_id"), *CLEAN_INPUT_COLUMNS[1:])


# --------------------------------------------------------------------------- transform


def _measures(order_id: str = "order_id") -> list[Column]:
    """revenue, units, orders, returns over the group (see the module docstring)."""
    is_sale = F.col("quantity") > 0
    is_return = F.col("quantity") < 0
    zero = F.lit(0).cast(LongType())
    return [
        F.sum("revenue").alias("revenue"),
        F.sum(F.when(is_sale, F.col("quantity").cast(LongType())).otherwise(zero)).alias("units"),
        # count(DISTINCT x) skips NULLs, so return-only orders are not counted.
        F.countDistinct(F.when(is_sale, F.col(order_id))).alias("orders"),
        F.sum(F.when(is_return, -F.col("quantity").cast(LongType())).otherwise(zero)).alias(
            "returns"
        ),
    ]


def aggregate(clean: DataFrame) -> DataFrame:
    """Daily sales per store and category (pure: DataFrame in, DataFrame out).

    ``clean`` needs ``store_id, category, order_id, quantity, revenue``; the
    result has exactly :data:`CURATED_COLUMNS`. See the module docstring for
    what each measure means.
    """
    daily = clean.groupBy("store_id", "category").agg(*_measures())
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


def store_totals(clean: DataFrame) -> DataFrame:
    """The day's measures per store (pure): ``store_id, revenue, units, orders, returns``.

    Computed from the clean lines, not from :func:`aggregate`'s rows, because a
    store's ``orders`` counts an order once even when it spans categories.
    ``revenue`` keeps the sum's exact decimal(28,2).
    """
    return clean.groupBy("store_id").agg(*_measures())


def check_stores_read(manifest: sales_lake.Manifest, store_rows: Sequence[Row]) -> None:
    """Raise ValueError if rows were read for a store the manifest does not list.

    The store id comes from the files' paths; a path the pattern does not
    match (or a resolver that renamed it) would otherwise file rows under
    ``""`` or under the wrong store.
    """
    unknown = sorted(
        {row["store_id"] for row in store_rows} - {d.store_id for d in manifest.store_days}
    )
    if unknown:
        raise ValueError(f"read rows of stores {unknown}, which the manifest does not list")


def summary_document(
    manifest: sales_lake.Manifest, store_rows: Sequence[Row], rows: int
) -> dict[str, Any]:
    """The summary JSON of one publish (pure Python): every manifest store, and the totals.

    A store of the manifest without rows gets zeros.
    """
    check_stores_read(manifest, store_rows)
    measured = {row["store_id"]: row for row in store_rows}
    stores: list[dict[str, Any]] = []
    for day in sorted(manifest.store_days, key=lambda d: d.store_id):
        row = measured.get(day.store_id)
        stores.append(
            {
                "store_id": day.store_id,
                "run": day.run,
                "revenue": Decimal(0) if row is None else row["revenue"],
                "units": 0 if row is None else int(row["units"]),
                "orders": 0 if row is None else int(row["orders"]),
                "returns": 0 if row is None else int(row["returns"]),
            }
        )
    totals: dict[str, Any] = {
        measure: sum(
            (store[measure] for store in stores), Decimal(0) if measure == "revenue" else 0
        )
        for measure in sales_lake.SUMMARY_MEASURES
    }
    for measures in (*stores, totals):
        measures["revenue"] = _decimal_text(measures["revenue"])
    return {
        "run_date": manifest.run_date,
        "publish": manifest.publish,
        "rows": rows,
        "stores": stores,
        "totals": totals,
    }


def _decimal_text(value: Decimal) -> str:
    """``123.45``: exact, two places, never an exponent (DynamoDB's N and people read it)."""
    return f"{value.quantize(_CENT):f}"


# --------------------------------------------------------------------------- load


def load(daily: DataFrame, curated_uri: str) -> None:
    """Write ``daily`` as the pass's generation folder (one file, sorted by store and category).

    ``curated_uri`` is this pass's own folder, which nobody reads before the
    pass points at it, so mode ``overwrite`` only ever replaces what an earlier
    attempt of the same pass left. One store x category row per line is small, so one file; sorted
    so reruns produce the same file content. An empty ``daily`` still writes
    one Parquet file with the columns, which COPY loads as zero rows. The
    option keeps the ``_SUCCESS`` marker out of the prefix whatever the
    session's configuration (it is passed to this write's Hadoop job).
    """
    (
        daily.select(*CURATED_COLUMNS)
        .coalesce(1)
        .sortWithinPartitions("store_id", "category")
        .write.mode("overwrite")
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .parquet(curated_uri)
    )


# --------------------------------------------------------------------------- one object


def read_text_with_spark(spark: SparkSession, uri: str) -> str:
    """The whole text of one object, read through Spark (any filesystem Spark can read)."""
    first = spark.read.text(uri, wholetext=True).first()
    if first is None:
        raise ValueError(f"{uri} is empty")
    text: str = first["value"]
    return text


def write_text_with_hadoop(spark: SparkSession, uri: str, text: str) -> None:
    """Write ``text`` as one object at ``uri`` through Hadoop's FileSystem API (overwriting).

    This is what works on EMR without extra packages: the JVM's FileSystem
    for the URI's scheme (EMRFS for ``s3://``, which uploads the object when
    the stream closes, so a reader never sees half of it; the local
    filesystem for ``file://`` and plain paths), reached through the py4j
    gateway. Spark's writers would make a folder of part files instead.
    ``uri`` is taken as Spark takes paths: literally, not percent-decoded.
    """
    jvm: Any = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(hadoop_conf).create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


# --------------------------------------------------------------------------- run


def run(
    spark: SparkSession,
    manifest_uri: str,
    lake_root: str,
    *,
    read_text: TextReader | None = None,
    write_text: TextWriter | None = None,
    resolve_uri: UriResolver | None = None,
) -> dict[str, Any]:
    """Publish one pass of a day end to end; returns the summary it wrote.

    ``read_text(uri)`` reads the manifest and ``write_text(uri, text)`` writes
    the summary (default: through Spark and Hadoop, see
    :func:`read_text_with_spark` and :func:`write_text_with_hadoop`).
    ``resolve_uri`` maps each manifest ``clean_uri`` to what Spark reads
    (default: as is); the result must keep the ``store_id=S/run=R/`` ending.
    The curated day goes to ``lake_root`` + :func:`sales_lake.curated_generation_key`
    and the summary to ``lake_root`` + :func:`sales_lake.summary_key`. Stepline's
    local runtime calls it with a local ``lake_root`` and its own functions.

    Fails before writing anything if the manifest is malformed or a listed
    generation is missing (Spark's ``PATH_NOT_FOUND``).
    """
    read_text = read_text or functools.partial(read_text_with_spark, spark)
    write_text = write_text or functools.partial(write_text_with_hadoop, spark)
    lake_root = sales_lake.as_prefix(lake_root)
    manifest = parse_manifest(read_text(manifest_uri), manifest_uri)
    curated_uri = lake_root + sales_lake.curated_generation_key(
        manifest.run_date, manifest.publish
    )
    summary_uri = lake_root + sales_lake.summary_key(manifest.run_date, manifest.publish)
    resolve = resolve_uri or str
    clean_uris = [resolve(day.clean_uri) for day in manifest.store_days]
    logger.info("aggregating %s into %s", clean_uris, curated_uri)
    # Persisted: the clean lines are read once for the store totals and the curated day.
    clean = extract(spark, clean_uris).persist()
    try:
        # One row per store of the manifest: the only rows of data brought to the driver.
        # Collected before the curated day is replaced, so a misread fails first.
        store_rows = store_totals(clean).collect()
        check_stores_read(manifest, store_rows)
        load(aggregate(clean), curated_uri)
    finally:
        clean.unpersist()
    # Counted from the written files' footers: cheap, and it is what Redshift will load.
    rows = spark.read.schema(CURATED_SCHEMA).parquet(curated_uri).count()
    summary = summary_document(manifest, store_rows, rows)
    # Last, so the summary only exists once the day it describes does.
    write_text(summary_uri, json.dumps(summary))
    logger.info("published %s: %s", curated_uri, json.dumps(summary["totals"]))
    return summary


def argument_parser() -> argparse.ArgumentParser:
    """The step's flags, as the publish state machine passes them."""
    parser = argparse.ArgumentParser(
        prog="aggregate_sales.py",
        description="Aggregate the store-day generations of one publish manifest.",
    )
    parser.add_argument(
        "--manifest",
        required=True,
        help="e.g. s3://<lake>/curated/_manifests/date=D/<publish>.json",
    )
    parser.add_argument("--lake-root", required=True, help="e.g. s3://<lake>/")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``manifest`` and ``lake_root`` from ``--manifest URI --lake-root URI``."""
    return argument_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``spark-submit`` entry point: parse the arguments, build the session, run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    publish = PurePosixPath(urlparse(args.manifest).path).stem
    spark = (
        SparkSession.builder.appName(f"stepline-aggregate-sales-{publish}")
        # No _SUCCESS marker in the curated prefix: Redshift COPY loads every
        # object under it, and the marker is not Parquet.
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    run(spark, args.manifest, args.lake_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
