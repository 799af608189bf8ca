"""What template.yaml deploys: hardened buckets, the rules, the run ledger, the state
machines, the jobs, the catalog, the report workgroup, notifications and alarms, named
per stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from template_support import PolicyStatement, resolver_for, state_machine_ids

from stepline.definition import PROJECT_ROOT, TemplateResolver, load_template

BUCKETS = ("RawBucket", "DataLakeBucket", "ArtifactsBucket")


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}


def test_the_template_has_exactly_the_three_buckets(resources: dict[str, Any]) -> None:
    """Raw, data-lake and artifacts buckets, and the access-log bucket (unless one is given)."""
    assert set(_of_type(resources, "AWS::S3::Bucket")) == {*BUCKETS, "AccessLogsBucket"}
    assert resources["AccessLogsBucket"]["Condition"] == "CreateAccessLogsBucket"


@pytest.mark.parametrize("bucket", BUCKETS)
@pytest.mark.parametrize("given", ["", "central-access-logs"])
def test_every_bucket_logs_its_access(bucket: str, given: str, template: dict[str, Any]) -> None:
    """Server access logs go to the stack's log bucket, or to AccessLogsBucketName when set."""
    resolver = resolver_for(template, "dev", AccessLogsBucketName=given)
    logging = resolver.resolve(resolver.resources[bucket]["Properties"]["LoggingConfiguration"])
    own = resolver.physical_name("AccessLogsBucket")
    assert logging["DestinationBucketName"] == (given or own)
    assert logging["LogFilePrefix"] == f"s3/{resolver.physical_name(bucket)}/"
    assert resolver.is_deployed("AccessLogsBucket") is (given == "")


def test_only_s3_logging_may_write_the_access_logs_of_the_stacks_buckets(
    dev: TemplateResolver,
) -> None:
    """The log bucket's policy lets logging.s3.amazonaws.com write for the three buckets only."""
    policy = dev.resolve(dev.resources["AccessLogsBucketPolicy"]["Properties"])["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Resource"] == f"arn:aws:s3:::{dev.physical_name('AccessLogsBucket')}/s3/*"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert sorted(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == sorted(
        f"arn:aws:s3:::{dev.physical_name(bucket)}" for bucket in BUCKETS
    )
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(
    ("prefix", "parameter", "default"),
    [
        ("quarantine/", "QuarantineRetentionDays", 400),
        ("reports/daily_sales/", "ReportRunsRetentionDays", 30),
        ("validated/", "IntermediateRetentionDays", 7),
        ("clean/_metrics/", "IntermediateRetentionDays", 7),
    ],
)
def test_the_lake_expires_quarantine_and_report_runs(
    prefix: str, parameter: str, default: int, resources: dict[str, Any], template: dict[str, Any]
) -> None:
    """quarantine/ and each Athena run of a report expire; the latest report is outside them."""
    rules = resources["DataLakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == prefix]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": parameter}
    assert template["Parameters"][parameter]["Default"] == default
    from emr_jobs import sales_lake

    assert not sales_lake.LATEST_REPORTS_ROOT.startswith(prefix)
    assert sales_lake.REPORTS_ROOT.startswith(prefix) or prefix != "reports/daily_sales/"
    # Only these prefixes expire by age: validated/ and clean/_metrics/ are read only by
    # their own arrival; the clean and curated generations stay (readers point at them)
    # until the publish removes the superseded ones.
    expiring = [r.get("Prefix") for r in rules if "ExpirationInDays" in r]
    assert sorted(expiring) == [
        "clean/_metrics/", "quarantine/", "reports/daily_sales/", "validated/",
    ]  # fmt: skip
    assert not sales_lake.CLEAN_ROOT.startswith(prefix)
    assert not sales_lake.CURATED_ROOT.startswith(prefix)


def test_every_log_group_is_encrypted_with_the_stacks_key_and_kept_by_stage(
    resources: dict[str, Any], dev: TemplateResolver
) -> None:
    """Each log group has its stage's retention and the pipeline key, whose policy allows it."""
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert len(groups) >= 8
    key = dev.resolve(resources["PipelineKey"]["Properties"])["KeyPolicy"]["Statement"]
    (logs,) = [s for s in key if s.get("Sid") == "CloudWatchLogsEncryptTheStacksLogGroups"]
    allowed = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    for logical_id, group in groups.items():
        properties = group["Properties"]
        assert properties["KmsKeyId"] == {"Fn::GetAtt": ["PipelineKey", "Arn"]}, logical_id
        assert properties["RetentionInDays"] == {
            "Fn::FindInMap": ["StageSettings", {"Ref": "Stage"}, "LogRetentionDays"]
        }
        name = dev.resolve(properties["LogGroupName"])
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{name}"
        assert any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), arn) for p in allowed), arn


@pytest.mark.parametrize("bucket", BUCKETS)
def test_buckets_are_encrypted_private_versioned_and_retained(
    bucket: str, resources: dict[str, Any]
) -> None:
    """Each bucket is encrypted, fully private, versioned, and outlives the stack."""
    resource = resources[bucket]
    properties = resource["Properties"]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)


@pytest.mark.parametrize("bucket", BUCKETS)
def test_buckets_refuse_requests_without_tls(
    bucket: str, resources: dict[str, Any], policy_statements: list[PolicyStatement]
) -> None:
    """A bucket policy denies every S3 call without TLS on the bucket and its objects."""
    (policy_id,) = [
        name
        for name, r in _of_type(resources, "AWS::S3::BucketPolicy").items()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (deny,) = [s.statement for s in policy_statements if s.owner == policy_id]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": [bucket, "Arn"]},
        {"Fn::Sub": f"${{{bucket}.Arn}}/*"},
    ]


def test_only_the_raw_bucket_sends_events_to_eventbridge(resources: dict[str, Any]) -> None:
    """The raw bucket has EventBridge notifications on; the others do not notify."""
    for bucket in BUCKETS:
        configuration = resources[bucket]["Properties"].get("NotificationConfiguration")
        if bucket == "RawBucket":
            assert configuration == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
        else:
            assert configuration is None


# Resources whose name cannot or need not carry the stack name, and why.
UNNAMED_BY_STACK = {
    "PipelineKey": "KMS generates key ids",
    "DailySalesTable": "it lives inside the per-stage Glue database",
}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_resource_names_carry_the_stack_name(stage: str, template: dict[str, Any]) -> None:
    """Every resource name includes its stack name (or stage), so stages share an account."""
    resolver = resolver_for(template, stage)
    unscoped = {
        logical_id: resolver.physical_name(logical_id)
        for logical_id in resolver.resources
        if resolver.stack_name not in resolver.physical_name(logical_id)
        and f"_{stage}" not in resolver.physical_name(logical_id)
    }
    assert set(unscoped) == set(UNNAMED_BY_STACK)


def test_bucket_names_are_valid_s3_names(dev: TemplateResolver, prod: TemplateResolver) -> None:
    """Resolved bucket names are lowercase, dot-free and at most 63 characters."""
    for resolver in (dev, prod):
        for bucket in BUCKETS:
            name = resolver.physical_name(bucket)
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name


# ------------------------------------------------------------------ trigger
def _s3_object_created(bucket: str, key: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


@pytest.fixture(scope="module")
def rule_pattern(dev: TemplateResolver) -> Any:
    # moto's EventBridge pattern matcher, which implements prefix/suffix/wildcard.
    from moto.events.models import EventPattern

    pattern = dev.resolve(dev.resources["SalesFileArrivedRule"]["Properties"]["EventPattern"])
    return EventPattern.load(json.dumps(pattern))


RAW = "stepline-sales-dev-raw-123456789012-us-east-1"


@pytest.mark.parametrize(
    "key",
    [
        "sales/store_001/2026-11-20.csv",
        "sales/x.csv",
        "sales/2026/11/20/store_042.csv.gz",
        # Keys that break the pattern still get an arrival, which rejects and notifies them.
        "sales/date=2026-11-20/store=s1/sales.CSV",
        "sales/x.txt",
        "sales/x.csv.tmp",
    ],
)
def test_the_rule_matches_every_object_under_sales(key: str, rule_pattern: Any) -> None:
    """Anything created under sales/ in the raw bucket starts an arrival: nothing is dropped."""
    assert rule_pattern.matches_event(_s3_object_created(RAW, key))


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        (RAW, "other/x.csv"),
        (RAW, "archive/sales/x.csv"),
        (RAW, "Sales/x.csv"),
        ("someone-elses-bucket", "sales/x.csv"),
    ],
)
def test_the_rule_ignores_other_objects(bucket: str, key: str, rule_pattern: Any) -> None:
    """Other prefixes and other buckets do not start the pipeline."""
    assert not rule_pattern.matches_event(_s3_object_created(bucket, key))


def test_the_rule_ignores_other_event_types(rule_pattern: Any) -> None:
    """An Object Deleted event for a sales CSV does not start the pipeline."""
    event = _s3_object_created(RAW, "sales/x.csv") | {"detail-type": "Object Deleted"}
    assert not rule_pattern.matches_event(event)


RULE_TARGETS = {
    "SalesFileArrivedRule": "SalesArrivalStarterStateMachine",
    "RunEndedRule": "SalesRecoveryStateMachine",
}


def test_the_template_has_exactly_the_two_rules(resources: dict[str, Any]) -> None:
    """One rule for arriving files, one for runs that ended badly: no other rule to check."""
    assert set(_of_type(resources, "AWS::Events::Rule")) == set(RULE_TARGETS)


@pytest.mark.parametrize(("rule", "machine"), RULE_TARGETS.items())
def test_each_rule_targets_its_machine_with_retries_and_the_dead_letter_queue(
    rule: str, machine: str, resources: dict[str, Any]
) -> None:
    """Each rule has one target, its machine, with the rule role, retries and the encrypted DLQ."""
    properties = resources[rule]["Properties"]
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": machine}
    assert target["RoleArn"] == {"Fn::GetAtt": ["TriggerRuleRole", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}}
    # The whole event is the machine's input (the starter and recovery read its detail).
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    queue = resources["TriggerDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_the_rules_and_the_deadline_schedule_may_send_dead_letters(
    resources: dict[str, Any],
) -> None:
    """The DLQ takes messages from EventBridge for the two rules, and Scheduler for the deadline."""
    policy = resources["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    events, scheduler = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == "sqs:SendMessage"
    assert events["Condition"] == {
        "ArnEquals": {"aws:SourceArn": [{"Fn::GetAtt": [rule, "Arn"]} for rule in RULE_TARGETS]}
    }
    assert scheduler["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert scheduler["Action"] == "sqs:SendMessage"
    assert scheduler["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeadlineSchedule", "Arn"]}}
    }


def _status_change(machine_arn: str, status: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [machine_arn],
        "detail": {"stateMachineArn": machine_arn, "status": status, "name": "n"},
    }


@pytest.fixture(scope="module")
def run_ended_pattern(dev: TemplateResolver) -> Any:
    from moto.events.models import EventPattern

    pattern = dev.resolve(dev.resources["RunEndedRule"]["Properties"]["EventPattern"])
    return EventPattern.load(json.dumps(pattern))


MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-sales-dev-"


@pytest.mark.parametrize("status", ["ABORTED", "TIMED_OUT", "FAILED"])
@pytest.mark.parametrize("machine", ["arrival", "publish"])
def test_recovery_runs_for_arrivals_and_publishes_that_ended_badly(
    machine: str, status: str, run_ended_pattern: Any
) -> None:
    """An arrival or publish that was aborted, timed out or failed goes to recovery."""
    assert run_ended_pattern.matches_event(_status_change(MACHINE_ARN + machine, status))


@pytest.mark.parametrize(
    ("machine", "status"),
    [
        ("arrival", "SUCCEEDED"),
        ("publish", "RUNNING"),
        ("recovery", "FAILED"),  # recovery of recovery would loop
        ("arrival-starter", "FAILED"),
        ("publish-request", "TIMED_OUT"),
        ("other-stack-arrival", "FAILED"),
    ],
)
def test_recovery_ignores_other_machines_and_good_endings(
    machine: str, status: str, run_ended_pattern: Any
) -> None:
    """Successes, running executions and the other machines' endings do not start recovery."""
    assert not run_ended_pattern.matches_event(_status_change(MACHINE_ARN + machine, status))


# ---------------------------------------------------------- run ledger
@pytest.mark.parametrize(
    ("stage", "protected"), [("dev", False), ("staging", False), ("prod", True)]
)
def test_the_ledger_is_on_demand_encrypted_recoverable_and_protected_in_prod(
    stage: str, protected: bool, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """PAY_PER_REQUEST, SSE on, point-in-time recovery on, retained; deletion-protected in prod."""
    resolver = resolver_for(template, stage)
    table = resolver.resolve(resolver.resources["RunLedgerTable"]["Properties"])
    assert table["TableName"] == f"stepline-sales-{stage}-run-ledger"
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in table
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionProtectionEnabled"] is protected
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert resources["RunLedgerTable"]["DeletionPolicy"] == "Retain"
    assert resources["RunLedgerTable"]["UpdateReplacePolicy"] == "Retain"


# ------------------------------------------------------------ state machines
MACHINES = state_machine_ids(load_template(PROJECT_ROOT / "template.yaml")["Resources"])


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_machine_is_traced_and_logged_to_its_own_group(
    machine: str, resources: dict[str, Any]
) -> None:
    """Its ASL file, X-Ray tracing, and logging without execution data to its own log group."""
    properties = resources[machine]["Properties"]
    assert properties["DefinitionUri"].startswith("statemachines/")
    assert properties["Type"] in ("STANDARD", "EXPRESS")
    assert properties["Tracing"] == {"Enabled": True}
    logging = properties["Logging"]
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert log_group[1] == "Arn"
    group = resources[log_group[0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    name = properties["Name"]["Fn::Sub"].removeprefix("${AWS::StackName}")
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Sub": f"/aws/vendedlogs/states/${{AWS::StackName}}{name}"
    }
    others = [
        other
        for other in MACHINES
        if other != machine
        and resources[other]["Properties"]["Logging"]["Destinations"] == logging["Destinations"]
    ]
    assert others == []


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
@pytest.mark.parametrize("machine", MACHINES)
def test_state_machine_log_level_and_retention_follow_the_stage(
    machine: str, stage: str, template: dict[str, Any]
) -> None:
    """Express logs ALL (its log is the only record); Standard logs ALL in dev, ERROR in prod."""
    resolver = resolver_for(template, stage)
    properties = resolver.resolve(resolver.resources[machine]["Properties"])
    if properties["Type"] == "EXPRESS":
        assert properties["Logging"]["Level"] == "ALL"
    else:
        assert (
            properties["Logging"]["Level"]
            == {"dev": "ALL", "staging": "ALL", "prod": "ERROR"}[stage]
        )
    (destination,) = resolver.resources[machine]["Properties"]["Logging"]["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = resolver.resolve(resolver.resources[group_id]["Properties"])
    assert log_group["RetentionInDays"] == {"dev": 14, "staging": 30, "prod": 365}[stage]


def test_every_log_group_has_a_retention(resources: dict[str, Any]) -> None:
    """No log group keeps its logs forever."""
    for name, log_group in _of_type(resources, "AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in log_group["Properties"], name


def test_functions_write_to_their_own_retained_log_groups(resources: dict[str, Any]) -> None:
    """Each function's LoggingConfig names the log group the template creates for it."""
    for name in ("ValidateSalesFileFunction", "PublishPipelineAssetsFunction"):
        logging = resources[name]["Properties"]["LoggingConfig"]
        log_group_id = logging["LogGroup"]["Ref"]
        assert resources[log_group_id]["Type"] == "AWS::Logs::LogGroup"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_glue_job_logs_to_its_own_retained_log_groups(
    stage: str, template: dict[str, Any]
) -> None:
    """Glue 5.0 writes <prefix>/error and /output; without a prefix, shared groups kept forever."""
    resolver = resolver_for(template, stage)
    job = resolver.resolve(resolver.resources["CleanSalesJob"]["Properties"])
    assert job["GlueVersion"] == "5.0"  # the prefix argument is Glue 5.0's
    prefix = job["DefaultArguments"]["--custom-logGroup-prefix"]
    groups = {
        resolver.resolve(r["Properties"])["LogGroupName"]: resolver.resolve(r["Properties"])
        for r in resolver.resources.values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    for suffix in ("error", "output"):
        group = groups[f"{prefix}/{suffix}"]
        assert group["RetentionInDays"] == {"dev": 14, "prod": 365}[stage]
        assert "KmsKeyId" in group
    # The job's role writes, and the key encrypts, only those groups (and their streams).
    region_account = "arn:aws:logs:us-east-1:123456789012"
    (logs,) = [
        s
        for policy in resolver.resolve(resolver.resources["CleanSalesJobRole"]["Properties"])[
            "Policies"
        ]
        for s in policy["PolicyDocument"]["Statement"]
        if s["Sid"] == "WriteJobLogs"
    ]
    assert "logs:AssociateKmsKey" in logs["Action"]
    assert logs["Resource"] == f"{region_account}:log-group:{prefix}/*"
    key = resolver.resolve(resolver.resources["PipelineKey"]["Properties"])["KeyPolicy"]
    (glue_logs,) = [s for s in key["Statement"] if s["Sid"] == "CloudWatchLogsEncryptGlueJobLogs"]
    context = glue_logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context == f"{region_account}:log-group:{prefix}/*"


# --------------------------------------------------------------- the Lambda
def test_validate_function_is_configured_as_specified(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """python3.12/arm64, 1 GiB, 5 min, traced, handler in functions/, bucket and ratio in env."""
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Tracing"] == "Active"
    assert {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    } <= set(globals_["Environment"]["Variables"])
    function = resources["ValidateSalesFileFunction"]["Properties"]
    assert function["CodeUri"] == "functions/"
    assert function["Handler"] == "validate_sales_file.app.lambda_handler"
    assert (PROJECT_ROOT / "functions/validate_sales_file/app.py").is_file()
    assert function["MemorySize"] == 1024
    assert function["Timeout"] == 900  # several-GB files; equals the Task TimeoutSeconds
    assert function["EphemeralStorage"] == {"Size": 4096}
    assert function["Environment"]["Variables"] == {
        "DATA_LAKE_BUCKET": {"Ref": "DataLakeBucket"},
        "MAX_REJECT_RATIO": {"Ref": "MaxRejectRatio"},
        # glibc's malloc keeps the scan's freed buffers (sales_contract/allocator.py).
        "MALLOC_MMAP_THRESHOLD_": "33554432",
        "MALLOC_TRIM_THRESHOLD_": "134217728",
    }


def test_the_clean_job_runs_standard_unless_flex_is_asked_for_on_a_flex_worker_type(
    template: dict[str, Any],
) -> None:
    """STANDARD by default; FLEX is allowed, and a rule refuses it on workers Flex cannot use."""
    parameter = template["Parameters"]["GlueExecutionClass"]
    assert parameter["Default"] == "STANDARD"
    assert parameter["AllowedValues"] == ["STANDARD", "FLEX"]
    rule = template["Rules"]["FlexCleanJobRunsOnG1XOrG2X"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "GlueExecutionClass"}, "FLEX"]}
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [["G.1X", "G.2X"], {"Ref": "GlueWorkerType"}]}


# ------------------------------------------------------------------- Glue
def test_clean_job_runs_the_local_script_on_glue_5(resources: dict[str, Any]) -> None:
    """Glue 5.0 job on glue_jobs/clean_sales.py, sized by parameters, encrypted, no bookmarks."""
    job = resources["CleanSalesJob"]["Properties"]
    assert job["GlueVersion"] == "5.0"
    assert job["Command"] == {
        "Name": "glueetl",
        "ScriptLocation": "glue_jobs/clean_sales.py",
        "PythonVersion": "3",
    }
    assert (PROJECT_ROOT / job["Command"]["ScriptLocation"]).is_file()
    assert job["WorkerType"] == {"Ref": "GlueWorkerType"}
    assert job["NumberOfWorkers"] == {"Ref": "GlueNumberOfWorkers"}
    assert job["ExecutionClass"] == {"Ref": "GlueExecutionClass"}
    assert job["SecurityConfiguration"] == {"Ref": "CleanSalesSecurityConfiguration"}
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    assert job["DefaultArguments"]["--enable-metrics"] == "true"
    # Glue 4.0's continuous-logging switch: with the security configuration it would log
    # to <group>-<configuration name> groups the stack does not own (template comment).
    assert "--enable-continuous-cloudwatch-log" not in job["DefaultArguments"]
    encryption = resources["CleanSalesSecurityConfiguration"]["Properties"][
        "EncryptionConfiguration"
    ]
    assert encryption["S3Encryptions"] == [{"S3EncryptionMode": "SSE-S3"}]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_daily_sales_table_matches_the_curated_layout(dev: TemplateResolver) -> None:
    """Parquet over curated/daily_sales/, the six columns, sale_date by day, publish injected."""
    table = dev.resolve(dev.resources["DailySalesTable"]["Properties"])
    database = dev.resolve(dev.resources["SalesCatalogDatabase"]["Properties"])
    assert database["DatabaseInput"]["Name"] == "stepline_sales_dev"
    assert table["DatabaseName"] == "stepline_sales_dev"
    table_input = table["TableInput"]
    assert table_input["Name"] == "daily_sales"
    lake = "s3://stepline-sales-dev-lake-123456789012-us-east-1"
    storage = table_input["StorageDescriptor"]
    assert storage["Location"] == f"{lake}/curated/daily_sales/"
    assert "Parquet" in storage["SerdeInfo"]["SerializationLibrary"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
        ("store_id", "string"),
        ("category", "string"),
        ("revenue", "decimal(18,2)"),
        ("units", "bigint"),
        ("orders", "bigint"),
        ("returns", "bigint"),
    ]
    assert table_input["PartitionKeys"] == [
        {"Name": "sale_date", "Type": "string"},
        {"Name": "publish", "Type": "string"},
    ]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.sale_date.type"] == "date"
    assert parameters["projection.sale_date.format"] == "yyyy-MM-dd"
    assert parameters["projection.sale_date.range"] == "2020-01-01,NOW"
    assert parameters["projection.publish.type"] == "injected"
    assert (
        parameters["storage.location.template"]
        == f"{lake}/curated/daily_sales/sale_date=${{sale_date}}/publish=${{publish}}/"
    )


def test_report_workgroup_results_are_encrypted_under_reports(
    dev: TemplateResolver, asls: dict[str, dict[str, Any]]
) -> None:
    """Results go under reports/ with SSE-S3 (workgroup default and the publish's own request)."""
    workgroup = dev.resolve(dev.resources["ReportsWorkGroup"]["Properties"])
    configuration = workgroup["WorkGroupConfiguration"]
    # Not enforced so each day's report lands in reports/daily_sales/date=D/, which is
    # only safe because the publish asks for SSE_S3 itself:
    assert configuration["EnforceWorkGroupConfiguration"] is False
    report_state = asls["SalesPublishStateMachine"]["States"]["Build the daily report"]
    requested = report_state["Arguments"]["ResultConfiguration"]
    assert requested["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert requested["OutputLocation"].startswith("{% 's3://${DataLakeBucket}/reports/")
    assert configuration["ResultConfiguration"] == {
        "OutputLocation": "s3://stepline-sales-dev-lake-123456789012-us-east-1/reports/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert 0 < configuration["BytesScannedCutoffPerQuery"] <= 100 * 2**30


# --------------------------------------------------------- notifications
def test_topic_is_encrypted_with_the_key_alarms_can_use(resources: dict[str, Any]) -> None:
    """The topic uses the stack's KMS key, whose policy lets CloudWatch alarms encrypt for it."""
    topic = resources["NotificationTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "PipelineKey"}
    key = resources["PipelineKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


@pytest.mark.parametrize(("stage", "subscribed"), [("dev", False), ("prod", True)])
def test_email_subscription_exists_only_with_an_address(
    stage: str, subscribed: bool, template: dict[str, Any]
) -> None:
    """NotificationEmail empty (dev): no subscription; set (prod): an e-mail subscription to it."""
    resolver = resolver_for(template, stage)
    assert resolver.is_deployed("NotificationEmailSubscription") is subscribed
    if subscribed:
        subscription = resolver.resolve(
            resolver.resources["NotificationEmailSubscription"]["Properties"]
        )
        assert subscription["Protocol"] == "email"
        assert subscription["Endpoint"] == "sales-data-oncall@example.com"


def _alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()]


def _alarms_on(resources: dict[str, Any], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a for a in _alarms(resources) if (a["Namespace"], a["MetricName"]) == (namespace, metric)
    ]


def test_every_alarm_notifies_the_topic_on_the_first_occurrence(resources: dict[str, Any]) -> None:
    """Each alarm fires on one occurrence in five minutes, notifies the topic, ignores no data."""
    alarms = _alarms(resources)
    assert len(alarms) >= 11
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (1, 300, 1)
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")


def _dimension_values(alarms: list[dict[str, Any]], name: str) -> list[Any]:
    return [
        dimension["Value"]
        for alarm in alarms
        for dimension in alarm["Dimensions"]
        if dimension["Name"] == name
    ]


def test_every_machine_has_a_failed_executions_alarm(resources: dict[str, Any]) -> None:
    """ExecutionsFailed is watched for each state machine, once each, by its ARN."""
    alarms = _alarms_on(resources, "AWS/States", "ExecutionsFailed")
    assert sorted(_dimension_values(alarms, "StateMachineArn"), key=str) == sorted(
        ({"Ref": machine} for machine in MACHINES), key=str
    )


def test_every_machine_has_a_timed_out_alarm(resources: dict[str, Any]) -> None:
    """ExecutionsTimedOut is watched for every machine (a starter timing out loses a file)."""
    alarms = _alarms_on(resources, "AWS/States", "ExecutionsTimedOut")
    assert sorted(_dimension_values(alarms, "StateMachineArn"), key=str) == sorted(
        ({"Ref": machine} for machine in MACHINES), key=str
    )


def test_rejected_files_have_an_alarm_on_the_validation_metric(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """FilesRejected in the Lambda's Powertools namespace, by its service and the stage."""
    (alarm,) = _alarms_on(resources, "Stepline", "FilesRejected")
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]},
        {"Name": "stage", "Value": {"Ref": "Stage"}},
    ]


def test_every_rule_has_a_failed_invocations_alarm(resources: dict[str, Any]) -> None:
    """EventBridge FailedInvocations is watched for each rule, by its name."""
    alarms = _alarms_on(resources, "AWS/Events", "FailedInvocations")
    assert sorted(_dimension_values(alarms, "RuleName"), key=str) == sorted(
        ({"Ref": rule} for rule in _of_type(resources, "AWS::Events::Rule")), key=str
    )


def test_the_dead_letter_queue_depth_has_an_alarm(resources: dict[str, Any]) -> None:
    """Any message waiting in the trigger DLQ raises an alarm."""
    (alarm,) = _alarms_on(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TriggerDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum"


def test_there_are_no_other_alarms(resources: dict[str, Any]) -> None:
    """Every alarm is one of the kinds checked above."""
    kinds = {(a["Namespace"], a["MetricName"]) for a in _alarms(resources)}
    assert kinds == {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("Stepline", "FilesRejected"),
        ("AWS/Events", "FailedInvocations"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }


# ---------------------------------------------------------- EMR scripts
def test_emr_scripts_travel_as_a_layer_that_the_publisher_mounts(resources: dict[str, Any]) -> None:
    """emr_jobs/ is the publisher's layer, and its version ARN is a PipelineAssets property."""
    layer = resources["EmrJobScriptsLayer"]["Properties"]
    assert layer["ContentUri"] == "emr_jobs/"
    assert (PROJECT_ROOT / "emr_jobs/aggregate_sales.py").is_file()
    publisher = resources["PublishPipelineAssetsFunction"]["Properties"]
    assert publisher["Handler"] == "publish_pipeline_assets.app.lambda_handler"
    assert publisher["CodeUri"] == "functions/"
    assert publisher["Layers"] == [{"Ref": "EmrJobScriptsLayer"}, {"Ref": "ValidatorPackagesLayer"}]
    assets = resources["PipelineAssets"]
    assert assets["Type"] == "Custom::PipelineAssets"
    assert assets["Properties"]["ServiceToken"] == {
        "Fn::GetAtt": ["PublishPipelineAssetsFunction", "Arn"]
    }
    assert assets["Properties"]["ScriptsLayerArn"] == {"Ref": "EmrJobScriptsLayer"}
    # The Glue validation job's packages come from functions/, the Lambda's own code.
    assert resources["ValidatorPackagesLayer"]["Properties"]["ContentUri"] == "functions/"
    assert assets["Properties"]["ValidatorPackagesLayerArn"] == {"Ref": "ValidatorPackagesLayer"}
    assert assets["Properties"]["ArtifactsBucket"] == {"Ref": "ArtifactsBucket"}


def test_outputs_name_the_buckets_every_machine_the_ledger_and_the_topic(
    template: dict[str, Any],
) -> None:
    """Outputs give the three buckets, every state machine's ARN, the ledger and the topic."""
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs["RawBucketName"] == {"Ref": "RawBucket"}
    assert outputs["DataLakeBucketName"] == {"Ref": "DataLakeBucket"}
    assert outputs["ArtifactsBucketName"] == {"Ref": "ArtifactsBucket"}
    assert outputs["RunLedgerTableName"] == {"Ref": "RunLedgerTable"}
    assert outputs["NotificationTopicArn"] == {"Ref": "NotificationTopic"}
    machine_outputs = {
        name: value["Ref"]
        for name, value in outputs.items()
        if isinstance(value, dict) and value.get("Ref") in MACHINES
    }
    assert sorted(machine_outputs.values()) == MACHINES
    for name, machine in machine_outputs.items():
        short = machine.removeprefix("Sales").removesuffix("StateMachine")
        assert name == f"{short}StateMachineArn"


# ------------------------------------------------------- generation expiry
def test_the_prune_function_may_delete_only_the_generation_zones(
    resources: dict[str, Any], dev: TemplateResolver
) -> None:
    """s3:DeleteObject on clean/sales/ and curated/daily_sales/ only; listing only there."""
    function = dev.resolve(resources["PruneGenerationsFunction"]["Properties"])
    assert function["Handler"] == "prune_generations.app.lambda_handler"
    assert (PROJECT_ROOT / "functions/prune_generations/app.py").is_file()
    statements = [s for policy in function["Policies"] for s in policy["Statement"]]
    lake = dev.resolve({"Fn::GetAtt": ["DataLakeBucket", "Arn"]})
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            by_action.setdefault(action, []).append(statement)
    assert set(by_action) == {"s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "dynamodb:Query"}
    (delete,) = by_action["s3:DeleteObject"]
    assert sorted(delete["Resource"]) == [f"{lake}/clean/sales/*", f"{lake}/curated/daily_sales/*"]
    (listing,) = by_action["s3:ListBucket"]
    assert listing["Resource"] == lake
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == [
        "clean/_metrics/*", "clean/sales/*", "curated/daily_sales/*",
    ]  # fmt: skip
    (read,) = by_action["s3:GetObject"]
    assert read["Resource"] == f"{lake}/curated/_manifests/*"
