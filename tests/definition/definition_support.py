"""What the definition checks iterate over, read from the files themselves.

A machine added to template.yaml or an ASL file added to statemachines/ is
picked up here without anyone editing a list.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from stepline.definition import PROJECT_ROOT, DeployedStack, load_deployed_stack, load_template

STAGES = ("dev", "staging", "prod")
TEMPLATE = load_template(PROJECT_ROOT / "template.yaml")
ASL_FILES = sorted(
    path.relative_to(PROJECT_ROOT).as_posix()
    for path in (PROJECT_ROOT / "statemachines").glob("*.asl.json")
)
MACHINE_IDS = sorted(
    logical_id
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::StateMachine"
)


@functools.cache
def stack(stage: str) -> DeployedStack:
    """The stage's stack, resolved once per test session."""
    return load_deployed_stack(stage)


def machine_properties(logical_id: str) -> dict[str, Any]:
    return dict(TEMPLATE["Resources"][logical_id]["Properties"])


def raw_text(logical_id: str) -> str:
    """The machine's ASL file as written (placeholders not substituted)."""
    return (PROJECT_ROOT / machine_properties(logical_id)["DefinitionUri"]).read_text()


def raw_definition(logical_id: str) -> dict[str, Any]:
    return dict(json.loads(raw_text(logical_id)))


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of a definition, nested Parallel/Map branches included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition.get("States", {}).items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states_of(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.update(states_of(state[key]))
    return found


def tasks_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in states_of(definition).items() if s["Type"] == "Task"}


def all_tasks() -> list[tuple[str, str]]:
    """(machine logical id, Task state name) for every Task of every machine."""
    return [
        (logical_id, name)
        for logical_id in MACHINE_IDS
        for name in sorted(tasks_of(raw_definition(logical_id)))
    ]


def read_project_file(path: str | Path) -> str:
    return (PROJECT_ROOT / path).read_text()
