"""The EMR aggregation step: its measures, its arguments, the day and the summary it publishes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.errors import AnalysisException
from pyspark.testing import assertDataFrameEqual

from emr_jobs import sales_lake
from emr_jobs.aggregate_sales import (
    CURATED_COLUMNS,
    aggregate,
    argument_parser,
    parse_args,
    read_text_with_spark,
    run,
    store_totals,
    write_text_with_hadoop,
)
from glue_jobs.clean_sales import CleanArgs
from glue_jobs.clean_sales import run as clean

RUN_DATE = "2026-11-20"
PUBLISH = "publish-2026-11-20-a1-c2"
CLEAN_SCHEMA = (
    "store_id string, category string, order_id string, quantity int, revenue decimal(18,2)"
)

# (order_id, category, quantity, revenue) lines of one generation.
Line = tuple[str, str, int, str]


def write_generation(spark, lake: Path, store_id: str, run_id: str, lines: Sequence[Line]) -> str:
    """Write one clean generation (as the clean job lays it out); returns its s3:// URI."""
    rows = [
        (order_id, None, None, "SKU", category, quantity, None, Decimal(revenue))
        for order_id, category, quantity, revenue in lines
    ]
    key = sales_lake.clean_run_key(RUN_DATE, store_id, run_id)
    frame = spark.createDataFrame(rows, sales_lake.spark_schema(sales_lake.CLEAN_COLUMNS))
    frame.coalesce(1).write.mode("overwrite").parquet(str(lake / key))
    return f"s3://lake/{key}"


def write_manifest(lake: Path, store_days: Sequence[tuple[str, str, str]]) -> str:
    """Write the publish manifest as the publish machine does; returns its local path."""
    manifest = sales_lake.Manifest(
        run_date=RUN_DATE,
        publish=PUBLISH,
        store_days=tuple(sales_lake.StoreDay(s, r, uri) for s, r, uri in store_days),
    )
    path = lake / sales_lake.manifest_key(RUN_DATE, PUBLISH)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest.to_json()))
    return str(path)


class LocalLake:
    """The local runtime's side of ``run``: s3://lake/ is the folder ``lake``."""

    def __init__(self, lake: Path) -> None:
        self.lake = lake
        self.written: dict[str, str] = {}

    def resolve(self, uri: str) -> str:
        return str(self.lake / uri.removeprefix("s3://lake/"))

    def read_text(self, uri: str) -> str:
        return Path(uri).read_text()

    def write_text(self, uri: str, text: str) -> None:
        self.written[uri] = text

    def run(self, spark, manifest_uri: str) -> dict[str, Any]:
        return run(
            spark,
            manifest_uri,
            str(self.lake),
            read_text=self.read_text,
            write_text=self.write_text,
            resolve_uri=self.resolve,
        )


def curated_rows(spark, lake: Path) -> list[tuple]:
    folder = lake / sales_lake.curated_generation_key(RUN_DATE, PUBLISH)
    return [tuple(row) for row in spark.read.parquet(str(folder)).collect()]


# --------------------------------------------------------------------------- no Spark needed


def test_step_arguments_of_the_state_machine_are_the_jobs_arguments(state_machine) -> None:
    """The "Aggregate the day's sales" step passes exactly the flags parse_args accepts."""
    publish = state_machine(
        "sales_publish.asl.json",
        {
            "DataLakeBucket": "lake",
            "EmrClusterId": "j-1",
            "SalesLakeScriptUri": "s3://assets/emr/0a/sales_lake.py",
            "AggregateSalesScriptUri": "s3://assets/emr/0b/aggregate_sales.py",
        },
    )
    step = publish.state("Aggregate the day's sales")["Arguments"]["Step"]
    args = publish.evaluate(step["HadoopJarStep"]["Args"], {"day": RUN_DATE, "publish": PUBLISH})
    script = args.index("s3://assets/emr/0b/aggregate_sales.py")
    assert args[:script] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--py-files",
        "s3://assets/emr/0a/sales_lake.py",
    ]
    script_args = args[script + 1 :]
    accepted = {flag for action in argument_parser()._actions for flag in action.option_strings} - {
        "-h",
        "--help",
    }
    assert {a for a in script_args if a.startswith("--")} == accepted
    parsed = parse_args(script_args)
    # The manifest the step reads is the one "Write the publish manifest" wrote.
    assert parsed.manifest == f"s3://lake/{sales_lake.manifest_key(RUN_DATE, PUBLISH)}"
    assert parsed.lake_root == "s3://lake/"


def test_parse_args_refuses_the_old_flags() -> None:
    """The step no longer takes a run date or roots: they come from the manifest and the layout."""
    with pytest.raises(SystemExit):
        parse_args(["--run-date", RUN_DATE, "--lake-root", "s3://lake/", "--manifest", "m"])


# --------------------------------------------------------------------------- pure transforms


@pytest.mark.spark
def test_aggregate_nets_revenue_and_separates_sales_from_returns(spark) -> None:
    """Revenue is net of returns; units/orders count sales only; returns count returned units."""
    clean_rows = spark.createDataFrame(
        [
            # store 0042 / Toys: two orders, one of them with two lines, and a return.
            ("0042", "Toys", "o1", 2, Decimal("20.00")),
            ("0042", "Toys", "o1", 1, Decimal("5.00")),
            ("0042", "Toys", "o2", 3, Decimal("30.00")),
            ("0042", "Toys", "o3", -1, Decimal("-10.00")),
            # store 0042 / Fruit: only a return that day.
            ("0042", "Fruit", "o4", -2, Decimal("-3.00")),
            # store 0077 / Toys: the same order id as in 0042 is another store's order.
            ("0077", "Toys", "o1", 1, Decimal("0.00")),
        ],
        CLEAN_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("0042", "Toys", Decimal("45.00"), 6, 2, 1),
            ("0042", "Fruit", Decimal("-3.00"), 0, 0, 2),
            ("0077", "Toys", Decimal("0.00"), 1, 1, 0),
        ],
        "store_id string, category string, revenue decimal(18,2), units bigint, orders bigint,"
        " returns bigint",
    )
    daily = aggregate(clean_rows)
    assert [(f.name, f.dataType.simpleString()) for f in daily.schema.fields] == [
        (c.name, c.spark) for c in sales_lake.CURATED_COLUMNS
    ]
    assertDataFrameEqual(daily, expected.collect())


@pytest.mark.spark
def test_store_totals_count_an_order_once_across_categories(spark) -> None:
    """A store's orders are its distinct orders with a sale, not the sum of its categories'."""
    clean_rows = spark.createDataFrame(
        [
            ("0042", "Toys", "o1", 1, Decimal("2.00")),
            ("0042", "Fruit", "o1", 2, Decimal("1.50")),
            ("0042", "Fruit", "o2", -1, Decimal("-0.75")),
            ("0077", "Toys", "o1", 1, Decimal("9.99")),
        ],
        CLEAN_SCHEMA,
    )
    totals = {row.store_id: tuple(row)[1:] for row in store_totals(clean_rows).collect()}
    assert totals == {
        "0042": (Decimal("2.75"), 3, 1, 1),
        "0077": (Decimal("9.99"), 1, 1, 0),
    }
    # The curated rows count o1 once per category: summing them would say 2.
    assert sum(row.orders for row in aggregate(clean_rows).collect() if row.store_id == "0042") == 2


# --------------------------------------------------------------------------- run


@pytest.mark.spark
def test_cleaned_generations_become_the_curated_day_in_the_layouts_column_order(
    spark, lake, write_validated
) -> None:
    """The clean job's generations are the day's input; the files hold CURATED_COLUMNS in order."""
    store_days = []
    for store_id, rows in {
        "0042": [("A1", "0042", "2026-11-20T09:00:00Z", "S1", "Toys", "2", "1.50")],
        "0077": [("B1", "0077", "2026-11-20T09:00:00+01:00", "S1", "Toys", "-1", "4.00")],
    }.items():
        run_id = f"arrival-{store_id}"
        write_validated(RUN_DATE, store_id, rows, run=run_id)
        args = CleanArgs.from_options(
            {
                "run_date": RUN_DATE,
                "store_id": store_id,
                "run_id": run_id,
                "validated_prefix": str(
                    lake / f"validated/sales/date={RUN_DATE}/store={store_id}/run={run_id}"
                ),
                "lake_root": str(lake),
            }
        )
        clean(spark, args, write_metrics=lambda uri, metrics: None)
        key = sales_lake.clean_run_key(RUN_DATE, store_id, run_id)
        store_days.append((store_id, run_id, f"s3://lake/{key}"))
    curated = lake / sales_lake.curated_generation_key(RUN_DATE, PUBLISH)
    other_day = lake / sales_lake.curated_generation_key("2026-11-19", "older-c1")
    other_day.mkdir(parents=True)
    (other_day / "part-0.parquet").write_bytes(b"kept as is")
    # The day's current generation, which readers may be reading while this pass runs.
    earlier = lake / sales_lake.curated_generation_key(RUN_DATE, "older-c1")
    earlier.mkdir(parents=True)
    (earlier / "part-old.parquet").write_bytes(b"from an earlier publish")

    summary = LocalLake(lake).run(spark, write_manifest(lake, store_days))

    assert summary["rows"] == 2
    # Nothing of another generation is deleted or rewritten: the old day stays whole.
    assert (earlier / "part-old.parquet").read_bytes() == b"from an earlier publish"
    assert (other_day / "part-0.parquet").read_bytes() == b"kept as is"
    written = spark.read.parquet(str(curated))
    assert [(f.name, f.dataType.simpleString()) for f in written.schema.fields] == [
        (c.name, c.spark) for c in sales_lake.CURATED_COLUMNS
    ]
    assert tuple(written.columns) == CURATED_COLUMNS
    # "0042" stays a string: it is not inferred as the number 42 from the directory name.
    assert [tuple(row) for row in written.collect()] == [
        ("0042", "Toys", Decimal("3.00"), 2, 1, 0),
        ("0077", "Toys", Decimal("-4.00"), 0, 0, 1),
    ]
    # Redshift COPY loads every object under the prefix: only Parquet may be there.
    visible = [p.name for p in curated.iterdir() if not p.name.startswith(".")]
    assert visible and all(name.endswith(".parquet") for name in visible), visible


@pytest.mark.spark
def test_run_reads_only_the_generations_the_manifest_lists(spark, lake, tmp_path) -> None:
    """A stale (or newer) generation of a listed store-day on disk is not read."""
    listed = write_generation(spark, lake, "0042", "arrival-2", [("N1", "Toys", 1, "5.00")])
    write_generation(spark, lake, "0042", "arrival-1", [("OLD", "Toys", 9, "90.00")])
    write_generation(spark, lake, "0042", "arrival-3", [("NEW", "Fruit", 7, "70.00")])
    write_generation(spark, lake, "0077", "arrival-4", [("UNLISTED", "Toys", 1, "1.00")])
    # As the local runtime calls it: a copy of the manifest naming local folders, read
    # by the default (Spark) reader, and its own summary writer.
    local = LocalLake(lake)
    copy = tmp_path / "scratch/manifest.json"
    copy.parent.mkdir()
    copy.write_text(
        json.dumps(
            {
                "run_date": RUN_DATE,
                "publish": PUBLISH,
                "store_days": [
                    {"store_id": "0042", "run": "arrival-2", "clean_uri": local.resolve(listed)}
                ],
            }
        )
    )

    summary = run(spark, str(copy), str(lake), write_text=local.write_text)

    assert curated_rows(spark, lake) == [("0042", "Toys", Decimal("5.00"), 1, 1, 0)]
    assert [(s["store_id"], s["run"], s["units"]) for s in summary["stores"]] == [
        ("0042", "arrival-2", 1)
    ]
    assert list(local.written) == [f"{lake}/{sales_lake.summary_key(RUN_DATE, PUBLISH)}"]


@pytest.mark.spark
def test_run_writes_the_day_summary_at_the_layouts_key(spark, lake) -> None:
    """Summary: exact revenue strings, orders distinct across categories, zero-row stores."""
    lines: dict[tuple[str, str], list[Line]] = {
        ("0077", "arrival-b"): [
            ("o1", "Toys", 2, "0.10"),
            ("o1", "Fruit", 1, "0.20"),
            # More digits than a float holds: a float sum would end in .75, not .73.
            ("o2", "Fruit", 3, "1234567890123456.78"),
            ("o3", "Toys", -1, "-0.35"),
        ],
        # A generation without rows: the store is listed and reported with zeros.
        ("0001", "arrival-z"): [],
        ("0042", "arrival-a"): [("o1", "Toys", 1, "2")],
    }
    store_days = [
        (store_id, run_id, write_generation(spark, lake, store_id, run_id, rows))
        for (store_id, run_id), rows in lines.items()
    ]
    local = LocalLake(lake)

    summary = local.run(spark, write_manifest(lake, store_days))

    def store(store_id: str, run_id: str, revenue: str, *counts: int) -> dict[str, Any]:
        return {"store_id": store_id, "run": run_id, "revenue": revenue} | dict(
            zip(("units", "orders", "returns"), counts, strict=True)
        )

    expected = {
        "run_date": RUN_DATE,
        "publish": PUBLISH,
        "rows": 3,
        "stores": [
            store("0001", "arrival-z", "0.00", 0, 0, 0),
            store("0042", "arrival-a", "2.00", 1, 1, 0),
            store("0077", "arrival-b", "1234567890123456.73", 6, 2, 1),
        ],
        "totals": {"revenue": "1234567890123458.73", "units": 7, "orders": 3, "returns": 1},
    }
    summary_uri = f"{lake}/{sales_lake.summary_key(RUN_DATE, PUBLISH)}"
    assert list(local.written) == [summary_uri]
    assert json.loads(local.written[summary_uri]) == expected
    assert summary == expected


@pytest.mark.spark
def test_an_empty_manifest_publishes_an_empty_day(spark, lake) -> None:
    """With every store rejected the day is one column-only Parquet file and a zero summary."""
    curated = lake / sales_lake.curated_generation_key(RUN_DATE, PUBLISH)
    earlier = lake / sales_lake.curated_generation_key(RUN_DATE, "older-c1")
    earlier.mkdir(parents=True)
    (earlier / "part-old.parquet").write_bytes(b"from an earlier publish")

    # The default reader and writer (Spark and Hadoop) on plain local paths.
    summary = run(spark, write_manifest(lake, []), str(lake))

    zeros = {"revenue": "0.00", "units": 0, "orders": 0, "returns": 0}
    expected = {"run_date": RUN_DATE, "publish": PUBLISH, "rows": 0, "stores": [], "totals": zeros}
    assert summary == expected
    summary_file = lake / sales_lake.summary_key(RUN_DATE, PUBLISH)
    assert json.loads(summary_file.read_text()) == expected
    visible = sorted(p.name for p in curated.iterdir() if not p.name.startswith("."))
    assert len(visible) == 1 and visible[0].endswith(".parquet"), visible
    written = spark.read.parquet(str(curated))
    assert tuple(written.columns) == CURATED_COLUMNS
    assert written.count() == 0
    assert (earlier / "part-old.parquet").read_bytes() == b"from an earlier publish"


@pytest.mark.spark
def test_run_refuses_a_clean_uri_that_is_not_the_stores_generation(spark, lake) -> None:
    """A manifest filing one store's generation under another store fails before any write."""
    other = write_generation(spark, lake, "0077", "arrival-1", [("o1", "Toys", 1, "1.00")])
    local = LocalLake(lake)
    with pytest.raises(ValueError, match="not its generation"):
        local.run(spark, write_manifest(lake, [("0042", "arrival-1", other)]))
    assert not (lake / "curated/daily_sales").exists()
    assert local.written == {}


@pytest.mark.spark
def test_run_fails_when_a_listed_generation_is_missing(spark, lake) -> None:
    """A generation the manifest lists but the lake lacks fails the step, the day untouched."""
    curated = lake / sales_lake.curated_generation_key(RUN_DATE, "older-c1")
    curated.mkdir(parents=True)
    (curated / "part-0.parquet").write_bytes(b"the published day")
    missing = f"s3://lake/{sales_lake.clean_run_key(RUN_DATE, '0042', 'arrival-1')}"
    local = LocalLake(lake)
    with pytest.raises(AnalysisException, match="PATH_NOT_FOUND"):
        local.run(spark, write_manifest(lake, [("0042", "arrival-1", missing)]))
    assert (curated / "part-0.parquet").read_bytes() == b"the published day"
    assert local.written == {}


@pytest.mark.spark
def test_hadoop_writer_puts_one_object_that_the_spark_reader_reads_back(spark, tmp_path) -> None:
    """main()'s writer makes one file (replacing it on a rerun) at a file:// URI or a plain path."""
    target = tmp_path / "curated/_summaries/date=2026-11-20/p-c1.json"
    # Written as the layout's keys are (Hadoop, like Spark, takes "=" literally, not %3D).
    uri = f"file://{target}"
    write_text_with_hadoop(spark, uri, '{"rows": 1}')
    write_text_with_hadoop(spark, uri, '{"rows": 2}')
    assert json.loads(target.read_text()) == {"rows": 2}
    assert [p.name for p in target.parent.iterdir() if not p.name.startswith(".")] == [target.name]
    plain = tmp_path / "plain/summary.json"
    write_text_with_hadoop(spark, str(plain), '{"rows": "\u00e9"}')
    assert json.loads(plain.read_text(encoding="utf-8")) == {"rows": "\u00e9"}
    assert read_text_with_spark(spark, str(plain)) == '{"rows": "\u00e9"}'
