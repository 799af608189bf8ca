"""The Redshift load replaces exactly the run date, in one transaction: stage, delete, insert."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stepline.local.warehouse import split_sql_statements

TARGET = "${RedshiftSchema}.daily_sales"
STAGE = "daily_sales_stage"


@pytest.fixture(scope="module")
def statements(sql_dir: Path) -> list[str]:
    """The load's statements with whitespace collapsed (the file equals the state's Sqls)."""
    text = (sql_dir / "redshift/load_daily_sales.sql").read_text(encoding="utf-8")
    return [" ".join(statement.split()) for statement in split_sql_statements(text)]


def index_of(statements: list[str], pattern: str) -> int:
    matches = [i for i, s in enumerate(statements) if re.match(pattern, s, re.IGNORECASE)]
    assert len(matches) == 1, f"expected one statement matching {pattern!r}, found {len(matches)}"
    return matches[0]


def test_the_load_stages_then_deletes_the_day_then_inserts_it(statements: list[str]) -> None:
    """Order: temp stage, COPY into the stage, DELETE the run date, INSERT from the stage."""
    create_stage = index_of(statements, rf"CREATE TEMP TABLE {STAGE} \(")
    copy = index_of(statements, rf"COPY {STAGE} FROM '")
    delete = index_of(statements, rf"DELETE FROM {re.escape(TARGET)} ")
    insert = index_of(statements, rf"INSERT INTO {re.escape(TARGET)} ")
    assert create_stage < copy < delete < insert
    # The insert reads the stage and stamps the same day the delete removed.
    assert re.search(rf"SELECT '\{{run_date\}}', .* FROM {STAGE}$", statements[insert])
    assert "sale_date={run_date}/" in statements[copy]


def test_the_delete_is_scoped_to_exactly_the_run_date(statements: list[str]) -> None:
    """The only DELETE removes sale_date = run date; nothing truncates or deletes unscoped."""
    deletes = [s for s in statements if re.match(r"DELETE\b", s, re.IGNORECASE)]
    assert deletes == [f"DELETE FROM {TARGET} WHERE sale_date = '{{run_date}}'"]
    for statement in statements:
        assert not re.search(r"\bTRUNCATE\b|\bDROP\s+TABLE\b", statement, re.IGNORECASE), statement


def test_the_whole_load_is_one_batch_call(definitions: dict[str, dict[str, Any]]) -> None:
    """All statements go in one BatchExecuteStatement (one transaction); no state sends others."""
    redshift_sql_states = [
        (machine, name)
        for machine, definition in definitions.items()
        for name, state in definition["States"].items()
        if re.search(r"redshiftdata:(batch)?executeStatement", state.get("Resource", ""), re.I)
    ]
    assert redshift_sql_states == [("sales_publish.asl.json", "Load the day into Redshift")]
    load = definitions["sales_publish.asl.json"]["States"]["Load the day into Redshift"]
    assert load["Resource"] == "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement"
    assert "Sqls" in load["Arguments"]
