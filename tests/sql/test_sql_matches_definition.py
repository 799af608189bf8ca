"""The reviewed SQL files are exactly what the publish machine sends to Redshift and Athena.

The publish builds its SQL with JSONata at run time, so the tests run the deployed
publish definition in mock mode (tests/mocks/sales_pipeline.mock.json, HappyPath),
read the parameters its "Load the day into Redshift" and "Build the daily report"
Tasks scheduled, and compare them, token by token (layout and comments aside), with
the files under ``sql/`` rendered for the same date and the stage's substitutions.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stepline.definition import DeployedStack, load_deployed_stack
from stepline.local import run_state_machine
from stepline.local.warehouse import split_sql_statements

REPO = Path(__file__).resolve().parents[2]
LOAD_SQL = REPO / "sql/redshift/load_daily_sales.sql"
REPORT_SQL = REPO / "sql/athena/daily_report.sql"
MOCK_CONFIG = json.loads((REPO / "tests/mocks/sales_pipeline.mock.json").read_text())
# A date unlike the mocks' own, so a date that did not flow from the input shows.
RUN_DATE = "2027-02-28"
STAGES = ("dev", "staging", "prod")
LOAD_STATE = "Load the day into Redshift"
REPORT_STATE = "Build the daily report"


@functools.cache
def _stack(stage: str) -> DeployedStack:
    return load_deployed_stack(stage)


@functools.cache
def _scheduled(stage: str) -> dict[str, list[dict[str, Any]]]:
    """The parameters each Task state of one mocked publish scheduled, by state."""
    publish = _stack(stage).machine("SalesPublish")
    result = run_state_machine(
        publish.definition,
        {"run_date": RUN_DATE},
        mock_config=MOCK_CONFIG,
        test_case="HappyPath",
        state_machine_name=publish.mock_name,
        state_machine_arn=publish.arn,
    )
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    calls: dict[str, list[dict[str, Any]]] = {}
    state = ""
    for event in result.history:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if event["type"].endswith("StateEntered"):
            state = details["name"]
        elif event["type"] == "TaskScheduled":
            calls.setdefault(state, []).append(json.loads(details["parameters"]))
    return calls


def _sent(stage: str, state: str) -> dict[str, Any]:
    (parameters,) = _scheduled(stage)[state]
    return parameters


def render(path: Path, stage: str) -> list[str]:
    """The file's statements with the stage's substitutions and RUN_DATE filled in."""
    substitutions = _stack(stage).machine("SalesPublish").substitutions
    text = path.read_text(encoding="utf-8")
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions)
    assert not missing, f"{path.name} uses placeholders the publish does not have: {missing}"
    text = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text)
    text = text.replace("{publish}", _publish(stage))
    return split_sql_statements(text.replace("{run_date}", RUN_DATE))


def _publish(stage: str) -> str:
    """The pass id of the mocked publish: the name of the manifest it wrote."""
    key = _sent(stage, "Write the publish manifest")["Key"]
    return str(key).rsplit("/", 1)[-1].removesuffix(".json")


# --------------------------------------------------------------------------- comparison

_TOKEN_RE = re.compile(
    r"""'(?:[^']|'')*'      # a string literal, compared exactly
      | "(?:[^"]|"")*"      # a quoted identifier
      | \$\{\w+\}           # a deploy-time placeholder
      | \{run_date\}        # the run date
      | \{publish\}         # the publish pass
      | [A-Za-z_][\w$]*     # a word
      | \d+(?:\.\d+)?       # a number
      | \S                  # any other symbol
    """,
    re.VERBOSE,
)


def tokens(statement: str) -> list[str]:
    return _TOKEN_RE.findall(statement)


def assert_same_statements(file: Path, from_file: list[str], from_definition: list[str]) -> None:
    name = file.relative_to(REPO).as_posix()
    assert len(from_file) == len(from_definition), (
        f"{name} has {len(from_file)} statement(s) but the state machine sends "
        f"{len(from_definition)}:\n  file: {from_file}\n  state machine: {from_definition}"
    )
    for number, (mine, theirs) in enumerate(zip(from_file, from_definition, strict=True), 1):
        assert tokens(mine) == tokens(theirs), (
            f"statement {number} of {name} differs from the state machine's:\n"
            f"  file:          {' '.join(tokens(mine))}\n"
            f"  state machine: {' '.join(tokens(theirs))}\n"
            "Change both together: the file is the reviewed source, the definition is what runs."
        )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("stage", STAGES)
def test_load_sql_file_is_what_the_load_state_sends(stage: str) -> None:
    """sql/redshift/load_daily_sales.sql, rendered, equals the Sqls the load sent, in order."""
    sent = _sent(stage, LOAD_STATE)
    assert_same_statements(LOAD_SQL, render(LOAD_SQL, stage), sent["Sqls"])


@pytest.mark.parametrize("stage", STAGES)
def test_the_load_runs_in_the_stages_warehouse_as_one_batch(stage: str) -> None:
    """One BatchExecuteStatement (one transaction) on the stage's target, database and secret."""
    substitutions = _stack(stage).machine("SalesPublish").substitutions
    sent = _sent(stage, LOAD_STATE)
    assert sent[substitutions["RedshiftTargetKey"]] == substitutions["RedshiftTargetName"]
    assert sent["Database"] == substitutions["RedshiftDatabase"]
    assert sent["SecretArn"] == substitutions["RedshiftSecretArn"]
    assert sent["StatementName"] == f"stepline-load-daily-sales-{RUN_DATE}"
    # The reloads after a serialization conflict send the very same batch: HappyPath loads once.
    assert len(_scheduled(stage)[LOAD_STATE]) == 1


@pytest.mark.parametrize("stage", STAGES)
def test_report_sql_file_is_what_the_report_state_runs(stage: str) -> None:
    """sql/athena/daily_report.sql, rendered, equals the QueryString the report ran."""
    sent = _sent(stage, REPORT_STATE)
    assert_same_statements(REPORT_SQL, render(REPORT_SQL, stage), [sent["QueryString"]])
    substitutions = _stack(stage).machine("SalesPublish").substitutions
    assert sent["WorkGroup"] == substitutions["AthenaWorkGroup"]
    assert sent["ResultConfiguration"]["OutputLocation"] == (
        f"s3://{substitutions['DataLakeBucket']}/reports/daily_sales/date={RUN_DATE}/"
    )


def test_the_rendering_fills_every_placeholder() -> None:
    """The rendered files hold the stage's names and the date, and no placeholder."""
    rendered = " ".join(render(LOAD_SQL, "prod") + render(REPORT_SQL, "prod"))
    assert "${" not in rendered and "{run_date}" not in rendered
    assert "arn:aws:iam::123456789012:role/stepline-prod-redshift-copy" in rendered
    assert f"sale_date={RUN_DATE}/" in rendered and "stepline_sales_prod.daily_sales" in rendered


@pytest.mark.parametrize(
    "changed",
    [
        "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date <= '{run_date}'",
        "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date = '{run_date} '",
    ],
)
def test_comparison_catches_a_one_token_change(changed: str) -> None:
    """An operator or a space inside a literal is a difference, not layout."""
    original = "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date = '{run_date}'"
    with pytest.raises(AssertionError, match=r"statement 1 of sql/redshift/load_daily_sales\.sql"):
        assert_same_statements(LOAD_SQL, [original], [changed])


def test_comparison_catches_a_missing_statement() -> None:
    """A statement dropped from one side is reported with both sides' counts."""
    with pytest.raises(AssertionError, match="has 2 statement"):
        assert_same_statements(LOAD_SQL, ["SELECT 1", "SELECT 2"], ["SELECT 1"])
