"""Rules for statemachines/sales_pipeline.asl.json as deployed: statelint-clean for every
stage, retries that only retry what can succeed later, and no infrastructure names in it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stepline.definition import (
    PROJECT_ROOT,
    definition_variables,
    load_deployed_definition,
    load_template,
)

ASL_PATH = PROJECT_ROOT / "statemachines/sales_pipeline.asl.json"
ASL_TEXT = ASL_PATH.read_text()
ASL = json.loads(ASL_TEXT)
STAGES = ("dev", "staging", "prod")
STATELINT = Path(sys.executable).parent / "statelint"

# statelint 3.1.0 only accepts "Assign" in JSONata states, but Step Functions supports
# variables in JSONPath states too (Pass, Task, Choice, Wait, Map, Parallel); the
# ASL sets $failedState from JSONPath Pass states. Only that report is tolerated.
STATELINT_JSONPATH_ASSIGN = re.compile(r'Field "Assign" not allowed in State Machine\.States\.(.+)')


def _statelint(definition: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "definition.asl.json"
    path.write_text(json.dumps(definition))
    completed = subprocess.run(
        [str(STATELINT), "--ignore=FLOAT", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode == 0:
        return []
    # "N errors:" then one problem per line.
    return [line.strip() for line in output.splitlines()[1:] if line.strip()]


def _known_false_positive(problem: str, definition: dict[str, Any]) -> bool:
    match = STATELINT_JSONPATH_ASSIGN.fullmatch(problem)
    if match is None:
        return False
    state = definition["States"].get(match.group(1), {})
    language = state.get("QueryLanguage", definition.get("QueryLanguage", "JSONPath"))
    return language == "JSONPath" and "Assign" in state


@pytest.mark.parametrize("stage", STAGES)
def test_the_deployed_definition_passes_statelint(stage: str, tmp_path: Path) -> None:
    """statelint --ignore=FLOAT finds nothing in the stage's definition (but its one known bug)."""
    definition = load_deployed_definition(stage).definition
    problems = _statelint(definition, tmp_path)
    assert [p for p in problems if not _known_false_positive(p, definition)] == []


def test_statelint_does_report_a_broken_definition(tmp_path: Path) -> None:
    """The statelint run above is live: a transition to a missing state is reported."""
    definition = load_deployed_definition("dev").definition
    definition["States"]["Wait for the load"]["Next"] = "No such state"
    problems = _statelint(definition, tmp_path)
    assert any("No such state" in problem for problem in problems)


def _tasks() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}


@pytest.mark.parametrize("name", sorted(_tasks()))
def test_every_task_retries_transient_errors_with_jittered_backoff(name: str) -> None:
    """Each Task retries with MaxAttempts >= 1, BackoffRate, MaxDelaySeconds and JitterStrategy."""
    retriers = _tasks()[name].get("Retry", [])
    assert retriers, f"{name} has no Retry"
    for retrier in retriers:
        assert retrier["MaxAttempts"] >= 1
        assert retrier["BackoffRate"] >= 1
        assert retrier["MaxDelaySeconds"] >= retrier.get("IntervalSeconds", 1)
        assert retrier["JitterStrategy"] == "FULL"


@pytest.mark.parametrize("name", sorted(_tasks()))
def test_no_task_retries_errors_that_will_fail_again(name: str) -> None:
    """No retrier lists States.ALL or States.TaskFailed (a bad file or a SQL error stays bad)."""
    for retrier in _tasks()[name]["Retry"]:
        assert not {"States.ALL", "States.TaskFailed"} & set(retrier["ErrorEquals"])


@pytest.mark.parametrize("name", sorted(_tasks()))
def test_every_task_catches_everything(name: str) -> None:
    """Each Task ends in a States.ALL catcher, so every failure reaches a notification."""
    catchers = _tasks()[name].get("Catch", [])
    assert catchers, f"{name} has no Catch"
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"]
    assert catchers[-1]["Next"] in ASL["States"]


def test_placeholders_and_substitutions_match_exactly() -> None:
    """Every ${Var} of the ASL has a DefinitionSubstitutions entry and every entry is used."""
    template = load_template(PROJECT_ROOT / "template.yaml")
    machine = template["Resources"]["SalesPipelineStateMachine"]["Properties"]
    assert definition_variables(ASL_TEXT) == set(machine["DefinitionSubstitutions"])


def test_the_raw_asl_names_no_infrastructure() -> None:
    """Only Step Functions' own integration ARNs; every s3:// location starts with a placeholder."""
    for arn in re.findall(r"arn:aws[a-z-]*:[^\"' ,)]*", ASL_TEXT):
        assert arn.startswith("arn:aws:states:::"), arn
    for location in re.findall(r"s3://[^\"' ,)]*", ASL_TEXT):
        assert location.startswith("s3://${"), location


# The table name is part of the data layout the ASL's SQL is written against, the
# same in every stage; every other deployed resource name is per stack.
FIXED_NAMES = {"DailySalesTable"}
# Substitutions naming infrastructure (the others are an API key name, a schema and a
# database, which are short words the ASL may well contain).
INFRASTRUCTURE_SUBSTITUTIONS = {
    "ValidateSalesFileFunctionArn", "NotificationTopicArn", "CleanSalesJobName",
    "DataLakeBucket", "EmrClusterId", "AggregateSalesScriptUri", "RedshiftTargetName",
    "RedshiftSecretArn", "RedshiftCopyRoleArn", "GlueDatabaseName", "AthenaWorkGroup",
}  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
def test_no_deployed_name_is_hard_coded_in_the_asl(stage: str) -> None:
    """No bucket, function, job, topic, cluster, database or workgroup name is in the file."""
    deployed = load_deployed_definition(stage)
    for logical_id, identifier in deployed.resources.items():
        if logical_id not in FIXED_NAMES:
            assert identifier not in ASL_TEXT, (logical_id, identifier)
    for name in INFRASTRUCTURE_SUBSTITUTIONS:
        assert deployed.substitutions[name] not in ASL_TEXT, name
