"""Playing a mocked (or task-handler) answer into the interpreter.

moto's own MockConfigFile support is a stub: its loader returns nothing and
responses are indexed by ``RetryCount``, so a polling loop would get
response ``"0"`` forever. Stepline reads the file itself
(:mod:`stepline.local.mocks`) and the run answers each invocation
(:meth:`RunHooks.answer_task`); this module turns that answer into what the
Task state sees: its result or its failure, the task's declared virtual
time and ``TimeoutSeconds``, Lambda's ``FunctionError``, and the usual
``TaskScheduled``/``TaskStarted``/``TaskSucceeded`` events (no
``TaskSubmitted`` for a mocked ``.sync``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, cast

from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment

from stepline.local.adapter.clock import sleep
from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, replace_with
from stepline.local.adapter.errors import task_failure
from stepline.local.adapter.runs import RunHooks, TaskAnswer, TaskSpec, run_for_env


def lambda_function_error(answer_result: Any) -> tuple[str, str] | None:
    """A Lambda invoke response reporting a function error, as (error, cause)."""
    if not isinstance(answer_result, Mapping) or not answer_result.get("FunctionError"):
        return None
    payload = answer_result.get("Payload")
    error = payload.get("errorType") if isinstance(payload, Mapping) else None
    return (error or "Exception"), json.dumps(payload, separators=(",", ":"))


def finish_answered_task(
    self: StateTaskService,
    env: Environment,
    run: RunHooks,
    spec: TaskSpec,
    answer: TaskAnswer,
    runtime_part: Any,
    raw_parameters: Any,
    credentials: Any,
) -> None:
    if (
        run.virtual_time
        and spec.timeout_seconds is not None
        and answer.virtual_seconds > spec.timeout_seconds
    ):
        sleep(run, env, spec.timeout_seconds, "task")
        run.record_outcome(answer.record, error="States.Timeout", cause="")
        raise EvalTimeoutError()
    if run.virtual_time and answer.virtual_seconds > 0:
        sleep(run, env, answer.virtual_seconds, "task")
    failure = (answer.error, answer.cause or "") if answer.error is not None else None
    if failure is None and spec.service == "lambda":
        failure = lambda_function_error(answer.result)
    if failure is not None:
        run.record_outcome(answer.record, error=failure[0], cause=failure[1])
        raise task_failure(self, env, failure[0], failure[1])
    env.stack.append(answer.result)
    run.record_outcome(answer.record, result=answer.result)
    # The base class records TaskSucceeded; the callback subclasses would poll the
    # real service for .sync, which the answer already stands for.
    StateTaskService._after_eval_execution(
        self,
        env=env,
        resource_runtime_part=runtime_part,
        normalised_parameters=raw_parameters,
        state_credentials=credentials,
    )


def _callback_eval_body(self: Any, env: Environment) -> None:
    if run_for_env(env) is None:
        return original("callback-integration-check")(self, env)
    # moto rejects .sync on every service whose class only lists waitForTaskToken
    # (EMR, Athena...) before the state even starts, mocked or not; Stepline's
    # task dispatch decides per invocation instead. A task token is only made for
    # .waitForTaskToken, as Step Functions does (Step Functions Local makes one for
    # mocked tasks too).
    if self.resource.condition == ResourceCondition.WaitForTaskToken:
        task_token = env.states.context_object.update_task_token()
        env.callback_pool_manager.add(task_token)
    StateTaskService._eval_body(self, env)
    # moto declares "Task" required but only sets it for a task token (and pops it too).
    cast(dict[str, Any], env.states.context_object.context_object_data).pop("Task", None)
    return None


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="mock-config-loader",
        target=f"{_P}.mocking.mock_config:load_mock_test_case_for",
        kind="bypass",
        why=(
            "moto's MockConfigFile loader is a stub returning None, and where moto uses mocked "
            "responses it indexes them by RetryCount, not by invocation count. Stepline never "
            "hands moto a mock test case: the run answers mocked invocations itself."
        ),
        canary="test_moto_mock_config_loader_is_a_stub_indexed_by_retry_count",
        source_sha256="4fe3478127a3855d",
        expected_parameters=None,
        relies_on=((f"{_P}.asl.eval.environment:Environment.get_current_mocked_response",
                    "2d0fd46d27cc6e6b"),),
    ),
    Adaptation(
        name="callback-integration-check",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service_callback:"
        "StateTaskServiceCallback._eval_body",
        kind="gated",
        why=(
            "Before a Task starts, moto asserts that its integration pattern is one the service "
            "class emulates; EMR and Athena only list .waitForTaskToken, so addStep.sync and "
            "startQueryExecution.sync failed with 'Unsupported sync callback procedure' even "
            "when mocked. Stepline's task dispatch decides per invocation instead."
        ),
        canary="test_moto_refuses_sync_on_emr_and_athena",
        source_sha256="1565ede7010df6af",
        expected_parameters=("self", "env"),
        install=replace_with(_callback_eval_body),
    ),
)
