"""Least privilege in template.yaml: no wildcards but the documented ones, and the state
machine role grants exactly what the ASL's Task states call, on this stack's resources."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import PolicyStatement, resolver_for

from stepline.definition import TemplateResolver, load_deployed_definition

# Allow statements whose Action or Resource is a wildcard, each with the reason AWS
# leaves no narrower choice. (owner logical id, Sid) -> reason.
DOCUMENTED_WILDCARDS = {
    ("PipelineKey", "AccountAdministersKeyThroughIam"): "key policies must say Resource '*'; "
    "the account keeps kms:* so the key can never become unmanageable",
    ("PipelineKey", "CloudWatchAlarmsPublishToEncryptedTopic"): "key policy: Resource '*'",
    ("PipelineKey", "CloudWatchLogsEncryptGlueJobLogs"): "key policy: Resource '*'",
    ("SalesPipelineStateMachine", "PollOwnRedshiftStatements"): "DescribeStatement has no "
    "resource-level permissions; a statement-owner condition narrows it",
    ("SalesPipelineStateMachine", "DeliverExecutionLogs"): "CloudWatch Logs delivery APIs "
    "have no resource-level permissions",
    ("CleanSalesJobRole", "WriteJobMetrics"): "PutMetricData has no resource-level "
    "permissions; a namespace condition narrows it",
}

# What each Task resource of the ASL needs from the execution role (AWS's "IAM policies
# for integrated services" pages). Adding a Task type to the ASL fails
# test_every_asl_task_resource_has_a_known_permission_set until it is listed here.
ASL_RESOURCE_ACTIONS: dict[str, set[str]] = {
    "arn:aws:states:::lambda:invoke": {"lambda:InvokeFunction"},
    # The topic is encrypted with PipelineKey, so publishing needs the key too.
    "arn:aws:states:::sns:publish": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    "arn:aws:states:::glue:startJobRun.sync": {
        "glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun",
    },
    "arn:aws:states:::aws-sdk:s3:getObject": {"s3:GetObject"},
    "arn:aws:states:::elasticmapreduce:addStep.sync": {
        "elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep",
        "elasticmapreduce:CancelSteps",
        "events:PutTargets", "events:PutRule", "events:DescribeRule",
    },
    "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement": {
        "redshift-data:BatchExecuteStatement", "secretsmanager:GetSecretValue",
    },
    "arn:aws:states:::aws-sdk:redshiftdata:describeStatement": {"redshift-data:DescribeStatement"},
    # Athena runs the query with the caller's permissions on the catalog and on S3.
    "arn:aws:states:::athena:startQueryExecution.sync": {
        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution",
        "athena:GetDataCatalog",
        "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions",
        "s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads",
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    },
}  # fmt: skip

# Needed because the state machine has Logging configured (X-Ray comes from the
# AWSXrayWriteOnlyAccess policy SAM attaches for Tracing; see test_template_sam_cli).
LOGGING_ACTIONS = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip

# The SAM policy templates the template uses, expanded (checked against SAM's real
# expansion in test_template_sam_cli).
SAM_POLICY_TEMPLATE_ACTIONS = {"SNSPublishMessagePolicy": {"sns:Publish"}}


def _is_wildcard_action(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def test_no_wildcard_allow_statement_beyond_the_documented_ones(
    policy_statements: list[PolicyStatement],
) -> None:
    """Every Allow with Action '*'/'svc:*' or Resource '*' is a documented AWS necessity."""
    wildcards = {
        (statement.owner, statement.sid)
        for statement in policy_statements
        if statement.statement["Effect"] == "Allow"
        and (
            any(_is_wildcard_action(action) for action in statement.actions)
            or "*" in statement.resources
        )
    }
    assert wildcards == set(DOCUMENTED_WILDCARDS)


def test_identity_wildcard_resources_are_narrowed_by_a_condition(
    policy_statements: list[PolicyStatement],
) -> None:
    """Identity statements on Resource '*' carry a condition, except log delivery (none exists)."""
    unconditioned = {
        (statement.owner, statement.sid)
        for statement in policy_statements
        if statement.kind == "identity"
        and "*" in statement.resources
        and "Condition" not in statement.statement
    }
    assert unconditioned == {("SalesPipelineStateMachine", "DeliverExecutionLogs")}


def _state_machine_actions(resources: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for policy in resources["SalesPipelineStateMachine"]["Properties"]["Policies"]:
        if "Statement" in policy:
            for statement in policy["Statement"]:
                action = statement["Action"]
                actions.update([action] if isinstance(action, str) else action)
        else:
            (template_name,) = policy
            actions |= SAM_POLICY_TEMPLATE_ACTIONS[template_name]
    return actions


def _task_resources(asl: dict[str, Any]) -> set[str]:
    return {state["Resource"] for state in asl["States"].values() if state["Type"] == "Task"}


def test_every_asl_task_resource_has_a_known_permission_set(asl: dict[str, Any]) -> None:
    """Each Task resource in the ASL is in the permission table this file checks against."""
    assert _task_resources(asl) <= set(ASL_RESOURCE_ACTIONS)


def test_state_machine_role_grants_exactly_what_the_asl_calls(
    asl: dict[str, Any], resources: dict[str, Any]
) -> None:
    """The state machine role's actions are the union of its Task resources' needs, plus logging."""
    needed = set().union(*(ASL_RESOURCE_ACTIONS[resource] for resource in _task_resources(asl)))
    assert _state_machine_actions(resources) == needed | LOGGING_ACTIONS


def _grants(resolver: TemplateResolver, resources: dict[str, Any]) -> dict[str, list[str]]:
    """Action -> resolved resources of the state machine's inline statements."""
    grants: dict[str, list[str]] = {}
    for policy in resolver.resolve(
        resources["SalesPipelineStateMachine"]["Properties"]["Policies"]
    ):
        for statement in policy.get("Statement", []):
            actions = statement["Action"]
            targets = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                grants.setdefault(action, []).extend(
                    [targets] if isinstance(targets, str) else targets
                )
    return grants


def test_state_machine_grants_target_the_resources_the_definition_names(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """For dev, grants target the function, job, cluster, secret and workgroup the ASL calls."""
    deployed = load_deployed_definition("dev")
    subs = deployed.substitutions
    grants = _grants(dev, resources)
    region_account = "us-east-1:123456789012"
    assert grants["lambda:InvokeFunction"] == [subs["ValidateSalesFileFunctionArn"]]
    assert grants["glue:StartJobRun"] == [
        f"arn:aws:glue:{region_account}:job/{subs['CleanSalesJobName']}"
    ]
    assert grants["elasticmapreduce:AddJobFlowSteps"] == [
        f"arn:aws:elasticmapreduce:{region_account}:cluster/{subs['EmrClusterId']}"
    ]
    assert grants["events:PutRule"] == [
        f"arn:aws:events:{region_account}:rule/StepFunctionsGetEventForEMRAddJobFlowStepsRule"
    ]
    assert grants["secretsmanager:GetSecretValue"] == [subs["RedshiftSecretArn"]]
    assert (
        f"arn:aws:athena:{region_account}:workgroup/{subs['AthenaWorkGroup']}"
        in grants["athena:StartQueryExecution"]
    )
    lake = f"arn:aws:s3:::{subs['DataLakeBucket']}"
    assert sorted(grants["s3:GetObject"]) == sorted(
        [f"{lake}/clean/_metrics/*", f"{lake}/curated/daily_sales/*", f"{lake}/reports/*"]
    )
    assert grants["s3:PutObject"] == [f"{lake}/reports/*"]
    assert f"{lake}/curated/daily_sales/*" not in grants["s3:PutObject"]


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("dev", "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/*"),
        ("prod", "arn:aws:redshift:us-east-1:123456789012:cluster:stepline-prod"),
    ],
)
def test_redshift_grant_follows_the_target_type(
    stage: str, expected: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """BatchExecuteStatement targets the serverless workgroups (dev) or the exact cluster (prod)."""
    assert _grants(resolver_for(template, stage), resources)[
        "redshift-data:BatchExecuteStatement"
    ] == [expected]


def test_describe_statement_is_limited_to_own_statements(
    policy_statements: list[PolicyStatement],
) -> None:
    """DescribeStatement on '*' only for statements submitted by the same IAM identity."""
    (statement,) = [s for s in policy_statements if s.sid == "PollOwnRedshiftStatements"]
    assert statement.statement["Condition"] == {
        "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}
    }


def test_event_rule_role_may_only_start_this_state_machine(resources: dict[str, Any]) -> None:
    """The EventBridge target role can only call states:StartExecution on the pipeline."""
    role = resources["SalesFileArrivedRuleRole"]["Properties"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "events.amazonaws.com"}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == {"Ref": "SalesPipelineStateMachine"}


def test_validate_function_reads_raw_sales_and_writes_only_its_prefixes(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """The validation Lambda reads raw sales/*, writes validated/ and quarantine/ only."""
    (policy,) = dev.resolve(resources["ValidateSalesFileFunction"]["Properties"]["Policies"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    raw = "arn:aws:s3:::stepline-sales-dev-raw-123456789012-us-east-1"
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    assert by_sid["ReadRawSalesFiles"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert by_sid["ReadRawSalesFiles"]["Resource"] == f"{raw}/sales/*"
    assert by_sid["WriteValidatedAndQuarantine"]["Action"] == "s3:PutObject"
    assert by_sid["WriteValidatedAndQuarantine"]["Resource"] == [
        f"{lake}/validated/*",
        f"{lake}/quarantine/*",
    ]
    assert by_sid["ReplaceEarlierOutputs"] == {
        "Sid": "ReplaceEarlierOutputs",
        "Effect": "Allow",
        "Action": "s3:DeleteObject",
        "Resource": [f"{lake}/validated/*", f"{lake}/quarantine/*"],
    }
    assert set(by_sid) == {
        "ReadRawSalesFiles",
        "WriteValidatedAndQuarantine",
        "ReplaceEarlierOutputs",
    }


def test_glue_role_reads_validated_and_writes_clean_only(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """The Glue role reads validated/ and its script, writes clean/, and no other S3 objects."""
    (policy,) = dev.resolve(resources["CleanSalesJobRole"]["Properties"]["Policies"])
    object_grants = {
        statement["Sid"]: (statement["Action"], statement["Resource"])
        for statement in policy["PolicyDocument"]["Statement"]
        if "arn:aws:s3:::" in str(statement["Resource"]) and statement["Resource"].endswith("*")
    }
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    assert object_grants == {
        "ReadValidated": ("s3:GetObject", f"{lake}/validated/*"),
        "WriteClean": (["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"{lake}/clean/*"),
        "ReadJobScript": (
            "s3:GetObject",
            "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/stepline-sales-dev/*",
        ),
    }


def test_script_publisher_may_only_write_emr_scripts(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """The custom resource function can only PutObject under the artifacts bucket's emr/."""
    (policy,) = dev.resolve(resources["PublishPipelineAssetsFunction"]["Properties"]["Policies"])
    assert policy["Statement"] == [
        {
            "Sid": "PublishEmrScripts",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::stepline-sales-dev-artifacts-123456789012-us-east-1/emr/*",
        }
    ]


def test_emr_instance_policy_exists_only_when_a_role_is_named(
    dev: TemplateResolver, prod: TemplateResolver
) -> None:
    """The EMR instance-role policy is created for prod (role named) and not for dev (empty)."""
    assert dev.is_deployed("EmrInstanceRolePolicy") is False
    assert prod.is_deployed("EmrInstanceRolePolicy") is True
    policy = prod.resolve(prod.resources["EmrInstanceRolePolicy"]["Properties"])
    assert policy["Roles"] == ["stepline-prod-emr-instance-role"]
    resources = {statement["Resource"] for statement in policy["PolicyDocument"]["Statement"]}
    assert "arn:aws:s3:::stepline-sales-prod-artifacts-123456789012-us-east-1/emr/*" in resources
    assert "arn:aws:s3:::stepline-sales-prod-lake-123456789012-us-east-1/curated/*" in resources
