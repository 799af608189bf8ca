"""The local Redshift stand-in runs the reviewed load SQL on DuckDB like the Data API would."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PUBLISH

from stepline.local.warehouse import (
    LocalWarehouse,
    StatementNotFoundError,
    UnsupportedStatementError,
    load_sql_file,
    render_sql,
    split_sql_statements,
    to_duckdb,
)

DAY = "2026-11-20"
DAY_BEFORE = "2026-11-19"
READ_BACK = (
    "SELECT CAST(sale_date AS VARCHAR) AS sale_date, store_id, category, revenue, units, orders,"
    " returns FROM sales.daily_sales ORDER BY sale_date, store_id, category"
)


@pytest.fixture
def warehouse(tmp_path: Path) -> LocalWarehouse:
    return LocalWarehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def load_day(
    warehouse: LocalWarehouse,
    sql_dir: Path,
    substitutions: dict[str, str],
    resolve_s3: Callable[[str], str],
) -> Callable[..., dict]:
    """Send the reviewed load for one day, as the state machine does; returns DescribeStatement."""

    def load(run_date: str, publish: str = PUBLISH) -> dict:
        sqls = load_sql_file(
            sql_dir / "redshift/load_daily_sales.sql",
            run_date=run_date,
            substitutions=substitutions,
            publish=publish,
        )
        statement_id = warehouse.batch_execute(
            sqls, resolve_s3=resolve_s3, statement_name=f"stepline-load-daily-sales-{run_date}"
        )
        return warehouse.describe_statement(statement_id)

    return load


def row(day: str, store: str, category: str, revenue: str, units: int, orders: int, returns: int):
    return {
        "sale_date": day,
        "store_id": store,
        "category": category,
        "revenue": Decimal(revenue),
        "units": units,
        "orders": orders,
        "returns": returns,
    }


def test_the_load_puts_the_curated_day_in_the_table(warehouse, load_day, write_curated) -> None:
    """COPY reads the day's Parquet by position and the rows land stamped with the run date."""
    write_curated(
        DAY,
        [
            ("0042", "Toys", Decimal("45.00"), 6, 2, 1),
            ("0077", "Fruit", Decimal("-3.00"), 0, 0, 2),
        ],
    )
    description = load_day(DAY)

    assert description["Status"] == "FINISHED"
    assert "Error" not in description
    assert [sub["Status"] for sub in description["SubStatements"]] == ["FINISHED"] * 6
    assert description["SubStatements"][3]["ResultRows"] == 2  # the COPY
    json.dumps(description)  # the state machine stores it: it must be plain JSON
    assert warehouse.query(READ_BACK) == [
        row(DAY, "0042", "Toys", "45.00", 6, 2, 1),
        row(DAY, "0077", "Fruit", "-3.00", 0, 0, 2),
    ]


def test_running_the_same_load_twice_keeps_one_copy(warehouse, load_day, write_curated) -> None:
    """The load is idempotent: a repeated batch leaves the day once, not twice."""
    write_curated(DAY, [("0042", "Toys", Decimal("1.00"), 1, 1, 0)])
    assert load_day(DAY)["Status"] == "FINISHED"
    assert load_day(DAY)["Status"] == "FINISHED"
    assert warehouse.query(READ_BACK) == [row(DAY, "0042", "Toys", "1.00", 1, 1, 0)]


def test_a_rerun_replaces_the_day_and_leaves_other_days(warehouse, load_day, write_curated) -> None:
    """A later pass's generation of a day replaces that day's rows; other days keep theirs."""
    write_curated(DAY_BEFORE, [("0042", "Toys", Decimal("9.00"), 9, 9, 0)])
    write_curated(
        DAY,
        [("0042", "Toys", Decimal("1.00"), 1, 1, 0), ("0077", "Toys", Decimal("2.00"), 2, 1, 0)],
    )
    load_day(DAY_BEFORE)
    load_day(DAY)

    # The next pass writes its own generation beside the first, which stays whole.
    later = write_curated(DAY, [("0042", "Toys", Decimal("5.00"), 5, 2, 0)], publish="next-c2")
    assert load_day(DAY, "next-c2")["Status"] == "FINISHED"
    assert (later.parent / f"publish={PUBLISH}").is_dir()

    assert warehouse.query(READ_BACK) == [
        row(DAY_BEFORE, "0042", "Toys", "9.00", 9, 9, 0),
        row(DAY, "0042", "Toys", "5.00", 5, 2, 0),
    ]


def test_a_failing_statement_rolls_back_the_whole_batch(warehouse, load_day, write_curated) -> None:
    """When the INSERT fails after the DELETE ran, the DELETE is undone: the old day stays."""
    write_curated(DAY, [("0042", "Toys", Decimal("1.00"), 1, 1, 0)])
    load_day(DAY)
    # A NULL category passes the stage but breaks the table's NOT NULL at INSERT time.
    write_curated(DAY, [("0042", None, Decimal("7.00"), 7, 7, 0)])  # type: ignore[list-item]

    description = load_day(DAY)

    assert description["Status"] == "FAILED"
    assert "NOT NULL" in description["Error"]
    statuses = [sub["Status"] for sub in description["SubStatements"]]
    assert statuses == ["FINISHED"] * 5 + ["FAILED"]
    assert description["SubStatements"][5]["Error"] == description["Error"]
    assert warehouse.query(READ_BACK) == [row(DAY, "0042", "Toys", "1.00", 1, 1, 0)]


def test_a_copy_from_an_empty_prefix_fails_and_creates_nothing(warehouse, load_day) -> None:
    """Like Redshift, COPY from a prefix without files fails; the schema it created rolls back."""
    description = load_day(DAY)
    assert description["Status"] == "FAILED"
    assert "No files found" in description["Error"]
    assert [sub["Status"] for sub in description["SubStatements"]][3:] == [
        "FAILED",
        "ABORTED",
        "ABORTED",
    ]
    schemas = warehouse.query("SELECT schema_name FROM information_schema.schemata")
    assert {"schema_name": "sales"} not in schemas


def test_temp_tables_do_not_leak_between_batches(warehouse: LocalWarehouse) -> None:
    """Each batch is its own session: a temp table from one batch is gone in the next."""
    create = [
        "CREATE TEMP TABLE daily_sales_stage (x INTEGER)",
        "INSERT INTO daily_sales_stage VALUES (1)",
    ]
    for _ in range(2):
        statement_id = warehouse.batch_execute(create, resolve_s3=str)
        assert warehouse.describe_statement(statement_id)["Status"] == "FINISHED"
    tables = warehouse.query("SELECT table_name FROM information_schema.tables")
    assert {"table_name": "daily_sales_stage"} not in tables


def test_copy_becomes_a_positional_insert_from_the_local_parquet(tmp_path: Path) -> None:
    """COPY ... FORMAT AS PARQUET reads every Parquet file under the resolved folder."""
    translated = to_duckdb(
        "COPY s.stage (a, b)\nFROM 's3://lake/curated/x/'\nIAM_ROLE 'arn:aws:iam::1:role/r'\n"
        "FORMAT AS PARQUET",
        resolve_s3=lambda uri: str(tmp_path / uri.removeprefix("s3://")),
    )
    files = f"{tmp_path}/lake/curated/x/**/*.parquet"
    assert translated == (
        f"INSERT INTO s.stage (a, b) SELECT * FROM read_parquet('{files}',"
        " hive_partitioning = false)"
    )
    assert to_duckdb("DELETE FROM t WHERE d = '2026-11-20'", resolve_s3=str) == (
        "DELETE FROM t WHERE d = '2026-11-20'"
    )


def test_copy_options_the_stand_in_cannot_honour_are_refused() -> None:
    """A COPY format other than Parquet fails loudly instead of loading something else."""
    with pytest.raises(UnsupportedStatementError, match="FORMAT AS PARQUET"):
        to_duckdb("COPY t FROM 's3://b/k/' IAM_ROLE 'r' FORMAT AS CSV", resolve_s3=str)
    with pytest.raises(UnsupportedStatementError, match="MAXERROR 10"):
        to_duckdb(
            "COPY t FROM 's3://b/k/' IAM_ROLE 'r' FORMAT AS PARQUET MAXERROR 10", resolve_s3=str
        )


def test_describing_an_unknown_statement_raises(warehouse: LocalWarehouse) -> None:
    """An id this warehouse never issued is an error, as ResourceNotFound is on AWS."""
    with pytest.raises(StatementNotFoundError):
        warehouse.describe_statement("00000000-0000-0000-0000-000000000000")


def test_split_and_render_respect_quotes_and_comments() -> None:
    """Semicolons in strings or comments do not split; a placeholder without a value raises."""
    script = "-- a comment; not a statement\nSELECT 'a;b' /* ; */ FROM t;\n\nSELECT 2;"
    assert split_sql_statements(script) == ["SELECT 'a;b'   FROM t", "SELECT 2"]
    assert render_sql("${S}.t '{run_date}'", run_date=DAY, substitutions={"S": "x"}) == (
        "x.t '2026-11-20'"
    )
    with pytest.raises(KeyError, match="RedshiftSchema"):
        render_sql("${RedshiftSchema}.t", run_date=DAY, substitutions={})
    with pytest.raises(KeyError, match="publish"):
        render_sql("publish={publish}/", run_date=DAY, substitutions={})
    assert render_sql("publish={publish}/", run_date=DAY, substitutions={}, publish="p-c1") == (
        "publish=p-c1/"
    )
