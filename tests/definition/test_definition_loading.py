"""stepline.definition: the deployed definition, substitutions, parameters and resource
lookups for a stage, resolved from template.yaml and samconfig.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stepline.definition import (
    PROJECT_ROOT,
    CloudFormationLoader,
    DefinitionError,
    MissingSubstitutionError,
    TemplateResolver,
    UnknownResourceError,
    definition_variables,
    load_deployed_definition,
    parse_parameter_overrides,
    resolve_definition_text,
)

ACCOUNT = "123456789012"
ASL_TEXT = (PROJECT_ROOT / "statemachines/sales_pipeline.asl.json").read_text()


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def dev():
    return load_deployed_definition("dev")


@pytest.fixture(scope="module")
def prod():
    return load_deployed_definition("prod")


def test_the_dev_definition_is_the_asl_with_every_placeholder_replaced(dev) -> None:
    """Same states as the ASL file, no ${...} left, infrastructure names filled in."""
    raw = json.loads(ASL_TEXT)
    assert dev.definition["StartAt"] == raw["StartAt"]
    assert set(dev.definition["States"]) == set(raw["States"])
    assert "${" not in json.dumps(dev.definition)
    validate = dev.definition["States"]["Validate the sales file"]["Parameters"]
    assert validate["FunctionName"] == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stepline-sales-dev-validate-sales-file"
    )
    clean = dev.definition["States"]["Clean the sales file"]["Parameters"]
    assert clean["JobName"] == "stepline-sales-dev-clean-sales"
    assert clean["Arguments"]["--clean_root"] == (
        f"s3://stepline-sales-dev-lake-{ACCOUNT}-us-east-1/clean/sales/"
    )


def test_substitutions_are_resolved_like_cloudformation(dev) -> None:
    """Each substitution is the value CloudFormation would compute for dev."""
    subs = dev.substitutions
    assert subs["NotificationTopicArn"] == (
        f"arn:aws:sns:us-east-1:{ACCOUNT}:stepline-sales-dev-notifications"
    )
    assert subs["ConsoleExecutionUrlPrefix"] == (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        "#/v2/executions/details/"
    )
    assert subs["GlueDatabaseName"] == "stepline_sales_dev"
    assert subs["AthenaWorkGroup"] == "stepline-sales-dev-reports"
    assert subs["EmrClusterId"] == "j-DEVCLUSTER0001"
    script = subs["AggregateSalesScriptUri"]
    assert script.startswith(f"s3://stepline-sales-dev-artifacts-{ACCOUNT}-us-east-1/emr/")
    assert script.endswith("/aggregate_sales.py")


def test_prod_differs_from_dev_where_samconfig_says(dev, prod) -> None:
    """prod has its own stack names, cluster, provisioned Redshift target and Glue sizing."""
    assert prod.stack_name == "stepline-sales-prod"
    assert prod.state_machine_name == "stepline-sales-prod-pipeline"
    assert prod.parameters["EmrClusterId"] == "j-PRODCLUSTER0001" != dev.parameters["EmrClusterId"]
    assert prod.parameters["GlueWorkerType"] == "G.2X"
    assert dev.substitutions["RedshiftTargetKey"] == "WorkgroupName"
    assert prod.substitutions["RedshiftTargetKey"] == "ClusterIdentifier"
    load = prod.definition["States"]["Load the day into Redshift"]["Parameters"]
    assert load["ClusterIdentifier"] == "stepline-prod"
    assert "WorkgroupName" not in load
    assert prod.substitutions["DataLakeBucket"] != dev.substitutions["DataLakeBucket"]


def test_the_account_and_region_arguments_flow_into_every_name() -> None:
    """Another account and region give other ARNs and bucket names."""
    deployed = load_deployed_definition("staging", account_id="210987654321", region="eu-west-1")
    assert deployed.state_machine_arn == (
        "arn:aws:states:eu-west-1:210987654321:stateMachine:stepline-sales-staging-pipeline"
    )
    assert deployed.substitutions["DataLakeBucket"] == (
        "stepline-sales-staging-lake-210987654321-eu-west-1"
    )
    assert deployed.substitutions["ConsoleExecutionUrlPrefix"].startswith(
        "https://eu-west-1.console.aws.amazon.com/"
    )


def test_parameters_are_template_defaults_overridden_by_samconfig(project_copy: Path) -> None:
    """A parameter samconfig does not set takes the template default; a set one wins."""
    replace_in(project_copy / "samconfig.toml", '    "RedshiftSchema=sales",\n', "")
    replace_in(project_copy / "samconfig.toml", '"MaxRejectRatio=0.05"', '"MaxRejectRatio=0.2"')
    deployed = load_deployed_definition("dev", project_root=project_copy)
    assert deployed.parameters["RedshiftSchema"] == "sales"  # the template default
    assert deployed.parameters["MaxRejectRatio"] == "0.2"
    validate = deployed.function_for_arn(deployed.substitutions["ValidateSalesFileFunctionArn"])
    assert validate.environment["MAX_REJECT_RATIO"] == "0.2"


def test_resources_map_logical_ids_to_what_the_runtime_addresses(dev) -> None:
    """Buckets by name, the function and topic by ARN, job, workgroup and database by name."""
    assert dev.resources["RawBucket"] == f"stepline-sales-dev-raw-{ACCOUNT}-us-east-1"
    assert (
        dev.resources["ValidateSalesFileFunction"]
        == (dev.substitutions["ValidateSalesFileFunctionArn"])
    )
    assert dev.resources["NotificationTopic"] == dev.substitutions["NotificationTopicArn"]
    assert dev.resources["CleanSalesJob"] == dev.substitutions["CleanSalesJobName"]
    assert dev.resources["ReportsWorkGroup"] == "stepline-sales-dev-reports"
    assert dev.resources["SalesCatalogDatabase"] == "stepline_sales_dev"
    assert dev.resources["SalesPipelineStateMachine"] == dev.state_machine_arn
    # Conditional resources exist only when their condition holds.
    assert "NotificationEmailSubscription" not in dev.resources
    assert "EmrInstanceRolePolicy" not in dev.resources


def test_function_lookup_by_arn_gives_handler_code_and_environment(dev) -> None:
    """The validate function's spec: handler, CodeUri, Globals + own environment, timeout."""
    arn = dev.substitutions["ValidateSalesFileFunctionArn"]
    spec = dev.function_for_arn(arn)
    assert spec.logical_id == "ValidateSalesFileFunction"
    assert spec.handler == "validate_sales_file.app.lambda_handler"
    assert spec.code_uri == PROJECT_ROOT / "functions"
    assert spec.timeout_seconds == 900
    assert spec.environment == {
        "POWERTOOLS_SERVICE_NAME": "stepline-sales",
        "POWERTOOLS_METRICS_NAMESPACE": "Stepline",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "STEPLINE_STAGE": "dev",
        "DATA_LAKE_BUCKET": f"stepline-sales-dev-lake-{ACCOUNT}-us-east-1",
        "MAX_REJECT_RATIO": "0.05",
    }
    assert dev.function_for_arn(f"{arn}:$LATEST") is spec
    assert dev.function_for_arn(spec.name) is spec


def test_unknown_function_and_job_lookups_fail_clearly(dev) -> None:
    """Names the stage does not deploy raise UnknownResourceError listing what it has."""
    with pytest.raises(UnknownResourceError, match="validate-sales-file"):
        dev.function_for_arn("arn:aws:lambda:us-east-1:123456789012:function:nope")
    with pytest.raises(UnknownResourceError, match="stepline-sales-dev-clean-sales"):
        dev.glue_job_for_name("stepline-sales-prod-clean-sales")


def test_glue_job_lookup_gives_the_local_script(dev) -> None:
    """The clean job's name maps to glue_jobs/clean_sales.py and its default arguments."""
    spec = dev.glue_job_for_name(dev.substitutions["CleanSalesJobName"])
    assert spec.logical_id == "CleanSalesJob"
    assert spec.script_path == PROJECT_ROOT / "glue_jobs/clean_sales.py"
    assert spec.script_path.is_file()
    assert spec.default_arguments["--job-bookmark-option"] == "job-bookmark-disable"


# ----------------------------------------------------------- substitutions
def test_resolve_definition_text_replaces_textually() -> None:
    """${Name} is replaced inside longer strings, everywhere it occurs."""
    text = '{"a": "s3://${Bucket}/x/", "b": "${Bucket}-${Other}"}'
    resolved = resolve_definition_text(text, {"Bucket": "lake", "Other": "o", "Unused": "u"})
    assert json.loads(resolved) == {"a": "s3://lake/x/", "b": "lake-o"}


def test_a_missing_substitution_is_named_in_the_error() -> None:
    """Every ${Name} without a value is listed; nothing is half-substituted."""
    with pytest.raises(MissingSubstitutionError) as raised:
        resolve_definition_text('{"a": "${Known}", "b": "${Nope}", "c": "${Zed}"}', {"Known": "k"})
    assert raised.value.names == ["Nope", "Zed"]
    assert "${Nope}" in str(raised.value)


def test_loading_fails_when_the_asl_uses_an_undefined_placeholder(project_copy: Path) -> None:
    """A ${Var} added to the ASL without a DefinitionSubstitutions entry stops the load."""
    replace_in(
        project_copy / "statemachines/sales_pipeline.asl.json",
        '"WorkGroup": "${AthenaWorkGroup}"',
        '"WorkGroup": "${ReportWorkGroupTypo}"',
    )
    with pytest.raises(MissingSubstitutionError, match="ReportWorkGroupTypo"):
        load_deployed_definition("dev", project_root=project_copy)


def test_definition_variables_lists_the_asl_placeholders() -> None:
    """The shipped ASL uses the fifteen documented placeholders."""
    assert definition_variables(ASL_TEXT) == {
        "ValidateSalesFileFunctionArn", "NotificationTopicArn", "ConsoleExecutionUrlPrefix",
        "CleanSalesJobName", "DataLakeBucket", "EmrClusterId", "AggregateSalesScriptUri",
        "RedshiftTargetKey", "RedshiftTargetName", "RedshiftDatabase", "RedshiftSecretArn",
        "RedshiftSchema", "RedshiftCopyRoleArn", "GlueDatabaseName", "AthenaWorkGroup",
    }  # fmt: skip


# ----------------------------------------------------------- stage config
def test_an_unknown_stage_lists_the_known_ones() -> None:
    """Asking for a stage samconfig.toml lacks names the environments it has."""
    with pytest.raises(DefinitionError, match="dev, prod, staging"):
        load_deployed_definition("qa")


def test_a_parameter_without_default_or_override_fails_loudly(project_copy: Path) -> None:
    """Dropping EmrClusterId from dev's overrides is an error naming it, not a silent blank."""
    replace_in(project_copy / "samconfig.toml", '    "EmrClusterId=j-DEVCLUSTER0001",\n', "")
    with pytest.raises(DefinitionError, match="EmrClusterId"):
        load_deployed_definition("dev", project_root=project_copy)


def test_a_value_breaking_the_allowed_pattern_fails(project_copy: Path) -> None:
    """A schema name that could inject SQL is refused, as CloudFormation would."""
    replace_in(
        project_copy / "samconfig.toml", '"RedshiftSchema=sales"', '"RedshiftSchema=sales; drop"'
    )
    with pytest.raises(DefinitionError, match="RedshiftSchema"):
        load_deployed_definition("dev", project_root=project_copy)


def test_an_override_for_an_undeclared_parameter_fails(project_copy: Path) -> None:
    """A misspelt parameter in samconfig.toml is reported instead of ignored."""
    replace_in(project_copy / "samconfig.toml", '"Stage=dev"', '"Stage=dev", "EmrClusterID=j-X"')
    with pytest.raises(DefinitionError, match="EmrClusterID"):
        load_deployed_definition("dev", project_root=project_copy)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('A=1 B="two words" C=""', {"A": "1", "B": "two words", "C": ""}),
        (
            ["A=1", 'C=""', "D=arn:aws:iam::1:role/x"],
            {"A": "1", "C": "", "D": "arn:aws:iam::1:role/x"},
        ),
        ("ParameterKey=A,ParameterValue=1 B=2", {"A": "1", "B": "2"}),
        ({"A": 1, "B": True}, {"A": "1", "B": "true"}),
        (None, {}),
    ],
)
def test_parameter_overrides_forms(raw: object, expected: dict[str, str]) -> None:
    """String, list and table forms of parameter_overrides parse to the same mapping."""
    assert parse_parameter_overrides(raw) == expected  # type: ignore[arg-type]


# ---------------------------------------------------------------- resolver
def test_the_yaml_loader_reads_short_form_tags_as_long_form() -> None:
    """!Ref, !GetAtt A.B, !Sub, !If and nested tags become their JSON long forms."""
    text = """
    a: !Ref Bucket
    b: !GetAtt Fn.Arn
    c: !Sub "${AWS::Region}-x"
    d: !If [Cond, !Ref A, !Ref AWS::NoValue]
    e: !Join ["-", [!Ref A, b]]
    """
    assert yaml.load(text, Loader=CloudFormationLoader) == {
        "a": {"Ref": "Bucket"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::Sub": "${AWS::Region}-x"},
        "d": {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]},
        "e": {"Fn::Join": ["-", [{"Ref": "A"}, "b"]]},
    }


def test_the_resolver_evaluates_the_intrinsics_the_template_uses() -> None:
    """Sub (literals, variables, attributes), If, Select, Split, Join, FindInMap and NoValue."""
    template = {
        "Parameters": {"Env": {"Type": "String"}},
        "Mappings": {"Sizes": {"dev": {"Workers": 2}}},
        "Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]}},
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-bucket"}},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Logs": {"Type": "AWS::S3::Bucket"},
        },
    }
    resolver = TemplateResolver(template, {"Env": "dev"}, stack_name="st", region="eu-west-1")
    assert resolver.resolve({"Fn::Sub": ["${Bucket.Arn}/${!Literal}/${X}", {"X": "y"}]}) == (
        "arn:aws:s3:::my-bucket/${Literal}/y"
    )
    assert resolver.resolve({"Fn::If": ["IsDev", "yes", "no"]}) == "yes"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "Env"}, {"Ref": "AWS::Region"}]]}) == (
        "dev-eu-west-1"
    )
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Workers"]}) == 2
    assert resolver.resolve([{"Ref": "AWS::NoValue"}, {"k": {"Ref": "AWS::NoValue"}}]) == [{}]
    # No explicit name: {stack}-{LogicalId}, as the brief for the local runtime says.
    assert resolver.ref("Queue") == "https://sqs.eu-west-1.amazonaws.com/123456789012/st-Queue"
    assert resolver.ref("Logs") == "st-logs"  # bucket names must be lowercase
    with pytest.raises(DefinitionError, match="Fn::GetAZs"):
        resolver.resolve({"Fn::GetAZs": ""})
    with pytest.raises(DefinitionError, match="Nope"):
        resolver.ref("Nope")
