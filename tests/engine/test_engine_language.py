"""Amazon States Language semantics on the local engine: states, paths, intrinsics, JSONata."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from engine_helpers import machine

from stepline.local import DefinitionError, run_state_machine


def run(definition: dict, data: Any = None, **options: Any) -> Any:
    return run_state_machine(definition, {} if data is None else data, **options)


def pass_with(parameters: dict) -> dict:
    return machine(("P", {"Type": "Pass", "Parameters": parameters}))


# ---- states and paths ----------------------------------------------------------------------


def test_pass_result_resultpath_and_outputpath() -> None:
    """Pass injects Result at ResultPath, and OutputPath selects what leaves the state."""
    definition = machine(
        ("Add", {"Type": "Pass", "Result": {"b": 2}, "ResultPath": "$.added"}),
        ("Pick", {"Type": "Pass", "InputPath": "$.added", "OutputPath": "$.b"}),
    )
    assert run(definition, {"a": 1}).output == 2


def test_choice_rules_and_default() -> None:
    """Choice follows the first matching rule (And/Or/Not included), else the Default."""
    definition = machine(
        ("Route", {"Type": "Choice", "Default": "Other", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 10},
                     {"Not": {"Variable": "$.tag", "StringEquals": "skip"}}], "Next": "Big"},
            {"Variable": "$.tag", "IsPresent": True, "Next": "Tagged"}]}),
        ("Big", {"Type": "Pass", "Result": "big", "End": True}),
        ("Tagged", {"Type": "Pass", "Result": "tagged", "End": True}),
        ("Other", {"Type": "Pass", "Result": "other", "End": True}),
    )
    assert run(definition, {"n": 11, "tag": "x"}).output == "big"
    assert run(definition, {"n": 11, "tag": "skip"}).output == "tagged"
    assert run(definition, {"n": 1}).output == "other"


def test_choice_without_match_or_default_fails_no_choice_matched() -> None:
    """No rule and no Default: the execution fails with States.NoChoiceMatched."""
    definition = machine(("Route", {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]}), ("One", {"Type": "Succeed"}))
    result = run(definition, {"n": 2})
    assert result.status == "FAILED" and result.error == "States.NoChoiceMatched"


def test_succeed_ends_with_its_input() -> None:
    """A Succeed state ends the execution successfully with its input as output."""
    result = run(machine(("Done", {"Type": "Succeed"})), {"kept": True})
    assert (result.status, result.output) == ("SUCCEEDED", {"kept": True})


def test_fail_with_static_error_and_cause() -> None:
    """A Fail state's Error and Cause become the execution's error and cause."""
    result = run(machine(("Stop", {"Type": "Fail", "Error": "Sales.Rejected", "Cause": "bad"})))
    assert (result.status, result.error, result.cause) == ("FAILED", "Sales.Rejected", "bad")


def test_fail_with_jsonpath_errorpath_and_causepath() -> None:
    """ErrorPath/CausePath read the error and cause from the input."""
    definition = machine(("Stop", {"Type": "Fail", "ErrorPath": "$.e.Error",
                                   "CausePath": "$.e.Cause"}))
    result = run(definition, {"e": {"Error": "Glue.Failed", "Cause": "job failed"}})
    assert (result.error, result.cause) == ("Glue.Failed", "job failed")


def test_fail_with_jsonata_error_may_reraise_a_states_error() -> None:
    """A JSONata Fail re-raising a caught States.TaskFailed keeps that name (moto crashed)."""
    definition = machine(("Stop", {
        "Type": "Fail", "QueryLanguage": "JSONata",
        "Error": "{% $states.input.error.Error ? $states.input.error.Error : 'Run.Failed' %}",
        "Cause": "{% 'at ' & $states.input.where & ': ' & $states.input.error.Cause %}",
    }))
    result = run(definition, {"where": "Clean", "error": {"Error": "States.TaskFailed",
                                                         "Cause": "FAILED"}})
    assert (result.error, result.cause) == ("States.TaskFailed", "at Clean: FAILED")


def test_parallel_collects_branch_outputs_in_order() -> None:
    """Parallel runs every branch on the same input and outputs their results as an array."""
    definition = machine(("Both", {"Type": "Parallel", "Branches": [
        machine(("A", {"Type": "Pass", "InputPath": "$.a"})),
        machine(("B", {"Type": "Pass", "Parameters": {"b.$": "$.b"}})),
    ]}))
    assert run(definition, {"a": 1, "b": 2}).output == [1, {"b": 2}]


def test_map_items_path_item_selector_and_context() -> None:
    """Map iterates ItemsPath; ItemSelector sees $$.Map.Item.Index/Value; order is kept."""
    definition = machine(("Each", {
        "Type": "Map", "ItemsPath": "$.stores", "MaxConcurrency": 2,
        "ItemSelector": {"store.$": "$$.Map.Item.Value", "position.$": "$$.Map.Item.Index",
                         "day.$": "$.day"},
        "ItemProcessor": machine(("Tag", {"Type": "Pass", "Parameters": {
            "id.$": "States.Format('{}-{}', $.day, $.store)", "position.$": "$.position"}})),
    }))
    result = run(definition, {"day": "2026-11-20", "stores": ["s1", "s2", "s3"]})
    assert result.output == [{"id": "2026-11-20-s1", "position": 0},
                             {"id": "2026-11-20-s2", "position": 1},
                             {"id": "2026-11-20-s3", "position": 2}]
    assert "MapIterationSucceeded" in {event["type"] for event in result.history}


def test_dangling_next_is_rejected_before_running() -> None:
    """A Next naming no state is a DefinitionError, not a mid-run surprise."""
    with pytest.raises(DefinitionError, match="'Nowhere'"):
        run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})


def test_invalid_definition_is_rejected_before_running() -> None:
    """What moto's parser refuses is reported as a DefinitionError."""
    with pytest.raises(DefinitionError):
        run({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Bogus": 1}}})


# ---- intrinsic functions -------------------------------------------------------------------


def test_states_format_keeps_escaped_quotes() -> None:
    """\\' inside a States.Format string stays a quote (moto silently truncated the string)."""
    sql = ("States.Format('COPY t FROM \\'s3://lake/day={}/\\' IAM_ROLE \\'arn:role\\' "
           "FORMAT AS PARQUET', $.day)")
    assert run(pass_with({"sql.$": sql}), {"day": "2026-11-20"}).output == {
        "sql": "COPY t FROM 's3://lake/day=2026-11-20/' IAM_ROLE 'arn:role' FORMAT AS PARQUET"}


def test_states_format_escaped_braces_and_backslash_are_literal() -> None:
    """\\{ \\} and \\\\ are literal characters; only an unescaped {} is a placeholder."""
    template = "States.Format('\\{\\} {} \\\\ {}', $.a, $.b)"
    assert run(pass_with({"s.$": template}), {"a": 1, "b": "x"}).output == {"s": "{} 1 \\ x"}


def test_states_format_template_from_input_and_value_rendering() -> None:
    """A template read from the input uses {} only; objects render as {k=v}, numbers as JSON."""
    result = run(pass_with({"s.$": "States.Format($.t, $.o, $.n, $.flag)"}),
                 {"t": "{} {} {} {name}", "o": {"k": [1, 2]}, "n": 1.5, "flag": True})
    assert result.output == {"s": "{k=[1, 2]} 1.5 true {name}"}


def test_states_format_with_wrong_argument_count_fails() -> None:
    """More (or fewer) values than {} placeholders fails the state instead of being ignored."""
    result = run(pass_with({"s.$": "States.Format('only {}', $.a, $.b)"}), {"a": 1, "b": 2})
    assert result.status == "FAILED" and "1 placeholder(s) but 2 value(s)" in result.cause


def test_intrinsics_used_by_the_pipeline() -> None:
    """States.Array, MathAdd, StringToJson and JsonToString give AWS's results."""
    result = run(pass_with({
        "args.$": "States.Array('spark-submit', '--run-date', $.day)",
        "polls.$": "States.MathAdd($.polls, 1)",
        "counts.$": "States.StringToJson($.body)",
        "text.$": "States.JsonToString($.detail)",
    }), {"day": "2026-11-20", "polls": 59, "body": '{"rows_out": 997}', "detail": {"a": [1]}})
    assert result.output == {"args": ["spark-submit", "--run-date", "2026-11-20"], "polls": 60,
                             "counts": {"rows_out": 997}, "text": '{"a":[1]}'}


def test_uuid_hash_and_array_intrinsics() -> None:
    """States.UUID is a v4 UUID; States.Hash and ArrayLength/ArrayContains compute values."""
    result = run(pass_with({
        "id.$": "States.UUID()",
        "sha.$": "States.Hash($.s, 'SHA-256')",
        "length.$": "States.ArrayLength($.xs)",
        "has.$": "States.ArrayContains($.xs, 2)",
    }), {"s": "abc", "xs": [1, 2, 3]})
    out = result.output
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        out["id"])
    assert out["sha"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert (out["length"], out["has"]) == (3, True)


# ---- JSONata and variables -----------------------------------------------------------------


def test_top_level_jsonata_arguments_output_and_assign() -> None:
    """QueryLanguage JSONata: Output builds the result, Assign sets variables for later states."""
    definition = machine(
        ("Start", {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.xs) %}"},
                   "Output": "{% {'count': $count($states.input.xs)} %}"}),
        ("Use", {"Type": "Pass", "Output": "{% $merge([$states.input, {'total': $total}]) %}"}),
        QueryLanguage="JSONata",
    )
    assert run(definition, {"xs": [1, 2, 3]}).output == {"count": 3, "total": 6}


def test_per_state_jsonata_in_a_jsonpath_machine() -> None:
    """A JSONata state inside a JSONPath machine evaluates while its neighbours use paths."""
    definition = machine(
        ("Before", {"Type": "Pass", "Result": "x", "ResultPath": "$.before"}),
        ("Mid", {"Type": "Pass", "QueryLanguage": "JSONata",
                 "Output": "{% $states.input ~> |$|{'mid': $uppercase($states.input.before)}| %}"}),
        ("After", {"Type": "Pass", "OutputPath": "$.mid"}),
    )
    assert run(definition).output == "X"


def test_jsonata_functions_of_the_sales_pipeline() -> None:
    """$substring, ternaries, $string(…, true), $merge, $round, $toMillis, $count and & work."""
    definition = machine(("Notify", {
        "Type": "Pass", "QueryLanguage": "JSONata",
        "Output": "{% {'subject': $substring('Stepline sales: loaded ' & $states.input.day & ' '"
                  " & ($states.input.store ? $states.input.store : ''), 0, 30),"
                  " 'message': $string({'outcome': 'SUCCEEDED', 'rows': $states.input.rows},"
                  " true), 'merged': $merge([{'a': 1}, {'b': 2}]),"
                  " 'rounded': $round(2.5), 'millis': $toMillis('2026-11-20T00:00:01.500Z'),"
                  " 'n': $count($states.input.rows)} %}",
    }))
    out = run(definition, {"day": "2026-11-20", "store": "store_001", "rows": [1, 2]}).output
    assert out["subject"] == "Stepline sales: loaded 2026-11"
    assert json.loads(out["message"]) == {"outcome": "SUCCEEDED", "rows": [1, 2]}
    assert out["message"].startswith('{\n  "outcome"')
    assert out["merged"] == {"a": 1, "b": 2}
    assert (out["rounded"], out["millis"], out["n"]) == (2, 1795132801500, 2)


def test_jsonata_sees_the_context_object() -> None:
    """$states.context exposes the execution id, name and the state's name."""
    definition = machine(("Who", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": (
        "{% {'id': $states.context.Execution.Id, 'name': $states.context.Execution.Name,"
        " 'state': $states.context.State.Name} %}")}))
    out = run(definition, execution_name="ctx-run", state_machine_name="Sales").output
    assert out == {"id": "arn:aws:states:us-east-1:123456789012:execution:Sales:ctx-run",
                   "name": "ctx-run", "state": "Who"}


def test_variables_with_quotes_and_backslashes_round_trip() -> None:
    """String variables are bound natively (moto pasted them unescaped into the expression)."""
    tricky = 'He said "hi" \\ and left\nbye'
    definition = machine(
        ("Keep", {"Type": "Pass", "Assign": {"text.$": "$.text"}}),
        ("Read", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $text %}"}),
    )
    assert run(definition, {"text": tricky}).output == tricky


def test_variables_are_readable_from_jsonpath_parameters_and_choice() -> None:
    """$var.path works in JSONPath Parameters, intrinsic arguments and Choice Variable."""
    definition = machine(
        ("Keep", {"Type": "Pass", "Assign": {"cfg": {"limit": 3, "name": "sales"}}}),
        ("Route", {"Type": "Choice", "Default": "Low",
                   "Choices": [{"Variable": "$cfg.limit", "NumericGreaterThan": 2,
                                "Next": "High"}]}),
        ("High", {"Type": "Pass", "End": True, "Parameters": {
            "limit.$": "$cfg.limit", "label.$": "States.Format('{}!', $cfg.name)"}}),
        ("Low", {"Type": "Pass", "End": True, "Result": "low"}),
    )
    assert run(definition).output == {"limit": 3, "label": "sales!"}


def test_undefined_variable_in_jsonpath_is_a_runtime_error() -> None:
    """Reading a variable nobody assigned fails with States.Runtime naming the variable."""
    result = run(pass_with({"x.$": "$nobody"}))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "'$nobody'" in result.cause


def test_jsonata_without_a_result_is_a_query_evaluation_error() -> None:
    """An expression returning nothing (undefined) fails with States.QueryEvaluationError."""
    definition = machine(("Bad", {"Type": "Pass", "QueryLanguage": "JSONata",
                                  "Output": "{% $states.input.missing %}"}))
    result = run(definition)
    assert result.status == "FAILED" and result.error == "States.QueryEvaluationError"
    assert "returned nothing" in result.cause


def test_jsonata_runtime_error_is_a_query_evaluation_error() -> None:
    """A JSONata type error is reported as States.QueryEvaluationError, not a crash."""
    definition = machine(("Bad", {"Type": "Pass", "QueryLanguage": "JSONata",
                                  "Output": "{% 1 + 'a' %}"}))
    assert run(definition).error == "States.QueryEvaluationError"


def test_jsonata_null_is_not_undefined() -> None:
    """A JSON null in the input is a value (AWS returns null), not 'returned nothing'."""
    definition = machine(("Null", {"Type": "Pass", "QueryLanguage": "JSONata",
                                   "Output": "{% {'v': $states.input.v} %}"}))
    assert run(definition, {"v": None}).output == {"v": None}


def test_step_functions_jsonata_functions() -> None:
    """Step Functions' additions: $partition, $range, $hash, $parse, $uuid, $random(seed)."""
    definition = machine(("F", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": (
        "{% {'parts': $partition([1,2,3,4,5], 2), 'range': $range(0, 10, 5),"
        " 'hash': $hash('abc', 'SHA-256'), 'parsed': $parse('{\"a\": [1]}'),"
        " 'uuid': $uuid(), 'same': $random(7) = $random(7)} %}")}))
    out = run(definition).output
    assert out["parts"] == [[1, 2], [3, 4], [5]] and out["range"] == [0, 5, 10]
    assert out["hash"].startswith("ba7816bf") and out["parsed"] == {"a": [1]}
    assert len(out["uuid"]) == 36 and out["same"] is True


def test_jsonata_task_reads_result_and_assigns_from_error_output() -> None:
    """A JSONata Task shapes its Output from $states.result; a catcher Assigns errorOutput."""
    from stepline.local import TaskFailure

    def handler(invocation: Any) -> Any:
        if invocation.state_name == "Fails":
            raise TaskFailure("Glue.ThrottlingException", "slow")
        return {"StatusCode": 200, "Payload": {"rows": invocation.parameters["Payload"]["n"]}}

    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"}}
    definition = machine(
        ("Works", {**task, "Output": "{% {'rows': $states.result.Payload.rows} %}",
                   "Assign": {"seen": "{% $states.result.Payload.rows %}"}}),
        ("Fails", {**task, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Report",
                                      "Assign": {"why": "{% $states.errorOutput.Error %}"}}]}),
        ("Report", {"Type": "Pass", "Output": "{% {'seen': $seen, 'why': $why} %}"}),
        QueryLanguage="JSONata",
    )
    result = run(definition, {"n": 7}, task_handler=handler)
    assert result.output == {"seen": 7, "why": "Glue.ThrottlingException"}
