"""The stack exactly as ``sam deploy`` deploys it, for one stage: every state machine and its names.

CloudFormation never shows the definition it runs: it reads the ASL file, replaces
every ``${Name}`` with the resolved ``DefinitionSubstitutions`` value of the
``AWS::Serverless::StateMachine`` and parses the result. This module does the same
offline, from ``template.yaml`` and the stage's section of ``samconfig.toml``, so the
local runtime, the CLI and the tests run the very definition a stage gets, with the
very names (buckets, function ARN, Glue job, topic...) the stack would create.

    >>> stack = load_deployed_stack("dev")
    >>> arrival = stack.machine("SalesArrival")
    >>> arrival.definition["StartAt"]
    'Read the arrival'
    >>> stack.function_for_arn(arrival.substitutions["ValidateSalesFileFunctionArn"]).handler
    'validate_sales_file.app.lambda_handler'

Only the CloudFormation intrinsics the template uses are understood (``Ref``,
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If`` with ``Conditions``, ``Fn::Equals``, ``Fn::Not``,
``Fn::And``, ``Fn::Or``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``);
anything else fails loudly with :class:`DefinitionError` rather than guessing.
Physical names come from each resource's explicit name property, or else are
``{stack_name}-{LogicalId}`` (CloudFormation would add a random suffix).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from publish_pipeline_assets.assets import DEFAULT_KEY_PREFIX, discover_scripts, script_uris

from stepline.errors import DefinitionError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FILE = "template.yaml"
SAMCONFIG_FILE = "samconfig.toml"
#: Names the user's project explicitly, wherever the command runs from.
PROJECT_ROOT_VARIABLE = "STEPLINE_PROJECT_ROOT"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

# What CloudFormation treats as a DefinitionSubstitutions placeholder.
SUBSTITUTION_PATTERN = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Any ${...} inside an Fn::Sub string, including ${!Literal} and ${Resource.Attr}.
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class MissingSubstitutionError(DefinitionError):
    """The ASL uses ``${Name}`` placeholders that DefinitionSubstitutions does not define."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(set(names))
        super().__init__(
            "the state machine definition uses "
            + ", ".join(f"${{{name}}}" for name in self.names)
            + " but DefinitionSubstitutions in template.yaml does not define "
            + ("it" if len(self.names) == 1 else "them")
        )


class UnknownResourceError(DefinitionError, LookupError):
    """A lookup named a function or job the template does not deploy."""


# ------------------------------------------------------------------ YAML loading
class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads CloudFormation short-form tags as their long form.

    ``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``,
    ``!Sub s`` -> ``{"Fn::Sub": "s"}`` and so on for every ``Fn::`` function.
    """


_SHORT_FORM_FUNCTIONS = frozenset(
    {
        "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "If", "ImportValue",
        "Join", "Length", "Not", "Or", "Select", "Split", "Sub", "ToJsonString", "Transform",
    }
)  # fmt: skip


def _construct_cloudformation_tag(
    loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node
) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt":
        if isinstance(value, str):
            logical_id, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [logical_id, attribute]}
        return {"Fn::GetAtt": value}
    if tag_suffix in _SHORT_FORM_FUNCTIONS:
        return {f"Fn::{tag_suffix}": value}
    raise yaml.constructor.ConstructorError(
        None, None, f"unknown CloudFormation tag !{tag_suffix}", node.start_mark
    )


CloudFormationLoader.add_multi_constructor("!", _construct_cloudformation_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain long-form data."""
    try:
        with path.open(encoding="utf-8") as stream:
            # CloudFormationLoader is a SafeLoader: no arbitrary objects are built.
            template = yaml.load(stream, Loader=CloudFormationLoader)
    except FileNotFoundError as error:
        raise DefinitionError(f"no template at {path}") from error
    if not isinstance(template, dict) or "Resources" not in template:
        raise DefinitionError(f"{path} is not a CloudFormation template (no Resources)")
    return template


# ------------------------------------------------------------ samconfig.toml
@dataclass(frozen=True)
class StageConfig:
    """One ``samconfig.toml`` environment: where and with which parameters it deploys."""

    stage: str
    stack_name: str
    parameter_overrides: dict[str, str]
    deploy_parameters: dict[str, Any]


def parse_parameter_overrides(value: str | list[str] | Mapping[str, Any] | None) -> dict[str, str]:
    """Read samconfig's ``parameter_overrides`` the way ``sam deploy`` does.

    Accepts a string (``"A=1 B=\\"two words\\""``), a list of ``"K=V"`` strings, or a
    table; each pair may also be ``ParameterKey=K,ParameterValue=V``. ``K=""`` is an
    empty value.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(key): _override_value(item) for key, item in value.items()}
    if isinstance(value, str):
        tokens = shlex.split(value)
    else:
        tokens = []
        for item in value:
            item_tokens = shlex.split(str(item))
            if len(item_tokens) != 1:
                raise DefinitionError(f"parameter_overrides item {item!r} is not one KEY=VALUE")
            tokens.extend(item_tokens)
    overrides: dict[str, str] = {}
    for token in tokens:
        match = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", token) or re.fullmatch(
            r"([A-Za-z0-9]+)=(.*)", token
        )
        if match is None:
            raise DefinitionError(f"parameter_overrides entry {token!r} is not KEY=VALUE")
        overrides[match.group(1)] = match.group(2)
    return overrides


def _override_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_stage_config(project_root: Path, stage: str) -> StageConfig:
    """The ``[<stage>.*.parameters]`` sections of ``samconfig.toml``."""
    path = project_root / SAMCONFIG_FILE
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DefinitionError(f"no {SAMCONFIG_FILE} at {path}") from error
    environments = sorted(name for name, value in config.items() if isinstance(value, dict))
    if stage not in config:
        raise DefinitionError(
            f"{SAMCONFIG_FILE} has no [{stage}.*] environment; it has: {', '.join(environments)}"
        )
    environment = config[stage]
    global_parameters = environment.get("global", {}).get("parameters", {})
    deploy_parameters = {**global_parameters, **environment.get("deploy", {}).get("parameters", {})}
    stack_name = deploy_parameters.get("stack_name")
    if not stack_name:
        raise DefinitionError(f"{SAMCONFIG_FILE} [{stage}.deploy.parameters] has no stack_name")
    return StageConfig(
        stage=stage,
        stack_name=str(stack_name),
        parameter_overrides=parse_parameter_overrides(deploy_parameters.get("parameter_overrides")),
        deploy_parameters=deploy_parameters,
    )


def stage_parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str], *, stage: str = "?"
) -> dict[str, str]:
    """Template parameter defaults overridden by ``overrides``, checked like CloudFormation.

    Fails when an override names no template parameter, a parameter has neither a
    default nor an override, or a value breaks AllowedValues/AllowedPattern.
    """
    declared: Mapping[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise DefinitionError(
            f"stage {stage}: parameter_overrides set {', '.join(unknown)}, "
            "which template.yaml does not declare"
        )
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = _override_value(spec["Default"])
        else:
            missing.append(name)
            continue
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [_override_value(item) for item in allowed]:
            raise DefinitionError(
                f"stage {stage}: parameter {name}={value!r} is not one of {allowed}"
            )
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            raise DefinitionError(
                f"stage {stage}: parameter {name}={value!r} does not match {pattern}"
            )
        values[name] = value
    if missing:
        raise DefinitionError(
            f"stage {stage}: parameter(s) {', '.join(missing)} have no default in template.yaml "
            f"and no value in samconfig.toml [{stage}.deploy.parameters] parameter_overrides"
        )
    return values


# --------------------------------------------------------- resource identities
@dataclass(frozen=True)
class _ResourceKind:
    """How CloudFormation names one resource type and what Ref/GetAtt return for it.

    Formats use ``{name}``, ``{partition}``, ``{region}``, ``{account}`` and
    ``{url_suffix}``.
    """

    name_property: tuple[str, ...] | None
    ref: str = "{name}"
    attributes: Mapping[str, str] = field(default_factory=dict)
    lowercase: bool = False


_FUNCTION = _ResourceKind(
    ("FunctionName",),
    attributes={"Arn": "arn:{partition}:lambda:{region}:{account}:function:{name}"},
)
_STATE_MACHINE_ARN = "arn:{partition}:states:{region}:{account}:stateMachine:{name}"
_LAYER_ARN = "arn:{partition}:lambda:{region}:{account}:layer:{name}:1"
_NAMED = _ResourceKind(("Name",))

RESOURCE_KINDS: Mapping[str, _ResourceKind] = {
    "AWS::S3::Bucket": _ResourceKind(
        ("BucketName",),
        attributes={
            "Arn": "arn:{partition}:s3:::{name}",
            "DomainName": "{name}.s3.{url_suffix}",
            "RegionalDomainName": "{name}.s3.{region}.{url_suffix}",
        },
        lowercase=True,
    ),
    "AWS::Serverless::Function": _FUNCTION,
    "AWS::Lambda::Function": _FUNCTION,
    "AWS::Serverless::StateMachine": _ResourceKind(
        ("Name",), ref=_STATE_MACHINE_ARN, attributes={"Arn": _STATE_MACHINE_ARN, "Name": "{name}"}
    ),
    "AWS::StepFunctions::StateMachine": _ResourceKind(
        ("StateMachineName",),
        ref=_STATE_MACHINE_ARN,
        attributes={"Arn": _STATE_MACHINE_ARN, "Name": "{name}"},
    ),
    "AWS::Serverless::LayerVersion": _ResourceKind(("LayerName",), ref=_LAYER_ARN),
    "AWS::Lambda::LayerVersion": _ResourceKind(("LayerName",), ref=_LAYER_ARN),
    "AWS::SNS::Topic": _ResourceKind(
        ("TopicName",),
        ref="arn:{partition}:sns:{region}:{account}:{name}",
        attributes={
            "TopicArn": "arn:{partition}:sns:{region}:{account}:{name}",
            "TopicName": "{name}",
        },
    ),
    "AWS::SQS::Queue": _ResourceKind(
        ("QueueName",),
        ref="https://sqs.{region}.{url_suffix}/{account}/{name}",
        attributes={
            "Arn": "arn:{partition}:sqs:{region}:{account}:{name}",
            "QueueName": "{name}",
            "QueueUrl": "https://sqs.{region}.{url_suffix}/{account}/{name}",
        },
    ),
    "AWS::Events::Rule": _ResourceKind(
        ("Name",), attributes={"Arn": "arn:{partition}:events:{region}:{account}:rule/{name}"}
    ),
    "AWS::IAM::Role": _ResourceKind(
        ("RoleName",), attributes={"Arn": "arn:{partition}:iam::{account}:role/{name}"}
    ),
    "AWS::IAM::ManagedPolicy": _ResourceKind(
        ("ManagedPolicyName",), ref="arn:{partition}:iam::{account}:policy/{name}"
    ),
    "AWS::Logs::LogGroup": _ResourceKind(
        ("LogGroupName",),
        attributes={"Arn": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"},
    ),
    # Key ids are made up by KMS; physical_name() derives a stable stand-in.
    "AWS::KMS::Key": _ResourceKind(
        None,
        attributes={"Arn": "arn:{partition}:kms:{region}:{account}:key/{name}", "KeyId": "{name}"},
    ),
    "AWS::KMS::Alias": _ResourceKind(("AliasName",)),
    "AWS::DynamoDB::Table": _ResourceKind(
        ("TableName",),
        attributes={"Arn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}"},
    ),
    "AWS::Scheduler::Schedule": _ResourceKind(
        ("Name",),
        attributes={"Arn": "arn:{partition}:scheduler:{region}:{account}:schedule/default/{name}"},
    ),
    "AWS::Glue::Job": _NAMED,
    "AWS::Glue::SecurityConfiguration": _NAMED,
    "AWS::Glue::Database": _ResourceKind(("DatabaseInput", "Name")),
    "AWS::Glue::Table": _ResourceKind(("TableInput", "Name")),
    "AWS::Athena::WorkGroup": _NAMED,
    "AWS::CloudWatch::Alarm": _ResourceKind(
        ("AlarmName",),
        attributes={"Arn": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"},
    ),
}

_NO_VALUE = object()  # AWS::NoValue: the property or list item disappears


class TemplateResolver:
    """Evaluates CloudFormation intrinsics of one template for one stack.

    ``project_root`` is where relative paths in the template (CodeUri, ContentUri,
    DefinitionUri) are read from, as ``sam`` does.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        *,
        stack_name: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        project_root: Path = PROJECT_ROOT,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.stack_name = stack_name
        self.account_id = account_id
        self.region = region
        self.project_root = project_root
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self._conditions: dict[str, bool] = {}
        self._custom_attributes: dict[str, dict[str, str]] = {}
        self._functions: Mapping[str, Callable[[Any], Any]] = {
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att_args,
            "Fn::If": self._if,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Equals": lambda args: self._condition_value({"Fn::Equals": args}),
            "Fn::Not": lambda args: self._condition_value({"Fn::Not": args}),
            "Fn::And": lambda args: self._condition_value({"Fn::And": args}),
            "Fn::Or": lambda args: self._condition_value({"Fn::Or": args}),
        }

    # -- public -------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref":
                    return self.ref(argument)
                if key in self._functions:
                    return self._functions[key](argument)
                if key.startswith("Fn::"):
                    raise DefinitionError(f"{key} is not supported by stepline.definition")
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        """The value of one entry of the template's Conditions."""
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise DefinitionError(f"template.yaml has no condition {name}")
            self._conditions[name] = self._condition_value(conditions[name])
        return self._conditions[name]

    def is_deployed(self, logical_id: str) -> bool:
        """Whether the resource exists in this stack (its Condition, if any, holds)."""
        condition = self._resource(logical_id).get("Condition")
        return condition is None or self.condition(condition)

    def ref(self, name: str) -> Any:
        """What ``!Ref name`` returns: a pseudo parameter, parameter or resource id."""
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/{self._stable_uuid('AWS::StackId')}"
            ),
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            spec = self.template.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith(
                "List<"
            ):
                return [item.strip() for item in self.parameters[name].split(",")]
            return self.parameters[name]
        if name in self.resources:
            return self._format(name, self._kind(name).ref)
        raise DefinitionError(f"!Ref {name}: no such parameter, pseudo parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What ``!GetAtt logical_id.attribute`` returns."""
        resource = self._resource(logical_id)
        if resource["Type"].startswith("Custom::") or resource["Type"] == (
            "AWS::CloudFormation::CustomResource"
        ):
            return self._custom_resource_attribute(logical_id, attribute)
        kind = self._kind(logical_id)
        if attribute not in kind.attributes:
            raise DefinitionError(
                f"!GetAtt {logical_id}.{attribute}: stepline.definition does not know "
                f"this attribute of {resource['Type']}"
            )
        return self._format(logical_id, kind.attributes[attribute])

    def physical_name(self, logical_id: str) -> str:
        """The resource's explicit name property, or ``{stack_name}-{LogicalId}``."""
        resource = self._resource(logical_id)
        kind = RESOURCE_KINDS.get(resource["Type"])
        if resource["Type"] == "AWS::KMS::Key":
            return self._stable_uuid(logical_id)
        value: Any = None
        if kind is not None and kind.name_property is not None:
            value = resource.get("Properties", {})
            for key in kind.name_property:
                value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (str, dict)) and value:
            return str(self.resolve(value))
        name = f"{self.stack_name}-{logical_id}"
        return name.lower() if kind is not None and kind.lowercase else name

    def identifier(self, logical_id: str) -> str:
        """How the local runtime addresses a resource: its Ref value, but ARNs for functions."""
        resource_type = self._resource(logical_id)["Type"]
        if resource_type in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self.get_att(logical_id, "Arn")
        if resource_type == "Custom::PipelineAssets":
            # The physical id publish_pipeline_assets answers with.
            properties = self._resource(logical_id).get("Properties", {})
            bucket = self.resolve(properties.get("ArtifactsBucket"))
            prefix = str(self.resolve(properties.get("KeyPrefix", DEFAULT_KEY_PREFIX))).strip("/")
            return f"s3://{bucket}/{prefix}/"
        if resource_type.startswith("Custom::"):
            return self.physical_name(logical_id)
        return str(self.ref(logical_id))

    # -- intrinsic functions --------------------------------------------------
    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, raw_variables = argument
            variables = {name: self.resolve(value) for name, value in raw_variables.items()}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, _, attribute = expression.partition(".")
                return self.get_att(logical_id, attribute)
            return str(self.ref(expression))

        return _SUB_VARIABLE.sub(replace, text)

    def _get_att_args(self, argument: Any) -> str:
        logical_id, attribute = argument
        return self.get_att(str(logical_id), str(self.resolve(attribute)))

    def _if(self, argument: Any) -> Any:
        condition_name, if_true, if_false = argument
        return self.resolve(if_true if self.condition(condition_name) else if_false)

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top_key, second_key = (self.resolve(item) for item in argument)
        try:
            return self.template["Mappings"][map_name][top_key][second_key]
        except KeyError as error:
            raise DefinitionError(
                f"Fn::FindInMap [{map_name}, {top_key}, {second_key}]: no such entry"
            ) from error

    def _condition_value(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            (key, argument), *_ = expression.items()
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return _override_value(left) == _override_value(right)
            if key == "Fn::Not":
                return not self._condition_value(argument[0])
            if key == "Fn::And":
                return all(self._condition_value(item) for item in argument)
            if key == "Fn::Or":
                return any(self._condition_value(item) for item in argument)
        raise DefinitionError(f"unsupported condition expression {expression!r}")

    # -- helpers ----------------------------------------------------------------
    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError as error:
            raise DefinitionError(f"template.yaml has no resource {logical_id}") from error

    def _kind(self, logical_id: str) -> _ResourceKind:
        return RESOURCE_KINDS.get(self._resource(logical_id)["Type"], _ResourceKind(None))

    def _format(self, logical_id: str, pattern: str) -> str:
        return pattern.format(
            name=self.physical_name(logical_id),
            partition=PARTITION,
            region=self.region,
            account=self.account_id,
            url_suffix=URL_SUFFIX,
        )

    def _stable_uuid(self, label: str) -> str:
        # Deterministic stand-ins for ids CloudFormation would make up (KMS key ids...).
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{label}"))

    def _custom_resource_attribute(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self._custom_attributes:
            resource = self._resource(logical_id)
            if resource["Type"] != "Custom::PipelineAssets":
                raise DefinitionError(
                    f"!GetAtt {logical_id}.{attribute}: the attributes of {resource['Type']} "
                    "are only known once deployed"
                )
            self._custom_attributes[logical_id] = self._pipeline_assets_attributes(resource)
        attributes = self._custom_attributes[logical_id]
        if attribute not in attributes:
            raise DefinitionError(
                f"!GetAtt {logical_id}.{attribute}: the published scripts give only "
                f"{', '.join(sorted(attributes))}"
            )
        return attributes[attribute]

    def _pipeline_assets_attributes(self, resource: Mapping[str, Any]) -> dict[str, str]:
        # The same computation as the deployed custom resource, on the same files: the
        # layer behind ScriptsLayerArn, read from its ContentUri.
        properties = resource.get("Properties", {})
        layer_ref = properties.get("ScriptsLayerArn")
        if not (isinstance(layer_ref, dict) and "Ref" in layer_ref):
            raise DefinitionError("Custom::PipelineAssets ScriptsLayerArn must be !Ref <layer>")
        content_uri = self._resource(layer_ref["Ref"]).get("Properties", {}).get("ContentUri")
        if not isinstance(content_uri, str):
            raise DefinitionError(f"layer {layer_ref['Ref']} has no local ContentUri")
        bucket = str(self.resolve(properties.get("ArtifactsBucket")))
        prefix = str(self.resolve(properties.get("KeyPrefix", DEFAULT_KEY_PREFIX))).strip("/")
        try:
            scripts = discover_scripts(self.project_root / content_uri)
        except (OSError, RuntimeError) as error:
            raise DefinitionError(f"cannot read the EMR job scripts: {error}") from error
        return script_uris(scripts, bucket, prefix)


# ----------------------------------------------------------- the definition
def definition_variables(definition_text: str) -> set[str]:
    """The ``${Name}`` placeholders an ASL text uses."""
    return set(SUBSTITUTION_PATTERN.findall(definition_text))


def resolve_definition_text(definition_text: str, substitutions: Mapping[str, str]) -> str:
    """Replace every ``${Name}`` textually, exactly as CloudFormation does.

    Raises :class:`MissingSubstitutionError` naming every placeholder without a value.
    Unused substitutions are allowed, as in CloudFormation.
    """
    missing = sorted(definition_variables(definition_text) - set(substitutions))
    if missing:
        raise MissingSubstitutionError(missing)
    return SUBSTITUTION_PATTERN.sub(
        lambda match: str(substitutions[match.group(1)]), definition_text
    )


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function of the stack, as the local runtime needs to run it."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_uri: Path
    environment: dict[str, str]
    timeout_seconds: int


@dataclass(frozen=True)
class GlueJobSpec:
    """A Glue job of the stack: its name, local script and default arguments."""

    logical_id: str
    name: str
    script_path: Path
    default_arguments: dict[str, str]


@dataclass(frozen=True)
class DeployedMachine:
    """One state machine of the stack: its identity, type and definition as deployed."""

    logical_id: str
    name: str
    arn: str
    type: str  # STANDARD or EXPRESS
    definition: dict[str, Any]
    substitutions: dict[str, str]
    definition_uri: str

    @property
    def mock_name(self) -> str:
        """Its key under ``MockConfigFile.StateMachines``: the logical id minus ``StateMachine``."""
        return self.logical_id.removesuffix("StateMachine") or self.logical_id

    @property
    def express(self) -> bool:
        return self.type == "EXPRESS"


@dataclass(frozen=True)
class RuleTarget:
    """One target of an EventBridge rule (the local bus starts state machine targets)."""

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    transforms_input: bool = False


@dataclass(frozen=True)
class DeployedRule:
    """An ``AWS::Events::Rule`` of the stack: its resolved pattern and targets."""

    logical_id: str
    name: str
    pattern: dict[str, Any]
    targets: tuple[RuleTarget, ...]
    enabled: bool


@dataclass(frozen=True)
class DeployedStack:
    """One stage's stack as ``sam deploy`` would create it: machines, functions, jobs, names."""

    stage: str
    stack_name: str
    account_id: str
    region: str
    project_root: Path
    machines: dict[str, DeployedMachine]
    parameters: dict[str, str]
    resources: dict[str, str]
    outputs: dict[str, str]
    functions: dict[str, FunctionSpec]
    glue_jobs: dict[str, GlueJobSpec]
    rules: dict[str, DeployedRule] = field(default_factory=dict)

    def machine(self, name: str) -> DeployedMachine:
        """A machine by logical id, mock name, physical name or ARN."""
        for machine in self.machines.values():
            if name in (machine.logical_id, machine.mock_name, machine.name, machine.arn):
                return machine
        known = ", ".join(machine.mock_name for machine in self.machines.values())
        raise UnknownResourceError(
            f"stage {self.stage} deploys no state machine {name}; it has {known}"
        )

    def function_for_arn(self, arn: str) -> FunctionSpec:
        """The function a ``lambda:invoke`` FunctionName names (ARN, qualified ARN or name)."""
        name = arn
        if arn.startswith("arn:"):
            parts = arn.split(":")
            name = parts[6] if len(parts) >= 7 else arn
        for spec in self.functions.values():
            if arn in (spec.arn, spec.name) or name == spec.name:
                return spec
        known = ", ".join(spec.arn for spec in self.functions.values())
        raise UnknownResourceError(f"stage {self.stage} deploys no function {arn}; it has {known}")

    def glue_job_for_name(self, name: str) -> GlueJobSpec:
        """The Glue job a ``glue:startJobRun`` JobName names."""
        for spec in self.glue_jobs.values():
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.glue_jobs.values())
        raise UnknownResourceError(f"stage {self.stage} deploys no Glue job {name}; it has {known}")


_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine",)


def find_project_root(start: Path | str | None = None) -> Path:
    """The user's project: where the CLI and the pytest plugin read the stack from.

    ``$STEPLINE_PROJECT_ROOT`` if set; else the nearest folder at or above ``start``
    (default: the working directory) holding both ``template.yaml`` and
    ``samconfig.toml``; else the checkout Stepline itself runs from (its own
    project). Both the CLI (from the working directory) and the pytest plugin (from
    pytest's rootdir) resolve through here, so a test and a command run in one
    project see the same stack.
    """
    explicit = os.environ.get(PROJECT_ROOT_VARIABLE)
    if explicit:
        root = Path(explicit).resolve()
        if not (root / TEMPLATE_FILE).is_file():
            raise DefinitionError(
                f"{PROJECT_ROOT_VARIABLE}={explicit} holds no {TEMPLATE_FILE}; "
                "point it at the project folder or unset it"
            )
        return root
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / TEMPLATE_FILE).is_file() and (folder / SAMCONFIG_FILE).is_file():
            return folder
    return PROJECT_ROOT


def load_deployed_stack(
    stage: str = "dev",
    *,
    project_root: Path | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> DeployedStack:
    """The stack of ``stage`` as ``sam deploy --config-env <stage>`` deploys it.

    Reads ``template.yaml``, ``samconfig.toml`` and every ASL file under
    ``project_root`` (default: :func:`find_project_root`, the user's project). Raises
    :class:`DefinitionError` for anything CloudFormation would reject, or that this
    resolver cannot reproduce.
    """
    root = (project_root or find_project_root()).resolve()
    template = load_template(root / TEMPLATE_FILE)
    stage_config = load_stage_config(root, stage)
    parameters = stage_parameter_values(template, stage_config.parameter_overrides, stage=stage)
    resolver = TemplateResolver(
        template,
        parameters,
        stack_name=stage_config.stack_name,
        account_id=account_id,
        region=region,
        project_root=root,
    )
    deployed_ids = [
        logical_id for logical_id in resolver.resources if resolver.is_deployed(logical_id)
    ]
    machines = {
        logical_id: _machine(resolver, logical_id, root)
        for logical_id in deployed_ids
        if resolver.resources[logical_id].get("Type") in _STATE_MACHINE_TYPES
    }
    if not machines:
        raise DefinitionError("template.yaml declares no AWS::Serverless::StateMachine")
    return DeployedStack(
        stage=stage,
        stack_name=stage_config.stack_name,
        account_id=account_id,
        region=region,
        project_root=root,
        machines=machines,
        parameters=parameters,
        resources={logical_id: resolver.identifier(logical_id) for logical_id in deployed_ids},
        outputs={
            name: _override_value(resolver.resolve(output.get("Value")))
            for name, output in template.get("Outputs", {}).items()
            if output.get("Condition") is None or resolver.condition(output["Condition"])
        },
        functions={
            logical_id: _function_spec(resolver, logical_id, root)
            for logical_id in deployed_ids
            if resolver.resources[logical_id]["Type"] in _FUNCTION_TYPES
        },
        glue_jobs={
            logical_id: _glue_job_spec(resolver, logical_id, root)
            for logical_id in deployed_ids
            if resolver.resources[logical_id]["Type"] == "AWS::Glue::Job"
        },
        rules={
            logical_id: _rule(resolver, logical_id)
            for logical_id in deployed_ids
            if resolver.resources[logical_id]["Type"] == "AWS::Events::Rule"
        },
    )


def _rule(resolver: TemplateResolver, logical_id: str) -> DeployedRule:
    properties = resolver.resolve(resolver.resources[logical_id].get("Properties", {}))
    return DeployedRule(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        pattern=dict(properties.get("EventPattern") or {}),
        targets=tuple(
            RuleTarget(
                id=str(target.get("Id")),
                arn=str(target.get("Arn")),
                input=target.get("Input"),
                input_path=target.get("InputPath"),
                transforms_input="InputTransformer" in target,
            )
            for target in properties.get("Targets", [])
        ),
        enabled=properties.get("State", "ENABLED") == "ENABLED",
    )


def _machine(resolver: TemplateResolver, logical_id: str, root: Path) -> DeployedMachine:
    properties = resolver.resources[logical_id].get("Properties", {})
    substitutions = {
        name: _override_value(value)
        for name, value in resolver.resolve(properties.get("DefinitionSubstitutions", {})).items()
    }
    definition_text = _definition_text(properties, root)
    resolved_text = resolve_definition_text(definition_text, substitutions)
    try:
        definition = json.loads(resolved_text)
    except json.JSONDecodeError as error:
        raise DefinitionError(
            f"the definition of {logical_id} is not valid JSON once substituted (a "
            f"substitution value with a quote or backslash?): {error}"
        ) from error
    return DeployedMachine(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=str(resolver.ref(logical_id)),
        type=str(resolver.resolve(properties.get("Type", "STANDARD"))),
        definition=definition,
        substitutions=substitutions,
        definition_uri=str(properties.get("DefinitionUri", "")),
    )


def _definition_text(properties: Mapping[str, Any], root: Path) -> str:
    if isinstance(properties.get("DefinitionUri"), str):
        path = root / properties["DefinitionUri"]
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise DefinitionError(f"DefinitionUri {path} does not exist") from error
    if isinstance(properties.get("Definition"), dict):
        return json.dumps(properties["Definition"])
    raise DefinitionError("the state machine has neither a local DefinitionUri nor a Definition")


def _function_spec(resolver: TemplateResolver, logical_id: str, root: Path) -> FunctionSpec:
    properties = resolver.resources[logical_id].get("Properties", {})
    global_properties = resolver.template.get("Globals", {}).get("Function", {})

    def setting(name: str, default: Any = None) -> Any:
        return resolver.resolve(properties.get(name, global_properties.get(name, default)))

    environment = {
        **resolver.resolve(global_properties.get("Environment", {}).get("Variables", {})),
        **resolver.resolve(properties.get("Environment", {}).get("Variables", {})),
    }
    handler, code_uri = setting("Handler"), setting("CodeUri")
    if not isinstance(handler, str) or not isinstance(code_uri, str):
        raise DefinitionError(f"function {logical_id} needs a Handler and a local CodeUri")
    return FunctionSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=resolver.get_att(logical_id, "Arn"),
        handler=handler,
        code_uri=root / code_uri,
        environment={name: _override_value(value) for name, value in environment.items()},
        timeout_seconds=int(setting("Timeout", 3)),
    )


def _glue_job_spec(resolver: TemplateResolver, logical_id: str, root: Path) -> GlueJobSpec:
    properties = resolver.resolve(resolver.resources[logical_id].get("Properties", {}))
    script_location = properties.get("Command", {}).get("ScriptLocation", "")
    if not script_location or script_location.startswith("s3://"):
        raise DefinitionError(f"Glue job {logical_id} needs a local Command.ScriptLocation")
    return GlueJobSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        script_path=root / script_location,
        default_arguments={
            name: _override_value(value)
            for name, value in properties.get("DefaultArguments", {}).items()
        },
    )
