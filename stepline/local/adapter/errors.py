"""Error names and causes as AWS reports them.

* AWS's causes name "the state 'X' (entered at the event id #N)": N is the
  state's ``*StateEntered`` event, where moto used whatever event the frame
  recorded last (one too high after an ``EvaluationFailed``, several after a
  task's events).
* A JSONata failure is ``States.QueryEvaluationError`` with one
  ``EvaluationFailed`` event whose cause names the field
  (:func:`query_evaluation_failure`).
* ``States.ALL`` never catches or retries ``States.Runtime`` or
  ``States.DataLimitExceeded``; a Choice without a match is
  ``States.NoChoiceMatched``; Fail states, Map iterations and Parallel
  branches may carry ``States.*`` names; a Map whose items are not an array
  names the JSON value it got.
"""

from __future__ import annotations

import json
from typing import Any, Final

from moto.stepfunctions.parser.api import (
    EvaluationFailedEventDetails,
    ExecutionFailedEventDetails,
    HistoryEventType,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
    ErrorEqualsDecl,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.eval.environment import Environment

from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, patch, replace_with
from stepline.local.adapter.history import ClockedEventManager, event_details
from stepline.local.adapter.runs import current_run, frame_of, run_for_env

# Errors AWS never lets "States.ALL" catch or retry: they always fail the execution.
_TERMINAL_ERRORS: Final[frozenset[StatesErrorNameType]] = frozenset(
    {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
)


def error_name_for(error: str) -> ErrorName:
    """The moto error name object for an error string, ``States.*`` names included."""
    if error.startswith("States."):
        try:
            return StatesErrorName.from_name(error)
        except ValueError:
            return ErrorName(error_name=error)
    return CustomErrorName(error)


def json_value_text(value: Any) -> str:
    """A value as AWS quotes it in causes: compact JSON (``{"foo":"bar"}``, ``true``, ``null``)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def query_evaluation_failure(env: Environment, cause: str, location: str | None) -> Exception:
    """A ``States.QueryEvaluationError``, its ``EvaluationFailed`` event recorded once.

    The event carries the decorated cause, the field (``location``) and the
    state; the raised failure keeps the plain cause, which moto decorates the
    same way for ``ExecutionFailed``.
    """
    error = StatesErrorNameType.StatesQueryEvaluationError.to_name()
    plain = EvaluationFailedEventDetails(error=error, cause=cause)
    if location:
        plain["location"] = location
    details = event_details(evaluationFailedEventDetails=plain)
    failure = FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError),
            event_type=HistoryEventType.EvaluationFailed,
            event_details=details,
        )
    )
    decorated = failure.get_evaluation_failed_event_details()
    manager = env.event_manager
    if isinstance(manager, ClockedEventManager) and decorated is not None:
        manager.record_once(
            env.event_history_context,
            HistoryEventType.EvaluationFailed,
            event_details(evaluationFailedEventDetails=decorated),
            raised=details,
        )
    return failure


def task_failure(state: Any, env: Environment, error: str, cause: str) -> FailureEventException:
    """A Task's failure with the error name the service (or a mock, or a handler) reported."""
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name_for(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=event_details(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=state._get_sfn_resource(),
                    resourceType=state._get_sfn_resource_type(),
                )
            ),
        )
    )


def runtime_failure(env: Environment, cause: str) -> FailureEventException:
    error = StatesErrorNameType.StatesRuntime.to_name()
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            event_type=HistoryEventType.TaskFailed,
            event_details=event_details(
                taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause)
            ),
        )
    )


def _failure_event_init(
    self: FailureEvent,
    env: Environment,
    error_name: ErrorName | None,
    event_type: HistoryEventType,
    event_details: Any = None,
) -> None:
    original("failure-event-entered-id")(self, env, error_name, event_type, event_details)
    if run_for_env(env) is not None:
        entered = frame_of(env).entered_event_id
        if entered is not None:
            self.source_event_id = entered  # type: ignore[misc]  # moto marks it Final


def _choice_eval_state(self: Any, env: Environment) -> None:
    if run_for_env(env) is None:
        return original("choice-no-match")(self, env)
    # As moto's StateChoice._eval_state, but no match and no Default is AWS's
    # States.NoChoiceMatched (moto raised a bare RuntimeError -> States.Runtime).
    for rule in self.choices_decl.rules:
        rule.eval(env)
        if env.stack.pop() is True:
            if not rule.next_stmt:
                raise RuntimeError(f"Missing Next in a Choice rule of state '{self.name}'.")
            env.stack.append(rule.next_stmt.name)
            return None
    if self.default_state is None:
        error = StatesErrorNameType.StatesNoChoiceMatched.to_name()
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesNoChoiceMatched),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=event_details(
                    executionFailedEventDetails=ExecutionFailedEventDetails(
                        error=error,
                        cause=f"No Choice Rule matched in state '{self.name}' and it has no "
                        "Default.",
                    )
                ),
            )
        )
    env.stack.append(self.default_state.state_name)
    return None


def _custom_error_name_new(cls: type, error_name: str | None = None) -> Any:
    # AWS lets a Fail state, a failed Map iteration or Parallel branch, or a task
    # callback carry any error name, States.* ones included (re-raising a caught
    # States.TaskFailed is common); moto's CustomErrorName refused them with a
    # ValueError that turned the error into States.Runtime. No environment reaches
    # here, so the thread tells whether this is a Stepline run.
    if (
        cls is CustomErrorName
        and isinstance(error_name, str)
        and error_name.startswith("States.")
        and current_run() is not None
    ):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            return ErrorName(error_name=error_name)
    return object.__new__(cls)


def _error_equals_eval_body(self: ErrorEqualsDecl, env: Environment) -> None:
    error_name = env.stack[-1]
    if (
        isinstance(error_name, StatesErrorName)
        and error_name.typ in _TERMINAL_ERRORS
        and ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
        and run_for_env(env) is not None
    ):
        # AWS: "A retry or catch on States.ALL won't catch States.Runtime errors"
        # (nor States.DataLimitExceeded); moto's wildcard matched them.
        env.stack.pop()
        env.stack.append(False)
        return None
    return original("states-all-excludes-terminal-errors")(self, env)


class ItemsMustBeAnArray(EvalComponent):
    """The sampler of a Map's ItemsPath, failing as AWS words it when it selects no array.

    moto's own check (in ``StateMap``) prints the Python type: "<class 'dict'>".
    It wraps the sampler rather than replacing ``ItemsPath``: moto finds a
    state's fields by their exact class.
    """

    def __init__(self, sampler: EvalComponent) -> None:
        self.sampler = sampler

    def _eval_body(self, env: Environment) -> None:
        self.sampler.eval(env=env)
        items = env.stack[-1]
        if not isinstance(items, list):
            raise query_evaluation_failure(
                env,
                f"Map state input must be an array but was: {json_value_text(items)}",
                "ItemsPath",
            )


def _dynamodb_from_error(self: Any, env: Environment, ex: Exception) -> FailureEvent:
    # moto's DynamoDB integration names every failure that is not a boto ClientError
    # DynamoDB.AmazonDynamoDBException, so an error a mock or the task handler answered
    # (DynamoDB.ConditionalCheckFailedException) could never be caught by its name.
    if run_for_env(env) is not None and isinstance(ex, FailureEventException):
        return ex.failure_event
    return original("dynamodb-answered-errors")(self, env, ex)


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="dynamodb-answered-errors",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service_dynamodb:"
        "StateTaskServiceDynamoDB._from_error",
        kind="gated",
        why=(
            "moto turns any failure of a DynamoDB Task that is not a boto ClientError into "
            "DynamoDB.AmazonDynamoDBException, so an error a mock or the task handler answers "
            "(DynamoDB.ConditionalCheckFailedException) lost its name; it is passed through."
        ),
        canary="test_moto_dynamodb_renames_answered_failures",
        source_sha256="a27eaf8b49759e70",
        expected_parameters=("self", "env", "ex"),
        install=replace_with(_dynamodb_from_error),
    ),
    Adaptation(
        name="failure-event-entered-id",
        target=f"{_P}.asl.component.common.error_name.failure_event:FailureEvent.__init__",
        kind="gated",
        why=(
            "AWS's causes say \"the state 'X' (entered at the event id #N)\" with N the state's "
            "StateEntered event; moto takes the last event its frame recorded, which is one "
            "higher after an EvaluationFailed and further off after a task's events."
        ),
        canary="test_moto_failure_events_point_at_the_last_event",
        source_sha256="3a94f1c26bf08185",
        expected_parameters=("self", "env", "error_name", "event_type", "event_details"),
        install=replace_with(_failure_event_init),
    ),
    Adaptation(
        name="choice-no-match",
        target=f"{_P}.asl.component.state.choice.state_choice:StateChoice._eval_state",
        kind="gated",
        why=(
            "A Choice with no matching rule and no Default raised a bare RuntimeError "
            "(States.Runtime); AWS fails it with States.NoChoiceMatched."
        ),
        canary="test_moto_choice_without_match_raises_a_bare_error",
        source_sha256="47c01743c893e6b2",
        expected_parameters=("self", "env"),
        install=replace_with(_choice_eval_state),
    ),
    Adaptation(
        name="states-error-names-allowed",
        target=f"{_P}.asl.component.common.error_name.custom_error_name:CustomErrorName.__init__",
        kind="gated",
        why=(
            "CustomErrorName raises for names starting with 'States.', so a Fail state "
            "re-raising a caught States.TaskFailed, or a Map iteration / Parallel branch failing "
            "with one, crashed into States.Runtime. In a Stepline run's threads "
            "CustomErrorName.__new__ returns the matching StatesErrorName (so States.TaskFailed/"
            "States.ALL matching stays exact); elsewhere moto's check stands."
        ),
        canary="test_moto_custom_error_names_refuse_the_states_prefix",
        source_sha256="2814dc26f7aeecf9",
        expected_parameters=("self", "error_name"),
        install=lambda adaptation: patch(CustomErrorName, "__new__", _custom_error_name_new),
    ),
    Adaptation(
        name="states-all-excludes-terminal-errors",
        target=f"{_P}.asl.component.common.error_name.error_equals_decl:ErrorEqualsDecl._eval_body",
        kind="gated",
        why=(
            "moto lets States.ALL catch and retry States.Runtime and States.DataLimitExceeded; "
            "AWS never does (they always fail the execution), so a definition error or a "
            "missing mock cannot be swallowed by a catch-all."
        ),
        canary="test_moto_states_all_matches_states_runtime",
        source_sha256="aeda14a0cc01747d",
        expected_parameters=("self", "env"),
        install=replace_with(_error_equals_eval_body),
    ),
    Adaptation(
        name="items-not-an-array",
        target=f"{_P}.asl.component.state.exec.state_map.state_map:StateMap._eval_execution",
        kind="subclass",
        why=(
            "A Map whose ItemsPath selects something other than an array fails with the "
            "Python type in the cause (\"<class 'dict'>\"); ItemsMustBeAnArray names the JSON "
            "value, as AWS does ({\"foo\":\"bar\"}, true, null)."
        ),
        canary="test_moto_map_names_the_python_type_of_non_array_items",
        source_sha256="fb4daa9ac528b07c",
        expected_parameters=("self", "env"),
        relies_on=((f"{_P}.asl.component.common.path.items_path:ItemsPath._eval_body",
                    "a658cd6381e24c74"),),
    ),
)
