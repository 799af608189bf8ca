"""Fixtures for the SQL tests: the reviewed SQL files, a lake folder, curated Parquet via DuckDB."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sql_dir() -> Path:
    """The reviewed SQL files (``sql/`` at the repository root)."""
    return REPO / "sql"


@pytest.fixture(scope="session")
def substitutions() -> dict[str, str]:
    """Deploy-time values for the local tests (what DefinitionSubstitutions would fill in)."""
    return {
        "RedshiftSchema": "sales",
        "DataLakeBucket": "stepline-lake-test",
        "RedshiftCopyRoleArn": "arn:aws:iam::123456789012:role/stepline-redshift-copy",
        "GlueDatabaseName": "stepline_sales_test",
    }


#: The publish pass whose curated generation the SQL tests write and read.
PUBLISH = "2026-11-20_publish_1_abcd1234-c1"

#: (store_id, category, revenue, units, orders, returns): the curated file layout.
CuratedRow = tuple[str, str, Decimal, int, int, int]
CuratedWriter = Callable[..., Path]


@pytest.fixture(scope="session")
def definitions() -> dict[str, dict[str, Any]]:
    """Every state machine definition, by file name (placeholders not substituted)."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((REPO / "statemachines").glob("*.asl.json"))
    }


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A folder standing in for the data-lake bucket ``s3://stepline-lake-test/``."""
    root = tmp_path / "stepline-lake-test"
    root.mkdir()
    return root


@pytest.fixture
def resolve_s3(lake: Path) -> Callable[[str], str]:
    """Maps ``s3://stepline-lake-test/<key>`` to the lake folder, as the local runtime does."""

    def resolve(uri: str) -> str:
        prefix = "s3://stepline-lake-test/"
        assert uri.startswith(prefix), f"unexpected bucket in {uri}"
        return str(lake / uri.removeprefix(prefix))

    return resolve


@pytest.fixture
def write_curated(lake: Path) -> CuratedWriter:
    """Write one pass's curated generation of a day (the EMR step's output) with DuckDB.

    Returns the folder, ``curated/daily_sales/sale_date=D/publish=P/``. A previous file
    of the same generation is removed first, as the step's overwrite does.
    """

    def write(run_date: str, rows: Sequence[CuratedRow], publish: str = PUBLISH) -> Path:
        folder = lake / "curated/daily_sales" / f"sale_date={run_date}" / f"publish={publish}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        connection = duckdb.connect()
        try:
            connection.execute(
                "CREATE TABLE day (store_id VARCHAR, category VARCHAR, revenue DECIMAL(18,2),"
                " units BIGINT, orders BIGINT, returns BIGINT)"
            )
            if rows:
                connection.executemany("INSERT INTO day VALUES (?, ?, ?, ?, ?, ?)", list(rows))
            target = str(folder / "part-00000.snappy.parquet").replace("'", "''")
            connection.execute(f"COPY day TO '{target}' (FORMAT PARQUET)")
        finally:
            connection.close()
        return folder

    return write
