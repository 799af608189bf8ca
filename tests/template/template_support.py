"""Helpers of the template checks: IAM statement walking, stage resolvers, the SAM CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stepline.definition import (
    PROJECT_ROOT,
    TemplateResolver,
    load_stage_config,
    stage_parameter_values,
)

SKIP_SAM_VARIABLE = "STEPLINE_SKIP_SAM"


def resolver_for(template: dict[str, Any], stage: str, **overrides: str) -> TemplateResolver:
    """A resolver with the stage's samconfig parameters (and ``overrides``), as deployed."""
    config = load_stage_config(PROJECT_ROOT, stage)
    parameters = stage_parameter_values(
        template, {**config.parameter_overrides, **overrides}, stage=stage
    )
    return TemplateResolver(template, parameters, stack_name=config.stack_name)


@dataclass(frozen=True)
class PolicyStatement:
    """One IAM statement of the template and where it sits."""

    owner: str  # logical id of the role, policy or resource carrying it
    kind: str  # "identity" or "resource"
    statement: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.statement.get("Sid", ""))

    @property
    def actions(self) -> list[str]:
        action = self.statement.get("Action", [])
        return [action] if isinstance(action, str) else list(action)

    @property
    def resources(self) -> list[Any]:
        resource = self.statement.get("Resource", [])
        return resource if isinstance(resource, list) else [resource]


def state_machine_ids(resources: dict[str, Any]) -> list[str]:
    """Logical ids of every AWS::Serverless::StateMachine of the template."""
    return sorted(
        name for name, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"
    )


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, dict):
        statements = document.get("Statement", [])
        yield from [statements] if isinstance(statements, dict) else statements


def iter_policy_statements(resources: dict[str, Any]) -> Iterator[PolicyStatement]:
    """Every IAM statement the template writes itself (SAM policy templates excluded)."""
    for owner, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in _statements(policy["PolicyDocument"]):
                    yield PolicyStatement(owner, "identity", statement)
        elif kind == "AWS::IAM::ManagedPolicy":
            for statement in _statements(properties["PolicyDocument"]):
                yield PolicyStatement(owner, "identity", statement)
        elif kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for policy in properties.get("Policies", []):
                for statement in _statements(policy):
                    yield PolicyStatement(owner, "identity", statement)
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            for statement in _statements(properties["PolicyDocument"]):
                yield PolicyStatement(owner, "resource", statement)
        elif kind == "AWS::KMS::Key":
            for statement in _statements(properties["KeyPolicy"]):
                yield PolicyStatement(owner, "resource", statement)


# ---------------------------------------------------------------- SAM CLI
@dataclass(frozen=True)
class SamCli:
    """The SAM CLI the checks run, and the Python interpreter it was installed with."""

    executable: Path
    python: Path | None

    def env(self) -> dict[str, str]:
        return {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}


def find_sam() -> Path | None:
    """$STEPLINE_SAM, else .venv-tools/bin/sam (made by .ci/tools.sh), else sam on PATH."""
    if os.environ.get("STEPLINE_SAM"):
        return Path(os.environ["STEPLINE_SAM"])
    tools_sam = PROJECT_ROOT / ".venv-tools" / "bin" / "sam"
    if tools_sam.is_file():
        return tools_sam
    on_path = shutil.which("sam")
    return Path(on_path) if on_path else None


def run_tools_python(sam_cli: SamCli, script: Path, *args: str) -> str:
    """Run ``script`` with the SAM CLI's own interpreter (it has samcli and samtranslator)."""
    if sam_cli.python is None:
        pytest.skip(
            f"{sam_cli.executable} has no Python interpreter beside it (not a venv install), "
            "so SAM's own translator cannot be imported"
        )
    completed = subprocess.run(
        [str(sam_cli.python), str(script), *args],
        capture_output=True,
        text=True,
        env=sam_cli.env(),
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout
