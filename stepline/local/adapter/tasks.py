"""Task dispatch: the MockConfigFile, then the task handler, then moto; and ``.sync``.

Every Task invocation of a Stepline run is offered to the run first
(:meth:`RunHooks.answer_task`: mock, then handler); what neither answers goes
to moto's in-process services, with AWS's conventions moto lacks: SDK
service names (``redshiftdata`` -> ``redshift-data``, ``elasticmapreduce``
-> ``emr``), SDK error names (``S3.NoSuchKeyException``, not ``glue.X``),
JSON-safe responses (S3 ``Body`` as text, timestamps as strings), Glue and
Athena ``.sync`` run to completion against moto, and a clear
``States.Runtime`` for what cannot run locally.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import moto
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto.stepfunctions.parser import utils as moto_sfn_utils
from moto.stepfunctions.parser.api import (
    HistoryEventExecutionDataDetails,
    HistoryEventType,
    InvocationResponse,
    LambdaFunctionFailedEventDetails,
    TaskSubmittedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.utilities.collections import select_from_typed_dict

from stepline.local.adapter.clock import sleep
from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, replace_with
from stepline.local.adapter.errors import error_name_for, task_failure
from stepline.local.adapter.history import event_details
from stepline.local.adapter.mocks import finish_answered_task, lambda_function_error
from stepline.local.adapter.runs import RunHooks, TaskSpec, frame_of, iso_timestamp, run_for_env

# Virtual seconds between two polls of a .sync job that Stepline completes against moto.
SYNC_POLL_SECONDS: Final[float] = 10.0
# Real seconds between those polls when virtual time is off (moto's own value).
REAL_SYNC_POLL_SECONDS: Final[float] = 0.5
_MAX_SYNC_POLLS: Final[int] = 1000

_BOTO_NAME_OVERRIDES: Final[dict[str, str]] = {
    "sfn": "stepfunctions",
    "states": "stepfunctions",
    "elasticmapreduce": "emr",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "costexplorer": "ce",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
}
_BOTO_NAMES_BY_SQUASHED: dict[str, str] = {}


def boto3_service_name(step_functions_name: str) -> str:
    """The boto3 client name of a service as Step Functions spells it in a Resource ARN.

    Step Functions drops the dashes of SDK names (``redshiftdata``, ``acmpca``)
    and uses a few historical names (``elasticmapreduce``, ``sfn``).
    """
    if step_functions_name in _BOTO_NAME_OVERRIDES:
        return _BOTO_NAME_OVERRIDES[step_functions_name]
    if not _BOTO_NAMES_BY_SQUASHED:
        import boto3

        for name in boto3.session.Session().get_available_services():
            _BOTO_NAMES_BY_SQUASHED.setdefault(name.replace("-", ""), name)
    return _BOTO_NAMES_BY_SQUASHED.get(step_functions_name.replace("-", ""), step_functions_name)


_SERVICE_ERROR_PREFIXES: dict[str, str] = {}


def sdk_error_prefix(boto_service: str) -> str:
    """The PascalCase service name AWS puts in front of SDK integration errors.

    AWS derives it from the service id the way the AWS SDKs name clients:
    ``S3``, ``RedshiftData``, ``DynamoDb``, ``AcmPca``, ``Sfn``, ``Glue``.
    """
    if boto_service not in _SERVICE_ERROR_PREFIXES:
        import botocore.session

        try:
            service_id = botocore.session.get_session().get_service_model(boto_service).service_id
        except Exception:  # an unknown service still needs a readable prefix
            service_id = boto_service
        words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", str(service_id))
        _SERVICE_ERROR_PREFIXES[boto_service] = "".join(word.capitalize() for word in words)
    return _SERVICE_ERROR_PREFIXES[boto_service]


def exception_error_name(prefix: str, code: str) -> str:
    """``Prefix.CodeException``: AWS always adds the Exception suffix (S3.NoSuchKeyException)."""
    return f"{prefix}.{code if code.endswith('Exception') else code + 'Exception'}"


def json_safe(value: Any) -> Any:
    """An AWS SDK response as the JSON Step Functions would hand to the state."""
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dt.datetime):
        return iso_timestamp(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, StreamingBody):
        return json_safe(value.read())
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _cannot_run_locally(
    self: StateTaskService, env: Environment, reason: str
) -> FailureEventException:
    cause = (
        f"Stepline's local engine cannot answer '{self.resource.resource_arn}' in state "
        f"'{self.name}': {reason} Give the state a mocked response (mock_config and "
        "test_case) or a local stand-in (task_handler)."
    )
    return task_failure(self, env, StatesErrorNameType.StatesRuntime.to_name(), cause)


def _integration(condition: str | None) -> Any:
    if condition in (ResourceCondition.Sync, ResourceCondition.Sync2):
        return "sync"
    if condition == ResourceCondition.WaitForTaskToken:
        return "waitForTaskToken"
    return "request"


def _state_timeout_seconds(self: Any, env: Environment) -> float | None:
    if self.timeout.is_default_value():
        return None
    self.timeout.eval(env=env)
    return float(env.stack.pop())


def _task_eval_execution(self: StateTaskService, env: Environment) -> None:
    run = run_for_env(env)
    if run is None:
        return original("task-dispatch")(self, env)
    self.resource.eval(env=env)
    runtime_part = env.stack.pop()
    raw_parameters = self._eval_parameters(env=env)
    credentials = self._eval_state_credentials(env=env)
    self._before_eval_execution(
        env=env,
        resource_runtime_part=runtime_part,
        raw_parameters=raw_parameters,
        state_credentials=credentials,
    )
    spec = TaskSpec(
        state_name=self.name,
        resource=self.resource.resource_arn,
        service=boto3_service_name(self.resource.api_name),
        action=self.resource.api_action,
        integration=_integration(self.resource.condition),
        sdk=self.resource.service_name == "aws-sdk",
        region=runtime_part.region,
        timeout_seconds=_state_timeout_seconds(self, env),
    )
    answer = run.answer_task(
        spec,
        copy.deepcopy(raw_parameters),
        copy.deepcopy(env.states.context_object.context_object_data),
    )
    if answer.answered:
        finish_answered_task(
            self, env, run, spec, answer, runtime_part, raw_parameters, credentials
        )
        return None
    try:
        _answer_with_moto(self, env, run, spec, runtime_part, raw_parameters, credentials)
    except Exception as failure:
        failure_event = self._from_error(env=env, ex=failure)
        # moto fills in one entry, a ...EventDetails TypedDict (typed as object by .values()).
        details = cast(
            Mapping[str, Any], next(iter((failure_event.event_details or {}).values()), {})
        )
        run.record_outcome(
            answer.record,
            error=details.get("error", type(failure).__name__),
            cause=details.get("cause", str(failure)),
        )
        raise
    run.record_outcome(answer.record, result=env.stack[-1])
    return None


def _answer_with_moto(
    self: StateTaskService,
    env: Environment,
    run: RunHooks,
    spec: TaskSpec,
    runtime_part: Any,
    raw_parameters: Any,
    credentials: Any,
) -> None:
    if spec.sdk:
        if spec.integration != "request":
            raise _cannot_run_locally(
                self, env, f"the .{spec.integration} pattern of SDK integrations is not emulated."
            )
        output = _call_sdk(self, env, spec, raw_parameters)
    elif spec.integration == "sync":
        output = _run_sync_job(self, env, run, spec, raw_parameters)
    elif spec.integration == "waitForTaskToken":
        raise _cannot_run_locally(
            self, env, "nothing in-process can send its task token back (SendTaskSuccess)."
        )
    elif spec.service == "emr":
        raise _cannot_run_locally(
            self, env, "moto has no equivalent of the optimised EMR integration."
        )
    else:
        normalised = copy.deepcopy(raw_parameters)
        self._normalise_parameters(normalised)
        # Tells the legacy-lambda-dispatch wrapper this invocation was already offered.
        frame_of(env).dispatched = True
        self._eval_service_task(
            env=env,
            resource_runtime_part=runtime_part,
            normalised_parameters=normalised,
            state_credentials=credentials,
        )
        env.stack[-1] = json_safe(env.stack[-1])
        self._normalise_response(env.stack[-1])
        self._after_eval_execution(
            env=env,
            resource_runtime_part=runtime_part,
            normalised_parameters=normalised,
            state_credentials=credentials,
        )
        return
    env.stack.append(output)
    StateTaskService._after_eval_execution(
        self,
        env=env,
        resource_runtime_part=runtime_part,
        normalised_parameters=raw_parameters,
        state_credentials=credentials,
    )


_CLIENTS: dict[tuple[str, str], Any] = {}


def _client(service: str, region: str) -> Any:
    # boto3 clients take tens of milliseconds to build; runs always happen inside
    # mock_aws, so a client cached here is always intercepted by moto.
    key = (service, region)
    if key not in _CLIENTS:
        _CLIENTS[key] = boto_client_for(region=region, service=service)
    return _CLIENTS[key]


def _call_client(
    self: StateTaskService,
    env: Environment,
    spec: TaskSpec,
    service: str,
    operation: str,
    parameters: Mapping[str, Any],
    error_prefix: str,
) -> Any:
    client = _client(service, spec.region)
    method_name = moto_sfn_utils.camel_to_snake_case(operation)
    method = getattr(client, method_name, None)
    if method is None:
        raise _cannot_run_locally(self, env, f"boto3 {service} has no operation '{operation}'.")
    try:
        response = method(**parameters)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        message = error.response.get("Error", {}).get("Message", str(error))
        metadata = error.response.get("ResponseMetadata", {})
        cause = (
            f"{message} (Service: {error_prefix}, Status Code: "
            f"{metadata.get('HTTPStatusCode', 400)}, Request ID: {metadata.get('RequestId', '')})"
        )
        raise task_failure(self, env, exception_error_name(error_prefix, code), cause) from error
    except NotImplementedError as error:
        raise _cannot_run_locally(
            self, env, f"moto {moto.__version__} does not implement {service}.{method_name}."
        ) from error
    response = dict(response or {})
    response.pop("ResponseMetadata", None)
    return json_safe(response)


def _call_sdk(self: StateTaskService, env: Environment, spec: TaskSpec, parameters: Any) -> Any:
    return _call_client(
        self, env, spec, spec.service, spec.action, parameters, sdk_error_prefix(spec.service)
    )


@dataclass(frozen=True)
class _SyncJob:
    """How Stepline completes one .sync integration against moto."""

    error_prefix: str
    describe: Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[str, Mapping[str, Any]]]
    state_of: Callable[[Any], str]
    succeeded: frozenset[str]
    failed: frozenset[str]


_SYNC_JOBS: Final[dict[tuple[str, str], _SyncJob]] = {
    ("glue", "startJobRun"): _SyncJob(
        error_prefix="Glue",
        describe=lambda started, request: (
            "getJobRun",
            {"JobName": request["JobName"], "RunId": started["JobRunId"]},
        ),
        state_of=lambda described: described["JobRun"]["JobRunState"],
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "TIMEOUT", "ERROR", "STOPPED"}),
    ),
    ("athena", "startQueryExecution"): _SyncJob(
        error_prefix="Athena",
        describe=lambda started, request: (
            "getQueryExecution",
            {"QueryExecutionId": started["QueryExecutionId"]},
        ),
        state_of=lambda described: described["QueryExecution"]["Status"]["State"],
        succeeded=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
    ),
}


def _run_sync_job(
    self: StateTaskService, env: Environment, run: RunHooks, spec: TaskSpec, parameters: Any
) -> Any:
    job = _SYNC_JOBS.get((spec.service, spec.action))
    if job is None:
        raise _cannot_run_locally(
            self, env, f"moto cannot run {spec.service}:{spec.action} to completion (.sync)."
        )
    started = _call_client(self, env, spec, spec.service, spec.action, parameters, job.error_prefix)
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.TaskSubmitted,
        event_details=event_details(
            taskSubmittedEventDetails=TaskSubmittedEventDetails(
                resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type(),
                output=json.dumps(started),
                outputDetails=HistoryEventExecutionDataDetails(truncated=False),
            )
        ),
    )
    operation, request = job.describe(started, parameters)
    elapsed = 0.0
    for _ in range(_MAX_SYNC_POLLS):
        described = _call_client(
            self, env, spec, spec.service, operation, request, job.error_prefix
        )
        state = job.state_of(described)
        if state in job.succeeded or state in job.failed:
            # Glue's .sync result is the JobRun itself; Athena's the whole description.
            result = described["JobRun"] if spec.service == "glue" else described
            if state in job.failed:
                raise task_failure(
                    self, env, StatesErrorNameType.StatesTaskFailed.to_name(), json.dumps(result)
                )
            return result
        poll = SYNC_POLL_SECONDS if run.virtual_time else REAL_SYNC_POLL_SECONDS
        if spec.timeout_seconds is not None and elapsed + poll > spec.timeout_seconds:
            sleep(run, env, max(0.0, spec.timeout_seconds - elapsed), "sync-poll")
            raise EvalTimeoutError()
        sleep(run, env, poll, "sync-poll")
        elapsed += poll
        if not env.is_running():
            raise _cannot_run_locally(self, env, "the execution stopped while polling.")
    raise _cannot_run_locally(
        self, env, f"the moto job never reached a final state after {_MAX_SYNC_POLLS} polls."
    )


def _execute_lambda_function_integration(
    env: Environment, parameters: dict[str, Any], region: str, state_credentials: Any
) -> None:
    run = run_for_env(env)
    if run is None or frame_of(env).dispatched:
        return original("legacy-lambda-dispatch")(
            env, parameters, region, state_credentials
        )
    # Only the legacy "arn:aws:lambda:...:function:..." resource gets here.
    payload = parameters.get("Payload")
    if isinstance(payload, bytes | bytearray):
        payload = json.loads(payload.decode("utf-8") or "null")
    function_arn = parameters["FunctionName"]
    state: Mapping[str, Any] = env.states.context_object.context_object_data.get("State") or {}
    spec = TaskSpec(
        state_name=state.get("Name", ""),
        resource=function_arn,
        service="lambda",
        action="invoke",
        integration="request",
        sdk=False,
        region=region,
        timeout_seconds=None,
    )
    answer = run.answer_task(
        spec,
        {"FunctionName": function_arn, "Payload": payload},
        copy.deepcopy(env.states.context_object.context_object_data),
    )
    if not answer.answered:
        return original("legacy-lambda-dispatch")(
            env, parameters, region, state_credentials
        )
    if run.virtual_time and answer.virtual_seconds > 0:
        sleep(run, env, answer.virtual_seconds, "task")
    failure = (answer.error, answer.cause or "") if answer.error is not None else None
    failure = failure or lambda_function_error(answer.result)
    if failure is not None:
        run.record_outcome(answer.record, error=failure[0], cause=failure[1])
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=error_name_for(failure[0]),
                event_type=HistoryEventType.LambdaFunctionFailed,
                event_details=event_details(
                    lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                        error=failure[0], cause=failure[1]
                    )
                ),
            )
        )
    run.record_outcome(answer.record, result=answer.result)
    response = answer.result if isinstance(answer.result, Mapping) else {"Payload": answer.result}
    env.stack.append(select_from_typed_dict(typed_dict=InvocationResponse, obj=dict(response)))
    return None


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="task-dispatch",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service:"
        "StateTaskService._eval_execution",
        kind="gated",
        why=(
            "Service-integration Tasks are answered by a MockConfigFile response, then by the "
            "task handler, then by moto. The moto path maps SDK service names (redshiftdata -> "
            "redshift-data, elasticmapreduce -> emr), names SDK errors like AWS "
            "(S3.NoSuchKeyException, not glue.X), returns JSON-safe responses (S3 Body as text, "
            "timestamps as strings), completes Glue/Athena .sync against moto and refuses other "
            ".sync calls with a clear States.Runtime error instead of crashing."
        ),
        canary="test_moto_lacks_the_sdk_service_names_and_error_prefixes",
        source_sha256="81a8da94bfdb59ff",
        expected_parameters=("self", "env"),
        relies_on=(
            (
                f"{_P}.asl.component.state.exec.state_task.service.state_task_service:"
                "StateTaskService._before_eval_execution",
                "6c5ad214e88d62d5",
            ),
            (
                f"{_P}.asl.component.state.exec.state_task.service.state_task_service:"
                "StateTaskService._after_eval_execution",
                "118261fe0a626bff",
            ),
            (
                f"{_P}.asl.component.state.exec.state_task.service.state_task_service_callback:"
                "StateTaskServiceCallback._after_eval_execution",
                "baf0479ea012517d",
            ),
        ),
        install=replace_with(_task_eval_execution),
    ),
    Adaptation(
        name="legacy-lambda-dispatch",
        target=f"{_P}.asl.component.state.exec.state_task.lambda_eval_utils:"
        "execute_lambda_function_integration",
        kind="gated",
        why=(
            "Tasks whose Resource is a Lambda function ARN (not lambda:invoke) bypass "
            "StateTaskService; the same mock -> handler -> moto order applies to them."
        ),
        canary="test_moto_legacy_lambda_tasks_bypass_the_service_task",
        source_sha256="f8c714c35a2410c0",
        expected_parameters=("env", "parameters", "region", "state_credentials"),
        install=replace_with(_execute_lambda_function_integration),
    ),
)
