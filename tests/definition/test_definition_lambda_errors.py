"""Every error a Lambda Task can see has a decision, and the ASL follows it.

The Lambda functions a machine invokes are found from the deployed definitions (each
lambda:invoke Task's FunctionName, matched to the template's function), so a new Task
invoking one is checked without editing this file. validate_sales_file.errors lists
every error name that can reach the Task with "retry" or "catch"; here the Task's
Retry must list exactly the "retry" ones and none of the "catch" ones (its States.ALL
catcher takes those).
"""

from __future__ import annotations

import pytest
from definition_support import MACHINE_IDS, stack, tasks_of
from prune_generations.app import ERROR_DECISIONS as PRUNE_DECISIONS
from validate_sales_file.errors import ERROR_DECISIONS

# The decisions of each function's errors, by the function's logical id in template.yaml.
DECISIONS_BY_FUNCTION = {
    "ValidateSalesFileFunction": ERROR_DECISIONS,
    "PruneGenerationsFunction": PRUNE_DECISIONS,
}


def _lambda_tasks() -> list[tuple[str, str, str]]:
    """(machine, Task, function logical id) for every lambda:invoke Task of every machine."""
    deployed = stack("dev")
    by_name = {
        str(identifier).rsplit(":function:", 1)[-1]: logical_id
        for logical_id, identifier in deployed.resources.items()
        if logical_id.endswith("Function")
    }
    found = []
    for logical_id in MACHINE_IDS:
        definition = deployed.machines[logical_id].definition
        for name, task in tasks_of(definition).items():
            if task["Resource"] != "arn:aws:states:::lambda:invoke":
                continue
            function = str(task["Arguments"]["FunctionName"]).rsplit(":function:", 1)[-1]
            found.append((logical_id, name, by_name.get(function, function)))
    return found


LAMBDA_TASKS = _lambda_tasks()


def test_the_lambda_tasks_are_found() -> None:
    """The check below is live: the arrival's validation is a Lambda Task of a known function."""
    assert ("SalesArrivalStateMachine", "Validate the sales file", "ValidateSalesFileFunction") in (
        LAMBDA_TASKS
    )


@pytest.mark.parametrize(("machine", "task", "function"), LAMBDA_TASKS, ids=str)
def test_every_lambda_task_retries_exactly_the_errors_decided_retryable(
    machine: str, task: str, function: str
) -> None:
    """Retry lists every "retry" error of the function and none of its "catch" errors."""
    assert function in DECISIONS_BY_FUNCTION, f"{function} has no documented error decisions"
    decisions = DECISIONS_BY_FUNCTION[function]
    definition = stack("dev").machines[machine].definition
    retried = {
        error for retrier in tasks_of(definition)[task]["Retry"] for error in retrier["ErrorEquals"]
    }
    wanted = {name for name, (decision, _) in decisions.items() if decision == "retry"}
    assert retried == wanted, f"{task} retries {sorted(retried)}, decided {sorted(wanted)}"
    catchers = tasks_of(definition)[task]["Catch"]
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"], "the caught ones need a catch-all"
