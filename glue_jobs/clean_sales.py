"""Stepline's Glue clean job: one store-day of validated sales -> typed, deduplicated Parquet.

The arrival state machine's "Clean the sales file" state starts this job (AWS
Glue 5.0, Spark 3.5.4, Python 3.11) once per arrival ``R`` (its execution
name) with::

    --run_date 2026-11-20 --store_id 0042 --run_id R
    --validated_prefix s3://<lake>/validated/sales/date=2026-11-20/store=0042/run=R/
    --lake_root s3://<lake>/

and the job

1. extracts every validated CSV of the arrival (``<validated_prefix>*.{csv,csv.gz}``:
   gzip, or plain where validation copied a clean ``.csv`` as it was), reading
   all columns as text with an explicit schema (a plain file line by line, in
   parts on every core; a gzip one whole, with ``multiLine``);
2. transforms: trims, types (``sold_at`` -> UTC timestamp plus its original
   offset, ``quantity``, ``unit_price`` and ``revenue`` = quantity x unit_price
   to the clean zone's types, :data:`sales_lake.CLEAN_COLUMNS`) and removes
   duplicate ``(order_id, sku)`` lines, keeping the latest ``sold_at``;
3. loads the result to this arrival's own generation of the store-day,
   ``<lake_root>clean/sales/sale_date=D/store_id=S/run=R/``
   (:func:`sales_lake.clean_run_key`), replacing that one folder: a retry of
   the arrival replaces it, and another arrival's generation of the same
   store-day, other stores and other days are never touched (the run ledger,
   not this job, says which generation is the store-day's data);
4. writes the counts ``{"run_date", "store_id", "rows_in", "duplicates_removed",
   "rows_out"}`` as one JSON object to
   ``<lake_root>clean/_metrics/date=D/store=S/run=R.json``
   (:func:`sales_lake.clean_metrics_key`), which the next state reads.

Glue uploads this file as the job script and ships ``emr_jobs/sales_lake.py``
beside it (``--extra-py-files``); apart from that module it imports only
PySpark, boto3 and the standard library. Glue-only modules are imported inside
:func:`main`, so the module (and its tests) run on plain PySpark, and the local
runtime calls :func:`run` with local paths.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from pyspark.sql import Column, DataFrame, DataFrameReader, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, StringType, StructField, StructType

if TYPE_CHECKING:  # mypy checks against the repository's module
    from emr_jobs import sales_lake
else:
    try:  # on Glue the module ships beside the script (--extra-py-files)
        import sales_lake
    except ModuleNotFoundError:  # installed from this repository
        from emr_jobs import sales_lake

logger = logging.getLogger("stepline.clean_sales")

#: The canonical column order of validated files. It mirrors
#: ``sales_contract.rules.COLUMNS`` (Glue cannot import the Lambda package; a
#: test keeps the two equal).
RAW_COLUMNS: tuple[str, ...] = (
    "order_id",
    "store_id",
    "sold_at",
    "sku",
    "category",
    "quantity",
    "unit_price",
)

#: Every column is read as text and typed afterwards, so a value Spark cannot
#: type is seen (and fails the job) instead of silently becoming NULL at read time.
RAW_SCHEMA = StructType([StructField(name, StringType(), True) for name in RAW_COLUMNS])

#: Mirrors ``sales_contract.layout.STORE_ID_PATTERN`` (a test keeps them equal);
#: the store id becomes a path segment, so anything else is refused before a
#: byte is written.
STORE_ID_PATTERN = sales_lake.STORE_ID_PATTERN

#: The clean zone's Parquet columns, names and types in file order, as the lake
#: layout defines them. ``store_id`` and ``sale_date`` are not stored in the
#: files: they are the Hive partition directories (and ``run`` the generation).
CLEAN_SCHEMA: StructType = sales_lake.spark_schema(sales_lake.CLEAN_COLUMNS)
CLEAN_FILE_COLUMNS: tuple[str, ...] = tuple(CLEAN_SCHEMA.fieldNames())

#: The types :func:`standardise` gives the values, so the file has the zone's types.
QUANTITY_TYPE: DataType = CLEAN_SCHEMA["quantity"].dataType
UNIT_PRICE_TYPE: DataType = CLEAN_SCHEMA["unit_price"].dataType
REVENUE_TYPE: DataType = CLEAN_SCHEMA["revenue"].dataType

#: Columns of the typed record produced by :func:`standardise`, in order: the
#: store id (checked against the run's, then dropped) and the clean file's
#: columns. ``sold_at`` is the UTC instant; ``sold_at_offset`` keeps the offset
#: the store wrote (``+05:30``; ``Z`` becomes ``+00:00``) so local time can be rebuilt.
TYPED_COLUMNS: tuple[str, ...] = ("store_id", *CLEAN_FILE_COLUMNS)

#: The keys of the metrics JSON, which the state machine and notification read.
METRICS_KEYS: tuple[str, ...] = (
    "run_date",
    "store_id",
    "rows_in",
    "duplicates_removed",
    "rows_out",
)

#: Rows per Parquet file of a generation (about 40 MB at the clean zone's ~40
#: bytes a row): see :func:`load`.
ROWS_PER_FILE = 1_000_000

MetricsWriter = Callable[[str, dict[str, Any]], None]


class ContractBreachError(ValueError):
    """Validated rows that the clean job cannot type or place: the upstream check let them by.

    The job fails rather than write NULLs or misfiled rows; the message names
    each broken rule and how many rows break it.
    """


def _parse_run_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--run_date {text!r} is not a YYYY-MM-DD date") from None


@dataclass(frozen=True)
class CleanArgs:
    """The clean job's arguments, checked once: a bad value fails before Spark does any work.

    ``run_date`` may be given as a date or as ``YYYY-MM-DD`` text. ``run_id`` is
    the arrival's execution name: the generation this run writes. Paths may be
    ``s3://`` URIs (Glue), ``file://`` URIs or plain local paths (the local
    runtime); the lake root and the prefix get a trailing ``/``.
    """

    run_date: dt.date
    store_id: str
    run_id: str
    validated_prefix: str
    lake_root: str

    #: The job's argument names, as Glue passes them (``--run_date`` ...).
    OPTION_NAMES = ("run_date", "store_id", "run_id", "validated_prefix", "lake_root")

    def __post_init__(self) -> None:
        if isinstance(self.run_date, str):
            object.__setattr__(self, "run_date", _parse_run_date(self.run_date))
        if not isinstance(self.run_date, dt.date):
            raise TypeError(f"run_date must be a date or YYYY-MM-DD text, got {self.run_date!r}")
        # Both become path segments: the layout refuses anything but its safe characters.
        sales_lake.clean_run_key(self.run_date, self.store_id, self.run_id)
        for name in ("validated_prefix", "lake_root"):
            object.__setattr__(self, name, sales_lake.as_prefix(getattr(self, name)))

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CleanArgs:
        """Build from a name -> value mapping such as Glue's ``getResolvedOptions`` result."""
        missing = [name for name in cls.OPTION_NAMES if not options.get(name)]
        if missing:
            raise ValueError(
                f"missing clean job argument(s): {', '.join('--' + m for m in missing)}"
            )
        return cls(
            run_date=_parse_run_date(options["run_date"]),
            store_id=options["store_id"],
            run_id=options["run_id"],
            validated_prefix=options["validated_prefix"],
            lake_root=options["lake_root"],
        )

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> CleanArgs:
        """Parse ``--run_date D --store_id S ...`` (the Glue argument names) without Glue."""
        parser = argparse.ArgumentParser(
            prog="clean_sales.py", description="Clean one arrival of a store-day's sales."
        )
        for name in cls.OPTION_NAMES:
            parser.add_argument(f"--{name}", required=True)
        return cls.from_options(vars(parser.parse_args(list(argv))))

    @property
    def run_date_text(self) -> str:
        return self.run_date.isoformat()

    @property
    def source_glob(self) -> str:
        """Every validated file of the arrival (one per raw file the store sent).

        Gzip CSV, or plain CSV: the validator copies a clean ``.csv`` already in
        the validated form as it is (``RawSalesKey.validated_key``). Spark picks
        the codec by each file's extension.
        """
        return f"{self.validated_prefix}*.{{csv,csv.gz}}"

    @property
    def partition_uri(self) -> str:
        """This run's generation of the store-day: the one folder it owns and replaces."""
        return self.lake_root + sales_lake.clean_run_key(self.run_date, self.store_id, self.run_id)

    @property
    def metrics_uri(self) -> str:
        """Where the counts go; the state machine reads the same key."""
        return self.lake_root + sales_lake.clean_metrics_key(
            self.run_date, self.store_id, self.run_id
        )


# --------------------------------------------------------------------------- extract


def validated_files(spark: SparkSession, source_glob: str) -> tuple[list[str], list[str]]:
    """The files ``source_glob`` matches, through Hadoop's FileSystem API: (gzip, plain).

    One ``LIST`` on S3 (Glue) or a directory listing (local paths). A glob that
    matches nothing is an error, as Spark's own reader makes it: an accepted
    arrival always has its validated file.
    """
    jvm: Any = spark.sparkContext._jvm
    pattern = jvm.org.apache.hadoop.fs.Path(source_glob)
    filesystem = pattern.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    statuses = filesystem.globStatus(pattern) or []
    paths = sorted(str(status.getPath().toString()) for status in statuses)
    if not paths:
        raise FileNotFoundError(f"no validated file matches {source_glob}")
    compressed = [path for path in paths if path.endswith(".csv.gz")]
    return compressed, [path for path in paths if not path.endswith(".csv.gz")]


def _csv_reader(spark: SparkSession, *, multi_line: bool) -> DataFrameReader:
    return (
        spark.read.schema(RAW_SCHEMA)
        .option("header", "true")
        .option("enforceSchema", "false")
        .option("multiLine", "true" if multi_line else "false")
        .option("quote", '"')
        .option("escape", '"')
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
    )


def extract(spark: SparkSession, source_glob: str) -> DataFrame:
    """Read validated CSVs (gzip or plain) as all-text columns in the contract's order.

    ``enforceSchema=false`` makes Spark check each file's header against the
    schema, so a file with moved columns fails instead of being read shifted.

    A gzip file is read with ``multiLine``: a good row may hold a quoted line
    break, and the validator writes such rows into its gzip output. A plain
    ``.csv`` is only ever the validator's copy of a raw file it proved to be in
    the validated form line by line, which a quoted line break is not (the
    deferral stops there, and the file is written as gzip; see
    ``RawSalesKey.validated_key``): every record is one line, so it is read
    line by line, which lets Spark split the file and parse its parts on every
    core. (A gzip object cannot be split: one task parses it, whatever the
    cluster's size.)
    """
    compressed, plain = validated_files(spark, source_glob)
    frames = [_csv_reader(spark, multi_line=True).csv(compressed)] if compressed else []
    if plain:
        frames.append(_csv_reader(spark, multi_line=False).csv(plain))
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame


# --------------------------------------------------------------------------- transform


def _offset(sold_at: Column) -> Column:
    """The offset a ``sold_at`` ends with (``Z`` as ``+00:00``), NULL when it has none.

    Validated rows always match the contract's ``...SS[.f](Z|+hh:mm|-hh:mm)``, so
    looking at its last characters is enough (and far cheaper than a regex); a
    naive time (none) would be cast in the session's zone and silently shift, so
    it is typed NULL and :func:`contract_breaches` refuses it.
    """
    has_offset = F.substring(sold_at, -6, 1).isin("+", "-") & (F.substring(sold_at, -3, 1) == ":")
    return F.when(sold_at.endswith("Z"), F.lit("+00:00")).when(
        has_offset, F.substring(sold_at, -6, 6)
    )


def standardise(raw: DataFrame) -> DataFrame:
    """Type one store-day of validated rows (pure: DataFrame in, DataFrame out).

    It relies on what validation guarantees of every ``validated/`` row (the
    values are exactly as the contract says: no whitespace at the edges of a
    text, ``quantity`` a non-zero 32-bit integer, ``unit_price`` at most 10
    digits and 2 places, ``sold_at`` ISO-8601 with an offset): re-checking that
    with a regex and a trim on every column cost about 9 times the CSV parse.
    What is left are cheap assertions: a value that cannot be typed becomes NULL
    here, and :func:`contract_breaches` counts those and :func:`run` refuses to
    write them.
    """
    sold_at = F.col("sold_at")
    offset = _offset(sold_at)
    quantity = F.col("quantity").cast(QUANTITY_TYPE)
    unit_price = F.col("unit_price").cast(UNIT_PRICE_TYPE)
    return raw.select(
        F.col("order_id"),
        F.col("store_id"),
        F.when(offset.isNotNull(), sold_at.cast("timestamp")).alias("sold_at"),
        offset.alias("sold_at_offset"),
        F.col("sku"),
        F.col("category"),
        quantity.alias("quantity"),
        unit_price.alias("unit_price"),
        # int x decimal(12,2) is exact in decimal(23,2); the cast to (18,2)
        # yields NULL on overflow, which contract_breaches reports.
        (quantity.cast(DecimalType(10, 0)) * unit_price).cast(REVENUE_TYPE).alias("revenue"),
        # The local calendar date the store wrote, for the run-date check.
        F.substring(sold_at, 1, 10).alias("_local_date"),
    )


#: A sales line's identity: a store re-sending a line repeats these two values.
LINE_KEY: tuple[str, ...] = ("order_id", "sku")


def cluster_lines(raw: DataFrame) -> DataFrame:
    """Spread the rows over the cluster by :data:`LINE_KEY`, so the rest of the job is parallel.

    A validated gzip file is one object Spark cannot split: one task
    decompresses and parses it, whatever the cluster's size (a copied plain
    ``.csv`` is parsed in parts, see :func:`extract`, but by byte ranges, not
    by key). Shuffling the raw text straight after the parse (the exchange
    :func:`dedupe` needs anyway, moved before the typing) lets every core
    type, deduplicate and write its share instead of the parsing task doing it
    all. No partition
    count is given: the session's ``spark.sql.shuffle.partitions``, which
    adaptive query execution (on by default in Spark 3.5 and so on Glue 5.0)
    coalesces to what the data needs, so a small arrival stays one partition
    and one file.
    """
    return raw.repartition(*LINE_KEY)


#: The column :func:`rank_lines` adds: 1 for the line of a key that is kept.
LINE_RANK = "_line_rank"


def rank_lines(typed: DataFrame) -> DataFrame:
    """Number the lines of each ``(order_id, sku)`` newest first, in :data:`LINE_RANK`.

    The newest is the one with the latest ``sold_at``. Ties on ``sold_at`` are
    broken on the remaining columns in a fixed order, so the same input always
    ranks the same line first whatever order Spark reads it in; lines equal in
    every column are interchangeable. After :func:`cluster_lines` the rows are
    already partitioned by the key, so the window adds no second shuffle.
    """
    newest_first = Window.partitionBy(*LINE_KEY).orderBy(
        F.col("sold_at").desc_nulls_last(),
        F.col("quantity").desc_nulls_last(),
        F.col("unit_price").desc_nulls_last(),
        F.col("category").asc_nulls_last(),
        F.col("sold_at_offset").asc_nulls_last(),
        F.col("store_id").asc_nulls_last(),
    )
    return typed.withColumn(LINE_RANK, F.row_number().over(newest_first))


def newest_lines(ranked: DataFrame) -> DataFrame:
    """The first line of each key of :func:`rank_lines`' output, without the rank."""
    return ranked.where(F.col(LINE_RANK) == 1).drop(LINE_RANK)


def dedupe(typed: DataFrame) -> DataFrame:
    """Keep one line per ``(order_id, sku)``: the one with the latest ``sold_at``.

    A store re-sending a line (a corrected quantity or price, or the same file
    twice) is a duplicate, not a second sale (see :func:`rank_lines`).
    """
    return newest_lines(rank_lines(typed))


def transform(raw: DataFrame) -> DataFrame:
    """Validated text rows -> the clean store-day: :func:`standardise` then :func:`dedupe`."""
    return dedupe(standardise(raw)).select(*TYPED_COLUMNS)


def breach_rules(run_date: dt.date, store_id: str) -> dict[str, Column]:
    """Each rule of the contract the clean job asserts, as a condition true for a row breaking it.

    They are evaluated on :func:`standardise`'s output: a value that could not
    be typed is NULL there.
    """
    return {
        "order_id is empty": F.col("order_id").isNull(),
        f"store_id is not {store_id}": ~F.col("store_id").eqNullSafe(F.lit(store_id)),
        "sold_at is not an ISO-8601 timestamp with an offset": F.col("sold_at").isNull(),
        f"sold_at's local date is not {run_date.isoformat()}": ~F.col("_local_date").eqNullSafe(
            F.lit(run_date.isoformat())
        ),
        "sku is empty": F.col("sku").isNull(),
        "category is empty": F.col("category").isNull(),
        "quantity is not a 32-bit integer": F.col("quantity").isNull(),
        "unit_price is not a decimal(12,2)": F.col("unit_price").isNull(),
        "revenue overflows decimal(18,2)": F.col("unit_price").isNotNull()
        & F.col("quantity").isNotNull()
        & F.col("revenue").isNull(),
    }


def _breach_aggregates(rules: Mapping[str, Column]) -> list[Column]:
    """``rows`` and, per rule, ``rule_<i>``: how many rows break it."""
    return [F.count(F.lit(1)).alias("rows")] + [
        F.sum(F.when(broken, 1).otherwise(0)).alias(f"rule_{index}")
        for index, broken in enumerate(rules.values())
    ]


def _breach_counts(rules: Mapping[str, Column], totals: Mapping[str, Any]) -> dict[str, int]:
    """The rules some row breaks, with how many rows do, from :func:`_breach_aggregates`' values."""
    return {
        rule: int(totals[f"rule_{index}"] or 0)
        for index, rule in enumerate(rules)
        if totals[f"rule_{index}"]
    }


def contract_breaches(
    typed: DataFrame, run_date: dt.date, store_id: str
) -> tuple[int, dict[str, int]]:
    """Count the rows and, per broken rule, the rows that break it (one pass over the data).

    The validation Lambda already enforces the contract; this re-check is
    cheap and keeps a contract drift from writing NULLs or another store's rows
    into this store's partition. (:func:`run` makes the same counts while it
    writes, with :class:`pyspark.sql.Observation`, instead of a pass of its own.)
    """
    rules = breach_rules(run_date, store_id)
    totals = typed.agg(*_breach_aggregates(rules)).first()
    assert totals is not None  # a global aggregate always returns one row
    return int(totals["rows"]), _breach_counts(rules, totals.asDict())


# --------------------------------------------------------------------------- load


def load(clean: DataFrame, partition_uri: str) -> None:
    """Replace one generation of a store-day (``partition_uri``) with ``clean``.

    Writing straight to the generation's directory with mode ``overwrite``
    replaces exactly that directory, whatever ``partitionOverwriteMode`` is,
    so no other generation, store or day can be touched. Files are sized by
    rows, not forced into one: ``coalesce(1)`` made a single task write a
    multi-GB store-day (no parallelism, one huge file for the aggregation to
    read in one task). Each of ``clean``'s partitions (see
    :func:`cluster_lines`: adaptive execution sizes them by the shuffled
    bytes, so a small arrival is one partition) is written by its own task,
    and ``maxRecordsPerFile`` cuts a file at :data:`ROWS_PER_FILE` rows.
    Counting the rows first to choose a partition count would cost a pass
    over the data. The columns are checked against :data:`CLEAN_SCHEMA`
    first: the aggregation step reads the files with that schema, so a drift
    must fail here, not there.
    """
    files = clean.select(*CLEAN_FILE_COLUMNS)
    got = [(field.name, field.dataType) for field in files.schema.fields]
    want = [(field.name, field.dataType) for field in CLEAN_SCHEMA.fields]
    if got != want:
        raise TypeError(f"clean rows have columns {got}, the clean zone's are {want}")
    (
        files.write.option("maxRecordsPerFile", ROWS_PER_FILE)
        .mode("overwrite")
        .parquet(partition_uri)
    )


def remove_generation(spark: SparkSession, partition_uri: str) -> None:
    """Delete a generation folder and everything in it, through Hadoop's FileSystem API.

    The same call works for ``s3://`` on Glue and for local paths; a folder
    that is not there is not an error.
    """
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(partition_uri)
    path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)


# --------------------------------------------------------------------------- metrics


def _local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme:
        raise ValueError(f"cannot write metrics to {uri!r}: only s3://, file:// or local paths")
    return Path(uri)


def write_metrics_json(
    uri: str, metrics: Mapping[str, Any], *, s3_client: Any | None = None
) -> None:
    """Write the counts as one JSON object: to S3 for ``s3://`` URIs, else to a local file.

    It is a single object (not a Spark part-file) because the state machine
    reads it with one ``s3:getObject``. The boto3 client is created only when
    needed, so tests and the local runtime can pass a stand-in.
    """
    body = json.dumps(dict(metrics), sort_keys=False).encode("utf-8")
    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        s3_client.put_object(
            Bucket=parsed.netloc,
            Key=parsed.path.lstrip("/"),
            Body=body,
            ContentType="application/json",
        )
        return
    path = _local_path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(body)
    partial.replace(path)


# --------------------------------------------------------------------------- run


def run(spark: SparkSession, args: CleanArgs, *, write_metrics: MetricsWriter) -> dict[str, Any]:
    """Clean one arrival of a store-day end to end and return the counts it wrote.

    Used by :func:`main` on Glue and by Stepline's local runtime (with local
    paths and its own ``write_metrics``). It is one pass over the data: the
    file is parsed once, spread over the cluster (:func:`cluster_lines`),
    typed, deduplicated and written, and the counts and the contract checks
    are made on the way (:class:`pyspark.sql.Observation`, in the tasks that
    write, whose metrics Spark merges once per partition even when a task is
    retried). Caching the typed rows so a first pass could check them cost
    more than everything else the job does.

    So the checks are known once the generation is written: if a row cannot
    be typed or placed, the generation is deleted again and
    :class:`ContractBreachError` raised, and the metrics are not written. The
    state machine treats a generation as the store-day's data only after the
    job succeeded and its metrics exist, so nothing of a breaching arrival is
    ever read.
    """
    logger.info("cleaning %s into %s", args.source_glob, args.partition_uri)
    rules = breach_rules(args.run_date, args.store_id)
    # Names unique to this run: an Observation takes the metrics of the first
    # query that reports its name, and the local runtime cleans several
    # arrivals at once in one session.
    run_tag = uuid.uuid4().hex
    checked = Observation(f"clean_sales.rows.{run_tag}")
    typed = standardise(cluster_lines(extract(spark, args.source_glob)))
    # One Observation of every ranked line, before the duplicates are dropped:
    # the rows, the contract checks and the rows kept (rank 1) in one pass. A
    # second Observation after the filter cost 17% more time at 1M rows and 5%
    # at 5M (bench/clean.py, 2026-12-03: 7.44 s against 6.37 s, 25.64 s
    # against 24.40 s).
    ranked = rank_lines(typed).observe(
        checked,
        *_breach_aggregates(rules),
        F.sum(F.when(F.col(LINE_RANK) == 1, 1).otherwise(0)).alias("rows_out"),
    )
    clean = newest_lines(ranked).select(*TYPED_COLUMNS)
    try:
        load(clean, args.partition_uri)
    except BaseException:
        # A write that failed part way (a malformed file, a lost executor) may
        # have left committed part files: a failed run leaves no generation.
        remove_generation(spark, args.partition_uri)
        raise
    totals = checked.get
    breaches = _breach_counts(rules, totals)
    if breaches:
        remove_generation(spark, args.partition_uri)
        detail = "; ".join(f"{count} row(s): {rule}" for rule, count in breaches.items())
        raise ContractBreachError(
            f"{args.source_glob} breaks the sales contract ({detail}); its generation"
            f" {args.partition_uri} was removed and no counts were written"
        )
    rows_in = int(totals["rows"])
    rows_out = int(totals["rows_out"] or 0)
    metrics: dict[str, Any] = {
        "run_date": args.run_date_text,
        "store_id": args.store_id,
        "rows_in": rows_in,
        "duplicates_removed": rows_in - rows_out,
        "rows_out": rows_out,
    }
    # Last, so the counts only exist once the generation they describe does.
    write_metrics(args.metrics_uri, metrics)
    logger.info("cleaned %s: %s", args.partition_uri, json.dumps(metrics))
    return metrics


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Entry point on Glue (``getResolvedOptions``, ``GlueContext``), or plain ``spark-submit``.

    Off Glue the same ``--run_date ...`` arguments are parsed with argparse,
    so ``spark-submit glue_jobs/clean_sales.py --run_date ...`` works on a laptop.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    argv = list(sys.argv if argv is None else argv)
    try:
        from awsglue.context import GlueContext
        from awsglue.utils import getResolvedOptions
    except ModuleNotFoundError:
        args = CleanArgs.from_argv(argv[1:])
        spark = SparkSession.builder.appName(
            f"stepline-clean-sales-{args.run_date_text}-{args.store_id}"
        ).getOrCreate()
    else:
        from pyspark.context import SparkContext

        args = CleanArgs.from_options(getResolvedOptions(argv, list(CleanArgs.OPTION_NAMES)))
        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    return run(spark, args, write_metrics=write_metrics_json)


if __name__ == "__main__":
    main()
