"""stepline.definition: every state machine of the stack, its substitutions, parameters and
resource lookups for a stage, resolved from template.yaml and samconfig.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from definition_support import (
    ASL_FILES,
    MACHINE_IDS,
    STAGES,
    TEMPLATE,
    machine_properties,
    raw_definition,
    raw_text,
    stack,
)

from stepline.definition import (
    PROJECT_ROOT,
    CloudFormationLoader,
    DefinitionError,
    MissingSubstitutionError,
    TemplateResolver,
    UnknownResourceError,
    definition_variables,
    load_deployed_stack,
    parse_parameter_overrides,
    resolve_definition_text,
)

ACCOUNT = "123456789012"
STATES_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def dev():
    return stack("dev")


@pytest.fixture(scope="module")
def prod():
    return stack("prod")


# ------------------------------------------------------- machines and ASL files
def test_the_template_deploys_several_machines() -> None:
    """The parametrised checks below have machines to check (the template parse found them)."""
    assert len(MACHINE_IDS) >= 5
    assert len(ASL_FILES) >= 5


@pytest.mark.parametrize("asl_file", ASL_FILES)
def test_every_asl_file_is_deployed_by_exactly_one_state_machine(asl_file: str) -> None:
    """Each statemachines/*.asl.json is the DefinitionUri of one AWS::Serverless::StateMachine."""
    deployers = [
        logical_id
        for logical_id in MACHINE_IDS
        if machine_properties(logical_id).get("DefinitionUri") == asl_file
    ]
    assert len(deployers) == 1, f"{asl_file} is deployed by {deployers or 'no state machine'}"


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_every_state_machine_names_an_asl_file_under_statemachines(logical_id: str) -> None:
    """No inline Definition: each machine's DefinitionUri is one of the ASL files."""
    properties = machine_properties(logical_id)
    assert "Definition" not in properties
    assert properties["DefinitionUri"] in ASL_FILES


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_placeholders_and_substitutions_match_exactly(logical_id: str) -> None:
    """Each ${Var} of an ASL has a DefinitionSubstitutions entry, and each entry is used."""
    declared = set(machine_properties(logical_id).get("DefinitionSubstitutions", {}))
    used = definition_variables(raw_text(logical_id))
    assert used - declared == set(), f"{logical_id}: placeholders without a substitution"
    assert declared - used == set(), f"{logical_id}: substitutions its ASL never uses"


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_the_deployed_definition_is_the_asl_with_every_placeholder_replaced(
    logical_id: str, stage: str
) -> None:
    """Same states as the ASL file, no ${...} left, the stage's values filled in."""
    machine = stack(stage).machines[logical_id]
    raw = raw_definition(logical_id)
    assert machine.definition["StartAt"] == raw["StartAt"]
    assert set(machine.definition["States"]) == set(raw["States"])
    deployed_text = json.dumps(machine.definition)
    assert "${" not in deployed_text
    for value in machine.substitutions.values():
        if value:
            assert value in deployed_text or value.replace('"', '\\"') in deployed_text


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_each_machine_has_its_stage_name_arn_and_type(logical_id: str, stage: str) -> None:
    """Name from the template's Name (carrying the stack name), the ARN of that name, its Type."""
    deployed = stack(stage)
    machine = deployed.machines[logical_id]
    properties = machine_properties(logical_id)
    expected_name = properties["Name"]["Fn::Sub"].replace("${AWS::StackName}", deployed.stack_name)
    assert machine.name == expected_name
    assert machine.name.startswith(f"stepline-sales-{stage}-")
    assert machine.arn == f"{STATES_ARN}{machine.name}"
    assert machine.type == properties["Type"] and machine.type in ("STANDARD", "EXPRESS")
    assert machine.express is (machine.type == "EXPRESS")
    assert machine.mock_name == logical_id.removesuffix("StateMachine")
    assert deployed.machine(machine.mock_name) is machine
    assert deployed.machine(machine.arn) is machine
    assert deployed.resources[logical_id] == machine.arn


def test_the_machines_have_the_types_the_design_gives_them(dev) -> None:
    """Arrival and publish are Standard (long, audited); the short helpers are Express."""
    assert {m.mock_name: m.type for m in dev.machines.values()} == {
        "SalesArrivalStarter": "EXPRESS",
        "SalesArrival": "STANDARD",
        "SalesPublishRequest": "EXPRESS",
        "SalesPublish": "STANDARD",
        "SalesRecovery": "EXPRESS",
        "SalesDeadlineCheck": "EXPRESS",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_machine_arn_substitutions_name_the_machines_of_the_stack(stage: str) -> None:
    """Each <Machine>Arn substitution (spelled from a name, not a Ref) is that machine's ARN."""
    deployed = stack(stage)
    checked = 0
    for machine in deployed.machines.values():
        for name, value in machine.substitutions.items():
            if ":stateMachine:" not in value:
                continue
            target = deployed.machine(value)  # raises when no machine has this ARN
            assert name == f"{target.logical_id}Arn", (machine.logical_id, name, value)
            checked += 1
    assert checked >= 6


def test_the_unknown_machine_lookup_lists_the_machines(dev) -> None:
    """Asking for a machine the stage does not deploy names the ones it does."""
    with pytest.raises(UnknownResourceError, match=r"SalesArrival, .*SalesPublish"):
        dev.machine("SalesPipeline")


def test_the_arrival_definition_names_the_dev_function_job_and_lake(dev) -> None:
    """The arrival's Tasks call the dev function, job, ledger table and lake bucket."""
    states = dev.machine("SalesArrival").definition["States"]
    assert states["Validate the sales file"]["Arguments"]["FunctionName"] == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stepline-sales-dev-validate-sales-file"
    )
    clean = states["Clean the sales file"]["Arguments"]
    assert clean["JobName"] == "stepline-sales-dev-clean-sales"
    assert clean["Arguments"]["--lake_root"] == (
        f"s3://stepline-sales-dev-lake-{ACCOUNT}-us-east-1/"
    )
    assert states["Claim the store-day"]["Arguments"]["TableName"] == (
        "stepline-sales-dev-run-ledger"
    )
    assert states["Request the day's publish"]["Arguments"]["StateMachineArn"] == (
        f"{STATES_ARN}stepline-sales-dev-publish-request"
    )


def test_substitutions_are_resolved_like_cloudformation(dev) -> None:
    """Each substitution is the value CloudFormation would compute for dev."""
    publish = dev.machine("SalesPublish").substitutions
    assert publish["NotificationTopicArn"] == (
        f"arn:aws:sns:us-east-1:{ACCOUNT}:stepline-sales-dev-notifications"
    )
    assert publish["ConsoleExecutionUrlPrefix"] == (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        "#/v2/executions/details/"
    )
    assert publish["GlueDatabaseName"] == "stepline_sales_dev"
    assert publish["AthenaWorkGroup"] == "stepline-sales-dev-reports"
    assert publish["EmrClusterId"] == "j-DEVCLUSTER0001"
    assert publish["RunLedgerTableName"] == "stepline-sales-dev-run-ledger"
    # A CommaDelimitedList parameter, joined back into the text the ASL splits.
    assert publish["ExpectedStores"] == "store_001,store_002,store_003,store_004"
    artifacts = f"s3://stepline-sales-dev-artifacts-{ACCOUNT}-us-east-1/emr/"
    for name, script in (
        ("AggregateSalesScriptUri", "aggregate_sales.py"),
        ("SalesLakeScriptUri", "sales_lake.py"),
    ):
        assert publish[name].startswith(artifacts), name
        assert publish[name].endswith(f"/{script}"), name
    for machine in dev.machines.values():
        if "Stage" in machine.substitutions:
            assert machine.substitutions["Stage"] == "dev"
        if "RunLedgerTableName" in machine.substitutions:
            assert machine.substitutions["RunLedgerTableName"] == dev.resources["RunLedgerTable"]


def test_prod_differs_from_dev_where_samconfig_says(dev, prod) -> None:
    """prod has its own stack names, cluster, provisioned Redshift target and Glue sizing."""
    assert prod.stack_name == "stepline-sales-prod"
    assert prod.machine("SalesPublish").name == "stepline-sales-prod-publish"
    assert prod.parameters["EmrClusterId"] == "j-PRODCLUSTER0001" != dev.parameters["EmrClusterId"]
    assert prod.parameters["GlueWorkerType"] == "G.2X"
    dev_publish, prod_publish = dev.machine("SalesPublish"), prod.machine("SalesPublish")
    assert dev_publish.substitutions["RedshiftTargetKey"] == "WorkgroupName"
    assert prod_publish.substitutions["RedshiftTargetKey"] == "ClusterIdentifier"
    load = prod_publish.definition["States"]["Load the day into Redshift"]["Arguments"]
    assert load["ClusterIdentifier"] == "stepline-prod"
    assert "WorkgroupName" not in load
    dev_load = dev_publish.definition["States"]["Load the day into Redshift"]["Arguments"]
    assert dev_load["WorkgroupName"] == "stepline-dev"
    assert (
        prod_publish.substitutions["DataLakeBucket"] != dev_publish.substitutions["DataLakeBucket"]
    )


def test_the_account_and_region_arguments_flow_into_every_name() -> None:
    """Another account and region give other ARNs and bucket names, for every machine."""
    deployed = load_deployed_stack("staging", account_id="210987654321", region="eu-west-1")
    for machine in deployed.machines.values():
        assert machine.arn.startswith("arn:aws:states:eu-west-1:210987654321:stateMachine:")
        for value in machine.substitutions.values():
            assert ACCOUNT not in value or "secret" in value or ":role/" in value, value
    publish = deployed.machine("SalesPublish")
    assert publish.substitutions["DataLakeBucket"] == (
        "stepline-sales-staging-lake-210987654321-eu-west-1"
    )
    assert publish.substitutions["ConsoleExecutionUrlPrefix"].startswith(
        "https://eu-west-1.console.aws.amazon.com/"
    )
    assert (
        deployed.machine("SalesArrivalStarter").substitutions["SalesArrivalStateMachineArn"]
        == deployed.machine("SalesArrival").arn
    )


def test_parameters_are_template_defaults_overridden_by_samconfig(project_copy: Path) -> None:
    """A parameter samconfig does not set takes the template default; a set one wins."""
    replace_in(project_copy / "samconfig.toml", '    "RedshiftSchema=sales",\n', "")
    replace_in(project_copy / "samconfig.toml", '"MaxRejectRatio=0.05"', '"MaxRejectRatio=0.2"')
    deployed = load_deployed_stack("dev", project_root=project_copy)
    assert deployed.parameters["RedshiftSchema"] == "sales"  # the template default
    assert deployed.parameters["MaxRejectRatio"] == "0.2"
    arrival = deployed.machine("SalesArrival")
    validate = deployed.function_for_arn(arrival.substitutions["ValidateSalesFileFunctionArn"])
    assert validate.environment["MAX_REJECT_RATIO"] == "0.2"


def test_resources_map_logical_ids_to_what_the_runtime_addresses(dev) -> None:
    """Buckets by name, function and topic by ARN, job, table, workgroup, database by name."""
    arrival = dev.machine("SalesArrival").substitutions
    assert dev.resources["RawBucket"] == f"stepline-sales-dev-raw-{ACCOUNT}-us-east-1"
    assert dev.resources["ValidateSalesFileFunction"] == arrival["ValidateSalesFileFunctionArn"]
    assert dev.resources["NotificationTopic"] == arrival["NotificationTopicArn"]
    assert dev.resources["CleanSalesJob"] == arrival["CleanSalesJobName"]
    assert dev.resources["RunLedgerTable"] == "stepline-sales-dev-run-ledger"
    assert dev.resources["ReportsWorkGroup"] == "stepline-sales-dev-reports"
    assert dev.resources["SalesCatalogDatabase"] == "stepline_sales_dev"
    for logical_id, machine in dev.machines.items():
        assert dev.resources[logical_id] == machine.arn
    # Conditional resources exist only when their condition holds.
    assert "NotificationEmailSubscription" not in dev.resources
    assert "EmrInstanceRolePolicy" not in dev.resources


def test_the_stack_outputs_resolve_to_the_deployed_names(dev) -> None:
    """Outputs are resolved too: every machine ARN and the ledger table name."""
    assert dev.outputs["RunLedgerTableName"] == dev.resources["RunLedgerTable"]
    assert set(dev.outputs.values()) >= {machine.arn for machine in dev.machines.values()}


def test_rules_resolve_their_patterns_and_targets(dev) -> None:
    """The two rules target the starter and the recovery machine, by their ARNs."""
    assert {rule.logical_id: [t.arn for t in rule.targets] for rule in dev.rules.values()} == {
        "SalesFileArrivedRule": [dev.machine("SalesArrivalStarter").arn],
        "RunEndedRule": [dev.machine("SalesRecovery").arn],
    }
    ended = dev.rules["RunEndedRule"].pattern
    assert ended["detail"]["stateMachineArn"] == [
        dev.machine("SalesArrival").arn,
        dev.machine("SalesPublish").arn,
    ]


def test_function_lookup_by_arn_gives_handler_code_and_environment(dev) -> None:
    """The validate function's spec: handler, CodeUri, Globals + own environment, timeout."""
    arn = dev.machine("SalesArrival").substitutions["ValidateSalesFileFunctionArn"]
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
        "MALLOC_MMAP_THRESHOLD_": "33554432",
        "MALLOC_TRIM_THRESHOLD_": "134217728",
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
    spec = dev.glue_job_for_name(dev.machine("SalesArrival").substitutions["CleanSalesJobName"])
    assert spec.logical_id == "CleanSalesJob"
    assert spec.script_path == PROJECT_ROOT / "glue_jobs/clean_sales.py"
    assert spec.script_path.is_file()
    assert spec.default_arguments["--job-bookmark-option"] == "job-bookmark-disable"
    # The lake layout module, published beside the EMR scripts (and used by the publish).
    assert (
        spec.default_arguments["--extra-py-files"]
        == (dev.machine("SalesPublish").substitutions["SalesLakeScriptUri"])
    )


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


@pytest.mark.parametrize("logical_id", MACHINE_IDS)
def test_loading_fails_when_an_asl_uses_an_undefined_placeholder(
    logical_id: str, project_copy: Path
) -> None:
    """A ${Var} added to any ASL without a DefinitionSubstitutions entry stops the load."""
    path = project_copy / machine_properties(logical_id)["DefinitionUri"]
    definition = json.loads(path.read_text())
    definition["Comment"] = "uses ${SubstitutionTypo}"
    path.write_text(json.dumps(definition))
    with pytest.raises(MissingSubstitutionError, match="SubstitutionTypo"):
        load_deployed_stack("dev", project_root=project_copy)


def test_definition_variables_lists_the_placeholders_of_a_text() -> None:
    """${Name} placeholders are found; JSONata's {% %} and $variables are not placeholders."""
    text = '{"a": "${Bucket}", "b": "{% $day & \'${Stage}\' %}", "c": "$states.input"}'
    assert definition_variables(text) == {"Bucket", "Stage"}


def test_every_deployed_substitution_comes_from_the_template(dev) -> None:
    """The stack's machines carry exactly the template's DefinitionSubstitutions names."""
    for logical_id, machine in dev.machines.items():
        declared = TEMPLATE["Resources"][logical_id]["Properties"]["DefinitionSubstitutions"]
        assert set(machine.substitutions) == set(declared)


# ----------------------------------------------------------- stage config
def test_an_unknown_stage_lists_the_known_ones() -> None:
    """Asking for a stage samconfig.toml lacks names the environments it has."""
    with pytest.raises(DefinitionError, match="dev, prod, staging"):
        load_deployed_stack("qa")


def test_a_parameter_without_default_or_override_fails_loudly(project_copy: Path) -> None:
    """Dropping EmrClusterId from dev's overrides is an error naming it, not a silent blank."""
    replace_in(project_copy / "samconfig.toml", '    "EmrClusterId=j-DEVCLUSTER0001",\n', "")
    with pytest.raises(DefinitionError, match="EmrClusterId"):
        load_deployed_stack("dev", project_root=project_copy)


def test_a_value_breaking_the_allowed_pattern_fails(project_copy: Path) -> None:
    """A schema name that could inject SQL is refused, as CloudFormation would."""
    replace_in(
        project_copy / "samconfig.toml", '"RedshiftSchema=sales"', '"RedshiftSchema=sales; drop"'
    )
    with pytest.raises(DefinitionError, match="RedshiftSchema"):
        load_deployed_stack("dev", project_root=project_copy)


def test_an_override_for_an_undeclared_parameter_fails(project_copy: Path) -> None:
    """A misspelt parameter in samconfig.toml is reported instead of ignored."""
    replace_in(project_copy / "samconfig.toml", '"Stage=dev"', '"Stage=dev", "EmrClusterID=j-X"')
    with pytest.raises(DefinitionError, match="EmrClusterID"):
        load_deployed_stack("dev", project_root=project_copy)


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
