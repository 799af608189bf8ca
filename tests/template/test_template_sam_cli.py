"""The template passes the tools that deploy it: cfn-lint, ``sam validate --lint``, ``sam build``.

Also checks, with SAM's own translator and parameter parser (from .venv-tools), that
the role SAM generates for each state machine and the parameters ``sam deploy`` reads
from samconfig.toml are the ones the other tests reason about.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from template_support import SamCli, run_tools_python, state_machine_ids

from stepline.definition import PROJECT_ROOT, load_stage_config, load_template

TEMPLATE = PROJECT_ROOT / "template.yaml"
TEMPLATE_RESOURCES = load_template(TEMPLATE)["Resources"]
MACHINES = state_machine_ids(TEMPLATE_RESOURCES)
# Kept in step with test_template_iam's table (checked against SAM's expansion below).
SAM_POLICY_TEMPLATE_ACTIONS = {"SNSPublishMessagePolicy": {"sns:Publish"}}
TOOLS_SCRIPT = Path(__file__).with_name("_sam_tools_script.py")


def test_cfn_lint_passes(cfn_lint: Path) -> None:
    """cfn-lint (the project venv's) reports nothing for template.yaml."""
    completed = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_sam_validate_lint_passes(sam_cli: SamCli) -> None:
    """`sam validate --lint` accepts template.yaml."""
    completed = subprocess.run(
        [str(sam_cli.executable), "validate", "--lint", "--template", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=sam_cli.env(),
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "is a valid SAM Template" in completed.stdout


@pytest.fixture(scope="module")
def transformed(sam_cli: SamCli) -> dict[str, Any]:
    return json.loads(run_tools_python(sam_cli, TOOLS_SCRIPT, "translate", str(TEMPLATE)))


def _role_actions(role: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


@pytest.mark.parametrize("machine", MACHINES)
def test_sam_transform_gives_each_state_machine_only_the_declared_policies(
    machine: str, transformed: dict[str, Any]
) -> None:
    """SAM gives each machine its own role: the declared policies, expanded, plus X-Ray only."""
    resources = transformed["Resources"]
    role = resources[f"{machine}Role"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["states.amazonaws.com"]}
    actions = _role_actions(role)
    assert not any(action == "*" or action.endswith(":*") for action in actions)
    # The role test_template_iam reasons about is the one SAM makes: SAM's expansion of
    # the policy templates plus the inline statements, nothing else.
    declared = TEMPLATE_RESOURCES[machine]["Properties"]["Policies"]
    inline = {
        action
        for policy in declared
        if "Statement" in policy
        for statement in policy["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    from_templates = {
        name: actions_of
        for name, actions_of in SAM_POLICY_TEMPLATE_ACTIONS.items()
        if any(name in policy for policy in declared)
    }
    assert actions == inline.union(*from_templates.values())
    properties = resources[machine]["Properties"]
    assert properties["RoleArn"] == {"Fn::GetAtt": [f"{machine}Role", "Arn"]}
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_sam_expands_the_sns_policy_template_to_publish_on_the_topic_only(
    transformed: dict[str, Any],
) -> None:
    """SNSPublishMessagePolicy is sns:Publish on the stack's topic, as test_template_iam says."""
    role = transformed["Resources"]["SalesArrivalStateMachineRole"]["Properties"]
    (statement,) = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "sns:Publish" in json.dumps(statement["Action"])
    ]
    action = statement["Action"]
    actions = {action} if isinstance(action, str) else set(action)
    assert actions == SAM_POLICY_TEMPLATE_ACTIONS["SNSPublishMessagePolicy"]
    assert "NotificationTopic" in json.dumps(statement["Resource"])


def test_sam_transform_versions_the_scripts_layer_for_the_custom_resource(
    transformed: dict[str, Any],
) -> None:
    """After the transform, PipelineAssets references the hash-named layer versions."""
    resources = transformed["Resources"]
    layers = sorted(
        name for name, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"
    )
    assert len(layers) == 2
    scripts, packages = layers
    assert scripts.startswith("EmrJobScriptsLayer")
    assert packages.startswith("ValidatorPackagesLayer")
    assets = resources["PipelineAssets"]["Properties"]
    assert assets["ScriptsLayerArn"] == {"Ref": scripts}
    assert assets["ValidatorPackagesLayerArn"] == {"Ref": packages}
    function = resources["PublishPipelineAssetsFunction"]["Properties"]
    assert function["Layers"] == [{"Ref": scripts}, {"Ref": packages}]


def test_parameter_overrides_read_like_sam_deploy(sam_cli: SamCli) -> None:
    """stepline.definition reads each env's parameter_overrides exactly as SAM's own parser does."""
    by_sam = json.loads(
        run_tools_python(sam_cli, TOOLS_SCRIPT, "overrides", str(PROJECT_ROOT / "samconfig.toml"))
    )
    assert set(by_sam) == {"dev", "staging", "prod"}
    for env, parameters in by_sam.items():
        assert load_stage_config(PROJECT_ROOT, env).parameter_overrides == parameters


@pytest.mark.slow
def test_sam_build_packages_the_functions_with_their_dependencies(
    sam_cli: SamCli, tmp_path: Path
) -> None:
    """`sam build` (python3.12, arm64) bundles each handler with powertools and pydantic."""
    python312 = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))
    assert python312, "sam build needs python3.12: expected pyenv's ~/.pyenv/versions/3.12.*"
    env = sam_cli.env()
    env["PATH"] = f"{python312[-1].parent}:{env['PATH']}"
    build_dir = tmp_path / "build"
    command = [str(sam_cli.executable), "build", "--template", str(TEMPLATE)]
    command += ["--base-dir", str(PROJECT_ROOT), "--build-dir", str(build_dir)]
    command += ["--cache-dir", str(tmp_path / "cache")]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # sam keeps its dependency cache under ./.aws-sam
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    validate = build_dir / "ValidateSalesFileFunction"
    assert (validate / "validate_sales_file" / "app.py").is_file()
    assert (validate / "aws_lambda_powertools").is_dir()
    # Dependencies were fetched for the functions' architecture (arm64), not the host's.
    assert list(validate.glob("pydantic_core/*aarch64*.so"))
    publisher = build_dir / "PublishPipelineAssetsFunction"
    assert (publisher / "publish_pipeline_assets" / "app.py").is_file()
    assert (build_dir / "template.yaml").is_file()
