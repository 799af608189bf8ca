"""The Glue clean job: its contract, its transforms, and the generation and counts it writes."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from emr_jobs import sales_lake
from glue_jobs import clean_sales
from glue_jobs.clean_sales import (
    RAW_COLUMNS,
    RAW_SCHEMA,
    TYPED_COLUMNS,
    CleanArgs,
    ContractBreachError,
    run,
    standardise,
    transform,
    write_metrics_json,
)

RUN_DATE = "2026-11-20"
UTC = dt.UTC


def clean_args(
    lake: Path, store_id: str, run_date: str = RUN_DATE, run_id: str = "arrival-1"
) -> CleanArgs:
    """The arguments the local runtime passes: the lake root as a local folder."""
    return CleanArgs.from_options(
        {
            "run_date": run_date,
            "store_id": store_id,
            "run_id": run_id,
            "validated_prefix": str(
                lake / f"validated/sales/date={run_date}/store={store_id}/run={run_id}"
            ),
            "lake_root": str(lake),
        }
    )


class RecordingMetricsWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, uri: str, metrics: dict) -> None:
        self.calls.append((uri, dict(metrics)))


# --------------------------------------------------------------------------- no Spark needed


def test_raw_columns_are_the_sales_contract_columns() -> None:
    """The clean job reads files in exactly the contract's canonical column order."""
    rules = pytest.importorskip(
        "sales_contract.rules", reason="the sales_contract package is not importable"
    )
    assert tuple(rules.COLUMNS) == RAW_COLUMNS
    assert RAW_SCHEMA.fieldNames() == list(rules.COLUMNS)


def test_store_id_pattern_is_the_sales_contract_pattern() -> None:
    """The clean job accepts exactly the store ids the raw-key contract accepts."""
    layout = pytest.importorskip(
        "sales_contract.layout", reason="the sales_contract package is not importable"
    )
    assert clean_sales.STORE_ID_PATTERN == layout.STORE_ID_PATTERN


def test_glue_arguments_of_the_state_machine_are_the_jobs_arguments(state_machine) -> None:
    """The "Clean the sales file" state passes exactly the arguments CleanArgs parses."""
    arrival = state_machine("sales_arrival.asl.json", {"DataLakeBucket": "lake"})
    arguments = arrival.state("Clean the sales file")["Arguments"]["Arguments"]
    assert [key.removeprefix("--") for key in arguments] == list(CleanArgs.OPTION_NAMES)


def test_the_arrival_machine_reads_and_records_the_keys_the_job_writes(state_machine) -> None:
    """The counts key the arrival reads and the clean prefix it records are CleanArgs' own."""
    arrival = state_machine("sales_arrival.asl.json", {"DataLakeBucket": "lake"})
    variables = {
        "arrival": {"run_date": RUN_DATE, "store_id": "0042"},
        "run": "arrival-7",
        "validation": {
            "validated_prefix": "s3://lake/validated/sales/date=2026-11-20/store=0042/run=arrival-7/"
        },
        "counts": {"duplicates_removed": 1, "rows_out": 4},
        "states": {"context": {"State": {"EnteredTime": "2026-11-20T23:00:00Z"}}},
    }
    arguments = arrival.state("Clean the sales file")["Arguments"]["Arguments"]
    args = CleanArgs.from_options(
        {
            key.removeprefix("--"): arrival.evaluate(value, variables)
            for key, value in arguments.items()
        }
    )
    read_key = arrival.evaluate(
        arrival.state("Read the clean-step counts")["Arguments"]["Key"], variables
    )
    record = arrival.state("Record the cleaned store-day")["Arguments"]
    recorded = arrival.evaluate(record["ExpressionAttributeValues"], variables)
    assert args.metrics_uri == f"s3://lake/{read_key}"
    assert args.partition_uri == recorded[":prefix"]["S"]
    assert args.partition_uri == (
        "s3://lake/clean/sales/sale_date=2026-11-20/store_id=0042/run=arrival-7/"
    )


def test_clean_args_parse_the_glue_arguments_into_paths() -> None:
    """from_argv reads the Glue argument names and derives the generation and metrics paths."""
    args = CleanArgs.from_argv(
        [
            "--run_date=2026-11-20",
            "--store_id=0042",
            "--run_id=arrival-7",
            "--validated_prefix=s3://lake/validated/sales/date=2026-11-20/store=0042/run=arrival-7",
            "--lake_root=s3://lake",
        ]
    )
    assert args.run_date == dt.date(2026, 11, 20)
    # The local runtime builds the arguments directly, with the date as text.
    assert args == CleanArgs(
        run_date="2026-11-20",  # type: ignore[arg-type]
        store_id="0042",
        run_id="arrival-7",
        validated_prefix="s3://lake/validated/sales/date=2026-11-20/store=0042/run=arrival-7/",
        lake_root="s3://lake/",
    )
    assert args.source_glob == (
        "s3://lake/validated/sales/date=2026-11-20/store=0042/run=arrival-7/*.{csv,csv.gz}"
    )
    assert args.partition_uri == (
        "s3://lake/clean/sales/sale_date=2026-11-20/store_id=0042/run=arrival-7/"
    )
    assert (
        args.metrics_uri == "s3://lake/clean/_metrics/date=2026-11-20/store=0042/run=arrival-7.json"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("run_date", "2026-02-30", "not a YYYY-MM-DD date"),
        ("store_id", "../0042", "store id .* does not match"),
        ("run_id", "arrival/7", "run id .* does not match"),
        ("lake_root", "", "missing clean job argument"),
    ],
)
def test_clean_args_refuse_bad_values(field: str, value: str, message: str) -> None:
    """A bad date, a store or run id that is not a safe path segment, or a missing root fails."""
    options = {
        "run_date": RUN_DATE,
        "store_id": "0042",
        "run_id": "arrival-7",
        "validated_prefix": "s3://lake/validated/",
        "lake_root": "s3://lake/",
        field: value,
    }
    with pytest.raises(ValueError, match=message):
        CleanArgs.from_options(options)


def test_write_metrics_json_puts_one_s3_object() -> None:
    """On S3 the counts are one JSON object at the key the state machine reads."""

    class FakeS3:
        def __init__(self) -> None:
            self.puts: list[dict] = []

        def put_object(self, **kwargs: object) -> None:
            self.puts.append(kwargs)

    s3 = FakeS3()
    metrics = {"run_date": RUN_DATE, "store_id": "0042", "rows_in": 3}
    key = sales_lake.clean_metrics_key(RUN_DATE, "0042", "arrival-7")
    write_metrics_json(f"s3://lake/{key}", metrics, s3_client=s3)
    assert len(s3.puts) == 1
    put = s3.puts[0]
    assert (put["Bucket"], put["Key"]) == ("lake", key)
    assert json.loads(put["Body"]) == metrics
    assert put["ContentType"] == "application/json"


def test_write_metrics_json_writes_a_local_file_from_a_file_uri(tmp_path: Path) -> None:
    """Locally a file:// URI (or a plain path) becomes a JSON file, parent folders created."""
    target = tmp_path / sales_lake.clean_metrics_key(RUN_DATE, "0042", "arrival-7")
    write_metrics_json(target.as_uri(), {"rows_out": 2})
    assert json.loads(target.read_text()) == {"rows_out": 2}
    assert list(target.parent.iterdir()) == [target]


# --------------------------------------------------------------------------- Spark


@pytest.mark.spark
def test_standardise_types_and_keeps_the_offset(spark) -> None:
    """sold_at becomes the UTC instant plus its offset, revenue is qty x price."""
    raw = spark.createDataFrame(
        [
            ("o1", "0042", "2026-11-20T09:15:00+05:30", "SKU-1", "Produce", "3", "1.5"),
            ("o2", "0042", "2026-11-20T23:59:59.123456Z", "SKU-2", "Toys", "-2", "10"),
            ("o3", "0042", "2026-11-20T01:00:00-08:00", "SKU-3", "Toys", "1", "0.00"),
        ],
        RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (
                "0042", "o1", dt.datetime(2026, 11, 20, 3, 45, tzinfo=UTC), "+05:30",
                "SKU-1", "Produce", 3, Decimal("1.50"), Decimal("4.50"),
            ),
            (
                "0042", "o2", dt.datetime(2026, 11, 20, 23, 59, 59, 123456, tzinfo=UTC), "+00:00",
                "SKU-2", "Toys", -2, Decimal("10.00"), Decimal("-20.00"),
            ),
            (
                "0042", "o3", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "-08:00",
                "SKU-3", "Toys", 1, Decimal("0.00"), Decimal("0.00"),
            ),
        ],
        "store_id string, order_id string, sold_at timestamp, sold_at_offset string, sku string,"
        " category string, quantity int, unit_price decimal(12,2), revenue decimal(18,2)",
    )  # fmt: skip
    assertDataFrameEqual(standardise(raw).select(*TYPED_COLUMNS), expected)


def _sold_at_corpus() -> list[str | None]:
    """sold_at texts at every edge: calendar, clock, fraction, offset, and off-contract forms."""
    days = [
        "0001-01-01", "1969-12-31", "1970-01-01", "2024-02-29", "2026-02-29", "2026-11-31",
        "2026-13-01", "2026-00-10", "2026-11-20", "9999-12-31",
    ]
    clocks = ["00:00:00", "09:15:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"]
    fractions = ["", ".1", ".12", ".123", ".123456", ".1234567", "."]
    offsets = [
        "Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "+18:00", "-18:00",
        "+18:01", "-18:30", "+23:59", "+05:60", "+05:75", "+0530", "+5:30", "", " Z",
    ]
    corpus: list[str | None] = [
        f"{day}T{clock}{fraction}{offset}"
        for day in days
        for clock in clocks
        for fraction in fractions
        for offset in offsets
    ]
    return [
        *corpus,
        None, "", "Z", "+05:30", "2026-11-20 09:15:00Z", "2026-11-20T09:15Z",
        " 2026-11-20T09:15:00Z", "2026-11-20T09:15:00Z ", "2026-11-20t09:15:00Z",
        "\u0662\u0660\u0662\u0666-11-20T09:15:00Z", "2026-11-20T09:15:00+05:30:00",
    ]  # fmt: skip


@pytest.mark.spark
@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Kolkata"])
def test_every_sold_at_the_contract_accepts_is_typed_to_its_instant(spark, session_zone) -> None:
    """What validation accepts, the clean job types to the same instant Python reads, in any zone.

    The contract is judged in Python and the clean zone typed by Spark: an
    offset Python reads and Spark does not (``+23:59``, ``+05:75``) once passed
    validation and then failed the store-day's clean job. Compared as
    microseconds since the epoch, so neither side's zone converts the values.
    """
    from pyspark.sql import functions as F

    rules = pytest.importorskip(
        "sales_contract.rules", reason="the sales_contract package is not importable"
    )
    accepted = [
        text
        for text in _sold_at_corpus()
        if text and rules._sold_at_problem(text, text[:10]) is None
    ]
    raw = spark.createDataFrame(
        [(f"o{i}", "0042", text, "SKU-1", "Toys", "1", "1.00") for i, text in enumerate(accepted)],
        RAW_SCHEMA,
    )
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", session_zone)
    try:
        typed = {
            row.order_id: row.micros
            for row in standardise(raw)
            .select("order_id", F.unix_micros("sold_at").alias("micros"))
            .collect()
        }
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    expected = {
        f"o{i}": (dt.datetime.fromisoformat(text) - epoch) // dt.timedelta(microseconds=1)
        for i, text in enumerate(accepted)
    }
    assert typed == expected
    # The corpus reaches every accepted offset, the widest ones included.
    offsets = {text[-6:] for text in accepted if not text.endswith("Z")}
    assert offsets == {"+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "+18:00", "-18:00"}


@pytest.mark.spark
def test_dedupe_keeps_the_latest_line_whatever_the_input_order(spark) -> None:
    """Per (order_id, sku) the latest sold_at wins; a tie is broken the same way every time."""
    rows = [
        ("o1", "0042", "2026-11-20T09:00:00Z", "SKU-1", "Toys", "1", "2.00"),
        ("o1", "0042", "2026-11-20T10:00:00Z", "SKU-1", "Toys", "2", "2.00"),
        # Same instant written with another offset: a tie, broken on quantity.
        ("o2", "0042", "2026-11-20T09:00:00Z", "SKU-1", "Toys", "5", "1.00"),
        ("o2", "0042", "2026-11-20T10:00:00+01:00", "SKU-1", "Toys", "7", "1.00"),
        ("o2", "0042", "2026-11-20T09:00:00Z", "SKU-2", "Toys", "1", "1.00"),
    ]
    expected = [("o1", "SKU-1", 2), ("o2", "SKU-1", 7), ("o2", "SKU-2", 1)]
    for ordering in (rows, rows[::-1]):
        raw = spark.createDataFrame(ordering, RAW_SCHEMA).repartition(2)
        assertDataFrameEqual(transform(raw).select("order_id", "sku", "quantity"), expected)


@pytest.mark.spark
def test_run_writes_its_generation_and_its_counts(spark, lake, write_validated) -> None:
    """All the arrival's files are read (quoted commas/newlines intact), deduped, and counted."""
    write_validated(
        RUN_DATE,
        "0042",
        [
            ("A1", "0042", "2026-11-20T09:15:00+05:30", "SKU-1", 'Fruit, "fresh"', "2", "1.25"),
            ("A2", "0042", "2026-11-20T10:00:00Z", "SKU-2", "Multi\nline", "1", "3.00"),
            ("A3", "0042", "2026-11-20T11:00:00Z", "SKU-3", "Toys", "-1", "5.00"),
        ],
        name="morning",
    )
    write_validated(
        RUN_DATE,
        "0042",
        [
            ("A1", "0042", "2026-11-20T18:00:00+05:30", "SKU-1", 'Fruit, "fresh"', "3", "1.25"),
            ("A4", "0042", "2026-11-20T19:00:00Z", "SKU-1", "Toys", "1", "2.00"),
        ],
        name="evening",
    )

    metrics = run(spark, clean_args(lake, "0042"), write_metrics=write_metrics_json)

    expected_metrics = {
        "run_date": RUN_DATE,
        "store_id": "0042",
        "rows_in": 5,
        "duplicates_removed": 1,
        "rows_out": 4,
    }
    assert metrics == expected_metrics
    # The key the arrival machine's "Read the clean-step counts" state reads.
    metrics_file = lake / sales_lake.clean_metrics_key(RUN_DATE, "0042", "arrival-1")
    assert json.loads(metrics_file.read_text()) == expected_metrics
    generation = lake / sales_lake.clean_run_key(RUN_DATE, "0042", "arrival-1")
    assert len(list(generation.glob("*.parquet"))) == 1
    written = spark.read.parquet(str(generation))
    # Names, order and types of the layout's clean zone: what the aggregation step reads.
    assert [(f.name, f.dataType) for f in written.schema.fields] == [
        (f.name, f.dataType) for f in sales_lake.spark_schema(sales_lake.CLEAN_COLUMNS).fields
    ]
    got = {(r.order_id, r.sku, r.category, r.quantity, r.revenue) for r in written.collect()}
    assert got == {
        ("A1", "SKU-1", 'Fruit, "fresh"', 3, Decimal("3.75")),
        ("A2", "SKU-2", "Multi\nline", 1, Decimal("3.00")),
        ("A3", "SKU-3", "Toys", -1, Decimal("-5.00")),
        ("A4", "SKU-1", "Toys", 1, Decimal("2.00")),
    }


@pytest.mark.spark
def test_run_replaces_only_its_own_generation(spark, lake, write_validated) -> None:
    """A retry replaces its generation; another run's generation of the store-day is untouched."""
    metrics = RecordingMetricsWriter()
    rows = {
        ("0042", RUN_DATE, "arrival-1"): [("A1", "2026-11-20"), ("A2", "2026-11-20")],
        ("0042", RUN_DATE, "arrival-2"): [("N1", "2026-11-20")],
        ("0077", RUN_DATE, "arrival-3"): [("B1", "2026-11-20")],
        ("0042", "2026-11-19", "arrival-4"): [("C1", "2026-11-19")],
    }
    for (store_id, run_date, run_id), lines in rows.items():
        write_validated(
            run_date,
            store_id,
            [(o, store_id, f"{d}T09:00:00Z", "S1", "Toys", "1", "1.00") for o, d in lines],
            run=run_id,
        )
        run(spark, clean_args(lake, store_id, run_date, run_id), write_metrics=metrics)
    # arrival-1 is retried after its validated files were replaced by one corrected line.
    for old in (lake / f"validated/sales/date={RUN_DATE}/store=0042/run=arrival-1").iterdir():
        old.unlink()
    write_validated(
        RUN_DATE,
        "0042",
        [("A9", "0042", "2026-11-20T12:00:00Z", "S1", "Toys", "4", "1.00")],
        run="arrival-1",
    )
    run(spark, clean_args(lake, "0042", RUN_DATE, "arrival-1"), write_metrics=metrics)

    def order_ids(run_date: str, store_id: str, run_id: str) -> list[str]:
        folder = lake / sales_lake.clean_run_key(run_date, store_id, run_id)
        return sorted(row.order_id for row in spark.read.parquet(str(folder)).collect())

    assert order_ids(RUN_DATE, "0042", "arrival-1") == ["A9"]
    assert order_ids(RUN_DATE, "0042", "arrival-2") == ["N1"]
    assert order_ids(RUN_DATE, "0077", "arrival-3") == ["B1"]
    assert order_ids("2026-11-19", "0042", "arrival-4") == ["C1"]
    store_day = lake / f"clean/sales/sale_date={RUN_DATE}/store_id=0042"
    assert sorted(p.name for p in store_day.iterdir()) == ["run=arrival-1", "run=arrival-2"]
    # Each run's counts go to its own key, so the retry's counts replace only arrival-1's.
    assert [(uri, m["rows_out"]) for uri, m in metrics.calls] == [
        (f"{lake}/{sales_lake.clean_metrics_key(d, store, r)}", rows_out)
        for (store, d, r), rows_out in [
            *zip(rows, [2, 1, 1, 1], strict=True),
            (("0042", RUN_DATE, "arrival-1"), 1),
        ]
    ]


@pytest.mark.spark
def test_run_refuses_rows_that_break_the_contract(spark, lake, write_validated) -> None:
    """Another store's row or a time without offset fails the job; no generation, no counts."""
    write_validated(
        RUN_DATE,
        "0042",
        [
            ("A1", "0042", "2026-11-20T09:00:00Z", "SKU-1", "Toys", "1", "1.00"),
            ("A2", "0099", "2026-11-20T09:00:00Z", "SKU-1", "Toys", "1", "1.00"),
            ("A3", "0042", "2026-11-20T09:00:00", "SKU-1", "Toys", "1", "1.00"),
        ],
    )
    metrics = RecordingMetricsWriter()
    with pytest.raises(ContractBreachError) as raised:
        run(spark, clean_args(lake, "0042"), write_metrics=metrics)
    assert "1 row(s): store_id is not 0042" in str(raised.value)
    assert "1 row(s): sold_at is not an ISO-8601 timestamp with an offset" in str(raised.value)
    # The checks are counted while the generation is written; it is deleted again.
    assert not (lake / sales_lake.clean_run_key(RUN_DATE, "0042", "arrival-1")).exists()
    assert list((lake / "clean").rglob("*.parquet")) == []
    assert metrics.calls == []


@pytest.mark.spark
def test_extract_refuses_a_file_whose_header_is_in_another_order(
    spark, lake, write_validated
) -> None:
    """Columns are checked by name against the header, never read shifted by position."""
    swapped = ("order_id", "store_id", "sold_at", "sku", "category", "unit_price", "quantity")
    write_validated(
        RUN_DATE,
        "0042",
        [("A1", "0042", "2026-11-20T09:00:00Z", "SKU-1", "Toys", "1.00", "1")],
        header=swapped,
    )
    with pytest.raises(Exception, match=r"(?i)header"):
        run(spark, clean_args(lake, "0042"), write_metrics=RecordingMetricsWriter())


# ------------------------------------------------- against the regex re-checks it replaced


def _rechecked_standardise(raw):
    """The clean job's transform before it relied on validation: a trim and a regex per value."""
    from pyspark.sql import functions as F

    def trimmed(name):
        return F.regexp_replace(F.col(name), r"^\s+|\s+$", "")

    text = raw.select(*[trimmed(name).alias(name) for name in RAW_COLUMNS])
    offset = F.regexp_extract(F.col("sold_at"), r"(Z|[+-]\d{2}:\d{2})$", 1)
    quantity = F.when(
        F.col("quantity").rlike(r"^[+-]?\d+$"), F.col("quantity").cast(clean_sales.QUANTITY_TYPE)
    )
    unit_price = F.col("unit_price").cast(clean_sales.UNIT_PRICE_TYPE)
    return text.select(
        F.col("order_id"),
        F.col("store_id"),
        F.when(offset != "", F.col("sold_at").cast("timestamp")).alias("sold_at"),
        F.when(offset == "Z", F.lit("+00:00")).when(offset != "", offset).alias("sold_at_offset"),
        F.col("sku"),
        F.col("category"),
        quantity.alias("quantity"),
        unit_price.alias("unit_price"),
        (quantity.cast("decimal(10,0)") * unit_price)
        .cast(clean_sales.REVENUE_TYPE)
        .alias("revenue"),
    )


def _validated_by_the_lambda(tmp_path: Path, lake: Path) -> Path:
    """A generated day plus awkward good rows, through the columnar validator, as it writes them."""
    columnar = pytest.importorskip("sales_contract.columnar")
    from sales_contract import parse_raw_key

    from stepline.sample_data import write_sales_csv

    raw = tmp_path / "day.csv"
    write_sales_csv(raw, RUN_DATE, "0042", 3_000, seed=7, duplicates=60, bad_rows=20)
    awkward = [
        'Q1,0042,2026-11-20T09:15:00.5+05:30,"SKU, 1","Fruit, ""fresh""",2,1.25',
        'Q2,0042,2026-11-20T10:00:00.123456Z,SKU-2,"Multi\nline",-1,3',
        "Q3,0042,2026-11-20T23:59:59-08:00,SKU-3,Épicerie fine,2147483647,0.1",
        "Q4,0042,2026-11-20T00:00:00+00:00,SKU-4,Toys,-2147483647,99.99",
    ]
    with raw.open("a", encoding="utf-8") as out:
        out.write("\n".join(awkward) + "\n")
    folder = lake / f"validated/sales/date={RUN_DATE}/store=0042/run=arrival-1"
    folder.mkdir(parents=True)
    key = parse_raw_key(f"sales/date={RUN_DATE}/store=0042/day.csv")
    with (folder / "day.csv.gz").open("wb") as good:
        report = columnar.validate_sales_object(
            lambda: raw.open("rb"), key, good_rows_out=good, max_reject_ratio=0.05
        )
    assert report.accepted and report.good_rows == 3_000 - 20 + len(awkward)
    return folder


def _in_both_forms(lake: Path, tmp_path: Path, **generated: int) -> None:
    """One generated store-day validated twice: plain (run arrival-1), gzip (arrival-2)."""
    from stepline.sample_data import write_sales_csv

    raw = tmp_path / "day.csv"
    write_sales_csv(raw, RUN_DATE, "0042", **generated)
    for run_id, name, data in (
        ("arrival-1", "day.csv", raw.read_bytes()),
        ("arrival-2", "day.csv.gz", gzip.compress(raw.read_bytes())),
    ):
        folder = lake / f"validated/sales/date={RUN_DATE}/store=0042/run={run_id}"
        folder.mkdir(parents=True)
        (folder / name).write_bytes(data)


@pytest.mark.spark
def test_a_copied_plain_csv_cleans_as_its_gzip_form(spark, lake, tmp_path) -> None:
    """A clean .csv that validation copied as it is (plain) gives what the gzip form gives."""
    _in_both_forms(lake, tmp_path, rows=2_000, seed=8, duplicates=30)
    plain = run(spark, clean_args(lake, "0042"), write_metrics=RecordingMetricsWriter())
    args = clean_args(lake, "0042", run_id="arrival-2")
    compressed = run(spark, args, write_metrics=RecordingMetricsWriter())
    assert plain == compressed and plain["rows_in"] == 2_000 and plain["duplicates_removed"] == 30
    assertDataFrameEqual(
        spark.read.parquet(clean_args(lake, "0042").partition_uri),
        spark.read.parquet(args.partition_uri),
    )


@pytest.mark.spark
def test_a_plain_validated_file_is_parsed_in_parts_a_gzip_one_whole(spark, lake, tmp_path) -> None:
    """A copied .csv has one line per record, so Spark splits it over the cores; a .csv.gz not.

    The same rows either way (the header read once); a split .csv.gz would need
    a splittable codec, and gzip's multiLine parse is one task.
    """
    _in_both_forms(lake, tmp_path, rows=20_000, seed=9, duplicates=10)
    frames = {
        name: clean_sales.extract(spark, clean_args(lake, "0042", run_id=run_id).source_glob)
        for run_id, name in (("arrival-1", "day.csv"), ("arrival-2", "day.csv.gz"))
    }
    # Splits of 256 KiB (the default 128 MiB would make this small file one split).
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(256 * 1024))
    try:
        assert frames["day.csv"].rdd.getNumPartitions() > 1
        assert frames["day.csv.gz"].rdd.getNumPartitions() == 1
        assert frames["day.csv"].count() == 20_000
        assertDataFrameEqual(frames["day.csv"], frames["day.csv.gz"])
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


@pytest.mark.spark
def test_an_arrival_without_a_validated_file_is_an_error(spark, lake) -> None:
    """Nothing under the prefix: the job fails saying so, rather than cleaning no rows."""
    args = clean_args(lake, "0042")
    with pytest.raises(FileNotFoundError, match="no validated file matches"):
        clean_sales.extract(spark, args.source_glob)


@pytest.mark.spark
def test_clean_output_is_what_the_regex_rechecks_gave(spark, lake, tmp_path) -> None:
    """On what validation writes, the generation holds exactly the rows the old transform gave."""
    _validated_by_the_lambda(tmp_path, lake)
    args = clean_args(lake, "0042")
    metrics = run(spark, args, write_metrics=RecordingMetricsWriter())
    raw = clean_sales.extract(spark, args.source_glob)
    expected = clean_sales.dedupe(_rechecked_standardise(raw))
    expected = expected.select(*clean_sales.CLEAN_FILE_COLUMNS)
    written = spark.read.parquet(args.partition_uri)
    assert metrics["rows_out"] == expected.count() > 2_900
    assert metrics["duplicates_removed"] > 0
    assertDataFrameEqual(written, expected)


@pytest.mark.spark
def test_a_generation_is_cut_into_files_by_rows(spark, lake, write_validated, monkeypatch) -> None:
    """At most ROWS_PER_FILE rows a file, never fewer files than rows need; every row kept."""
    monkeypatch.setattr(clean_sales, "ROWS_PER_FILE", 2)
    write_validated(
        RUN_DATE,
        "0042",
        [(f"A{i}", "0042", "2026-11-20T09:00:00Z", "S1", "Toys", "1", "1.00") for i in range(5)],
    )
    run(spark, clean_args(lake, "0042"), write_metrics=RecordingMetricsWriter())
    generation = lake / sales_lake.clean_run_key(RUN_DATE, "0042", "arrival-1")
    files = sorted(generation.glob("*.parquet"))
    counts = [spark.read.parquet(str(path)).count() for path in files]
    assert len(files) >= 3 and max(counts) <= 2 and sum(counts) == 5
