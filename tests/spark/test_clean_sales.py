"""The Glue clean job: its contract, its transforms, and the partition and counts it writes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from glue_jobs import clean_sales
from glue_jobs.clean_sales import (
    CLEAN_FILE_COLUMNS,
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

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-20"
UTC = dt.UTC


def clean_args(lake: Path, store_id: str, run_date: str = RUN_DATE) -> CleanArgs:
    return CleanArgs.from_options(
        {
            "run_date": run_date,
            "store_id": store_id,
            "validated_prefix": str(lake / f"validated/sales/date={run_date}/store={store_id}"),
            "clean_root": str(lake / "clean/sales"),
            "metrics_root": str(lake / "clean/_metrics"),
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


def test_glue_arguments_of_the_state_machine_are_the_jobs_arguments() -> None:
    """The "Clean the sales file" state passes exactly the arguments CleanArgs parses."""
    definition = json.loads((REPO / "statemachines/sales_pipeline.asl.json").read_text())
    arguments = definition["States"]["Clean the sales file"]["Parameters"]["Arguments"]
    passed = {key.removesuffix(".$").removeprefix("--") for key in arguments}
    assert passed == set(CleanArgs.OPTION_NAMES)


def test_clean_args_parse_the_glue_arguments_into_paths() -> None:
    """from_argv reads the Glue argument names and derives the partition and metrics paths."""
    args = CleanArgs.from_argv(
        [
            "--run_date=2026-11-20",
            "--store_id=0042",
            "--validated_prefix=s3://lake/validated/sales/date=2026-11-20/store=0042",
            "--clean_root=s3://lake/clean/sales/",
            "--metrics_root=s3://lake/clean/_metrics",
        ]
    )
    assert args.run_date == dt.date(2026, 11, 20)
    # The local runtime builds the arguments directly, with the date as text.
    assert args == CleanArgs(
        run_date="2026-11-20",  # type: ignore[arg-type]
        store_id="0042",
        validated_prefix="s3://lake/validated/sales/date=2026-11-20/store=0042/",
        clean_root="s3://lake/clean/sales",
        metrics_root="s3://lake/clean/_metrics/",
    )
    assert args.source_glob == "s3://lake/validated/sales/date=2026-11-20/store=0042/*.csv.gz"
    assert args.partition_uri == "s3://lake/clean/sales/sale_date=2026-11-20/store_id=0042/"
    assert args.metrics_uri == "s3://lake/clean/_metrics/date=2026-11-20/store=0042.json"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("run_date", "2026-02-30", "not a YYYY-MM-DD date"),
        ("store_id", "../0042", "does not match"),
        ("clean_root", "", "missing clean job argument"),
    ],
)
def test_clean_args_refuse_bad_values(field: str, value: str, message: str) -> None:
    """A bad date, a store id that is not a safe path segment, or a missing path fails at once."""
    options = {
        "run_date": RUN_DATE,
        "store_id": "0042",
        "validated_prefix": "s3://lake/validated/",
        "clean_root": "s3://lake/clean/sales/",
        "metrics_root": "s3://lake/clean/_metrics/",
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
    write_metrics_json(
        "s3://lake/clean/_metrics/date=2026-11-20/store=0042.json", metrics, s3_client=s3
    )
    assert len(s3.puts) == 1
    put = s3.puts[0]
    assert (put["Bucket"], put["Key"]) == ("lake", "clean/_metrics/date=2026-11-20/store=0042.json")
    assert json.loads(put["Body"]) == metrics
    assert put["ContentType"] == "application/json"


def test_write_metrics_json_writes_a_local_file_from_a_file_uri(tmp_path: Path) -> None:
    """Locally a file:// URI (or a plain path) becomes a JSON file, parent folders created."""
    target = tmp_path / "clean/_metrics/date=2026-11-20/store=0042.json"
    write_metrics_json(target.as_uri(), {"rows_out": 2})
    assert json.loads(target.read_text()) == {"rows_out": 2}
    assert list(target.parent.iterdir()) == [target]


# --------------------------------------------------------------------------- Spark


@pytest.mark.spark
def test_standardise_trims_types_and_keeps_the_offset(spark) -> None:
    """Text is trimmed, sold_at becomes the UTC instant plus its offset, revenue is qty x price."""
    raw = spark.createDataFrame(
        [
            ("o1", "0042", "2026-11-20T09:15:00+05:30", " SKU-1", "  Produce \t", "3", "1.5"),
            ("o2", "0042", "2026-11-20T23:59:59.123456Z", "SKU-2", "Toys", "-2", "10"),
            ("o3", "0042", "2026-11-20T01:00:00-08:00", "SKU-3", "Toys", "1", "0.00"),
        ],
        RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (
                "o1", "0042", dt.datetime(2026, 11, 20, 3, 45, tzinfo=UTC), "+05:30",
                "SKU-1", "Produce", 3, Decimal("1.50"), Decimal("4.50"),
            ),
            (
                "o2", "0042", dt.datetime(2026, 11, 20, 23, 59, 59, 123456, tzinfo=UTC), "+00:00",
                "SKU-2", "Toys", -2, Decimal("10.00"), Decimal("-20.00"),
            ),
            (
                "o3", "0042", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "-08:00",
                "SKU-3", "Toys", 1, Decimal("0.00"), Decimal("0.00"),
            ),
        ],
        "order_id string, store_id string, sold_at timestamp, sold_at_offset string, sku string,"
        " category string, quantity int, unit_price decimal(12,2), revenue decimal(18,2)",
    )  # fmt: skip
    assertDataFrameEqual(standardise(raw).select(*TYPED_COLUMNS), expected)


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
def test_run_writes_the_store_day_partition_and_its_counts(spark, lake, write_validated) -> None:
    """All the store-day's files are read (quoted commas/newlines intact), deduped, and counted."""
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
    args = clean_args(lake, "0042")

    metrics = run(spark, args, write_metrics=write_metrics_json)

    expected_metrics = {
        "run_date": RUN_DATE,
        "store_id": "0042",
        "rows_in": 5,
        "duplicates_removed": 1,
        "rows_out": 4,
    }
    assert metrics == expected_metrics
    assert json.loads(Path(args.metrics_uri).read_text()) == expected_metrics
    partition = lake / "clean/sales/sale_date=2026-11-20/store_id=0042"
    assert len(list(partition.glob("*.parquet"))) == 1
    written = spark.read.parquet(str(partition))
    assert tuple(written.columns) == CLEAN_FILE_COLUMNS
    got = {(r.order_id, r.sku, r.category, r.quantity, r.revenue) for r in written.collect()}
    assert got == {
        ("A1", "SKU-1", 'Fruit, "fresh"', 3, Decimal("3.75")),
        ("A2", "SKU-2", "Multi\nline", 1, Decimal("3.00")),
        ("A3", "SKU-3", "Toys", -1, Decimal("-5.00")),
        ("A4", "SKU-1", "Toys", 1, Decimal("2.00")),
    }


@pytest.mark.spark
def test_rerun_replaces_its_partition_and_leaves_the_others(spark, lake, write_validated) -> None:
    """A rerun of a store-day replaces that partition only; other stores and days survive."""
    metrics = RecordingMetricsWriter()
    write_validated(
        RUN_DATE,
        "0042",
        [
            ("A1", "0042", "2026-11-20T09:00:00Z", "S1", "Toys", "1", "1.00"),
            ("A2", "0042", "2026-11-20T09:00:00Z", "S1", "Toys", "1", "1.00"),
        ],
    )
    write_validated(
        RUN_DATE, "0077", [("B1", "0077", "2026-11-20T09:00:00Z", "S1", "Toys", "1", "1.00")]
    )
    write_validated(
        "2026-11-19", "0042", [("C1", "0042", "2026-11-19T09:00:00Z", "S1", "Toys", "1", "1.00")]
    )
    for store_id, run_date in (("0042", RUN_DATE), ("0077", RUN_DATE), ("0042", "2026-11-19")):
        run(spark, clean_args(lake, store_id, run_date), write_metrics=metrics)

    # The store resends its day with one corrected line and nothing else.
    write_validated(
        RUN_DATE, "0042", [("A9", "0042", "2026-11-20T12:00:00Z", "S1", "Toys", "4", "1.00")]
    )
    run(spark, clean_args(lake, "0042"), write_metrics=metrics)

    def order_ids(relative: str) -> list[str]:
        frame = spark.read.parquet(str(lake / "clean/sales" / relative))
        return sorted(row.order_id for row in frame.collect())

    assert order_ids("sale_date=2026-11-20/store_id=0042") == ["A9"]
    assert order_ids("sale_date=2026-11-20/store_id=0077") == ["B1"]
    assert order_ids("sale_date=2026-11-19/store_id=0042") == ["C1"]
    assert [m["rows_out"] for _, m in metrics.calls] == [2, 1, 1, 1]  # fmt: skip


@pytest.mark.spark
def test_run_refuses_rows_that_break_the_contract(spark, lake, write_validated) -> None:
    """Another store's row or a time without offset fails the job before anything is written."""
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
    assert not (lake / "clean").exists()
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
