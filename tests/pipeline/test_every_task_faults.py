"""Every Task of every machine, faulted twice: a transient error, then a permanent one.

Nothing here names a Task. The Tasks come from the deployed definitions (``dev``),
so a Task added to any machine is covered the moment it exists, and fails here
until a test case of tests/mocks/sales_pipeline.mock.json reaches it. For each Task
the first test case of its machine that mocks it, reaches it and answers its first
invocation with a Return is the *base*; two variants of the base are generated:

* **transient**: the first invocation throws the first error of the Task's first
  retrier, then the base's answers follow. The execution must retry once and then
  take exactly the base's path to the base's end;
* **permanent**: the first invocation throws an error no retrier lists. The Task
  must not be retried, must go to its catch-all's state, and the execution must
  end in the documented outcome: FAILED with that error (the failed-executions
  alarm, and recovery for arrivals and publishes); the failure notification sent
  naming the state, the error and its cause; an arrival's store-day recorded
  FAILED; a date lease the execution held released. A Task reached only on a
  failure path keeps the first failure's report instead.

The inputs and execution names of the cases are the scenarios' own
(test_mock_scenarios), so each base run is the one its scenario asserts.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import test_mock_scenarios as scenarios

from stepline.definition import PROJECT_ROOT
from stepline.pytest_plugin import SteplineHarness
from stepline.testing import ExecutionView

INJECTED = "Stepline.InjectedPermanentFault"
MOCK_CONFIG: dict[str, Any] = json.loads(
    (PROJECT_ROOT / "tests/mocks/sales_pipeline.mock.json").read_text()
)
HARNESS = SteplineHarness(PROJECT_ROOT, "tests/mocks/sales_pipeline.mock.json", "dev")

# Tasks whose failure is harmless by design, so the execution still succeeds: counting
# a metric about an object the pipeline deliberately does not process.
BENIGN_FAILURES: dict[tuple[str, str], str] = {
    ("SalesArrivalStarter", "Count the ignored object"): "a lost metric of an ignored object",
    ("SalesArrivalStarter", "Count the duplicate delivery"): "the arrival already runs",
    ("SalesPublish", "Remove the superseded generations"): "the day is recorded and published; "
    "the prune failure is a warning of the day notification and the next publish prunes again",
}
# The state whose failure message each machine sends (machines without one are seen
# through their failed-executions alarm only), and the ledger write recording the failure.
FAILURE_NOTIFICATION = {
    "SalesArrival": ("Notify that the run failed", "FAILED"),
    "SalesPublish": ("Notify that the publish failed", "PUBLISH_FAILED"),
}
FAILURE_RECORD = {"SalesArrival": "Record the failure"}


def _deployed_tasks() -> list[tuple[str, str]]:
    deployed = HARNESS.deployed
    return [
        (machine.mock_name, name)
        for machine in sorted(deployed.machines.values(), key=lambda m: m.mock_name)
        for name, state in machine.definition["States"].items()
        if state["Type"] == "Task"
    ]


TASKS = _deployed_tasks()


@functools.cache
def _case_options() -> dict[tuple[str, str], dict[str, Any]]:
    """(machine, test case) -> the options its scenario runs it with (input, names...)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for value in vars(scenarios).values():
        for mark in getattr(value, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "run":
                ((machine, case, options),) = mark.args[1]
                found[(machine, case)] = options
    return found


def _run(machine: str, case: str, config: dict[str, Any]) -> ExecutionView:
    options = dict(_case_options().get((machine, case), {}))
    payload = scenarios._input(machine, options)
    if machine in scenarios.DEFAULT_EXECUTION_NAMES:
        options.setdefault("execution_name", scenarios.DEFAULT_EXECUTION_NAMES[machine]())
    return HARNESS.mock_run(case, payload, machine=machine, mock_config=config, **options)


@functools.cache
def _base_run(machine: str, case: str) -> ExecutionView:
    return _run(machine, case, MOCK_CONFIG)


def _series(name: str) -> list[tuple[int, int, dict[str, Any]]]:
    """A mocked response's entries as (first, last, entry), in order."""
    entries = []
    for key, entry in MOCK_CONFIG["MockedResponses"][name].items():
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", key)
        assert match, key
        first = int(match[1])
        entries.append((first, int(match[2] or first), entry))
    return sorted(entries, key=lambda item: item[0])


@functools.cache
def base_case(machine: str, task: str) -> str | None:
    """The first test case that mocks ``task``, answers its first call, and reaches it."""
    for case, mocks in MOCK_CONFIG["StateMachines"][machine]["TestCases"].items():
        if task not in mocks or "Return" not in _series(mocks[task])[0][2]:
            continue
        if task in _base_run(machine, case).visited:
            return case
    return None


def _with_first_call(machine: str, case: str, task: str, first: dict[str, Any]) -> dict[str, Any]:
    """The mock config with ``task``'s first invocation answered by ``first``, the rest shifted."""
    config = copy.deepcopy(MOCK_CONFIG)
    cases = config["StateMachines"][machine]["TestCases"]
    mocks = cases[case]
    # The failure path may reach Tasks the base case never needed: answer each with the
    # first response another case of the machine gives it.
    for other in cases.values():
        for state, response in other.items():
            mocks.setdefault(state, response)
    series = {"0": first}
    for low, high, entry in _series(mocks[task]):
        series[f"{low + 1}" if low == high else f"{low + 1}-{high + 1}"] = entry
    name = f"Generated fault of {machine} / {task}"
    config["MockedResponses"][name] = series
    mocks[task] = name
    return config


def _task(machine: str, task: str) -> dict[str, Any]:
    return dict(HARNESS.deployed.machine(machine).definition["States"][task])


def _failure_handling(machine: str) -> set[str]:
    """States reachable from a catch-all's target: what runs once something has failed.

    A catcher of a named error (a condition that did not hold, a name already taken) is
    part of the protocol; only States.ALL leads into failure handling, except from a
    Task whose failure is benign by design (BENIGN_FAILURES): its catch-all goes on.
    """
    states = HARNESS.deployed.machine(machine).definition["States"]
    todo = [
        catcher["Next"]
        for name, state in states.items()
        if (machine, name) not in BENIGN_FAILURES
        for catcher in state.get("Catch", [])
        if "States.ALL" in catcher["ErrorEquals"]
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo.extend(rule["Next"] for rule in state.get("Choices", []))
        todo.extend(state[key] for key in ("Next", "Default") if key in state)
        todo.extend(catcher["Next"] for catcher in state.get("Catch", []))
    return seen


def _after_first_entry(run: ExecutionView, task: str) -> str:
    visited = run.visited
    return visited[visited.index(task) + 1]


def _lease_updates(run: ExecutionView) -> Iterator[tuple[str, str]]:
    """(state, UpdateExpression) of every ledger update the run scheduled."""
    for state, parameters in scenarios.scheduled(run):
        if "UpdateExpression" in parameters:
            yield state, str(parameters["UpdateExpression"])


def _succeeded_before(run: ExecutionView, task: str) -> list[str]:
    """The Task states whose work succeeded before ``task`` was first entered, in order."""
    done: list[str] = []
    current = ""
    for event in run.history:
        details = scenarios._details(event)
        if event["type"].endswith("StateEntered"):
            current = details["name"]
            if current == task:
                break
        elif event["type"] == "TaskSucceeded":
            done.append(current)
    return done


def _holds_a_lease_before(run: ExecutionView, task: str, machine: str) -> bool:
    """Whether the execution held a date lease when ``task`` first ran."""
    updates = dict(_lease_updates(run))
    held = machine == "SalesPublish"  # it is started holding the date's lease
    for state in _succeeded_before(run, task):
        update = updates.get(state, "")
        if re.search(r"\bREMOVE\b.*\blease_owner\b", update):
            held = False
        elif re.search(r"\bSET\b.*\blease_owner\s*=", update):
            held = True
    return held


def test_every_task_is_reached_by_a_test_case() -> None:
    """Each Task of each machine has a base case, so the two fault tests below cover it."""
    missing = [(machine, task) for machine, task in TASKS if base_case(machine, task) is None]
    assert missing == [], f"no test case mocks, answers and reaches: {missing}"


def test_the_tasks_are_read_from_every_deployed_machine() -> None:
    """The list is live: every machine of the stack contributes its Tasks."""
    assert {machine for machine, _ in TASKS} == {
        m.mock_name for m in HARNESS.deployed.machines.values()
    }
    assert len(TASKS) >= 40


@pytest.mark.parametrize(("machine", "task"), TASKS, ids=[f"{m}:{t}" for m, t in TASKS])
def test_a_transient_error_is_retried_and_the_run_goes_on(machine: str, task: str) -> None:
    """The Task's first retryable error once: one more retry, then the base's path and end."""
    case = base_case(machine, task)
    if case is None:
        pytest.fail(f"{machine} / {task} is reached by no test case")
    error = _task(machine, task)["Retry"][0]["ErrorEquals"][0]
    throw = {"Throw": {"Error": error, "Cause": f"generated transient {error}"}}
    run = _run(machine, case, _with_first_call(machine, case, task, throw))
    base = _base_run(machine, case)
    assert run.retries(task) == base.retries(task) + 1
    assert run.visited == base.visited
    assert (run.status, run.error) == (base.status, base.error)


@pytest.mark.parametrize(("machine", "task"), TASKS, ids=[f"{m}:{t}" for m, t in TASKS])
def test_a_permanent_error_ends_in_the_documented_outcome(machine: str, task: str) -> None:
    """Not retried; caught; FAILED with the error, notified, recorded, lease released."""
    case = base_case(machine, task)
    if case is None:
        pytest.fail(f"{machine} / {task} is reached by no test case")
    cause = f"generated permanent failure of {task}"
    throw = {"Throw": {"Error": INJECTED, "Cause": cause}}
    run = _run(machine, case, _with_first_call(machine, case, task, throw))
    base = _base_run(machine, case)

    # Not retried, and taken by the catch-all (INJECTED matches no narrower catcher).
    catch_all = _task(machine, task)["Catch"][-1]
    assert catch_all["ErrorEquals"] == ["States.ALL"]
    assert _after_first_entry(run, task) == catch_all["Next"]
    first_pass = run.visited[: run.visited.index(task) + 1]
    assert run.retries(task) == 0 or first_pass.count(task) < run.visited.count(task)

    if (machine, task) in BENIGN_FAILURES:
        assert run.status == "SUCCEEDED", BENIGN_FAILURES[(machine, task)]
        return
    main_path = task not in _failure_handling(machine)
    # A fault on the main path is the execution's failure; on a failure path, the
    # first failure stays the one reported.
    # What the catch-all records: the Task's own error, or (a Task that reports for
    # another) a named error whose cause carries it, against the state it names.
    assigned_state = catch_all.get("Assign", {}).get("failedState", task)
    assert run.status == "FAILED", (run.error, run.cause)
    if main_path:
        assert INJECTED in (run.error, *re.findall(r"[\w.]+", run.cause or "")), run.cause
    else:
        assert run.error == base.error, (run.error, run.cause)

    if machine in FAILURE_NOTIFICATION:
        notifier, outcome = FAILURE_NOTIFICATION[machine]
        if task != notifier:
            sent = [n for n in run.sent_notifications if n.state == notifier]
            assert len(sent) == 1, f"no {outcome} notification: {run.notifications}"
            message = sent[0].message
            assert message["outcome"] == outcome
            if main_path:
                assert message["failed_state"] == assigned_state
                assert message["error"] == INJECTED or INJECTED in message["cause"]
                assert message["error"] != INJECTED or cause in message["cause"]
            else:
                assert message["error"] == base.error
    if machine in FAILURE_RECORD and task != FAILURE_RECORD[machine]:
        (write,) = scenarios.scheduled(run, FAILURE_RECORD[machine])
        reason = write[1]["ExpressionAttributeValues"][":reason"]["S"]
        assert reason.startswith(INJECTED if main_path else str(base.error)), reason
    if _holds_a_lease_before(base, task, machine):
        released = [
            state
            for state, update in _lease_updates(run)
            if state != task and re.search(r"\bREMOVE\b.*\blease_owner\b", update)
        ]
        after = run.visited[run.visited.index(task) + 1 :]
        assert any(state in after for state in released) or task in {
            state for state, update in _lease_updates(run) if "REMOVE" in update
        }, f"the lease held at {task} is never released: {run.visited}"
