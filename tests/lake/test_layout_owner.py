"""emr_jobs/sales_lake.py owns the zones downstream of validation: everyone else agrees with it.

The Spark jobs and the local runtime import the module; the template's Glue
table, the Redshift DDL and the keys the publish machine builds in JSONata
cannot, so these tests check them against it (tests/spark checks the clean
and manifest keys the machines share with the jobs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonata import Jsonata

from emr_jobs import sales_lake
from stepline.definition import TemplateResolver, load_deployed_stack, load_template
from stepline.local.warehouse import split_sql_statements

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-20"
PUBLISH = "2026-11-20_publish_3_abcd1234-c3"


@pytest.fixture(scope="module")
def stack() -> Any:
    return load_deployed_stack("dev")


@pytest.fixture(scope="module")
def table(stack: Any) -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    resolver = TemplateResolver(template, stack.parameters, stack_name=stack.stack_name)
    return dict(resolver.resolve(template["Resources"]["DailySalesTable"]["Properties"]))


def _evaluate(stack: Any, machine: str, state: str, path: list[str], **variables: Any) -> Any:
    """One JSONata field of a deployed machine's state, evaluated with these variables."""
    value: Any = stack.machine(machine).definition["States"][state]
    for key in path:
        value = value[key]
    assert value.startswith("{%") and value.endswith("%}"), value
    return Jsonata(value[2:-2]).evaluate(None, variables)


def test_the_glue_table_has_the_curated_columns_in_order(table) -> None:
    """Athena's table lists exactly sales_lake.CURATED_COLUMNS with their Glue types."""
    columns = table["TableInput"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [
        (c.name, c.glue) for c in sales_lake.CURATED_COLUMNS
    ]
    day, generation = table["TableInput"]["PartitionKeys"]
    assert (day["Name"], day["Type"]) == (
        sales_lake.CURATED_PARTITION_KEY.name,
        sales_lake.CURATED_PARTITION_KEY.glue,
    )
    assert (generation["Name"], generation["Type"]) == (sales_lake.CURATED_GENERATION_KEY, "string")
    # Injected: Athena refuses a query that does not name the generation it reads.
    parameters = table["TableInput"]["Parameters"]
    assert parameters[f"projection.{sales_lake.CURATED_GENERATION_KEY}.type"] == "injected"


def test_the_glue_table_reads_the_curated_zone(stack, table) -> None:
    """The table's location and projection template are the curated zone's keys."""
    lake = stack.resources["DataLakeBucket"]
    parameters = table["TableInput"]["Parameters"]
    descriptor = table["TableInput"]["StorageDescriptor"]
    assert descriptor["Location"] == sales_lake.lake_uri(lake, sales_lake.CURATED_ROOT)
    template = parameters["storage.location.template"].replace("${sale_date}", DAY)
    template = template.replace("${publish}", PUBLISH)
    assert template == sales_lake.lake_uri(lake, sales_lake.curated_generation_key(DAY, PUBLISH))


def test_the_redshift_tables_have_the_curated_columns(stack) -> None:
    """daily_sales is sale_date + the curated columns, the COPY stage the curated columns."""
    text = (ROOT / "sql/redshift/load_daily_sales.sql").read_text()
    statements = [
        re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", " ".join(s.split())))
        for s in split_sql_statements(text)
    ]
    target = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS"))
    stage = next(s for s in statements if s.startswith("CREATE TEMP TABLE"))
    key = sales_lake.CURATED_PARTITION_KEY
    assert (
        f"({key.name} {key.redshift} NOT NULL, "
        + sales_lake.redshift_columns_ddl(sales_lake.CURATED_COLUMNS, not_null=True)
        + ")"
        in target
    )
    assert (
        "(" + sales_lake.redshift_columns_ddl(sales_lake.CURATED_COLUMNS, not_null=False) + ")"
        in stage
    )


def test_the_load_copies_the_passs_own_curated_generation(stack) -> None:
    """The COPY the publish sends reads exactly sales_lake.curated_generation_key of the pass."""
    sqls = _evaluate(
        stack,
        "SalesPublish",
        "Load the day into Redshift",
        ["Arguments", "Sqls"],
        day=DAY,
        publish=PUBLISH,
    )
    [copy] = [sql for sql in sqls if sql.startswith("COPY")]
    lake = stack.resources["DataLakeBucket"]
    location = re.search(r"FROM '([^']+)'", copy)
    expected = sales_lake.lake_uri(lake, sales_lake.curated_generation_key(DAY, PUBLISH))
    assert location and location[1] == expected


def test_the_report_reads_the_passs_own_generation(stack) -> None:
    """The report query names the pass's generation, as the table's injected projection needs."""
    query = _evaluate(
        stack,
        "SalesPublish",
        "Build the daily report",
        ["Arguments", "QueryString"],
        day=DAY,
        publish=PUBLISH,
    )
    assert f"WHERE sale_date = '{DAY}' AND publish = '{PUBLISH}'" in query


def test_the_latest_report_has_one_key_per_date(stack) -> None:
    """The day's latest report is copied to sales_lake.latest_report_key and recorded there."""
    state = "Keep the day's latest report"
    key = _evaluate(stack, "SalesPublish", state, ["Arguments", "Key"], day=DAY)
    assert key == sales_lake.latest_report_key(DAY)
    report = {"output_uri": "s3://lake/reports/daily_sales/date=D/q-1.csv"}
    assigned = _evaluate(stack, "SalesPublish", state, ["Assign", "report"], day=DAY, report=report)
    lake = stack.resources["DataLakeBucket"]
    assert assigned["latest_uri"] == sales_lake.lake_uri(lake, key)


@pytest.mark.parametrize(
    ("state", "path", "key"),
    [
        ("Write the publish manifest", ["Arguments", "Key"], sales_lake.manifest_key(DAY, PUBLISH)),
        ("Read the day's summary", ["Arguments", "Key"], sales_lake.summary_key(DAY, PUBLISH)),
    ],
)
def test_the_publish_reads_and_writes_the_layouts_keys(stack, state, path, key) -> None:
    """The manifest and summary keys the publish builds are sales_lake's."""
    assert _evaluate(stack, "SalesPublish", state, path, day=DAY, publish=PUBLISH) == key


def test_the_report_is_filed_under_the_reports_zone(stack) -> None:
    """Athena writes the day's report under sales_lake.reports_day_key."""
    location = _evaluate(
        stack,
        "SalesPublish",
        "Build the daily report",
        ["Arguments", "ResultConfiguration", "OutputLocation"],
        day=DAY,
    )
    lake = stack.resources["DataLakeBucket"]
    assert location == sales_lake.lake_uri(lake, sales_lake.reports_day_key(DAY))


def test_the_publish_pass_id_is_the_layouts(stack) -> None:
    """The pass id the publish names files by is sales_lake.publish_id(execution, covered)."""
    state = stack.machine("SalesPublish").definition["States"]["Take the date for this pass"]
    expression = state["Assign"]["publish"][2:-2]
    bindings = {
        "states": {
            "context": {"Execution": {"Name": "2026-11-20_publish_3_abcd1234"}},
            "result": {"Attributes": {"covered": {"N": "3"}}},
        }
    }
    assert Jsonata(expression).evaluate(None, bindings) == sales_lake.publish_id(
        "2026-11-20_publish_3_abcd1234", 3
    )


def test_the_manifest_the_publish_writes_is_one_the_job_accepts(stack) -> None:
    """The manifest body parses with sales_lake.Manifest (so the EMR step can read it)."""
    body = _evaluate(
        stack,
        "SalesPublish",
        "Write the publish manifest",
        ["Arguments", "Body"],
        day=DAY,
        publish=PUBLISH,
        included=[
            {
                "store_id": "s1",
                "run": "2026-11-20_s1_000000000000",
                "clean_uri": "s3://lake/"
                + sales_lake.clean_run_key(DAY, "s1", "2026-11-20_s1_000000000000"),
            }
        ],
    )
    manifest = sales_lake.Manifest.from_json(json.loads(body))
    assert (manifest.run_date, manifest.publish, [d.store_id for d in manifest.store_days]) == (
        DAY,
        PUBLISH,
        ["s1"],
    )
