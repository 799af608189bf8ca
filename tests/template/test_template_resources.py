"""What template.yaml deploys: hardened buckets, the trigger, the state machine, the jobs,
the catalog, the report workgroup, notifications and alarms, named per stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from template_support import PolicyStatement, resolver_for

from stepline.definition import PROJECT_ROOT, TemplateResolver

BUCKETS = ("RawBucket", "DataLakeBucket", "ArtifactsBucket")


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}


def test_the_template_has_exactly_the_three_buckets(resources: dict[str, Any]) -> None:
    """Raw, data-lake and artifacts buckets, nothing else."""
    assert set(_of_type(resources, "AWS::S3::Bucket")) == set(BUCKETS)


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
    ],
)
def test_the_rule_matches_sales_csv_files(key: str, rule_pattern: Any) -> None:
    """A .csv or .csv.gz created under sales/ (any depth) in the raw bucket starts the pipeline."""
    assert rule_pattern.matches_event(_s3_object_created(RAW, key))


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        (RAW, "other/x.csv"),
        (RAW, "sales/x.txt"),
        (RAW, "sales/x.csv.tmp"),
        (RAW, "archive/sales/x.csv"),
        ("someone-elses-bucket", "sales/x.csv"),
    ],
)
def test_the_rule_ignores_other_objects(bucket: str, key: str, rule_pattern: Any) -> None:
    """Other prefixes, other extensions and other buckets do not start the pipeline."""
    assert not rule_pattern.matches_event(_s3_object_created(bucket, key))


def test_the_rule_ignores_other_event_types(rule_pattern: Any) -> None:
    """An Object Deleted event for a sales CSV does not start the pipeline."""
    event = _s3_object_created(RAW, "sales/x.csv") | {"detail-type": "Object Deleted"}
    assert not rule_pattern.matches_event(event)


def test_the_rule_targets_the_state_machine_with_retries_and_a_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    """The rule targets only the pipeline, with its own role, retries and an encrypted DLQ."""
    (target,) = resources["SalesFileArrivedRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "SalesPipelineStateMachine"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["SalesFileArrivedRuleRole", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["SalesFileArrivedDeadLetterQueue", "Arn"]}
    }
    queue = resources["SalesFileArrivedDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True


def test_only_the_rule_may_send_dead_letters(resources: dict[str, Any]) -> None:
    """The DLQ policy lets events.amazonaws.com send only on behalf of this rule."""
    policy = resources["SalesFileArrivedDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SalesFileArrivedRule", "Arn"]}}
    }


# ------------------------------------------------------------ state machine
def test_the_state_machine_is_standard_traced_and_logged(resources: dict[str, Any]) -> None:
    """STANDARD type, the ASL file, X-Ray tracing, and logging without execution data."""
    machine = resources["SalesPipelineStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert machine["DefinitionUri"] == "statemachines/sales_pipeline.asl.json"
    assert machine["Tracing"] == {"Enabled": True}
    logging = machine["Logging"]
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"] == [
        {
            "CloudWatchLogsLogGroup": {
                "LogGroupArn": {"Fn::GetAtt": ["SalesPipelineLogGroup", "Arn"]}
            }
        }
    ]


@pytest.mark.parametrize(("stage", "level"), [("dev", "ALL"), ("prod", "ERROR")])
def test_state_machine_log_level_and_retention_follow_the_stage(
    stage: str, level: str, template: dict[str, Any]
) -> None:
    """dev logs every transition for 14 days; prod logs errors for a year."""
    resolver = resolver_for(template, stage)
    machine = resolver.resolve(resolver.resources["SalesPipelineStateMachine"]["Properties"])
    assert machine["Logging"]["Level"] == level
    log_group = resolver.resolve(resolver.resources["SalesPipelineLogGroup"]["Properties"])
    assert log_group["RetentionInDays"] == {"dev": 14, "prod": 365}[stage]


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
    }


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
    assert job["SecurityConfiguration"] == {"Ref": "CleanSalesSecurityConfiguration"}
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    assert job["DefaultArguments"]["--enable-metrics"] == "true"
    assert job["DefaultArguments"]["--enable-continuous-cloudwatch-log"] == "true"
    encryption = resources["CleanSalesSecurityConfiguration"]["Properties"][
        "EncryptionConfiguration"
    ]
    assert encryption["S3Encryptions"] == [{"S3EncryptionMode": "SSE-S3"}]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_daily_sales_table_matches_the_curated_layout(dev: TemplateResolver) -> None:
    """Parquet over curated/daily_sales/, the six columns, sale_date projected by day since 2020."""
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
    assert table_input["PartitionKeys"] == [{"Name": "sale_date", "Type": "string"}]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.sale_date.type"] == "date"
    assert parameters["projection.sale_date.format"] == "yyyy-MM-dd"
    assert parameters["projection.sale_date.range"] == "2020-01-01,NOW"
    assert (
        parameters["storage.location.template"]
        == f"{lake}/curated/daily_sales/sale_date=${{sale_date}}/"
    )


def test_report_workgroup_results_are_encrypted_under_reports(
    dev: TemplateResolver, asl: dict[str, Any]
) -> None:
    """Results go under reports/ with SSE-S3 (workgroup default and the pipeline's own request)."""
    workgroup = dev.resolve(dev.resources["ReportsWorkGroup"]["Properties"])
    configuration = workgroup["WorkGroupConfiguration"]
    # Not enforced so each day's report lands in reports/daily_sales/date=D/, which is
    # only safe because the state machine asks for SSE_S3 itself:
    assert configuration["EnforceWorkGroupConfiguration"] is False
    report_state = asl["States"]["Build the daily report"]
    requested = report_state["Parameters"]["ResultConfiguration"]
    assert requested["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert requested["OutputLocation.$"].startswith("States.Format('s3://${DataLakeBucket}/reports/")
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


def test_alarms_watch_failures_timeouts_trigger_errors_and_dead_letters(
    resources: dict[str, Any],
) -> None:
    """Four alarms (failed, timed out, failed invocations, DLQ depth) notify the topic."""
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/Events", "FailedInvocations"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert alarms[("AWS/States", "ExecutionsFailed")]["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": "SalesPipelineStateMachine"}}
    ]


# ---------------------------------------------------------- EMR scripts
def test_emr_scripts_travel_as_a_layer_that_the_publisher_mounts(resources: dict[str, Any]) -> None:
    """emr_jobs/ is the publisher's layer, and its version ARN is a PipelineAssets property."""
    layer = resources["EmrJobScriptsLayer"]["Properties"]
    assert layer["ContentUri"] == "emr_jobs/"
    assert (PROJECT_ROOT / "emr_jobs/aggregate_sales.py").is_file()
    publisher = resources["PublishPipelineAssetsFunction"]["Properties"]
    assert publisher["Handler"] == "publish_pipeline_assets.app.lambda_handler"
    assert publisher["CodeUri"] == "functions/"
    assert publisher["Layers"] == [{"Ref": "EmrJobScriptsLayer"}]
    assets = resources["PipelineAssets"]
    assert assets["Type"] == "Custom::PipelineAssets"
    assert assets["Properties"]["ServiceToken"] == {
        "Fn::GetAtt": ["PublishPipelineAssetsFunction", "Arn"]
    }
    assert assets["Properties"]["ScriptsLayerArn"] == {"Ref": "EmrJobScriptsLayer"}
    assert assets["Properties"]["ArtifactsBucket"] == {"Ref": "ArtifactsBucket"}


def test_outputs_name_the_buckets_the_state_machine_and_the_topic(template: dict[str, Any]) -> None:
    """Outputs give the three bucket names, the state machine ARN and the topic ARN."""
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs["RawBucketName"] == {"Ref": "RawBucket"}
    assert outputs["DataLakeBucketName"] == {"Ref": "DataLakeBucket"}
    assert outputs["ArtifactsBucketName"] == {"Ref": "ArtifactsBucket"}
    assert outputs["StateMachineArn"] == {"Ref": "SalesPipelineStateMachine"}
    assert outputs["NotificationTopicArn"] == {"Ref": "NotificationTopic"}
