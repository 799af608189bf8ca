"""How Task states are answered: MockConfigFile, then the task handler, then moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from engine_helpers import LAMBDA_INVOKE, machine, mock_file

from stepline.local import (
    NOT_HANDLED,
    MockConfigError,
    TaskFailure,
    TaskInvocation,
    run_state_machine,
)

REDSHIFT_DATA = "arn:aws:states:::aws-sdk:redshiftdata"
EMR_ADD_STEP_SYNC = "arn:aws:states:::elasticmapreduce:addStep.sync"
VALIDATE = (
    "Validate",
    {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": "validate", "Payload.$": "$"},
        "ResultSelector": {"ok.$": "$.Payload.ok"},
        "ResultPath": "$.validation",
    },
)
POLL_LOOP = machine(
    ("Check", {"Type": "Task", "Resource": f"{REDSHIFT_DATA}:describeStatement",
               "Parameters": {"Id": "stmt-1"}, "ResultSelector": {"status.$": "$.Status"},
               "ResultPath": "$.load", "Next": "Done?"}),
    ("Done?", {"Type": "Choice",
               "Choices": [{"Variable": "$.load.status", "StringEquals": "FINISHED", "Next": "Ok"}],
               "Default": "Check"}),
    ("Ok", {"Type": "Succeed"}),
)


def run_mocked(definition: dict, responses: dict, states: dict[str, str], **options: Any) -> Any:
    return run_state_machine(
        definition, {}, mock_config=mock_file({"Case": states}, responses), test_case="Case",
        **options,
    )


def test_lambda_mock_return_is_the_whole_invoke_response() -> None:
    """A Lambda mock's Return is the invoke response: ResultSelector reads $.Payload."""
    result = run_mocked(
        machine(VALIDATE),
        {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}}},
        {"Validate": "Ok"},
    )
    assert result.status == "SUCCEEDED"
    assert result.output == {"validation": {"ok": True}}
    assert result.task_invocations[0].answered_by == "mock"


def test_mocked_task_still_records_scheduled_started_and_succeeded_events() -> None:
    """Mocked tasks leave the same Task* events as a real call, with the mocked output."""
    result = run_mocked(
        machine(VALIDATE),
        {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}}},
        {"Validate": "Ok"},
    )
    types = [event["type"] for event in result.history]
    assert types == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded",
    ]
    scheduled = result.events_of("TaskScheduled")[0]["taskScheduledEventDetails"]
    assert scheduled["resource"] == "invoke" and scheduled["resourceType"] == "lambda"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "validate", "Payload": {}}
    succeeded = result.events_of("TaskSucceeded")[0]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"])["Payload"] == {"ok": True}


def test_mock_responses_follow_the_invocation_count_through_a_polling_loop() -> None:
    """Loop re-entries advance the mock index (moto indexed by RetryCount: "0" forever)."""
    responses = {"Poll": {"0-1": {"Return": {"Status": "STARTED"}},
                          "2": {"Return": {"Status": "FINISHED"}}}}
    result = run_mocked(POLL_LOOP, responses, {"Check": "Poll"})
    assert result.status == "SUCCEEDED"
    assert [call.invocation.invocation_index for call in result.task_invocations] == [0, 1, 2]
    assert result.states_visited.count("Check") == 3


def test_mocked_throw_is_retried_and_next_invocation_gets_the_next_response() -> None:
    """A Throw behaves like the service failing: Retry applies and advances the index."""
    definition = machine((VALIDATE[0], {**VALIDATE[1], "Retry": [
        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1,
         "MaxAttempts": 2}]}))
    responses = {"Flaky": {
        "0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "busy"}},
        "1": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}},
    }}
    result = run_mocked(definition, responses, {"Validate": "Flaky"})
    assert result.status == "SUCCEEDED"
    calls = [(c.invocation.invocation_index, c.invocation.retry_count, c.status)
             for c in result.task_invocations]
    assert calls == [(0, 0, "FAILED"), (1, 1, "SUCCEEDED")]
    failed = result.events_of("TaskFailed")[0]["taskFailedEventDetails"]
    assert (failed["error"], failed["cause"]) == ("Lambda.TooManyRequestsException", "busy")


def test_map_iterations_advance_the_invocation_count() -> None:
    """Each Map iteration is one more invocation of the inner Task (MaxConcurrency 1)."""
    definition = machine(("Each", {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ItemProcessor": machine(("Price", {"Type": "Task",
                                            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                                            "Parameters": {"Bucket": "b", "Key.$": "$"},
                                            "OutputPath": "$.Body"})),
    }))
    responses = {"Bodies": {"0": {"Return": {"Body": "a"}}, "1": {"Return": {"Body": "b"}},
                            "2": {"Return": {"Body": "c"}}}}
    result = run_state_machine(definition, {"items": ["x", "y", "z"]},
                               mock_config=mock_file({"Case": {"Price": "Bodies"}}, responses),
                               test_case="Case")
    assert result.status == "SUCCEEDED"
    assert result.output == ["a", "b", "c"]


def test_invocation_without_a_mocked_response_fails_the_execution_clearly() -> None:
    """Running out of mocked responses fails with States.Runtime, which States.ALL can't catch."""
    definition = machine((VALIDATE[0], {**VALIDATE[1], "Catch": [
        {"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}), ("Caught", {"Type": "Succeed"}))
    definition["States"]["Validate"]["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]
    responses = {"Once": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "x"}}}}
    result = run_mocked(definition, responses, {"Validate": "Once"})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "No mocked response for invocation 1 of state 'Validate'" in result.cause
    assert "Caught" not in result.states_visited


def test_test_case_naming_a_state_that_is_not_a_task_is_rejected_before_running() -> None:
    """A misspelt state name in a test case would silently hit the real service: refuse it."""
    with pytest.raises(MockConfigError, match=r"\['Validat'\]"):
        run_mocked(machine(VALIDATE), {"Ok": {"0": {"Return": {}}}}, {"Validat": "Ok"})


def test_test_case_without_mock_config_is_an_error() -> None:
    """test_case only makes sense with a MockConfigFile."""
    with pytest.raises(MockConfigError, match="without a mock_config"):
        run_state_machine(machine(VALIDATE), {}, test_case="Case")


def test_handler_receives_a_normalised_invocation() -> None:
    """The handler sees boto3 service names, the action, pattern and resolved parameters."""
    seen: list[TaskInvocation] = []

    def handler(invocation: TaskInvocation) -> Any:
        seen.append(invocation)
        return {"Id": "x"}

    definition = machine(
        ("Emr", {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
                 "Parameters": {"ClusterId": "j-1", "Step": {"Name.$": "$.name"}},
                 "ResultPath": None}),
        ("Load", {"Type": "Task",
                  "Resource": "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement",
                  "Parameters": {"Sqls.$": "States.Array('select 1', $.name)"},
                  "ResultPath": None}),
    )
    result = run_state_machine(definition, {"name": "step"}, task_handler=handler,
                               execution_name="handler-run")
    assert result.status == "SUCCEEDED"
    emr, load = seen
    assert (emr.service, emr.action, emr.integration, emr.sdk) == ("emr", "addStep", "sync", False)
    assert emr.parameters == {"ClusterId": "j-1", "Step": {"Name": "step"}}
    assert emr.resource == "arn:aws:states:::elasticmapreduce:addStep.sync"
    assert (load.service, load.action, load.integration, load.sdk) == (
        "redshift-data", "batchExecuteStatement", "request", True)
    assert load.parameters == {"Sqls": ["select 1", "step"]}
    assert load.context["Execution"]["Name"] == "handler-run"
    assert load.context["State"]["Name"] == "Load"
    assert [call.answered_by for call in result.task_invocations] == ["handler", "handler"]


def test_handler_task_failure_is_matched_by_catch_with_its_error_name() -> None:
    """TaskFailure(error, cause) is the service failing: Catch on that name gets it."""
    def handler(invocation: TaskInvocation) -> Any:
        raise TaskFailure("Glue.ConcurrentRunsExceededException", "too many runs")

    definition = machine(
        ("Clean", {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                   "Parameters": {"JobName": "clean"},
                   "Catch": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"],
                              "ResultPath": "$.error", "Next": "Handled"}]}),
        ("Handled", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {"a": 1}, task_handler=handler)
    assert result.status == "SUCCEEDED"
    assert result.output == {"a": 1, "error": {"Error": "Glue.ConcurrentRunsExceededException",
                                               "Cause": "too many runs"}}


def test_handler_may_raise_states_task_failed() -> None:
    """A handler can report the States.TaskFailed error AWS gives for failed .sync jobs."""
    def handler(invocation: TaskInvocation) -> Any:
        raise TaskFailure("States.TaskFailed", '{"JobRunState":"FAILED"}')

    definition = machine(("Clean", {"Type": "Task",
                                    "Resource": "arn:aws:states:::glue:startJobRun.sync",
                                    "Parameters": {"JobName": "clean"}}))
    result = run_state_machine(definition, {}, task_handler=handler)
    assert (result.status, result.error, result.cause) == (
        "FAILED", "States.TaskFailed", '{"JobRunState":"FAILED"}')


def test_unexpected_handler_exception_fails_the_task_like_a_lambda_error() -> None:
    """Any other exception: error = its class name, cause = Lambda's JSON error document."""
    def handler(invocation: TaskInvocation) -> Any:
        raise KeyError("run_date")

    result = run_state_machine(machine(VALIDATE), {}, task_handler=handler)
    assert result.status == "FAILED" and result.error == "KeyError"
    cause = json.loads(result.cause)
    assert cause["errorType"] == "KeyError" and "run_date" in cause["errorMessage"]
    assert isinstance(result.task_invocations[0].exception, KeyError)


def test_handler_result_must_be_json() -> None:
    """A handler returning something JSON cannot represent is a States.Runtime failure."""
    result = run_state_machine(machine(VALIDATE), {}, task_handler=lambda invocation: {1j})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "not JSON" in result.cause


def test_mock_is_preferred_to_the_handler() -> None:
    """A state listed in the test case never reaches the task handler."""
    def handler(invocation: TaskInvocation) -> Any:
        raise AssertionError("the mock should have answered")

    result = run_mocked(machine(VALIDATE),
                        {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": 1}}}}},
                        {"Validate": "Ok"}, task_handler=handler)
    assert result.status == "SUCCEEDED"


def test_lambda_function_error_in_a_response_fails_with_the_error_type() -> None:
    """An invoke response with FunctionError fails the task with the payload's errorType."""
    payload = {"errorType": "ContractViolation", "errorMessage": "bad header"}
    result = run_mocked(
        machine(VALIDATE),
        {"Err": {"0": {"Return": {"StatusCode": 200, "FunctionError": "Unhandled",
                                  "Payload": payload}}}},
        {"Validate": "Err"},
    )
    assert result.status == "FAILED" and result.error == "ContractViolation"
    assert json.loads(result.cause) == payload


def test_legacy_lambda_function_resource_is_answered_too() -> None:
    """A Resource that is a Lambda function ARN goes through the same mock -> handler order."""
    definition = machine(("Fn", {"Type": "Task",
                                 "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"}))
    invocations: list[TaskInvocation] = []

    def handler(invocation: TaskInvocation) -> Any:
        invocations.append(invocation)
        doubled = invocation.parameters["Payload"]["n"] * 2
        return {"StatusCode": 200, "Payload": {"doubled": doubled}}

    result = run_state_machine(definition, {"n": 21}, task_handler=handler)
    assert result.status == "SUCCEEDED" and result.output == {"doubled": 42}
    assert invocations[0].resource == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert invocations[0].state_name == "Fn"


def test_wait_for_task_token_mock_sees_a_generated_token() -> None:
    """A mocked .waitForTaskToken task gets $$.Task.Token in its parameters."""
    definition = machine(("Ask", {"Type": "Task",
                                  "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                  "Parameters": {"QueueUrl": "q", "MessageBody": {
                                      "token.$": "$$.Task.Token"}}}))
    tokens: list[str] = []

    def handler(invocation: TaskInvocation) -> Any:
        tokens.append(invocation.parameters["MessageBody"]["token"])
        return {"approved": True}

    result = run_state_machine(definition, {}, task_handler=handler)
    assert result.status == "SUCCEEDED" and result.output == {"approved": True}
    assert tokens and len(tokens[0]) > 10


def test_not_handled_falls_through_to_moto_sns(aws: None) -> None:
    """NOT_HANDLED lets moto answer: sns:publish really publishes to the caller's moto SNS."""
    sns, sqs = boto3.client("sns", "us-east-1"), boto3.client("sqs", "us-east-1")
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    definition = machine(("Notify", {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                                     "Parameters": {"TopicArn": topic, "Message.$": "$.text"}}))
    result = run_state_machine(definition, {"text": "day loaded"},
                               task_handler=lambda invocation: NOT_HANDLED)
    assert result.status == "SUCCEEDED" and "MessageId" in result.output
    assert result.task_invocations[0].answered_by == "moto"
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Message"] == "day loaded"


def test_moto_s3_get_object_returns_text_body_and_string_dates(aws: None) -> None:
    """aws-sdk:s3:getObject: Body is the text (StringToJson works), dates are ISO strings."""
    s3 = boto3.client("s3", "us-east-1")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="counts.json", Body=b'{"rows_out": 997}')
    definition = machine(("Read", {"Type": "Task",
                                   "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                                   "Parameters": {"Bucket": "lake", "Key": "counts.json"},
                                   "ResultSelector": {"counts.$": "States.StringToJson($.Body)",
                                                      "modified.$": "$.LastModified"}}))
    result = run_state_machine(definition, {})
    assert result.status == "SUCCEEDED"
    assert result.output["counts"] == {"rows_out": 997}
    assert isinstance(result.output["modified"], str) and result.output["modified"].endswith("Z")


def test_moto_sdk_errors_are_named_like_aws(aws: None) -> None:
    """SDK errors are <PascalCase service>.<Code>Exception: S3.NoSuchKeyException."""
    boto3.client("s3", "us-east-1").create_bucket(Bucket="lake")
    definition = machine(
        ("Read", {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                  "Parameters": {"Bucket": "lake", "Key": "missing.json"},
                  "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Missing"}]}),
        ("Missing", {"Type": "Succeed"}),
    )
    result = run_state_machine(definition, {})
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "S3.NoSuchKeyException"
    assert "(Service: S3, Status Code: 404" in result.output["Cause"]


def test_moto_redshift_data_is_reached_under_its_boto3_name(aws: None) -> None:
    """aws-sdk:redshiftdata:* maps to boto3's redshift-data (moto said 'Unknown service')."""
    definition = machine(
        ("Run", {"Type": "Task", "Resource": f"{REDSHIFT_DATA}:executeStatement",
                 "Parameters": {"ClusterIdentifier": "c", "Database": "d", "Sql": "select 1"},
                 "ResultPath": "$.run"}),
        ("Describe", {"Type": "Task",
                      "Resource": "arn:aws:states:::aws-sdk:redshiftdata:describeStatement",
                      "Parameters": {"Id.$": "$.run.Id"}, "OutputPath": "$.QueryString"}),
    )
    result = run_state_machine(definition, {})
    assert result.status == "SUCCEEDED" and result.output == "select 1"


def test_moto_unimplemented_operation_is_a_clear_runtime_error(aws: None) -> None:
    """An SDK call moto lacks (redshift-data batchExecuteStatement) says how to proceed."""
    definition = machine(("Load", {"Type": "Task",
                                   "Resource": f"{REDSHIFT_DATA}:batchExecuteStatement",
                                   "Parameters": {"ClusterIdentifier": "c", "Database": "d",
                                                  "Sqls": ["select 1"]}}))
    result = run_state_machine(definition, {})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "does not implement redshift-data.batch_execute_statement" in result.cause
    assert "mocked response" in result.cause and "task_handler" in result.cause


def test_moto_glue_sync_runs_to_the_final_job_run(aws: None) -> None:
    """glue:startJobRun.sync completes against moto and returns the JobRun, like AWS."""
    boto3.client("glue", "us-east-1").create_job(
        Name="clean", Role="role", Command={"Name": "glueetl", "ScriptLocation": "s3://b/c.py"})
    definition = machine(("Clean", {"Type": "Task",
                                    "Resource": "arn:aws:states:::glue:startJobRun.sync",
                                    "Parameters": {"JobName": "clean"},
                                    "ResultSelector": {"id.$": "$.Id",
                                                       "state.$": "$.JobRunState"}}))
    result = run_state_machine(definition, {})
    assert result.status == "SUCCEEDED"
    assert result.output["state"] == "SUCCEEDED" and result.output["id"].startswith("jr_")
    assert [event["type"] for event in result.history].count("TaskSubmitted") == 1


def test_moto_glue_errors_are_prefixed_glue(aws: None) -> None:
    """An unknown Glue job fails with Glue.EntityNotFoundException (moto said glue.X)."""
    definition = machine(("Clean", {"Type": "Task",
                                    "Resource": "arn:aws:states:::glue:startJobRun.sync",
                                    "Parameters": {"JobName": "nope"}}))
    result = run_state_machine(definition, {})
    assert result.status == "FAILED" and result.error == "Glue.EntityNotFoundException"


def test_unhandled_emr_sync_asks_for_a_mock_or_stand_in(aws: None) -> None:
    """elasticmapreduce:addStep.sync cannot run on moto: a clear States.Runtime error."""
    definition = machine(("Aggregate", {"Type": "Task",
                                        "Resource": EMR_ADD_STEP_SYNC,
                                        "Parameters": {"ClusterId": "j-1", "Step": {}}}))
    result = run_state_machine(definition, {})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "elasticmapreduce:addStep.sync" in result.cause and "task_handler" in result.cause


def test_runs_do_not_share_invocation_counters_or_variables() -> None:
    """A second run starts its mock index at 0 and sees none of the first run's variables."""
    definition = machine(
        ("Seen?", {"Type": "Pass", "QueryLanguage": "JSONata",
                   "Output": "{% {'variables': $exists($seen) ? 'leaked' : 'fresh'} %}"}),
        ("Mark", {"Type": "Pass", "Assign": {"seen": True}, "ResultPath": "$.marked"}),
        VALIDATE,
    )
    responses = {"One": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": "first"}}}}}
    first = run_mocked(definition, responses, {"Validate": "One"})
    second = run_mocked(definition, responses, {"Validate": "One"})
    assert first.status == second.status == "SUCCEEDED"
    assert second.task_invocations[0].invocation.invocation_index == 0
    assert second.output["variables"] == "fresh"


def test_runs_without_a_caller_mock_leave_moto_inactive() -> None:
    """Without the caller's mock_aws the run opens (and closes) its own moto context."""
    from stepline.local.adapter import moto_is_mocking

    result = run_state_machine(machine(("Notify", {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:missing", "Message": "x"},
    })), {})
    assert result.status == "FAILED"
    assert result.error.startswith("SNS.")
    assert not moto_is_mocking()


def test_unanswered_wait_for_task_token_fails_fast(aws: None) -> None:
    """Left to moto, a .waitForTaskToken task would wait forever: a clear States.Runtime."""
    definition = machine(("Ask", {"Type": "Task",
                                  "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                  "Parameters": {"QueueUrl": "q", "MessageBody": "x"}}))
    result = run_state_machine(definition, {}, timeout_seconds=30)
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "task token" in result.cause


def test_unanswered_lambda_is_not_silently_echoed() -> None:
    """A lambda:invoke nobody answers fails (Lambda.ResourceNotFoundException), no fake echo."""
    result = run_state_machine(machine(VALIDATE), {"x": 1})
    assert result.status == "FAILED" and result.error == "Lambda.ResourceNotFoundException"
