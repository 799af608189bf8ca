"""The template passes the tools that deploy it: cfn-lint, ``sam validate --lint``, ``sam build``.

Also checks, with SAM's own translator and parameter parser (from .venv-tools), that
the role SAM generates for the state machine and the parameters ``sam deploy`` reads
from samconfig.toml are the ones the other tests reason about.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from template_support import SamCli, run_tools_python

from stepline.definition import PROJECT_ROOT, load_stage_config

TEMPLATE = PROJECT_ROOT / "template.yaml"
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


def test_sam_transform_gives_the_state_machine_only_the_declared_policies(
    transformed: dict[str, Any],
) -> None:
    """SAM's transform gives the state machine role the declared policies plus X-Ray only."""
    role = transformed["Resources"]["SalesPipelineStateMachineRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    # sns:Publish comes from the SNSPublishMessagePolicy template; the rest is inline.
    assert "sns:Publish" in actions
    assert not any(action == "*" or action.endswith(":*") for action in actions)
    machine = transformed["Resources"]["SalesPipelineStateMachine"]["Properties"]
    assert machine["RoleArn"] == {"Fn::GetAtt": ["SalesPipelineStateMachineRole", "Arn"]}
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_sam_transform_versions_the_scripts_layer_for_the_custom_resource(
    transformed: dict[str, Any],
) -> None:
    """After the transform, PipelineAssets references the hash-named scripts layer version."""
    resources = transformed["Resources"]
    layers = [name for name, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(layers) == 1 and layers[0].startswith("EmrJobScriptsLayer")
    assets = resources["PipelineAssets"]["Properties"]
    assert assets["ScriptsLayerArn"] == {"Ref": layers[0]}
    function = resources["PublishPipelineAssetsFunction"]["Properties"]
    assert function["Layers"] == [{"Ref": layers[0]}]


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
