"""Rules for every ASL under statemachines/, as deployed: statelint-clean for every stage,
retries that only retry what can succeed later, every failure caught, every wait bounded,
and no infrastructure names in the files.

The machines and Tasks come from template.yaml and the ASL files (definition_support), so
a new machine or Task is checked without anyone editing a list here.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from definition_support import (
    ASL_FILES,
    MACHINE_IDS,
    STAGES,
    all_tasks,
    raw_definition,
    raw_text,
    read_project_file,
    stack,
    states_of,
    tasks_of,
)

STATELINT = Path(sys.executable).parent / "statelint"

# ------------------------------------------------------------------ statelint
# statelint 3.1.0's known false positives, each tolerated only where the ASL really is
# what AWS documents as valid.
#
# 1. statelint only accepts "Assign" in JSONata states, but Step Functions supports
#    variables in JSONPath states too (Pass, Task, Choice, Wait, Map, Parallel).
STATELINT_JSONPATH_ASSIGN = re.compile(r'Field "Assign" not allowed in State Machine\.States\.(.+)')
# 2. In JSONata states, the numeric fields of Wait (Seconds) and Task (TimeoutSeconds,
#    HeartbeatSeconds) may be a JSONata expression string "{% ... %}" that evaluates to
#    the integer (AWS: "Transforming data with JSONata in Step Functions"); statelint
#    checks them as JSONPath integers only. The publish's serialization retry waits
#    "{% 30 * $reloads %}" seconds.
STATELINT_JSONATA_NUMBER = re.compile(
    r"State Machine\.States\.(.+)\.(Seconds|TimeoutSeconds|HeartbeatSeconds) is "
    r'"\{%.*%\}" but should be an Integer'
)


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
    # "N errors:" (or "One error:") then one problem per line.
    return [line.strip() for line in output.splitlines()[1:] if line.strip()]


def _language(definition: dict[str, Any], state: dict[str, Any]) -> str:
    return str(state.get("QueryLanguage", definition.get("QueryLanguage", "JSONPath")))


def _known_false_positive(problem: str, definition: dict[str, Any]) -> bool:
    states = states_of(definition)
    match = STATELINT_JSONPATH_ASSIGN.fullmatch(problem)
    if match is not None:
        state = states.get(match.group(1), {})
        return _language(definition, state) == "JSONPath" and "Assign" in state
    match = STATELINT_JSONATA_NUMBER.fullmatch(problem)
    if match is not None:
        state = states.get(match.group(1), {})
        value = state.get(match.group(2))
        return (
            _language(definition, state) == "JSONata"
            and isinstance(value, str)
            and value.startswith("{%")
            and value.endswith("%}")
        )
    return False


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_the_deployed_definition_passes_statelint(
    logical_id: str, stage: str, tmp_path: Path
) -> None:
    """statelint --ignore=FLOAT finds nothing in the stage's definition (but its known bugs)."""
    definition = stack(stage).machines[logical_id].definition
    problems = _statelint(definition, tmp_path)
    assert [p for p in problems if not _known_false_positive(p, definition)] == []


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_statelint_does_report_a_broken_definition(logical_id: str, tmp_path: Path) -> None:
    """The statelint run above is live for each machine: a transition to nowhere is reported."""
    definition = json.loads(json.dumps(stack("dev").machines[logical_id].definition))
    name = next(n for n, s in definition["States"].items() if "Next" in s)
    definition["States"][name]["Next"] = "No such state"
    problems = _statelint(definition, tmp_path)
    assert any("No such state" in problem for problem in problems)
    assert not all(_known_false_positive(p, definition) for p in problems)


def test_the_false_positive_filter_only_forgives_jsonata_expressions() -> None:
    """A literal non-integer Seconds, or a JSONPath state, is still a reported problem."""
    problem = 'State Machine.States.W.Seconds is "{% 30 * $n %}" but should be an Integer'
    jsonata = {"QueryLanguage": "JSONata", "States": {"W": {"Seconds": "{% 30 * $n %}"}}}
    jsonpath = {"States": {"W": {"Seconds": "{% 30 * $n %}"}}}
    assert _known_false_positive(problem, jsonata)
    assert not _known_false_positive(problem, jsonpath)
    assert not _known_false_positive(problem.replace("W.Seconds", "X.Seconds"), jsonata)


# ----------------------------------------------------------------- Task rules
TASKS = all_tasks()
TASK_IDS = [f"{logical_id}:{name}" for logical_id, name in TASKS]


def _task(logical_id: str, name: str) -> dict[str, Any]:
    return tasks_of(raw_definition(logical_id))[name]


def test_there_are_tasks_to_check() -> None:
    """Every machine has Tasks, so the parametrised Task rules below cover every machine."""
    assert {logical_id for logical_id, _ in TASKS} == set(MACHINE_IDS)


@pytest.mark.parametrize(("logical_id", "name"), TASKS, ids=TASK_IDS)
def test_every_task_retries_transient_errors_with_jittered_capped_backoff(
    logical_id: str, name: str
) -> None:
    """Each Task retries with bounded attempts, BackoffRate, a MaxDelaySeconds cap and jitter."""
    retriers = _task(logical_id, name).get("Retry", [])
    assert retriers, f"{name} has no Retry"
    for retrier in retriers:
        assert retrier["ErrorEquals"], retrier
        assert 1 <= retrier["MaxAttempts"] <= 10
        assert retrier["IntervalSeconds"] >= 1
        assert retrier["BackoffRate"] >= 1
        assert retrier["IntervalSeconds"] <= retrier["MaxDelaySeconds"] <= 300
        assert retrier["JitterStrategy"] == "FULL"


# Errors that fail the same way however often they are retried: a catch-all, a task
# that ran and failed (a bad file, a failed job, a SQL error), missing permissions, a
# condition that did not hold, a name already taken, a bad request.
NEVER_RETRIED = re.compile(
    r"States\.(ALL|TaskFailed|Permissions|Runtime|DataLimitExceeded|QueryEvaluationError"
    r"|ResultPathMatchFailure|ParameterPathFailure|IntrinsicFailure|NoChoiceMatched)"
    r"|.*\.(ConditionalCheckFailed|ExecutionAlreadyExists|TransactionCanceled"
    r"|AccessDenied|ResourceNotFound|Validation|InvalidParameter\w*|InvalidRequest"
    r"|StateMachineDoesNotExist|InvalidArn|InvalidName|InvalidExecutionInput"
    r"|NoSuchKey|NoSuchBucket|EntityNotFound)(Exception)?"
)


@pytest.mark.parametrize(("logical_id", "name"), TASKS, ids=TASK_IDS)
def test_no_task_retries_errors_that_will_fail_again(logical_id: str, name: str) -> None:
    """No retrier lists a catch-all, TaskFailed, Permissions or an error a retry cannot fix."""
    for retrier in _task(logical_id, name)["Retry"]:
        bad = [error for error in retrier["ErrorEquals"] if NEVER_RETRIED.fullmatch(error)]
        assert bad == [], f"{name} retries {bad}"


@pytest.mark.parametrize(
    "error",
    [
        "States.ALL",
        "States.TaskFailed",
        "States.Permissions",
        "DynamoDB.ConditionalCheckFailedException",
        "StepFunctions.ExecutionAlreadyExistsException",
        "S3.NoSuchKeyException",
    ],
)
def test_the_never_retried_list_knows_the_usual_permanent_errors(error: str) -> None:
    """The list above really matches the errors the brief forbids retrying."""
    assert NEVER_RETRIED.fullmatch(error)
    assert not NEVER_RETRIED.fullmatch("DynamoDB.ThrottlingException")


# Tasks that deliberately let an error fail the execution, instead of ending in a
# States.ALL catcher: (machine logical id, state) -> why. None today: every failure,
# even of the last notification, ends in a Fail state the machine chose.
LETS_ERRORS_FAIL_THE_EXECUTION: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(("logical_id", "name"), TASKS, ids=TASK_IDS)
def test_every_task_catches_everything(logical_id: str, name: str) -> None:
    """Each Task ends in a States.ALL catcher to a state that exists (or is a listed exception)."""
    if (logical_id, name) in LETS_ERRORS_FAIL_THE_EXECUTION:
        pytest.skip(LETS_ERRORS_FAIL_THE_EXECUTION[(logical_id, name)])
    catchers = _task(logical_id, name).get("Catch", [])
    assert catchers, f"{name} has no Catch"
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"]
    states = states_of(raw_definition(logical_id))
    for catcher in catchers:
        assert catcher["Next"] in states
        assert "States.ALL" not in catcher["ErrorEquals"] or catcher is catchers[-1]


def test_documented_exceptions_name_real_tasks() -> None:
    """The exception list above names only Tasks that exist, each with a reason."""
    for (logical_id, name), reason in LETS_ERRORS_FAIL_THE_EXECUTION.items():
        assert name in tasks_of(raw_definition(logical_id)) and reason


@pytest.mark.parametrize(("logical_id", "name"), TASKS, ids=TASK_IDS)
def test_every_task_has_a_timeout_within_the_machine_timeout(logical_id: str, name: str) -> None:
    """TimeoutSeconds on each Task (no Task waits forever), none longer than its machine's."""
    definition = raw_definition(logical_id)
    timeout = _task(logical_id, name).get("TimeoutSeconds")
    assert isinstance(timeout, int) and timeout > 0, f"{name} has no TimeoutSeconds"
    assert timeout <= definition["TimeoutSeconds"]


# Express workflows run for at most five minutes (AWS Step Functions quotas).
EXPRESS_MAXIMUM_SECONDS = 300


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_every_machine_has_a_timeout(logical_id: str) -> None:
    """A machine-level TimeoutSeconds bounds every execution (Express: within five minutes)."""
    definition = raw_definition(logical_id)
    timeout = definition.get("TimeoutSeconds")
    assert isinstance(timeout, int) and timeout > 0, f"{logical_id} has no TimeoutSeconds"
    if stack("dev").machines[logical_id].express:
        assert timeout <= EXPRESS_MAXIMUM_SECONDS


# Optimized DynamoDB integrations report "DynamoDB.<Exception>"; AWS SDK integrations use
# the SDK service name in PascalCase, "DynamoDb.<Exception>" (AWS: "Learning to use AWS
# service SDK integrations in Step Functions"). A retrier or catcher with the other
# spelling never matches.
DYNAMODB_ERROR_PREFIX = {
    "arn:aws:states:::dynamodb:": "DynamoDB.",
    "arn:aws:states:::aws-sdk:dynamodb:": "DynamoDb.",
}


@pytest.mark.parametrize(("logical_id", "name"), TASKS, ids=TASK_IDS)
def test_dynamodb_error_names_use_the_integrations_spelling(logical_id: str, name: str) -> None:
    """DynamoDB errors are named DynamoDB.* for the optimized integration, DynamoDb.* for SDK."""
    task = _task(logical_id, name)
    errors = [
        error
        for handler in [*task.get("Retry", []), *task.get("Catch", [])]
        for error in handler["ErrorEquals"]
        if error.lower().startswith("dynamodb.")
    ]
    for resource_prefix, error_prefix in DYNAMODB_ERROR_PREFIX.items():
        if task["Resource"].startswith(resource_prefix):
            assert [e for e in errors if not e.startswith(error_prefix)] == []
            return
    assert errors == [], f"{name} ({task['Resource']}) handles DynamoDB errors it cannot raise"


# ----------------------------------------------------------------- loops
@dataclass(frozen=True)
class Edge:
    """One transition: from a state, to a state, with the variables it assigns."""

    source: str
    target: str
    assign: dict[str, Any] = field(hash=False, compare=False)
    rule: float = math.inf  # index of the Choice rule taken (inf: Default, Next or Catch)


def _edges(definition: dict[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    for name, state in definition["States"].items():
        if state["Type"] == "Choice":
            for index, rule in enumerate(state.get("Choices", [])):
                edges.append(Edge(name, rule["Next"], rule.get("Assign", {}), index))
            if "Default" in state:
                edges.append(Edge(name, state["Default"], state.get("Assign", {})))
        elif "Next" in state:
            edges.append(Edge(name, state["Next"], state.get("Assign", {})))
        for catcher in state.get("Catch", []):
            edges.append(Edge(name, catcher["Next"], catcher.get("Assign", {})))
    return edges


def _simple_cycles(edges: list[Edge]) -> Iterator[list[Edge]]:
    """Every elementary cycle, each found once (from its alphabetically first state)."""
    outgoing: dict[str, list[Edge]] = {}
    for edge in edges:
        outgoing.setdefault(edge.source, []).append(edge)

    def walk(start: str, path: list[Edge], seen: set[str]) -> Iterator[list[Edge]]:
        here = path[-1].target if path else start
        for edge in outgoing.get(here, []):
            if edge.target == start:
                yield [*path, edge]
            elif edge.target > start and edge.target not in seen:
                yield from walk(start, [*path, edge], seen | {edge.target})

    for start in sorted(outgoing):
        yield from walk(start, [], {start})


def _increment(variable: str, expression: Any) -> bool:
    return isinstance(expression, str) and bool(
        re.fullmatch(r"\{%\s*\$" + variable + r"\s*\+\s*[1-9]\d*\s*%\}", expression)
    )


def _loop_guard(definition: dict[str, Any], cycle: list[Edge]) -> tuple[str, int] | None:
    """The counter that bounds ``cycle`` and its limit, or None when nothing bounds it.

    A cycle is bounded by a variable it increments (and never resets) when a Choice on
    the cycle leaves it once ``$v >= N`` (a rule before the one the cycle takes), or only
    stays on it while ``$v < N`` (the rule the cycle takes).
    """
    assigned: dict[str, list[Any]] = {}
    for edge in cycle:
        for variable, expression in edge.assign.items():
            assigned.setdefault(variable, []).append(expression)
    counters = {
        variable
        for variable, expressions in assigned.items()
        if expressions and all(_increment(variable, e) for e in expressions)
    }
    for edge in cycle:
        state = definition["States"][edge.source]
        if state["Type"] != "Choice":
            continue
        for index, rule in enumerate(state.get("Choices", [])):
            condition = rule.get("Condition", "")
            if " or " in condition:
                continue
            for variable in counters:
                leaves = re.search(r"\$" + variable + r"\s*>=?\s*(\d+)", condition)
                stays = re.search(r"\$" + variable + r"\s*<=?\s*(\d+)", condition)
                if leaves and index < edge.rule and rule["Next"] != edge.target:
                    return variable, int(leaves.group(1))
                if stays and index == edge.rule:
                    return variable, int(stays.group(1))
    return None


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_every_loop_of_every_machine_is_bounded(logical_id: str) -> None:
    """Each cycle of states increments a counter that a Choice on the cycle caps."""
    definition = raw_definition(logical_id)
    unbounded = [
        " > ".join(edge.source for edge in cycle)
        for cycle in _simple_cycles(_edges(definition))
        if _loop_guard(definition, cycle) is None
    ]
    assert unbounded == []


def test_the_publish_loops_are_the_load_poll_the_serialization_retry_and_the_passes() -> None:
    """The publish's three loops are capped: 60 polls, 5 reloads, 20 passes per execution."""
    definition = raw_definition("SalesPublishStateMachine")
    guards = {
        guard
        for cycle in _simple_cycles(_edges(definition))
        if (guard := _loop_guard(definition, cycle)) is not None
    }
    assert guards == {("polls", 60), ("reloads", 5), ("passes", 20)}
    # The counters start at zero before their loops.
    start = definition["States"]["Read the publish request"]["Assign"]
    assert (start["passes"], start["reloads"]) == (0, 0)
    assert definition["States"]["Load the day into Redshift"]["Assign"]["polls"] == 0
    # A load that never ends is given up on (and cancelled) well within the machine timeout.
    poll_wait = definition["States"]["Wait for the load"]["Seconds"]
    assert 60 * poll_wait < definition["TimeoutSeconds"]


def test_the_loop_check_finds_an_unbounded_loop() -> None:
    """Without the poll counter's cap the load poll is reported as unbounded."""
    definition = raw_definition("SalesPublishStateMachine")
    choice = definition["States"]["Is the load finished?"]
    choice["Choices"] = [r for r in choice["Choices"] if "$polls" not in r["Condition"]]
    unbounded = [
        [edge.source for edge in cycle]
        for cycle in _simple_cycles(_edges(definition))
        if _loop_guard(definition, cycle) is None
    ]
    assert ["Check the load", "Is the load finished?", "Count the poll", "Wait for the load"] in (
        unbounded
    )


# ----------------------------------------------------------- the date lease
def _set_clause(update_expression: str) -> str:
    match = re.search(r"\bSET\b(.*?)(?=\b(?:REMOVE|ADD|DELETE)\b|$)", update_expression)
    return match.group(1) if match else ""


def _arguments(logical_id: str, name: str) -> dict[str, Any]:
    task = _task(logical_id, name)
    return dict(task.get("Arguments", task.get("Parameters", {})))


def _lease_takers() -> list[tuple[str, str]]:
    return [
        (logical_id, name)
        for logical_id, name in TASKS
        if "lease_owner =" in _set_clause(_arguments(logical_id, name).get("UpdateExpression", ""))
    ]


def test_the_lease_is_taken_in_the_request_and_handed_over_in_the_publish() -> None:
    """The Tasks that give a date's lease to an execution are found (the check below is live)."""
    assert _lease_takers() == [
        ("SalesPublishRequestStateMachine", "Take the date"),
        ("SalesPublishStateMachine", "Hand the date over"),
    ]


@pytest.mark.parametrize(("logical_id", "name"), _lease_takers(), ids=str)
def test_every_lease_given_to_an_execution_is_a_fresh_full_lease(
    logical_id: str, name: str
) -> None:
    """Whoever sets lease_owner also sets lease_expires to now + PublishLeaseSeconds."""
    arguments = _arguments(logical_id, name)
    assert "lease_expires =" in _set_clause(arguments["UpdateExpression"])
    assert "${PublishLeaseSeconds}" in json.dumps(arguments["ExpressionAttributeValues"])


@pytest.mark.parametrize("stage", STAGES)
def test_the_publish_lease_outlives_the_publish_machine(stage: str) -> None:
    """PublishLeaseSeconds exceeds the TimeoutSeconds of the machine the lease is handed to."""
    deployed = stack(stage)
    checked = 0
    for logical_id, _ in _lease_takers():
        machine = deployed.machines[logical_id]
        lease = int(machine.substitutions["PublishLeaseSeconds"])
        started = {
            task["Arguments"]["StateMachineArn"]
            for task in tasks_of(machine.definition).values()
            if task["Resource"].startswith("arn:aws:states:::states:startExecution")
        }
        assert started, f"{logical_id} takes a lease but starts no execution"
        for arn in started:
            assert lease > deployed.machine(arn).definition["TimeoutSeconds"], (logical_id, arn)
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("stage", STAGES)
def test_every_machine_that_gives_leases_gives_the_same_length(stage: str) -> None:
    """The request's lease and the publish's hand-over lease are one length, so neither drifts."""
    lengths = {
        stack(stage).machines[logical_id].substitutions["PublishLeaseSeconds"]
        for logical_id, _ in _lease_takers()
    }
    assert len(lengths) == 1


# ------------------------------------------------------- no names in the files
@pytest.mark.parametrize("asl_file", ASL_FILES)
def test_the_raw_asl_names_no_infrastructure(asl_file: str) -> None:
    """Only Step Functions' own integration ARNs; every s3:// location starts with a placeholder."""
    text = read_project_file(asl_file)
    for arn in re.findall(r"arn:aws[a-z-]*:[^\"' ,)]*", text):
        assert arn.startswith("arn:aws:states:::"), arn
    for location in re.findall(r"s3://[^\"' ,)]*", text):
        # "s3://" alone opens a URI built at run time ('s3://' & $arrival.bucket ...).
        assert location == "s3://" or location.startswith("s3://${"), location
    assert not re.search(r"\b\d{12}\b", text), "an account id in the ASL"


# The table name is part of the data layout the ASL's SQL is written against, the same
# in every stage; every other deployed resource name is per stack.
FIXED_NAMES = {"DailySalesTable"}
# Substitutions that are short words the ASL may well contain, not infrastructure: the
# stage, the SQL schema and database, the Redshift target's key, a number, the store list.
WORD_SUBSTITUTIONS = {
    "Stage", "RedshiftSchema", "RedshiftDatabase", "RedshiftTargetKey",
    "PublishLeaseSeconds", "ExpectedStores",
}  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_no_deployed_name_is_hard_coded_in_the_asl(logical_id: str, stage: str) -> None:
    """No bucket, function, table, job, topic, machine, cluster or workgroup name in the file."""
    deployed = stack(stage)
    text = raw_text(logical_id)
    for resource, identifier in deployed.resources.items():
        if resource not in FIXED_NAMES:
            assert identifier not in text, (resource, identifier)
    for name, value in deployed.machines[logical_id].substitutions.items():
        if name not in WORD_SUBSTITUTIONS:
            assert value and value not in text, name
