"""The EMR aggregation step: its measures, its arguments, and the curated day it replaces."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from emr_jobs.aggregate_sales import CURATED_COLUMNS, aggregate, parse_args, run
from glue_jobs.clean_sales import CleanArgs
from glue_jobs.clean_sales import run as clean

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-20"
CLEAN_SCHEMA = (
    "store_id string, category string, order_id string, quantity int, revenue decimal(18,2)"
)


def test_step_arguments_of_the_state_machine_are_the_jobs_arguments() -> None:
    """The "Aggregate the day's sales" step passes exactly the flags parse_args accepts."""
    definition = json.loads((REPO / "statemachines/sales_pipeline.asl.json").read_text())
    step = definition["States"]["Aggregate the day's sales"]["Parameters"]["Step"]
    passed = re.findall(r"'(--[a-z-]+)'", step["HadoopJarStep"]["Args.$"])
    script_flags = {flag for flag in passed if flag != "--deploy-mode"}  # spark-submit's own
    assert script_flags == {"--run-date", "--clean-root", "--curated-root"}
    args = parse_args(
        [
            "--run-date",
            RUN_DATE,
            "--clean-root",
            "s3://l/clean/sales/",
            "--curated-root",
            "s3://l/c/",
        ]
    )
    assert (args.run_date.isoformat(), args.clean_root, args.curated_root) == (
        RUN_DATE,
        "s3://l/clean/sales/",
        "s3://l/c/",
    )


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
        ("store_id", "string"),
        ("category", "string"),
        ("revenue", "decimal(18,2)"),
        ("units", "bigint"),
        ("orders", "bigint"),
        ("returns", "bigint"),
    ]
    assertDataFrameEqual(daily, expected.collect())


@pytest.mark.spark
def test_run_aggregates_every_store_of_the_day_and_replaces_only_that_day(
    spark, lake, write_validated
) -> None:
    """Clean output of all stores becomes one curated day; other days and stale files go/stay."""
    for store_id, rows in {
        "0042": [("A1", "0042", "2026-11-20T09:00:00Z", "S1", "Toys", "2", "1.50")],
        "0077": [("B1", "0077", "2026-11-20T09:00:00+01:00", "S1", "Toys", "-1", "4.00")],
    }.items():
        write_validated(RUN_DATE, store_id, rows)
        clean(
            spark,
            CleanArgs.from_options(
                {
                    "run_date": RUN_DATE,
                    "store_id": store_id,
                    "validated_prefix": str(
                        lake / f"validated/sales/date={RUN_DATE}/store={store_id}"
                    ),
                    "clean_root": str(lake / "clean/sales"),
                    "metrics_root": str(lake / "clean/_metrics"),
                }
            ),
            write_metrics=lambda uri, metrics: None,
        )
    curated = lake / "curated/daily_sales"
    other_day = curated / "sale_date=2026-11-19"
    other_day.mkdir(parents=True)
    (other_day / "part-0.parquet").write_bytes(b"kept as is")
    stale = curated / f"sale_date={RUN_DATE}"
    stale.mkdir(parents=True)
    (stale / "part-old.parquet").write_bytes(b"from an earlier run")

    result = run(spark, RUN_DATE, str(lake / "clean/sales"), str(curated))

    assert result == {
        "run_date": RUN_DATE,
        "curated_uri": f"{curated}/sale_date={RUN_DATE}/",
        "rows": 2,
    }
    assert not (stale / "part-old.parquet").exists()
    assert (other_day / "part-0.parquet").read_bytes() == b"kept as is"
    written = spark.read.parquet(str(stale))
    assert tuple(written.columns) == CURATED_COLUMNS
    # "0042" stays a string: it is not inferred as the number 42 from the directory name.
    assert [tuple(row) for row in written.collect()] == [
        ("0042", "Toys", Decimal("3.00"), 2, 1, 0),
        ("0077", "Toys", Decimal("-4.00"), 0, 0, 1),
    ]
