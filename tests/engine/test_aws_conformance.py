"""Conformance suite: where moto differs from AWS, the local engine does what AWS documents.

Each test cites the AWS (or JSONata) documentation page that states the
behaviour. Add a test here for every difference found, before fixing it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from engine_helpers import LAMBDA_INVOKE, machine

from stepline.local import run_state_machine

VARIABLES = "https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html"
JSONATA = "https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html"
HISTORY = "https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html"
HISTORY_EVENT = "https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html"
ERRORS = "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"
WAIT = "https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html"
MAP = "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html"
INTRINSICS = "https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html"
CONTEXT = "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html"
JSONATA_SEQUENCES = "https://docs.jsonata.org/processing#sequences"
JSONATA_ERRORS = "https://docs.jsonata.org/embedding-extending#error-handling"


def run(definition: dict[str, Any], data: Any = None, **options: Any) -> Any:
    return run_state_machine(definition, {} if data is None else data, **options)


def jsonata(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return machine(*states, QueryLanguage="JSONata")


def entered_id(result: Any, state: str) -> int:
    return next(event["id"] for event in result.history
                if event["type"].endswith("StateEntered")
                and event["stateEnteredEventDetails"]["name"] == state)


# ---- variables ---------------------------------------------------------------------------


def test_assign_and_output_see_the_values_at_state_entry() -> None:
    """Assign and Output are evaluated with the variables as they were on entry.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
    """
    result = run(jsonata(
        ("Set", {"Type": "Pass", "Assign": {"x": 1}}),
        ("Change", {"Type": "Pass", "Assign": {"x": 2, "was": "{% $x %}"},
                    "Output": "{% {'x': $x} %}"}),
        ("After", {"Type": "Pass", "Output": "{% {'before': $states.input.x, 'x': $x,"
                                             " 'was': $was} %}"}),
    ))
    assert result.output == {"before": 1, "x": 2, "was": 1}


def test_jsonpath_output_path_reads_the_variable_as_it_was_on_entry() -> None:
    """A variable assigned in a state is visible from the next state on.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
    """
    result = run(machine(
        ("Set", {"Type": "Pass", "Assign": {"x": "old"}}),
        ("Change", {"Type": "Pass", "Assign": {"x": "new"}, "OutputPath": "$x"}),
        ("Read", {"Type": "Pass", "Parameters": {"before.$": "$", "now.$": "$x"}}),
    ))
    assert result.output == {"before": "old", "now": "new"}


def test_state_exited_lists_the_variables_it_assigned() -> None:
    """StateExited carries the state's assignments, visible from the next state.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
    """
    result = run(machine(("Set", {"Type": "Pass", "Assign": {"x": 7}})))
    exited = result.events_of("PassStateExited")[0]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"x": "7"}


# ---- history ids -------------------------------------------------------------------------


def test_cause_names_the_event_id_the_state_was_entered_at() -> None:
    """Causes point at the state's StateEntered event.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
    """
    result = run(jsonata(("First", {"Type": "Pass"}),
                         ("Broken", {"Type": "Pass", "Output": "{% $states.input.nope %}"})))
    assert f"the state 'Broken' (entered at the event id #{entered_id(result, 'Broken')})" in (
        result.cause)


def test_cause_after_task_events_still_names_the_entered_event() -> None:
    """A failure after TaskScheduled/Started/Succeeded names the TaskStateEntered id.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
    """
    definition = jsonata(("Call", {"Type": "Task", "Resource": LAMBDA_INVOKE,
                                   "Arguments": {"FunctionName": "f"},
                                   "Output": "{% $states.result.missing %}"}))
    result = run(definition, task_handler=lambda invocation: {"StatusCode": 200})
    assert result.events_of("TaskSucceeded")
    assert f"(entered at the event id #{entered_id(result, 'Call')})" in result.cause


def test_history_is_numbered_without_gaps_and_one_evaluation_failed_per_failure() -> None:
    """Event ids run 1..n; a failed evaluation is one EvaluationFailed event.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
    """
    definition = jsonata(("Call", {"Type": "Task", "Resource": LAMBDA_INVOKE,
                                   "Arguments": {"FunctionName": "f", "Payload": "{% $nope %}"}}))
    result = run(definition, task_handler=lambda invocation: {"StatusCode": 200})
    assert [event["id"] for event in result.history] == list(range(1, len(result.history) + 1))
    assert [event["type"] for event in result.history] == [
        "ExecutionStarted", "TaskStateEntered", "EvaluationFailed", "ExecutionFailed"]
    failed = result.events_of("EvaluationFailed")[0]["evaluationFailedEventDetails"]
    assert failed["location"] == "Arguments/Payload" and failed["state"] == "Call"
    assert failed["cause"] == result.cause


# ---- JSONata errors ----------------------------------------------------------------------


@pytest.mark.parametrize(("state", "field"), [
    ({"Assign": {"x": "{% $states.input.nope %}"}}, "Assign/x"),
    ({"Output": "{% $states.input.nope %}"}, "Output"),
    ({"Output": {"a": ["{% $states.input.nope %}"]}}, "Output/a[0]"),
])
def test_undefined_result_names_the_field(state: dict[str, Any], field: str) -> None:
    """An expression returning nothing is a States.QueryEvaluationError naming its field.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
    """
    result = run(jsonata(("Bad", {"Type": "Pass", **state})))
    assert result.error == "States.QueryEvaluationError"
    assert result.cause.endswith(
        f"The JSONata expression '$states.input.nope' specified for the field '{field}' "
        "returned nothing (undefined).")


def test_calling_a_missing_function_is_jsonata_t1006() -> None:
    """Invoking a non-function is JSONata's T1006, reported as a query error.

    Documented at:
    https://docs.jsonata.org/embedding-extending#error-handling
    https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
    """
    result = run(jsonata(("Bad", {"Type": "Pass", "Output": "{% $nope() %}"})))
    assert result.error == "States.QueryEvaluationError"
    assert result.cause.endswith(
        "The JSONata expression '$nope()' specified for the field 'Output' threw an error "
        "during evaluation. T1006: Attempted to invoke a non-function")


def test_invalid_jsonata_timestamp_in_a_wait_is_a_query_error() -> None:
    """A JSONata Timestamp that is not a timestamp fails with States.QueryEvaluationError.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    """
    result = run(jsonata(("Until", {"Type": "Wait", "Timestamp": "{% 'not a time' %}"})))
    assert result.error == "States.QueryEvaluationError"


@pytest.mark.parametrize(("value", "text"), [
    ({"foo": "bar"}, '{"foo":"bar"}'), (True, "true"), (None, "null")])
def test_map_over_a_non_array_names_the_json_value(value: Any, text: str) -> None:
    """A Map's items must be an array; the cause quotes the JSON value it got.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
    """
    definition = machine(("Each", {"Type": "Map", "ItemsPath": "$.v",
                                   "ItemProcessor": machine(("P", {"Type": "Pass"}))}))
    result = run(definition, {"v": value})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause.endswith(f"but was: {text}") and "<class" not in result.cause
    jsonata_map = jsonata(("Each", {"Type": "Map", "Items": "{% $states.input.v %}",
                                    "ItemProcessor": machine(("P", {"Type": "Pass"}))}))
    assert run(jsonata_map, {"v": value}).cause.endswith(f"for value: {text}")


# ---- JSONata sequences -------------------------------------------------------------------


def test_range_of_one_number_is_that_number() -> None:
    """$range returns a sequence: one item is the item itself.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
    https://docs.jsonata.org/processing#sequences
    """
    result = run(jsonata(("R", {"Type": "Pass", "Output": (
        "{% {'one': $range(5, 5, 1), 'many': $range(1, 5, 2),"
        " 'appended': $append([], $range(7, 7, 1))} %}")})))
    assert result.output == {"one": 5, "many": [1, 3, 5], "appended": [7]}


def test_empty_range_is_undefined() -> None:
    """A range with no number is an empty sequence, i.e. undefined.

    Documented at:
    https://docs.jsonata.org/processing#sequences
    """
    result = run(jsonata(("R", {"Type": "Pass", "Output": "{% $range(3, 1, 1) %}"})))
    assert result.error == "States.QueryEvaluationError" and "returned nothing" in result.cause


def test_a_filter_matching_one_item_is_that_item() -> None:
    """A path selecting a single value yields the value, not an array.

    Documented at:
    https://docs.jsonata.org/processing#sequences
    """
    result = run(jsonata(("F", {"Type": "Pass", "Output": "{% $states.input.xs[$ > 2] %}"})),
                 {"xs": [1, 2, 3]})
    assert result.output == 3


# ---- escapes -----------------------------------------------------------------------------


def pass_with(parameters: dict[str, Any]) -> dict[str, Any]:
    return machine(("P", {"Type": "Pass", "Parameters": parameters}))


@pytest.mark.parametrize(("template", "expected"), [
    ("States.Format('it\\'s {}', $.v)", "it's x"),
    ("States.Format('\\{\\} {} \\\\', $.v)", "{} x \\"),
    ('States.Format(\'say "{}"\', $.v)', 'say "x"'),
    ("States.Format('caf\\u00e9 {}', $.v)", "café x"),
    ("States.Format('line one\nline {}', $.v)", "line one\nline x"),
])
def test_intrinsic_string_escapes(template: str, expected: str) -> None:
    """Backslash escapes of quote, braces and backslash in intrinsic strings, after JSON's.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    """
    assert run(pass_with({"s.$": template}), {"v": "x"}).output == {"s": expected}


@pytest.mark.parametrize(("delimiter", "text", "parts"), [
    ("\\\\", "a\\b", ["a", "b"]),
    ("\\'", "a'b", ["a", "b"]),
    ('"', 'a"b', ["a", "b"]),
])
def test_string_split_on_escaped_delimiters(delimiter: str, text: str, parts: list[str]) -> None:
    """States.StringSplit takes an escaped delimiter literally.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    """
    definition = pass_with({"s.$": f"States.StringSplit($.t, '{delimiter}')"})
    assert run(definition, {"t": text}).output == {"s": parts}


def test_jsonata_string_escapes_and_comparisons_in_assign() -> None:
    """JSONata strings take JSON escapes; Assign compares with the decoded value.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
    """
    result = run(jsonata(
        ("Keep", {"Type": "Pass", "Assign": {
            "backslash": "{% $states.input.s = 'a\\\\b' %}",
            "quote": "{% $states.input.q = \"say \\\"hi\\\"\" %}",
            "accent": "{% 'caf\\u00e9' %}"}}),
        ("Read", {"Type": "Pass", "Output": "{% [$backslash, $quote, $accent] %}"}),
    ), {"s": "a\\b", "q": 'say "hi"'})
    assert result.output == [True, True, "café"]


def test_escapes_in_a_definition_given_as_json_text() -> None:
    """A definition passed as JSON text loads and evaluates the same escapes.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    """
    text = json.dumps(pass_with({"s.$": "States.Format('{}\\n\\\\', $.v)"}))
    assert run_state_machine(text, {"v": 1}).output == {"s": "1\n\\"}


# ---- context object ----------------------------------------------------------------------


def test_entered_time_is_the_state_entered_event_timestamp() -> None:
    """$$.State.EnteredTime is when the state was entered: the StateEntered event.

    Documented at:
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
    """
    definition = machine(*[(f"S{i}", {"Type": "Pass", "Parameters": {
        "t.$": "$$.State.EnteredTime"}}) for i in range(20)])
    result = run(definition)
    stamps = [event["timestamp"] for event in result.events_of("PassStateEntered")]
    assert result.output["t"] == stamps[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", result.output["t"])


# ---- scope -------------------------------------------------------------------------------


def test_moto_outside_a_local_run_is_left_as_moto_ships_it() -> None:
    """After a local run, a plain moto execution still behaves as moto ships it."""
    from test_canaries import plain_moto

    fail = machine(("Stop", {"Type": "Fail", "Error": "States.TaskFailed", "Cause": "x"}))
    assert run(fail).error == "States.TaskFailed"
    described, _ = plain_moto(fail)
    assert described["error"] == "States.Runtime"


def test_after_a_local_run_moto_holds_its_own_objects_again() -> None:
    """Every attribute a gated adaptation replaced is moto's own once the last run has ended."""
    import inspect
    import logging as logging_module

    from stepline.local import adapter
    from stepline.local.adapter.core import installed_originals

    run(machine(("Only", {"Type": "Pass"})))
    assert not adapter.adaptations_applied()
    originals = installed_originals()
    gated = [a for a in adapter.ADAPTATIONS if a.install is not None and a.name in originals]
    assert gated
    for adaptation in gated:
        owner, attribute = adaptation.resolve()
        assert inspect.getattr_static(owner, attribute) is originals[adaptation.name]
    custom_error_name = adapter.ADAPTATIONS_BY_NAME["states-error-names-allowed"].resolve()[0]
    assert "__new__" not in vars(custom_error_name)  # Stepline's __new__ is gone again
    moto_loggers = [logger for name, logger in logging_module.Logger.manager.loggerDict.items()
                    if name.startswith("moto.stepfunctions") and isinstance(
                        logger, logging_module.Logger)]
    assert moto_loggers and not any(logger.filters for logger in moto_loggers)


def test_a_local_run_logs_no_moto_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """moto's parser warns about integrations it does not optimise; a local run stays quiet."""
    definition = machine(("Add", {"Type": "Task",
                                  "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
                                  "Parameters": {"ClusterId": "j-1", "Step": {"Name": "s"}}}),
                         ("Later", {"Type": "Pass", "Comment": "a new definition text"}))
    with caplog.at_level(logging.WARNING):
        run(definition, task_handler=lambda invocation: {})
    assert not [record for record in caplog.records if record.name.startswith("moto")]
