"""The local Athena stand-in runs the reviewed report query and writes Athena's CSV."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from conftest import PUBLISH

from stepline.local.warehouse import LocalAthena, load_sql_file

DAY = "2026-11-20"
OUTPUT_URI = f"s3://stepline-lake-test/reports/daily_sales/date={DAY}/"


def test_the_report_returns_the_days_rows_and_writes_the_csv(
    lake: Path, write_curated, sql_dir: Path, substitutions: dict[str, str]
) -> None:
    """Only the run date's partition is reported, ordered, and saved as quoted CSV."""
    write_curated("2026-11-19", [("0001", "Toys", Decimal("1.00"), 1, 1, 0)])
    write_curated(
        DAY,
        [
            ("0077", "Toys", Decimal("2.50"), 2, 1, 0),
            ("0042", 'Fruit, "fresh"', Decimal("-3.00"), 0, 0, 2),
            ("0042", "Bikes", Decimal("100.00"), 1, 1, 0),
        ],
    )
    (query,) = load_sql_file(
        sql_dir / "athena/daily_report.sql",
        run_date=DAY,
        substitutions=substitutions,
        publish=PUBLISH,
    )
    output_dir = lake / f"reports/daily_sales/date={DAY}"

    result = LocalAthena().start_query_execution(
        query,
        database_tables={"stepline_sales_test.daily_sales": str(lake / "curated/daily_sales")},
        output_dir=str(output_dir),
        output_uri=OUTPUT_URI,
    )

    execution = result["QueryExecution"]
    execution_id = execution["QueryExecutionId"]
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["Query"] == query
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT_URI}{execution_id}.csv"
    json.dumps(result)  # handed to the state machine as is: plain JSON only
    assert [(r["store_id"], r["category"], r["revenue"]) for r in result["Rows"]] == [
        ("0042", "Bikes", "100.00"),
        ("0042", 'Fruit, "fresh"', "-3.00"),
        ("0077", "Toys", "2.50"),
    ]
    assert (output_dir / f"{execution_id}.csv").read_text() == (
        '"store_id","category","revenue","units","orders","returns"\n'
        '"0042","Bikes","100.00","1","1","0"\n'
        '"0042","Fruit, ""fresh""","-3.00","0","0","2"\n'
        '"0077","Toys","2.50","2","1","0"\n'
    )


def test_a_failing_query_is_reported_failed_without_a_result_file(
    lake: Path, write_curated
) -> None:
    """A query error comes back as State FAILED with the reason; no CSV is written."""
    write_curated(DAY, [("0042", "Toys", Decimal("1.00"), 1, 1, 0)])
    output_dir = lake / "reports"

    result = LocalAthena().start_query_execution(
        "SELECT no_such_column FROM db.daily_sales",
        database_tables={"db.daily_sales": str(lake / "curated/daily_sales")},
        output_dir=str(output_dir),
        output_uri="s3://stepline-lake-test/reports/",
    )

    status = result["QueryExecution"]["Status"]
    assert status["State"] == "FAILED"
    assert "no_such_column" in status["StateChangeReason"]
    assert result["Rows"] == []
    assert not output_dir.exists()


def test_the_report_reads_only_the_generation_it_names(
    lake: Path, write_curated, sql_dir: Path, substitutions: dict[str, str]
) -> None:
    """Two passes' generations of one day sit side by side; the report reads its own only."""
    write_curated(DAY, [("0042", "Toys", Decimal("1.00"), 1, 1, 0)], publish="old-c1")
    write_curated(DAY, [("0042", "Toys", Decimal("7.00"), 7, 7, 0)])
    (query,) = load_sql_file(
        sql_dir / "athena/daily_report.sql",
        run_date=DAY,
        substitutions=substitutions,
        publish=PUBLISH,
    )
    result = LocalAthena().start_query_execution(
        query,
        database_tables={"stepline_sales_test.daily_sales": str(lake / "curated/daily_sales")},
        output_dir=str(lake / "reports"),
        output_uri=OUTPUT_URI,
    )
    assert [(r["store_id"], r["revenue"]) for r in result["Rows"]] == [("0042", "7.00")]
