"""Run by tests/template with the SAM CLI's interpreter (.venv-tools), never imported.

    python _sam_tools_script.py translate template.yaml   -> the transformed template (JSON)
    python _sam_tools_script.py overrides samconfig.toml   -> {env: parameter_overrides}

Both use SAM's own code, so the tests compare Stepline's reading of the template and
samconfig.toml with what ``sam deploy`` really does.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from samcli.cli.types import CfnParameterOverridesType
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class _NoManagedPolicyLookups:
    """The template names managed policies by ARN, so no IAM lookup is needed."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template_path: Path) -> dict:
    template = yaml_parse(template_path.read_text())
    # Local paths are what `sam package` replaces with S3 URIs; the translator only
    # accepts the packaged form.
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged-artifacts/{properties[key]}"
    return transform(template, {"AWS::Region": "us-east-1"}, _NoManagedPolicyLookups())


def overrides(samconfig_path: Path) -> dict:
    config = tomllib.loads(samconfig_path.read_text())
    parser = CfnParameterOverridesType()
    return {
        env: parser.convert(section["deploy"]["parameters"]["parameter_overrides"], None, None)
        for env, section in config.items()
        if isinstance(section, dict)
        and "parameter_overrides" in section.get("deploy", {}).get("parameters", {})
    }


if __name__ == "__main__":
    command, path = sys.argv[1], Path(sys.argv[2])
    result = translate(path) if command == "translate" else overrides(path)
    json.dump(result, sys.stdout, default=str)
