"""Fixtures for the template checks: the parsed template, its policies, the SAM CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from template_support import (
    SKIP_SAM_VARIABLE,
    PolicyStatement,
    SamCli,
    find_sam,
    iter_policy_statements,
    resolver_for,
)

from stepline.definition import PROJECT_ROOT, TemplateResolver, load_template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(PROJECT_ROOT / "template.yaml")


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def asls(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each state machine's ASL as written (placeholders kept), by logical id."""
    return {
        logical_id: json.loads((PROJECT_ROOT / resource["Properties"]["DefinitionUri"]).read_text())
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }


@pytest.fixture(scope="session")
def dev(template: dict[str, Any]) -> TemplateResolver:
    return resolver_for(template, "dev")


@pytest.fixture(scope="session")
def prod(template: dict[str, Any]) -> TemplateResolver:
    return resolver_for(template, "prod")


@pytest.fixture(scope="session")
def policy_statements(resources: dict[str, Any]) -> list[PolicyStatement]:
    return list(iter_policy_statements(resources))


@pytest.fixture(scope="session")
def sam_cli() -> SamCli:
    if os.environ.get(SKIP_SAM_VARIABLE) == "1":
        pytest.skip(f"{SKIP_SAM_VARIABLE}=1: the SAM CLI checks were switched off on purpose")
    executable = find_sam()
    if executable is None or not executable.is_file():
        pytest.fail(
            "the SAM CLI is not installed: run `bash .ci/tools.sh` (makes .venv-tools/), "
            f"point STEPLINE_SAM at a sam binary, or set {SKIP_SAM_VARIABLE}=1 to skip"
        )
    python = executable.parent / "python"
    return SamCli(executable=executable, python=python if python.is_file() else None)


@pytest.fixture(scope="session")
def cfn_lint() -> Path:
    return Path(sys.executable).parent / "cfn-lint"
