"""Canaries for Stepline's adaptations of moto internals.

Every entry of ``stepline.local.adapter.ADAPTATIONS`` names one behavioural
canary here: a test proving moto still behaves the way the adaptation works
around (the bug is still there). When a moto upgrade fixes the bug, the
canary fails with a message naming the adaptation, which can then go; when
it moves the internal, the pinned-source test fails instead. Most canaries
run a tiny definition on plain moto (its own Step Functions backend, after
Stepline's adaptations are installed), which also proves the adaptations
leave moto alone outside a Stepline run.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws

from stepline.local import adapter
from stepline.local.adapter import ADAPTATIONS, ADAPTATIONS_BY_NAME, PINNED_MOTO_VERSION, Adaptation
from stepline.local.adapter.core import function_of

_P = "moto.stepfunctions.parser"


def _context(adaptation: str) -> str:
    found = ADAPTATIONS_BY_NAME[adaptation]
    return (
        f"adaptation '{adaptation}' was written for moto {PINNED_MOTO_VERSION}, installed moto "
        f"is {moto.__version__}: moto no longer behaves as it assumes (why it exists: "
        f"{found.why}). If moto fixed this, delete the adaptation."
    )


@pytest.fixture(autouse=True, scope="module")
def _adaptations_installed() -> Iterator[None]:
    # Installed, so each canary also shows the gated adaptations leave plain moto alone.
    with adapter.adapted():
        yield


def plain_moto(definition: dict[str, Any], data: Any = None) -> tuple[dict[str, Any], list]:
    """Run a definition on moto's own backend (no Stepline run): (DescribeExecution, events)."""
    from moto.stepfunctions.parser import utils

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="canary", definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/canary")["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine,
                                        input=json.dumps({} if data is None else data))
        # moto evaluates in threads it lists in TMP_THREADS; joining them all is completion.
        while alive := [thread for thread in utils.TMP_THREADS if thread.is_alive()]:
            for thread in alive:
                thread.join(30)
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    return described, events


def one_state(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}, **top}


def first_instance(component: Any, kind: type, seen: set[int] | None = None) -> Any:
    """The first component of a type in a parsed moto program (depth first)."""
    seen = set() if seen is None else seen
    if id(component) in seen:
        return None
    seen.add(id(component))
    if isinstance(component, kind):
        return component
    children: list[Any] = []
    if isinstance(component, list | tuple):
        children = list(component)
    elif hasattr(component, "__dict__") and type(component).__module__.startswith("moto"):
        children = list(vars(component).values())
    for child in children:
        found = first_instance(child, kind, seen)
        if found is not None:
            return found
    return None


# ---- the registry ------------------------------------------------------------------------


def test_moto_is_the_pinned_version() -> None:
    """The installed moto is the version every adaptation was written against."""
    assert moto.__version__ == PINNED_MOTO_VERSION, (
        f"moto {moto.__version__} is installed but stepline/local/adapter adapts moto "
        f"{PINNED_MOTO_VERSION}: follow the upgrade procedure in docs/local-engine.md."
    )


@pytest.mark.parametrize("adaptation", ADAPTATIONS, ids=lambda adaptation: adaptation.name)
def test_adaptation_target_is_unchanged(adaptation: Adaptation) -> None:
    """The moto internal this adaptation relies on has the pinned signature and source."""
    problems = adaptation.problems()
    assert not problems, (
        f"adaptation '{adaptation.name}' (moto {PINNED_MOTO_VERSION} -> {moto.__version__}): "
        f"{'; '.join(problems)}. Re-read the moto code and update the adaptation "
        f"(why it exists: {adaptation.why})"
    )


def test_every_adaptation_names_a_behavioural_canary_here() -> None:
    """Each registry entry points at a canary test of this module, so none goes unwatched."""
    here = {name for name, value in globals().items()
            if name.startswith("test_moto_") and callable(value)}
    missing = {a.name: a.canary for a in ADAPTATIONS if a.canary not in here}
    assert not missing, f"adaptations whose canary does not exist: {missing}"


def test_gated_adaptations_are_installed_once_and_keep_moto_originals() -> None:
    """A nested adapted() shares the installation; every gated target holds Stepline's function."""
    from stepline.local.adapter.core import installed_originals

    gated = [a for a in ADAPTATIONS if a.install is not None]
    installed = {a.name: inspect.getattr_static(*a.resolve()) for a in gated
                 if a.name in installed_originals()}
    assert installed
    with adapter.adapted():
        for name, current in installed.items():
            adaptation = ADAPTATIONS_BY_NAME[name]
            assert inspect.getattr_static(*adaptation.resolve()) is current
            assert function_of(adaptation.original()).__module__.startswith(
                ("moto", "jsonpath_ng"))
            assert function_of(current).__module__.startswith("stepline.local.adapter")
    assert adapter.adaptations_applied()  # the module's own adapted() is still open


# ---- parsing -----------------------------------------------------------------------------


def test_moto_parses_every_definition_again() -> None:
    """moto builds a new program for every parse (else drop Stepline's parse cache)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    text = json.dumps(one_state({"Type": "Pass"}))
    first, _ = AmazonStateLanguageParser.parse(text)
    again, _ = AmazonStateLanguageParser.parse(text)
    assert first is not again, _context("stepline-parser")


def test_moto_reparses_every_jsonpath() -> None:
    """Outside a run, moto's json_path.parse builds a new parser result every time."""
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse("$.a.b") is not json_path.parse("$.a.b"), (
        _context("jsonpath-parse-cache"))


# ---- JSONata and variables ---------------------------------------------------------------


def test_moto_jsonata_evaluator_is_a_stub() -> None:
    """moto cannot evaluate JSONata by itself (else drop 'jsonata-expressions')."""
    described, _ = plain_moto(one_state({"Type": "Pass", "Output": "{% 1 + 1 %}"},
                                        QueryLanguage="JSONata"))
    assert described["status"] == "FAILED", _context("jsonata-expressions")


def test_moto_reads_variables_through_the_jsonata_stub() -> None:
    """A JSONPath '$var' reference fails on moto (else drop 'jsonata-variable-sample')."""
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"v": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": True}}}
    described, _ = plain_moto(definition)
    assert described["status"] == "FAILED", _context("jsonata-variable-sample")


def test_moto_assign_is_visible_in_the_same_state() -> None:
    """moto's AssignDecl sets variables at once, before the state's Output is evaluated."""
    from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore

    binding = SimpleNamespace(eval=lambda env: env.stack.append({"x": 2}))
    declaration = SimpleNamespace(declaration_bindings=[binding])
    env = SimpleNamespace(stack=[], variable_store=VariableStore())
    ADAPTATIONS_BY_NAME["assign-at-state-exit"].original()(declaration, env)
    assert env.variable_store.get("x") == 2, _context("assign-at-state-exit")


# ---- intrinsic functions -----------------------------------------------------------------


def test_moto_parses_the_raw_json_token_of_an_intrinsic() -> None:
    """An escaped quote in States.Format does not survive moto's parse (the truncation bug)."""
    described, _ = plain_moto(one_state({"Type": "Pass", "Parameters": {
        "s.$": "States.Format('it\\'s {}', $.v)"}}), {"v": "x"})
    output = json.loads(described.get("output") or "null")
    assert output != {"s": "it's x"}, _context("intrinsic-json-unescape")


def test_moto_keeps_the_backslash_of_intrinsic_escapes() -> None:
    """moto's intrinsic parser keeps the backslash of '\\{' in a string literal."""
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import (
        ArgumentLiteral,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser

    function, _ = IntrinsicParser.parse("States.Format('a\\{b')")
    literal = first_instance(function, ArgumentLiteral)
    assert literal.definition_value == "a\\{b", _context("intrinsic-string-escapes")


def test_moto_states_format_still_uses_str_format() -> None:
    """moto ignores a value with no placeholder; AWS fails the state."""
    described, _ = plain_moto(one_state({"Type": "Pass", "Parameters": {
        "s.$": "States.Format('{}', $.a, $.b)"}}), {"a": 1, "b": 2})
    assert described["status"] == "SUCCEEDED", _context("states-format")
    assert json.loads(described["output"]) == {"s": "1"}, _context("states-format")


# ---- time --------------------------------------------------------------------------------


def test_moto_wait_sleeps_in_real_time() -> None:
    """moto's Wait blocks on the execution's event for the whole wait."""
    waited: list[float] = []
    env = SimpleNamespace(program_state_event=SimpleNamespace(wait=waited.append),
                          is_running=lambda: False)
    ADAPTATIONS_BY_NAME["virtual-wait"].original()(None, env, 3600)
    assert waited == [3600], _context("virtual-wait")


def test_moto_timestamp_wait_uses_local_naive_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto subtracts the local naive time from a UTC timestamp (off by the UTC offset)."""
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringLiteral,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
        Timestamp,
    )

    monkeypatch.setenv("TZ", "Etc/GMT-5")  # local time is UTC+5
    time.tzset()
    try:
        at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        env = SimpleNamespace(stack=[], is_running=lambda: True, next_field_name=None)
        seconds = ADAPTATIONS_BY_NAME["wait-timestamp-clock"].original()(
            Timestamp(StringLiteral(literal_value=at)), env)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert seconds < 2 * 3600, _context("wait-timestamp-clock")


def test_moto_retry_sleeps_in_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's retrier calls time.sleep for the back-off."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    slept: list[float] = []
    monkeypatch.setattr(retrier_decl.time, "sleep", slept.append)
    definition = one_state({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "nobody", "Payload": {}},
                            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 7,
                                       "MaxAttempts": 1}]})
    plain_moto(definition)
    assert 7 in slept, _context("virtual-retry")


def test_moto_entered_time_is_a_second_wall_clock_reading() -> None:
    """moto stamps $$.State.EnteredTime itself, in Python's isoformat, not the event's time."""
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    source = inspect.getsource(CommonStateField._eval_body)
    # Behaviour, read from the one place it happens: the entered event and the
    # context object take separate clock readings.
    assert "EnteredTime=datetime.datetime.now(" in source, _context("virtual-entered-time")
    described, _ = plain_moto(one_state({"Type": "Pass", "Parameters": {
        "t.$": "$$.State.EnteredTime"}}))
    entered = json.loads(described["output"])["t"]
    assert not entered.endswith("Z"), _context("virtual-entered-time")


def test_moto_execution_timeout_is_a_real_time_join() -> None:
    """moto enforces TimeoutSeconds by joining the program's thread in real time."""
    start = time.perf_counter()
    described, _ = plain_moto({"StartAt": "W", "TimeoutSeconds": 1, "States": {
        "W": {"Type": "Wait", "Seconds": 3, "End": True}}})
    assert described["status"] == "TIMED_OUT", _context("virtual-execution-timeout")
    assert time.perf_counter() - start >= 1, _context("virtual-execution-timeout")


def test_moto_frames_share_no_timeline() -> None:
    """moto's frames are plain copies: nothing carries a per-branch clock across them."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    source = inspect.getsource(function_of(ADAPTATIONS_BY_NAME["virtual-time-frames"].original()))
    assert "frame._is_frame = True" in source, _context("virtual-time-frames")
    frame_fields = set(inspect.signature(Environment.__init__).parameters)
    assert not {"clock", "timeline", "now"} & frame_fields, _context("virtual-time-frames")


def test_moto_map_iterations_run_on_worker_threads() -> None:
    """A Map with MaxConcurrency 2 evaluates its items on worker threads moto starts."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker,
    )

    threads: set[str] = set()
    original = iteration_worker.IterationWorker._eval_job

    def spy(self: Any, env: Any, job: Any) -> Any:
        threads.add(threading.current_thread().name)
        return original(self, env, job)

    iteration_worker.IterationWorker._eval_job = spy  # type: ignore[method-assign]
    try:
        described, _ = plain_moto(one_state({
            "Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$",
            "ItemProcessor": one_state({"Type": "Pass"})}), [1, 2, 3])
    finally:
        iteration_worker.IterationWorker._eval_job = original  # type: ignore[method-assign]
    assert described["status"] == "SUCCEEDED" and threading.current_thread().name not in threads
    assert threads, _context("virtual-map-lanes")


# ---- tasks and mocks ---------------------------------------------------------------------


def test_moto_lacks_the_sdk_service_names_and_error_prefixes() -> None:
    """aws-sdk:redshiftdata is unknown to moto (else revisit 'task-dispatch')."""
    described, _ = plain_moto(one_state({
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:redshiftdata:describeStatement",
        "Parameters": {"Id": "x"}}))
    assert described["status"] == "FAILED", _context("task-dispatch")
    assert "RedshiftData." not in (described.get("error") or ""), _context("task-dispatch")


def test_moto_legacy_lambda_tasks_bypass_the_service_task() -> None:
    """A function-ARN Task is a StateTaskLambda, not a StateTaskService (so dispatch misses it)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(json.dumps(one_state({
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"})))
    state = next(iter(program.states.states.values()))
    assert not isinstance(state, StateTaskService), _context("legacy-lambda-dispatch")


def test_moto_mock_config_loader_is_a_stub_indexed_by_retry_count() -> None:
    """moto's MockConfigFile loader is a stub and its responses follow RetryCount."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.mocking.mock_config import load_mock_test_case_for

    assert load_mock_test_case_for("Machine", "Case") is None, _context("mock-config-loader")
    env = SimpleNamespace(is_mocked_mode=lambda: True, next_state_name="T",
                          states=SimpleNamespace(context_object=SimpleNamespace(
                              context_object_data={"State": {"RetryCount": 1}})),
                          mock_test_case=SimpleNamespace(state_mocked_responses={
                              "T": SimpleNamespace(mocked_responses=["first", "second"])}))
    try:
        chosen = Environment.get_current_mocked_response(env)  # type: ignore[arg-type]
    except (AttributeError, TypeError, IndexError, RuntimeError) as moved:
        pytest.fail(f"{_context('mock-config-loader')} ({moved!r})")
    assert chosen == "second", _context("mock-config-loader")


def test_moto_refuses_sync_on_emr_and_athena() -> None:
    """moto refuses addStep.sync before the state starts (else 'callback-integration-check')."""
    described, _ = plain_moto(one_state({
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
        "Parameters": {"ClusterId": "j-1", "Step": {"Name": "s"}}}))
    assert described["status"] == "FAILED", _context("callback-integration-check")
    assert "Unsupported" in (described.get("cause") or ""), _context("callback-integration-check")


# ---- errors ------------------------------------------------------------------------------


def test_moto_failure_events_point_at_the_last_event() -> None:
    """moto's cause names the frame's last event, not the state's StateEntered event."""
    described, events = plain_moto(one_state({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "nobody", "Payload": {}},
        "ResultSelector": {"x.$": "$.missing"}}))
    entered = next(e["id"] for e in events if e["type"] == "TaskStateEntered")
    assert f"(entered at the event id #{entered})" not in (described.get("cause") or ""), (
        _context("failure-event-entered-id"))


def test_moto_choice_without_match_raises_a_bare_error() -> None:
    """No match and no Default: moto fails with States.Runtime (AWS: States.NoChoiceMatched)."""
    described, _ = plain_moto({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1,
                                             "Next": "D"}]},
        "D": {"Type": "Succeed"}}}, {"n": 2})
    assert described.get("error") == "States.Runtime", _context("choice-no-match")


def test_moto_custom_error_names_refuse_the_states_prefix() -> None:
    """Outside a run, a Fail state re-raising States.TaskFailed crashes into States.Runtime."""
    described, _ = plain_moto(one_state({"Type": "Fail", "Error": "States.TaskFailed",
                                         "Cause": "again"}))
    assert described.get("error") == "States.Runtime", _context("states-error-names-allowed")


def test_moto_states_all_matches_states_runtime() -> None:
    """moto's States.ALL catcher swallows a States.Runtime error (AWS never does)."""
    described, _ = plain_moto({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "Next": "T"},
        "T": {"Type": "Succeed"}}})
    assert described.get("error") == "States.Runtime"
    described, _ = plain_moto({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "f", "Payload.$": "$.missing"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Succeed"}}})
    assert described["status"] == "SUCCEEDED", _context("states-all-excludes-terminal-errors")


def test_moto_map_names_the_python_type_of_non_array_items() -> None:
    """moto's cause for a Map over an object prints "<class 'dict'>", not the JSON value."""
    described, _ = plain_moto(one_state({"Type": "Map", "ItemsPath": "$.v",
                                         "ItemProcessor": one_state({"Type": "Pass"})}),
                              {"v": {"foo": "bar"}})
    assert "<class 'dict'>" in (described.get("cause") or ""), _context("items-not-an-array")


# ---- history and execution ---------------------------------------------------------------


def test_moto_history_uses_the_wall_clock() -> None:
    """moto's event recorder reads the machine clock (else drop the clocked recorder)."""
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    before = dt.datetime.now(dt.UTC)
    stamp = EventManager._get_current_timestamp()
    assert before <= stamp <= dt.datetime.now(dt.UTC), _context("clocked-event-manager")


def test_moto_workers_run_executions_in_their_own_thread() -> None:
    """moto's ExecutionWorker.start evaluates in a new thread (Stepline joins its own instead)."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    started: list[threading.Thread] = []
    worker = ExecutionWorker.__new__(ExecutionWorker)
    worker._execution_logic = lambda: started.append(threading.current_thread())  # type: ignore[method-assign]
    ExecutionWorker.start(worker)
    from moto.stepfunctions.parser import utils

    utils.TMP_THREADS[-1].join(5)
    assert started and started[0] is not threading.current_thread(), (
        _context("execution-worker-subclass"))


def test_moto_mock_detection_flag_tracks_mock_aws() -> None:
    """botocore_stubber.enabled says whether mock_aws is active (run sharing relies on it)."""
    assert adapter.moto_is_mocking() is False, _context("mock-aws-detection")
    with mock_aws():
        assert adapter.moto_is_mocking() is True, _context("mock-aws-detection")
    assert adapter.moto_is_mocking() is False, _context("mock-aws-detection")


def test_moto_logs_failed_states_at_error_level(caplog: pytest.LogCaptureFixture) -> None:
    """moto logs a state's failure at ERROR level (outside a run nothing silences it)."""
    definition = one_state({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "nobody", "Payload": {}}})
    with caplog.at_level(logging.ERROR, logger=_P):
        plain_moto(definition)
    assert any(record.name.startswith(_P) and record.levelno >= logging.ERROR
               for record in caplog.records), _context("quiet-run-logging")


def test_moto_keeps_every_finished_thread() -> None:
    """moto appends every worker thread to TMP_THREADS and never removes finished ones."""
    from moto.stepfunctions.parser import utils

    before = len(utils.TMP_THREADS)
    plain_moto(one_state({"Type": "Pass"}))
    finished = [thread for thread in utils.TMP_THREADS[before:] if not thread.is_alive()]
    assert finished, _context("tmp-threads-pruning")
    adapter.prune_finished_threads()
    assert all(thread.is_alive() for thread in utils.TMP_THREADS)



def test_moto_dynamodb_renames_answered_failures() -> None:
    """A DynamoDB Task failing with anything but a ClientError is named AmazonDynamoDBException."""
    described, _ = plain_moto(one_state({
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
        # Not a valid Key: botocore refuses it before sending (no ClientError).
        "Parameters": {"TableName": "t", "Key": "not-a-map"}}))
    assert described.get("error") == "DynamoDB.AmazonDynamoDBException", _context(
        "dynamodb-answered-errors"
    )


def test_moto_a_failure_after_a_stop_overwrites_it() -> None:
    """moto's Environment.set_error replaces a ProgramStopped state (AWS keeps it ABORTED)."""
    import threading

    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped

    from stepline.local.adapter.core import installed_originals

    set_error = installed_originals().get("stop-is-final", Environment.set_error)
    env = Environment.__new__(Environment)
    env._state_mutex = threading.RLock()
    env._frames = []
    env.program_state_event = threading.Event()
    env._program_state = ProgramStopped(stop_date=None, error="Operator.Abort", cause="by hand")
    set_error(env, {"error": "States.TaskFailed", "cause": "the task failed afterwards"})
    assert isinstance(env._program_state, ProgramError), _context("stop-is-final")
