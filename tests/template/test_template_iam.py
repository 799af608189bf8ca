"""Least privilege in template.yaml: no wildcards but the documented ones, and each state
machine's role grants exactly what its ASL's Task states call, on this stack's resources."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from template_support import PolicyStatement, resolver_for, state_machine_ids

from stepline.definition import (
    PROJECT_ROOT,
    DeployedMachine,
    DeployedStack,
    TemplateResolver,
    load_deployed_stack,
    load_template,
)

MACHINES = state_machine_ids(load_template(PROJECT_ROOT / "template.yaml")["Resources"])
REGION_ACCOUNT = "us-east-1:123456789012"

# Allow statements whose Action or Resource is a wildcard, each with the reason AWS
# leaves no narrower choice. (owner logical id, Sid) -> reason.
DOCUMENTED_WILDCARDS = {
    ("PipelineKey", "AccountAdministersKeyThroughIam"): "key policies must say Resource '*'; "
    "the account keeps kms:* so the key can never become unmanageable",
    ("PipelineKey", "CloudWatchAlarmsPublishToEncryptedTopic"): "key policy: Resource '*'",
    ("PipelineKey", "CloudWatchLogsEncryptGlueJobLogs"): "key policy: Resource '*'",
    ("PipelineKey", "CloudWatchLogsEncryptTheStacksLogGroups"): "key policy: Resource '*'",
    ("SalesPublishStateMachine", "PollOwnRedshiftStatements"): "DescribeStatement and "
    "CancelStatement have no resource-level permissions; a statement-owner condition narrows it",
    ("SalesArrivalStarterStateMachine", "CountDuplicateDeliveries"): "PutMetricData has no "
    "resource-level permissions; a namespace condition narrows it",
    ("CleanSalesJobRole", "WriteJobMetrics"): "PutMetricData has no resource-level "
    "permissions; a namespace condition narrows it",
    ("ValidateSalesFileJobRole", "WriteJobMetrics"): "PutMetricData has no resource-level "
    "permissions; a namespace condition narrows it",
    **{
        (machine, "DeliverExecutionLogs"): "CloudWatch Logs delivery APIs have no "
        "resource-level permissions"
        for machine in MACHINES
    },
}

# What each Task resource of an ASL needs from its machine's execution role, from AWS's
# "IAM policies for integrated services" pages
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-integration-iam-templates.html
# and the per-service pages it links: dynamo-iam.html for dynamodb:updateItem,
# stepfunctions-iam.html for states:startExecution and .sync:2, which also needs
# DescribeExecution/StopExecution on the child's executions and the managed
# StepFunctionsGetEventsForStepFunctionsExecutionRule). AWS SDK integrations
# (aws-sdk:<service>:<api>) need the API's own IAM action: dynamodb:Query,
# cloudwatch:PutMetricData, s3:PutObject, redshift-data:CancelStatement.
# Adding a Task type to an ASL fails test_every_asl_task_resource_has_a_known_permission_set
# until it is listed here.
ASL_RESOURCE_ACTIONS: dict[str, set[str]] = {
    "arn:aws:states:::lambda:invoke": {"lambda:InvokeFunction"},
    # The topic is encrypted with PipelineKey, so publishing needs the key too.
    "arn:aws:states:::sns:publish": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    "arn:aws:states:::dynamodb:updateItem": {"dynamodb:UpdateItem"},
    "arn:aws:states:::aws-sdk:dynamodb:query": {"dynamodb:Query"},
    "arn:aws:states:::states:startExecution": {"states:StartExecution"},
    "arn:aws:states:::states:startExecution.sync:2": {
        "states:StartExecution", "states:DescribeExecution", "states:StopExecution",
        "events:PutTargets", "events:PutRule", "events:DescribeRule",
    },
    "arn:aws:states:::aws-sdk:cloudwatch:putMetricData": {"cloudwatch:PutMetricData"},
    "arn:aws:states:::glue:startJobRun.sync": {
        "glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun",
    },
    "arn:aws:states:::aws-sdk:s3:getObject": {"s3:GetObject"},
    "arn:aws:states:::aws-sdk:s3:putObject": {"s3:PutObject"},
    # CopyObject reads the source and writes the copy (the day's latest report).
    "arn:aws:states:::aws-sdk:s3:copyObject": {"s3:GetObject", "s3:PutObject"},
    "arn:aws:states:::elasticmapreduce:addStep.sync": {
        "elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep",
        "elasticmapreduce:CancelSteps",
        "events:PutTargets", "events:PutRule", "events:DescribeRule",
    },
    "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement": {
        "redshift-data:BatchExecuteStatement", "secretsmanager:GetSecretValue",
    },
    "arn:aws:states:::aws-sdk:redshiftdata:describeStatement": {"redshift-data:DescribeStatement"},
    "arn:aws:states:::aws-sdk:redshiftdata:cancelStatement": {"redshift-data:CancelStatement"},
    # Athena runs the query with the caller's permissions on the catalog and on S3.
    "arn:aws:states:::athena:startQueryExecution.sync": {
        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution",
        "athena:GetDataCatalog",
        "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions",
        "s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads",
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    },
}  # fmt: skip

# Needed because every state machine has Logging configured (X-Ray comes from the
# AWSXrayWriteOnlyAccess policy SAM attaches for Tracing; see test_template_sam_cli).
LOGGING_ACTIONS = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip

# The SAM policy templates the template uses, expanded (checked against SAM's real
# expansion in test_template_sam_cli).
SAM_POLICY_TEMPLATE_ACTIONS = {"SNSPublishMessagePolicy": {"sns:Publish"}}


@functools.cache
def _stack(stage: str) -> DeployedStack:
    return load_deployed_stack(stage)


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


def test_no_identity_statement_allows_a_wildcard_action(
    policy_statements: list[PolicyStatement],
) -> None:
    """Roles never get '*' or 'service:*' actions (only the key policy's account admin does)."""
    assert [
        (s.owner, s.sid)
        for s in policy_statements
        if s.kind == "identity" and any(_is_wildcard_action(a) for a in s.actions)
    ] == []


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
    assert unconditioned == {(machine, "DeliverExecutionLogs") for machine in MACHINES}


def _state_machine_actions(resources: dict[str, Any], machine: str) -> set[str]:
    actions: set[str] = set()
    for policy in resources[machine]["Properties"]["Policies"]:
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


@pytest.mark.parametrize("machine", MACHINES)
def test_every_asl_task_resource_has_a_known_permission_set(
    machine: str, asls: dict[str, dict[str, Any]]
) -> None:
    """Each Task resource in the machine's ASL is in the permission table this file checks."""
    assert _task_resources(asls[machine]) - set(ASL_RESOURCE_ACTIONS) == set()


@pytest.mark.parametrize("machine", MACHINES)
def test_state_machine_role_grants_exactly_what_its_asl_calls(
    machine: str, asls: dict[str, dict[str, Any]], resources: dict[str, Any]
) -> None:
    """A machine role's actions are the union of its Task resources' needs, plus logging."""
    needed = set().union(
        *(ASL_RESOURCE_ACTIONS[resource] for resource in _task_resources(asls[machine]))
    )
    assert _state_machine_actions(resources, machine) == needed | LOGGING_ACTIONS


def _grants(resolver: TemplateResolver, resources: dict[str, Any], machine: str) -> dict[str, Any]:
    """Action -> resolved resources of one state machine's inline statements."""
    grants: dict[str, list[str]] = {}
    for policy in resolver.resolve(resources[machine]["Properties"]["Policies"]):
        for statement in policy.get("Statement", []):
            actions = statement["Action"]
            targets = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                grants.setdefault(action, []).extend(
                    [targets] if isinstance(targets, str) else targets
                )
    return grants


def _execution_arns(deployed: DeployedStack, state_machine_arn: str) -> set[str]:
    """Execution ARNs of a machine: ...:execution:..., and ...:express:... for Express."""
    kinds = [":execution:"]
    if deployed.machine(state_machine_arn).express:
        kinds.append(":express:")
    return {state_machine_arn.replace(":stateMachine:", kind) + ":*" for kind in kinds}


def _expected_targets(deployed: DeployedStack, machine: DeployedMachine) -> dict[str, set[str]]:
    """What each named-resource action may target, read from the machine's deployed Tasks."""
    expected: dict[str, set[str]] = {}

    def allow(actions: set[str], *targets: str) -> None:
        for action in actions:
            expected.setdefault(action, set()).update(targets)

    for state in machine.definition["States"].values():
        if state["Type"] != "Task":
            continue
        resource, arguments = state["Resource"], state.get("Arguments", {})
        if resource == "arn:aws:states:::lambda:invoke":
            allow({"lambda:InvokeFunction"}, arguments["FunctionName"])
        elif "dynamodb:" in resource:
            table = f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/{arguments['TableName']}"
            allow(ASL_RESOURCE_ACTIONS[resource], table)
        elif resource.startswith("arn:aws:states:::states:startExecution"):
            allow({"states:StartExecution"}, arguments["StateMachineArn"])
            if resource.endswith(".sync:2"):
                allow(
                    {"states:DescribeExecution", "states:StopExecution"},
                    *_execution_arns(deployed, arguments["StateMachineArn"]),
                )
                allow(
                    {"events:PutTargets", "events:PutRule", "events:DescribeRule"},
                    f"arn:aws:events:{REGION_ACCOUNT}:rule/"
                    "StepFunctionsGetEventsForStepFunctionsExecutionRule",
                )
        elif resource == "arn:aws:states:::glue:startJobRun.sync":
            job = f"arn:aws:glue:{REGION_ACCOUNT}:job/{arguments['JobName']}"
            allow(ASL_RESOURCE_ACTIONS[resource], job)
        elif resource == "arn:aws:states:::elasticmapreduce:addStep.sync":
            cluster = f"arn:aws:elasticmapreduce:{REGION_ACCOUNT}:cluster/{arguments['ClusterId']}"
            allow({a for a in ASL_RESOURCE_ACTIONS[resource] if a.startswith("elastic")}, cluster)
            allow(
                {"events:PutTargets", "events:PutRule", "events:DescribeRule"},
                f"arn:aws:events:{REGION_ACCOUNT}:rule/"
                "StepFunctionsGetEventForEMRAddJobFlowStepsRule",
            )
        elif resource == "arn:aws:states:::sns:publish":
            topic = deployed.resources["NotificationTopic"]
            assert arguments["TopicArn"] == topic
            allow({"kms:GenerateDataKey", "kms:Decrypt"}, _pipeline_key_arn(deployed))
        elif resource.endswith("redshiftdata:batchExecuteStatement"):
            allow({"secretsmanager:GetSecretValue"}, arguments["SecretArn"])
    return expected


def _pipeline_key_arn(deployed: DeployedStack) -> str:
    return f"arn:aws:kms:{REGION_ACCOUNT}:key/{deployed.resources['PipelineKey']}"


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("machine", MACHINES)
def test_state_machine_grants_target_exactly_the_resources_its_tasks_name(
    machine: str, stage: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """Each grant naming a function, table, machine, job, cluster, rule, key or secret is the
    very one the deployed Tasks name (nothing broader, nothing another machine uses)."""
    deployed = _stack(stage)
    expected = _expected_targets(deployed, deployed.machines[machine])
    grants = _grants(resolver_for(template, stage), resources, machine)
    for action, targets in expected.items():
        assert set(grants[action]) == targets, action


@pytest.mark.parametrize("machine", MACHINES)
def test_machines_that_notify_may_publish_only_to_the_stack_topic(
    machine: str, asls: dict[str, dict[str, Any]], resources: dict[str, Any]
) -> None:
    """SNSPublishMessagePolicy names the stack's own topic, only where the ASL publishes."""
    templates = [p for p in resources[machine]["Properties"]["Policies"] if "Statement" not in p]
    publishes = "arn:aws:states:::sns:publish" in _task_resources(asls[machine])
    expected = (
        [
            {
                "SNSPublishMessagePolicy": {
                    "TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}
                }
            }
        ]
        if publishes
        else []
    )
    assert templates == expected


def test_the_ledger_grants_are_the_two_item_calls_on_the_ledger_table_only(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """No machine may Scan, Delete or Put in the ledger: UpdateItem, and Query to read a day."""
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/stepline-sales-dev-run-ledger"
    dynamodb = {
        machine: {
            action: targets
            for action, targets in _grants(dev, resources, machine).items()
            if action.startswith("dynamodb:")
        }
        for machine in MACHINES
    }
    assert dynamodb == {
        "SalesArrivalStarterStateMachine": {},
        "SalesArrivalStateMachine": {"dynamodb:UpdateItem": [table]},
        "SalesPublishRequestStateMachine": {"dynamodb:UpdateItem": [table]},
        "SalesPublishStateMachine": {"dynamodb:UpdateItem": [table], "dynamodb:Query": [table]},
        "SalesRecoveryStateMachine": {"dynamodb:UpdateItem": [table]},
        "SalesDeadlineCheckStateMachine": {"dynamodb:Query": [table]},
    }


def test_machines_start_only_the_machines_their_tasks_start(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """Starter -> arrival, arrival -> request, request -> publish, publish -> publish,
    recovery -> request; the deadline check starts nothing."""
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-sales-dev-"
    starts = {
        machine: sorted(_grants(dev, resources, machine).get("states:StartExecution", []))
        for machine in MACHINES
    }
    assert starts == {
        "SalesArrivalStarterStateMachine": [f"{arn}arrival"],
        "SalesArrivalStateMachine": [f"{arn}publish-request"],
        "SalesPublishRequestStateMachine": [f"{arn}publish"],
        "SalesPublishStateMachine": [f"{arn}publish"],
        "SalesRecoveryStateMachine": [f"{arn}publish-request"],
        "SalesDeadlineCheckStateMachine": [],
    }


def test_the_arrival_reads_only_the_clean_step_counts_and_glue_validation_results(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """The arrival's only S3 grants are what its getObject Tasks read: counts and results."""
    grants = _grants(dev, resources, "SalesArrivalStateMachine")
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    assert {a: sorted(t) for a, t in grants.items() if a.startswith("s3:")} == {
        "s3:GetObject": [f"{lake}/clean/_metrics/*", f"{lake}/validated/_results/*"]
    }


def test_the_glue_validation_job_has_the_lambdas_data_grants_and_only_its_own_logs(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """Same S3 reach as the validation Lambda; logs only in its own groups; the stack's key."""
    role = resources["ValidateSalesFileJobRole"]["Properties"]
    documents = [policy["PolicyDocument"] for policy in role["Policies"]]
    job = _grants(dev, {"Role": {"Properties": {"Policies": documents}}}, "Role")
    function = _grants(dev, resources, "ValidateSalesFileFunction")
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    artifacts = "arn:aws:s3:::stepline-sales-dev-artifacts-123456789012-us-east-1"
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"):
        assert (
            sorted(job[action])
            == sorted(function[action])
            == [
                f"{lake}/quarantine/*",
                f"{lake}/validated/*",
            ]
        ), action
    assert job["s3:GetObjectVersion"] == function["s3:GetObjectVersion"]
    beyond = [t for t in job["s3:GetObject"] if t not in function["s3:GetObject"]]
    assert sorted(beyond) == [  # the job script, and the validator's packages
        "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/stepline-sales-dev/*",
        f"{artifacts}/emr/*",
    ]
    (log_groups,) = {tuple(job[a]) for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
    assert log_groups == (
        "arn:aws:logs:us-east-1:123456789012:log-group:"
        "/aws-glue/jobs/stepline-sales-dev-validate-sales-file/*",
    )
    assert "logs:CreateLogGroup" not in job  # the stack creates both, with its key
    assert "s3:ListBucket" not in job


def test_the_publish_s3_grants_are_manifests_curated_reads_and_reports(
    dev: TemplateResolver, resources: dict[str, Any]
) -> None:
    """The publish writes manifests and reports, reads curated/, and writes no curated data."""
    grants = _grants(dev, resources, "SalesPublishStateMachine")
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    assert sorted(grants["s3:PutObject"]) == [f"{lake}/curated/_manifests/*", f"{lake}/reports/*"]
    assert sorted(grants["s3:GetObject"]) == [f"{lake}/curated/*", f"{lake}/reports/*"]
    assert grants["s3:ListBucket"] == [lake]
    assert f"{lake}/curated/daily_sales/*" not in grants["s3:PutObject"]
    assert (
        "arn:aws:athena:us-east-1:123456789012:workgroup/stepline-sales-dev-reports"
        in grants["athena:StartQueryExecution"]
    )
    assert set(grants["glue:GetTable"]) == {
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/stepline_sales_dev",
        "arn:aws:glue:us-east-1:123456789012:table/stepline_sales_dev/daily_sales",
    }


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (
            "dev",
            "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/"
            "11111111-2222-3333-4444-000000000001",
        ),
        ("prod", "arn:aws:redshift:us-east-1:123456789012:cluster:stepline-prod"),
    ],
)
def test_redshift_grant_follows_the_target_type(
    stage: str, expected: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """BatchExecuteStatement targets exactly the serverless workgroup (dev) or cluster (prod)."""
    grants = _grants(resolver_for(template, stage), resources, "SalesPublishStateMachine")
    assert grants["redshift-data:BatchExecuteStatement"] == [expected]


def test_describe_and_cancel_statement_are_limited_to_own_statements(
    policy_statements: list[PolicyStatement],
) -> None:
    """DescribeStatement/CancelStatement on '*' only for statements the same identity submitted."""
    (statement,) = [s for s in policy_statements if s.sid == "PollOwnRedshiftStatements"]
    assert set(statement.actions) == {
        "redshift-data:DescribeStatement",
        "redshift-data:CancelStatement",
    }
    assert statement.statement["Condition"] == {
        "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}
    }


def test_the_duplicate_count_may_only_write_the_metric_namespace_it_uses(
    policy_statements: list[PolicyStatement], asls: dict[str, dict[str, Any]]
) -> None:
    """PutMetricData on '*' is conditioned on the namespace the starter's Task writes."""
    (statement,) = [s for s in policy_statements if s.sid == "CountDuplicateDeliveries"]
    count = asls["SalesArrivalStarterStateMachine"]["States"]["Count the duplicate delivery"]
    assert statement.statement["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": count["Arguments"]["Namespace"]}
    }


def test_the_rule_role_may_only_start_the_starter_and_the_recovery(
    resources: dict[str, Any],
) -> None:
    """The EventBridge target role can only call states:StartExecution on the two rule targets."""
    role = resources["TriggerRuleRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == [
        {"Ref": "SalesArrivalStarterStateMachine"},
        {"Ref": "SalesRecoveryStateMachine"},
    ]
    targets = sorted(
        json.dumps(target["Arn"])
        for resource in resources.values()
        if resource["Type"] == "AWS::Events::Rule"
        for target in resource["Properties"]["Targets"]
    )
    assert targets == sorted(json.dumps(arn) for arn in statement["Resource"])


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
    # The good rows go up as a multipart upload, aborted when the file is rejected.
    assert by_sid["WriteValidatedAndQuarantine"]["Action"] == [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    ]
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
    """The Glue role reads validated/, its script and the layout module, writes clean/ only."""
    (policy,) = dev.resolve(resources["CleanSalesJobRole"]["Properties"]["Policies"])
    object_grants = {
        statement["Sid"]: (statement["Action"], statement["Resource"])
        for statement in policy["PolicyDocument"]["Statement"]
        if "arn:aws:s3:::" in str(statement["Resource"]) and statement["Resource"].endswith("*")
    }
    lake = "arn:aws:s3:::stepline-sales-dev-lake-123456789012-us-east-1"
    artifacts = "arn:aws:s3:::stepline-sales-dev-artifacts-123456789012-us-east-1"
    assert object_grants == {
        "ReadValidated": ("s3:GetObject", f"{lake}/validated/*"),
        "ReadLakeLayoutModule": ("s3:GetObject", f"{artifacts}/emr/*"),
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


def test_a_serverless_target_must_name_its_workgroup_id(template: dict[str, Any]) -> None:
    """A template Rule refuses a serverless target without RedshiftWorkgroupId."""
    rule = template["Rules"]["ServerlessTargetNamesItsWorkgroupId"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "RedshiftTargetType"}, "serverless"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RedshiftWorkgroupId"}, ""]}]
    }
