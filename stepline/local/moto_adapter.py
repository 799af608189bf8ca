"""Stepline's adaptation layer over moto's in-process Step Functions interpreter.

moto (pinned at :data:`PINNED_MOTO_VERSION`) vendors a LocalStack-derived
Amazon States Language interpreter. It runs most of ASL correctly, but a few
of its internals are missing or wrong for Stepline's use (no JSONata
evaluator, escaped quotes lost in intrinsic functions, real sleeping, mocks
indexed by retry count...). Every change Stepline makes to moto internals is
declared in :data:`ADAPTATIONS`: one entry per monkeypatch, wrapper or
subclass, naming the moto attribute it relies on, why it exists, and the
SHA-256 of the moto source it was written against. ``tests/engine/
test_canaries.py`` checks every entry, so a moto upgrade that changes one of
these internals fails loudly instead of silently changing behaviour.

Two kinds of change are made (``Adaptation.scope``):

* fixes that only make broken things work (JSONata, intrinsic escapes,
  ``States.Format``, Choice without match, ``States.*`` error names, the
  parse caches) apply to every moto execution in the process;
* behaviour that belongs to Stepline (virtual time, the three ways of
  answering a Task, AWS's ``States.ALL`` exclusions) only applies to
  executions started by :func:`stepline.local.run_state_machine`, which
  register themselves here (:func:`register_run`); other moto executions in
  the same process keep moto's behaviour.

:func:`apply_adaptations` installs everything once, idempotently, on the
first local run (importing :mod:`stepline` does not touch moto).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import inspect
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import moto
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from jsonata import Jsonata
from jsonata.functions import Functions as JsonataFunctions
from jsonata.jexception import JException
from jsonata.utils import Utils as JsonataUtils
from moto.core.models import botocore_stubber
from moto.stepfunctions.parser import utils as moto_sfn_utils
from moto.stepfunctions.parser.api import (
    EvaluationFailedEventDetails,
    ExecutionFailedEventDetails,
    HistoryEventExecutionDataDetails,
    HistoryEventType,
    InvocationResponse,
    LambdaFunctionFailedEventDetails,
    TaskFailedEventDetails,
    TaskSubmittedEventDetails,
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
from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
    MaxAttemptsOutcome,
)
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
    RetrierOutcome,
)
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringJSONata,
    StringVariableSample,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral
from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (  # noqa: E501
    StringFormat,
)
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning, ProgramStopped
from moto.stepfunctions.parser.asl.parse import preprocessor as asl_preprocessor
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.utilities.collections import select_from_typed_dict

if TYPE_CHECKING:
    from stepline.local.engine import Integration, WaitKind

LOG = logging.getLogger(__name__)

PINNED_MOTO_VERSION: Final[str] = "5.2.5"

# Errors AWS never lets "States.ALL" catch or retry: they always fail the execution.
_TERMINAL_ERRORS: Final[frozenset[StatesErrorNameType]] = frozenset(
    {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
)
# Virtual seconds between two polls of a .sync job that Stepline completes against moto.
SYNC_POLL_SECONDS: Final[float] = 10.0
# Real seconds between those polls when virtual time is off (moto's own value).
REAL_SYNC_POLL_SECONDS: Final[float] = 0.5
_MAX_SYNC_POLLS: Final[int] = 1000


# --------------------------------------------------------------------------------------
# The contract between moto's interpreter and a Stepline run (implemented in engine.py).
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """What the interpreter knows about one Task invocation before it is answered."""

    state_name: str
    resource: str
    service: str
    action: str
    integration: Integration
    sdk: bool
    region: str
    timeout_seconds: float | None


@dataclass
class TaskAnswer:
    """A mock's or a local stand-in's answer to a Task invocation.

    ``answered`` is False when neither a mock nor the task handler took the
    invocation, and moto's own service backends must answer it.
    """

    answered: bool
    result: Any = None
    error: str | None = None
    cause: str | None = None
    virtual_seconds: float = 0.0
    record: Any = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class RunHooks(Protocol):
    """The interface a registered run offers to the adapted interpreter."""

    virtual_time: bool
    start_date: dt.datetime

    def now(self, env: Environment | None = None) -> dt.datetime: ...

    def sleep(self, env: Environment, seconds: float, kind: WaitKind) -> None: ...

    def join_timelines(self, parent: Environment, frame: Environment) -> None: ...

    def set_execution_timeout(self, seconds: float | None) -> None: ...

    def attach_root_env(self, env: Environment) -> None: ...

    def answer_task(self, spec: TaskSpec, parameters: Any, context: Any) -> TaskAnswer: ...

    def record_outcome(
        self, record: Any, *, result: Any = None, error: str | None = None, cause: str | None = None
    ) -> None: ...


class _SteplineFrame(Protocol):
    """What Stepline stores on moto's ``Environment`` frames.

    Read back with ``getattr`` and a default: frames Stepline did not touch lack them.
    """

    stepline_skipped: float  # virtual seconds this frame's timeline has skipped
    stepline_dispatched: bool  # the Task invocation was already offered to the run
    stepline_map_plan: _MapPlan  # the virtual schedule of an inline Map


class _FormatTemplateArgument(Protocol):
    """An intrinsic string literal carrying its States.Format template."""

    stepline_format_template: tuple[str | None, ...]


_RUNS: dict[str, RunHooks] = {}
_RUNS_LOCK = threading.Lock()


def register_run(execution_arn: str, run: RunHooks) -> None:
    """Route the execution with this ARN through Stepline's behaviour."""
    with _RUNS_LOCK:
        if execution_arn in _RUNS:
            raise RuntimeError(f"An execution named {execution_arn} is already running locally.")
        _RUNS[execution_arn] = run


def unregister_run(execution_arn: str) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(execution_arn, None)


def run_for_env(env: Environment) -> RunHooks | None:
    """The Stepline run an interpreter environment (or any of its frames) belongs to."""
    if not _RUNS:
        return None
    try:
        execution_arn = env.states.context_object.context_object_data["Execution"]["Id"]
    except (AttributeError, KeyError, TypeError):
        return None
    return _RUNS.get(execution_arn)


def moto_is_mocking() -> bool:
    """Whether a ``mock_aws`` context is active (boto3 calls are intercepted in-process)."""
    return bool(botocore_stubber.enabled)


def iso_timestamp(moment: dt.datetime) -> str:
    """AWS's timestamp format: UTC, milliseconds, ``Z`` suffix."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------------------
# The registry of adaptations.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adaptation:
    """One change to a moto internal, with what the canary test checks about it.

    ``source_sha256`` pins the first 16 hex digits of the SHA-256 of the moto
    5.2.5 source of ``target`` (``None`` for a non-function such as a list);
    ``relies_on`` pins other moto functions whose exact behaviour the
    adaptation depends on, as ``(target, digest)`` pairs.
    """

    name: str
    target: str  # "module:Qualified.attribute" of the moto internal relied on
    kind: str  # replace | wrap | subclass | housekeeping
    why: str
    source_sha256: str | None
    expected_parameters: tuple[str, ...] | None
    relies_on: tuple[tuple[str, str], ...] = ()
    # "stepline-runs": only executions started by run_state_machine see the change;
    # "all": a plain bug fix, active for every moto execution in the process.
    scope: str = "stepline-runs"
    install: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def resolve(self) -> tuple[Any, str]:
        return _resolve(self.target)

    def original(self) -> Any:
        """The moto object this adaptation relies on, as moto ships it (before patching)."""
        if self.name in _ORIGINALS:
            return _ORIGINALS[self.name]
        owner, attribute = self.resolve()
        return inspect.getattr_static(owner, attribute)

    def problems(self) -> list[str]:
        """Why this adaptation may no longer fit the installed moto; empty when it does."""
        try:
            original = self.original()
        except (ImportError, AttributeError) as missing:
            return [f"target {self.target} is gone ({missing})"]
        if self.source_sha256 is None:
            return [] if isinstance(original, list) else [f"{self.target} is no longer a list"]
        found: list[str] = []
        function = _function_of(original)
        if self.expected_parameters is not None:
            parameters = tuple(inspect.signature(function).parameters)
            if parameters != self.expected_parameters:
                found.append(
                    f"signature of {self.target} is {parameters}, "
                    f"expected {self.expected_parameters}"
                )
        checks = (
            (self.target, function, self.source_sha256),
            *((target, None, digest) for target, digest in self.relies_on),
        )
        for target, obj, pinned in checks:
            try:
                if obj is None:
                    owner, attribute = _resolve(target)
                    obj = _function_of(inspect.getattr_static(owner, attribute))
            except (ImportError, AttributeError) as missing:
                found.append(f"{target} is gone ({missing})")
                continue
            digest = source_digest(obj)
            if digest != pinned:
                found.append(f"source of {target} changed (sha256 {digest}, pinned {pinned})")
        return found


def _resolve(target: str) -> tuple[Any, str]:
    module_name, _, qualified = target.partition(":")
    owner: Any = import_module(module_name)
    *path, attribute = qualified.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


def _function_of(obj: Any) -> Any:
    return obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj


_ORIGINALS: dict[str, Any] = {}
_APPLIED = False
_APPLY_LOCK = threading.Lock()


def source_digest(obj: Any) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def _replace(name: str, replacement: Any) -> Callable[[], None]:
    def install() -> None:
        adaptation = ADAPTATIONS_BY_NAME[name]
        owner, attribute = adaptation.resolve()
        _ORIGINALS[name] = inspect.getattr_static(owner, attribute)
        setattr(owner, attribute, replacement)

    return install


def _original(name: str) -> Any:
    """The moto implementation an adaptation replaced, callable as a plain function."""
    return _function_of(_ORIGINALS[name])


def apply_adaptations() -> None:
    """Install every adaptation once; later calls do nothing."""
    global _APPLIED
    if _APPLIED:
        return
    with _APPLY_LOCK:
        if _APPLIED:
            return
        if moto.__version__ != PINNED_MOTO_VERSION:
            LOG.warning(
                "Stepline's local engine was written against moto %s but moto %s is installed; "
                "run tests/engine/test_canaries.py before trusting local runs.",
                PINNED_MOTO_VERSION,
                moto.__version__,
            )
        for adaptation in ADAPTATIONS:
            if adaptation.install is not None:
                adaptation.install()
        # moto logs every caught Task error at ERROR level; in a workflow those are
        # expected control flow (Retry/Catch), so keep them out of users' consoles.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        _APPLIED = True


def adaptations_applied() -> bool:
    return _APPLIED


# --------------------------------------------------------------------------------------
# parse-cache
# --------------------------------------------------------------------------------------

_PARSE_CACHE: dict[str, tuple[Any, Any]] = {}
_PARSE_CACHE_LOCK = threading.Lock()
_PARSE_CACHE_SIZE: Final[int] = 64


def _cached_parse(definition: str) -> tuple[Any, Any]:
    cached = _PARSE_CACHE.get(definition)
    if cached is not None:
        return cached
    parsed = _original("parse-cache")(definition)
    with _PARSE_CACHE_LOCK:
        if len(_PARSE_CACHE) >= _PARSE_CACHE_SIZE:
            _PARSE_CACHE.pop(next(iter(_PARSE_CACHE)))
        _PARSE_CACHE[definition] = parsed
    return parsed


_JSONPATH_CACHE: dict[str, Any] = {}


def _cached_jsonpath_parse(path: str, debug: bool | None = None) -> Any:
    # jsonpath-ng builds a PLY parser for every parse (~0.6 ms, 27 times per run of
    # the sales pipeline); parsed paths are immutable, so they are cached.
    parsed = _JSONPATH_CACHE.get(path)
    if parsed is None:
        parsed = _original("jsonpath-parse-cache")(path, debug)
        if len(_JSONPATH_CACHE) < 4096:
            _JSONPATH_CACHE[path] = parsed
    return parsed


# --------------------------------------------------------------------------------------
# intrinsic-json-unescape, intrinsic-string-escapes, states-format
# --------------------------------------------------------------------------------------


def _visit_string_intrinsic_function(self: Any, ctx: Any) -> Any:
    # The token is the raw JSON string, quotes and JSON escapes included: decode it
    # as JSON first, so "\\'" reaches the intrinsic parser as the escaped quote \'.
    intrinsic_function_derivation = json.loads(ctx.STRINGINTRINSICFUNC().getText())
    function, _ = IntrinsicParser.parse(intrinsic_function_derivation)
    return asl_preprocessor.StringIntrinsicFunction(
        intrinsic_function_derivation=intrinsic_function_derivation, function=function
    )


_LETTER_ESCAPES: Final[dict[str, str]] = {"n": "\n", "t": "\t", "r": "\r"}


def unescape_intrinsic_string(raw: str) -> tuple[str, tuple[str | None, ...]]:
    """Decode an intrinsic string literal (without its quotes).

    Returns the literal's value and its States.Format template: literal text
    parts with ``None`` where an unescaped ``{}`` placeholder stands. ``\\'``,
    ``\\{``, ``\\}`` and ``\\\\`` are the escapes AWS defines; an escaped brace
    is literal text, never part of a placeholder.
    """
    value: list[str] = []
    parts: list[str | None] = []
    text: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else ""
        if char == "\\" and following:
            if following in "'{}\\\"":
                decoded = following
            elif following.isalpha():
                decoded = _LETTER_ESCAPES.get(following, following)
            else:
                decoded = char + following
            value.append(decoded)
            text.append(decoded)
            index += 2
        elif char == "{" and following == "}":
            value.append("{}")
            parts.append("".join(text))
            parts.append(None)
            text = []
            index += 2
        else:
            value.append(char)
            text.append(char)
            index += 1
    parts.append("".join(text))
    return "".join(value), tuple(parts)


def _visit_func_arg_string(self: Any, ctx: Any) -> ArgumentLiteral:
    value, template = unescape_intrinsic_string(ctx.STRING().getText()[1:-1])
    argument = ArgumentLiteral(definition_value=value)
    # Read back by States.Format, which must tell escaped braces from placeholders.
    cast(_FormatTemplateArgument, argument).stepline_format_template = template
    return argument


def _states_format_eval_body(self: StringFormat, env: Environment) -> None:
    self.argument_list.eval(env=env)
    args = env.stack.pop()
    first_argument = self.argument_list.arguments[0]
    template = getattr(first_argument, "stepline_format_template", None)
    if template is None:
        # A template read from the input or a variable: only "{}" is special.
        pieces = str(args[0]).split("{}")
        template = tuple(item for piece in pieces for item in (piece, None))[:-1]
    values = list(args[1:])
    placeholders = template.count(None)
    if placeholders != len(values):
        raise ValueError(
            f"States.Format: the template has {placeholders} placeholder(s) but "
            f"{len(values)} value(s) were given."
        )
    rendered = iter(StringFormat._to_str_repr(value) for value in values)
    env.stack.append("".join(next(rendered) if part is None else part for part in template))


# --------------------------------------------------------------------------------------
# jsonata-expressions, jsonata-variable-sample
# --------------------------------------------------------------------------------------

_COMPILED_JSONATA: dict[str, Jsonata] = {}
_COMPILED_JSONATA_LOCK = threading.Lock()


class _Undefined:
    """JSONata's "undefined" (no result), distinct from JSON null."""


UNDEFINED: Final = _Undefined()


def _compiled(expression: str) -> Jsonata:
    compiled = _COMPILED_JSONATA.get(expression)
    if compiled is None:
        compiled = Jsonata(expression)
        compiled.set_output_convert_nulls(False)
        with _COMPILED_JSONATA_LOCK:
            _COMPILED_JSONATA[expression] = compiled
    return compiled


def _plain(value: Any) -> Any:
    """jsonata-python's result as plain JSON values (its null marker becomes None)."""
    if value is JsonataUtils.NULL_VALUE:
        return None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def evaluate_jsonata(expression: str, bindings: Mapping[str, Any]) -> Any:
    """Evaluate a JSONata expression with variable bindings; :data:`UNDEFINED` if no result.

    Expressions are parsed once and cached. jsonata-python keeps per-evaluation
    state on the expression object and reads "the current expression" from a
    thread-local, so each evaluation works on its own shallow copy.
    """
    instance = copy.copy(_compiled(expression))
    Jsonata.CURRENT.jsonata = instance
    result = instance.evaluate(None, dict(bindings))
    return UNDEFINED if result is None else _plain(result)


def _jfunction(implementation: Callable[..., Any], signature: str | None = None) -> Any:
    if signature is None:
        return Jsonata.JLambda(implementation)
    return Jsonata.JFunction(Jsonata.JLambda(implementation), signature)


def _partition(array: Any, size: Any) -> list[Any]:
    items, size = list(array or []), int(size)
    if size <= 0:
        raise ValueError("$partition: the chunk size must be a positive integer")
    return [items[start : start + size] for start in range(0, len(items), size)]


def _range(start: Any, end: Any, step: Any) -> list[Any]:
    start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ValueError("$range: the step must not be 0")
    stop = end + (1 if step > 0 else -1)
    return list(range(start, stop, step))


_HASH_ALGORITHMS: Final[dict[str, str]] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASH_ALGORITHMS:
        raise ValueError(f"$hash: unsupported algorithm {algorithm!r}")
    text = data if isinstance(data, str) else json.dumps(_plain(data), separators=(",", ":"))
    return hashlib.new(_HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    import random

    return random.Random(seed).random() if seed is not None else random.random()


# The functions Step Functions adds to JSONata.
_SFN_JSONATA_FUNCTIONS: Final[dict[str, Any]] = {
    "partition": _jfunction(_partition),
    "range": _jfunction(_range),
    "hash": _jfunction(_hash),
    "random": _jfunction(_random),
    "uuid": _jfunction(lambda: str(uuid.uuid4())),
    "parse": _jfunction(lambda text: json.loads(text)),
}


def _clock_functions(run: RunHooks, env: Environment) -> dict[str, Any]:
    """``$now()`` and ``$millis()`` on the run's (virtual) clock."""

    def millis() -> int:
        return int(run.now(env).timestamp() * 1000)

    def now(picture: Any = None, timezone: Any = None) -> Any:
        return JsonataFunctions.datetime_from_millis(millis(), picture, timezone)

    return {"now": _jfunction(now, "<s?s?:s>"), "millis": _jfunction(millis, "<:n>")}


def _variables(env: Environment) -> dict[str, Any]:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _jsonata_bindings(env: Environment, *, with_states: bool) -> dict[str, Any]:
    bindings = dict(_SFN_JSONATA_FUNCTIONS)
    run = run_for_env(env)
    if run is not None:
        bindings.update(_clock_functions(run, env))
    bindings.update(_variables(env))
    if with_states:
        bindings["states"] = env.states._states_data
    return bindings


def _event_details(**details: Any) -> EventDetails:
    """moto's ``EventDetails`` with the one ``...EventDetails`` entry an event carries.

    moto declares the TypedDict total, yet it (like AWS's history) always fills in
    exactly one of its keys; the cast records that deliberate partial construction.
    """
    return cast(EventDetails, details)


def _query_evaluation_failure(env: Environment, cause: str) -> FailureEventException:
    error = StatesErrorNameType.StatesQueryEvaluationError.to_name()
    details = _event_details(
        evaluationFailedEventDetails=EvaluationFailedEventDetails(error=error, cause=cause)
    )
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.EvaluationFailed,
        event_details=details,
    )
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError),
            event_type=HistoryEventType.EvaluationFailed,
            event_details=details,
        )
    )


def _string_jsonata_eval_body(self: StringJSONata, env: Environment) -> None:
    try:
        result = evaluate_jsonata(self.expression, _jsonata_bindings(env, with_states=True))
    except JException as error:
        raise _query_evaluation_failure(
            env,
            f"An error occurred while evaluating the JSONata expression '{self.expression}': "
            f"{error}",
        ) from error
    if result is UNDEFINED:
        raise _query_evaluation_failure(
            env, f"The JSONata expression '{self.expression}' returned nothing (undefined)."
        )
    env.stack.append(result)


_VARIABLE_ROOT: Final = re.compile(r"^\$([A-Za-z0-9_]+)")


def _string_variable_sample_eval_body(self: StringVariableSample, env: Environment) -> None:
    variables = _variables(env)
    root = _VARIABLE_ROOT.match(self.expression)
    if root is not None and root.group(1) not in variables:
        raise _runtime_failure(env, f"The variable '${root.group(1)}' is not defined.")
    result = evaluate_jsonata(self.expression, _jsonata_bindings(env, with_states=False))
    env.stack.append(None if result is UNDEFINED else result)


def _runtime_failure(env: Environment, cause: str) -> FailureEventException:
    error = StatesErrorNameType.StatesRuntime.to_name()
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            event_type=HistoryEventType.TaskFailed,
            event_details=_event_details(
                taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause)
            ),
        )
    )


# --------------------------------------------------------------------------------------
# virtual time: wait, timestamp wait, retry, entered time, execution timeout, clock events
# --------------------------------------------------------------------------------------


def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return _original("virtual-wait")(self, env, wait_seconds)
    run.sleep(env, wait_seconds, "wait")
    return None


def _timestamp_wait_seconds(self: Timestamp, env: Environment) -> int:
    run = run_for_env(env)
    if run is None:
        return _original("wait-timestamp-clock")(self, env)
    self.string.eval(env=env)
    timestamp_str = env.stack.pop()
    timestamp = self._from_timestamp_string(timestamp=timestamp_str)
    if timestamp is None:
        raise FailureEventException(self._create_failure_event(env, timestamp_str))
    # The timestamp is UTC ("Z"); moto compared it with the machine's local time.
    delta = timestamp.replace(tzinfo=dt.UTC) - run.now(env)
    return max(0, int(delta.total_seconds()))


def _retrier_eval_body(self: RetrierDecl, env: Environment) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return _original("virtual-retry")(self, env)
    # Same steps as moto's RetrierDecl._eval_body, with the sleep made virtual.
    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return None
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return None
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    run.sleep(env, float(env.stack.pop()), "retry")
    env.stack.append(RetrierOutcome.Executed)
    return None


def _eval_state_input(self: CommonStateField, env: Environment) -> None:
    run = run_for_env(env)
    if run is not None:
        # CommonStateField._eval_body has just set $$.State from the machine clock
        # in Python's isoformat; use the run's clock and AWS's format instead.
        state = env.states.context_object.context_object_data.get("State")
        if state is not None:
            state["EnteredTime"] = iso_timestamp(run.now(env))
    return _original("virtual-entered-time")(self, env)


def _program_eval(self: Program, env: Environment) -> None:
    run = run_for_env(env)
    if run is None or not run.virtual_time:
        return _original("virtual-execution-timeout")(self, env)
    if not env.is_frame():
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        run.set_execution_timeout(timeout)
    # moto runs the program in a thread and joins it with the execution's
    # TimeoutSeconds in real time; here the deadline is enforced on the
    # virtual clock (RunHooks.sleep), so the program runs inline.
    state = env.program_state()
    if state is not None and not isinstance(state, ProgramRunning):
        # A branch or iteration opened after the execution timed out or stopped.
        return None
    env.next_state_name = self.start_at.start_at_name
    EvalComponent.eval(self, env)
    return None


def _error_equals_eval_body(self: ErrorEqualsDecl, env: Environment) -> None:
    error_name = env.stack[-1]
    if (
        run_for_env(env) is not None
        and isinstance(error_name, StatesErrorName)
        and error_name.typ in _TERMINAL_ERRORS
        and ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
    ):
        # AWS: "A retry or catch on States.ALL won't catch States.Runtime errors"
        # (nor States.DataLimitExceeded); moto's wildcard matched them.
        env.stack.pop()
        env.stack.append(False)
        return None
    return _original("states-all-excludes-terminal-errors")(self, env)


def _as_inner_frame_of(
    cls: type[Environment],
    env: Environment,
    variable_store: Any,
    event_history_frame_cache: Any = None,
) -> Environment:
    frame = _original("virtual-time-frames")(cls, env, variable_store, event_history_frame_cache)
    if run_for_env(env) is not None:
        # A frame (task attempt, Parallel branch, Map iteration) starts at its
        # parent's virtual time and keeps its own timeline from there.
        frame.stepline_skipped = getattr(env, "stepline_skipped", 0.0)
        frame.event_history_context.stepline_env = frame
    return frame


def _close_frame(self: Environment, frame: Environment) -> None:
    _original("virtual-time-join")(self, frame)
    run = run_for_env(self)
    if run is not None:
        run.join_timelines(self, frame)


def _delete_frame(self: Environment, frame: Environment) -> None:
    _original("virtual-time-discard")(self, frame)
    run = run_for_env(self)
    if run is not None:
        run.join_timelines(self, frame)


class ClockedEventManager(EventManager):
    """moto's history recorder, stamping each event with its branch's (virtual) clock."""

    def __init__(self, run: RunHooks) -> None:
        super().__init__(cloud_watch_logging_session=None)
        self._run = run

    def _get_current_timestamp(self) -> dt.datetime:  # type: ignore[override]  # moto's is static; ours reads self._run
        return self._run.now()

    def add_event(
        self,
        context: Any,
        event_type: HistoryEventType,
        event_details: EventDetails | None = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        if timestamp is None:
            # ExecutionStarted carries the execution's start date, as in AWS, so
            # $$.Execution.StartTime and the deadline line up with the history;
            # other events take the time of the branch (frame) recording them.
            timestamp = (
                self._run.start_date
                if event_type == HistoryEventType.ExecutionStarted
                else self._run.now(getattr(context, "stepline_env", None))
            )
        return super().add_event(
            context=context,
            event_type=event_type,
            event_details=event_details,
            timestamp=timestamp,
            update_source_event_id=update_source_event_id,
        )


class SteplineExecutionWorker(ExecutionWorker):
    """moto's execution worker, connecting the root environment to a Stepline run."""

    def __init__(self, run: RunHooks, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run = run

    def _get_evaluation_environment(self) -> Environment:
        env = super()._get_evaluation_environment()
        # Swapped before the first event (ExecutionStarted) is recorded.
        env.event_manager = ClockedEventManager(self._run)
        self._run.attach_root_env(env)
        return env

    def run_to_completion(self) -> None:
        """Evaluate the whole program in the calling thread."""
        self._execution_logic()


def prune_finished_threads() -> None:
    """Drop finished threads from moto's TMP_THREADS list, which only ever grows."""
    moto_sfn_utils.TMP_THREADS[:] = [
        thread for thread in moto_sfn_utils.TMP_THREADS if thread.is_alive()
    ]


# --------------------------------------------------------------------------------------
# task-dispatch and legacy-lambda-dispatch: mock -> task handler -> moto
# --------------------------------------------------------------------------------------

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


def _error_name_for(error: str) -> ErrorName:
    if error.startswith("States."):
        try:
            return StatesErrorName.from_name(error)
        except ValueError:
            return ErrorName(error_name=error)
    return CustomErrorName(error)


def _task_failure(
    self: StateTaskService, env: Environment, error: str, cause: str
) -> FailureEventException:
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=_error_name_for(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=_event_details(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )
    )


def _cannot_run_locally(
    self: StateTaskService, env: Environment, reason: str
) -> FailureEventException:
    cause = (
        f"Stepline's local engine cannot answer '{self.resource.resource_arn}' in state "
        f"'{self.name}': {reason} Give the state a mocked response (mock_config and "
        "test_case) or a local stand-in (task_handler)."
    )
    return _task_failure(self, env, StatesErrorNameType.StatesRuntime.to_name(), cause)


def _integration(condition: str | None) -> Integration:
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


def _lambda_function_error(answer_result: Any) -> tuple[str, str] | None:
    """A Lambda invoke response reporting a function error, as (error, cause)."""
    if not isinstance(answer_result, Mapping) or not answer_result.get("FunctionError"):
        return None
    payload = answer_result.get("Payload")
    error = payload.get("errorType") if isinstance(payload, Mapping) else None
    return (error or "Exception"), json.dumps(payload, separators=(",", ":"))


def _task_eval_execution(self: StateTaskService, env: Environment) -> None:
    run = run_for_env(env)
    if run is None:
        return _original("task-dispatch")(self, env)
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
    sdk = self.resource.service_name == "aws-sdk"
    spec = TaskSpec(
        state_name=self.name,
        resource=self.resource.resource_arn,
        service=boto3_service_name(self.resource.api_name),
        action=self.resource.api_action,
        integration=_integration(self.resource.condition),
        sdk=sdk,
        region=runtime_part.region,
        timeout_seconds=_state_timeout_seconds(self, env),
    )
    answer = run.answer_task(
        spec,
        copy.deepcopy(raw_parameters),
        copy.deepcopy(env.states.context_object.context_object_data),
    )
    if answer.answered:
        _finish_answered_task(
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


def _finish_answered_task(
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
        run.sleep(env, spec.timeout_seconds, "task")
        run.record_outcome(answer.record, error="States.Timeout", cause="")
        raise EvalTimeoutError()
    if run.virtual_time and answer.virtual_seconds > 0:
        run.sleep(env, answer.virtual_seconds, "task")
    failure = (answer.error, answer.cause or "") if answer.error is not None else None
    if failure is None and spec.service == "lambda":
        failure = _lambda_function_error(answer.result)
    if failure is not None:
        run.record_outcome(answer.record, error=failure[0], cause=failure[1])
        raise _task_failure(self, env, failure[0], failure[1])
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
        cast(_SteplineFrame, env).stepline_dispatched = True
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
        raise _task_failure(self, env, exception_error_name(error_prefix, code), cause) from error
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
        event_details=_event_details(
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
                raise _task_failure(
                    self, env, StatesErrorNameType.StatesTaskFailed.to_name(), json.dumps(result)
                )
            return result
        poll = SYNC_POLL_SECONDS if run.virtual_time else REAL_SYNC_POLL_SECONDS
        if spec.timeout_seconds is not None and elapsed + poll > spec.timeout_seconds:
            run.sleep(env, max(0.0, spec.timeout_seconds - elapsed), "sync-poll")
            raise EvalTimeoutError()
        run.sleep(env, poll, "sync-poll")
        elapsed += poll
        if not env.is_running():
            raise _cannot_run_locally(self, env, "the execution stopped while polling.")
    raise _cannot_run_locally(
        self, env, f"the moto job never reached a final state after {_MAX_SYNC_POLLS} polls."
    )


def _callback_eval_body(self: Any, env: Environment) -> None:
    run = run_for_env(env)
    if run is None:
        return _original("callback-integration-check")(self, env)
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


def _choice_eval_state(self: Any, env: Environment) -> None:
    # As moto's StateChoice._eval_state, but no match and no Default is AWS's
    # States.NoChoiceMatched (moto raised a bare RuntimeError -> States.Runtime).
    for rule in self.choices_decl.rules:
        rule.eval(env)
        if env.stack.pop() is True:
            if not rule.next_stmt:
                raise RuntimeError(f"Missing Next in a Choice rule of state '{self.name}'.")
            env.stack.append(rule.next_stmt.name)
            return
    if self.default_state is None:
        error = StatesErrorNameType.StatesNoChoiceMatched.to_name()
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesNoChoiceMatched),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=_event_details(
                    executionFailedEventDetails=ExecutionFailedEventDetails(
                        error=error,
                        cause=f"No Choice Rule matched in state '{self.name}' and it has no "
                        "Default.",
                    )
                ),
            )
        )
    env.stack.append(self.default_state.state_name)


def _set_error_unless_stopped(self: Environment, error: Any) -> None:
    # StopExecution is final on AWS: the execution is ABORTED whatever the Task that
    # was running does afterwards. moto let a later failure overwrite the stop.
    if run_for_env(self) is not None and isinstance(self.program_state(), ProgramStopped):
        return None
    return cast(None, _original("stop-is-final")(self, error))


def _dynamodb_from_error(self: Any, env: Environment, ex: Exception) -> FailureEvent:
    # moto's DynamoDB integration names every error that is not a boto ClientError
    # DynamoDB.AmazonDynamoDBException, so a mocked or locally answered
    # ConditionalCheckFailedException could never be caught by its name.
    if isinstance(ex, FailureEventException):
        return ex.failure_event
    return cast(FailureEvent, _original("dynamodb-answered-errors")(self, env, ex))


def _custom_error_name_new(cls: type, error_name: str | None = None) -> Any:
    # AWS lets a Fail state, a failed Map iteration or Parallel branch, or a task
    # callback carry any error name, States.* ones included (re-raising a caught
    # States.TaskFailed is common); moto's CustomErrorName refused them with a
    # ValueError that turned the error into States.Runtime.
    if cls is CustomErrorName and isinstance(error_name, str) and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            return ErrorName(error_name=error_name)
    return object.__new__(cls)


@dataclass
class _MapPlan:
    """The virtual schedule of one inline Map: MaxConcurrency lanes from the Map's start."""

    start: float
    lanes: int
    ends: dict[int, float] = field(default_factory=dict)


def _inline_iteration_eval_body(self: Any, env: Environment) -> None:
    run = run_for_env(env)
    if run is not None and run.virtual_time and env.stack:
        eval_input = env.stack[-1]
        items = len(getattr(eval_input, "input_items", []) or [])
        lanes = getattr(eval_input, "max_concurrency", 0) or items
        cast(_SteplineFrame, env).stepline_map_plan = _MapPlan(
            start=getattr(env, "stepline_skipped", 0.0), lanes=max(1, lanes)
        )
    return _original("virtual-map-plan")(self, env)


def _iteration_eval_job(self: Any, env: Environment, job: Any) -> None:
    plan: _MapPlan | None = getattr(self._env, "stepline_map_plan", None)
    if plan is None or run_for_env(env) is None:
        return _original("virtual-map-lanes")(self, env, job)
    # Iteration i starts when iteration i - MaxConcurrency has ended (at the Map's
    # start for the first lanes), whichever worker thread happens to pick it up.
    cast(_SteplineFrame, env).stepline_skipped = plan.ends.get(
        job.job_index - plan.lanes, plan.start
    )
    try:
        return _original("virtual-map-lanes")(self, env, job)
    finally:
        plan.ends[job.job_index] = getattr(env, "stepline_skipped", plan.start)


def _execute_lambda_function_integration(
    env: Environment, parameters: dict, region: str, state_credentials: Any
) -> None:
    run = run_for_env(env)
    if run is None or getattr(env, "stepline_dispatched", False):
        return _original("legacy-lambda-dispatch")(env, parameters, region, state_credentials)
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
        return _original("legacy-lambda-dispatch")(env, parameters, region, state_credentials)
    if run.virtual_time and answer.virtual_seconds > 0:
        run.sleep(env, answer.virtual_seconds, "task")
    failure = (answer.error, answer.cause or "") if answer.error is not None else None
    failure = failure or _lambda_function_error(answer.result)
    if failure is not None:
        run.record_outcome(answer.record, error=failure[0], cause=failure[1])
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=_error_name_for(failure[0]),
                event_type=HistoryEventType.LambdaFunctionFailed,
                event_details=_event_details(
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


# --------------------------------------------------------------------------------------
# The registry. Hashes are of moto 5.2.5's source of each target.
# --------------------------------------------------------------------------------------

_P = "moto.stepfunctions.parser"

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="stop-is-final",
        target=f"{_P}.asl.eval.environment:Environment.set_error",
        kind="wrap",
        why=(
            "A stopped execution stays ABORTED on AWS; moto let the failure of the Task that "
            "was running when StopExecution came overwrite the stop with FAILED."
        ),
        source_sha256="6447409d405612c0",
        scope="stepline-runs",
        expected_parameters=("self", "error"),
        install=_replace("stop-is-final", _set_error_unless_stopped),
    ),
    Adaptation(
        name="dynamodb-answered-errors",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service_dynamodb:"
        "StateTaskServiceDynamoDB._from_error",
        kind="wrap",
        why=(
            "moto turns any failure of a DynamoDB Task that is not a boto ClientError into "
            "DynamoDB.AmazonDynamoDBException, so an error a mock or the task handler answers "
            "(DynamoDB.ConditionalCheckFailedException) lost its name; it is passed through."
        ),
        source_sha256="a27eaf8b49759e70",
        scope="stepline-runs",
        expected_parameters=("self", "env", "ex"),
        install=_replace("dynamodb-answered-errors", _dynamodb_from_error),
    ),
    Adaptation(
        name="parse-cache",
        target=f"{_P}.asl.parse.asl_parser:AmazonStateLanguageParser.parse",
        kind="wrap",
        why=(
            "Parsing the ~20-state sales pipeline takes ~60 ms and moto parses again for every "
            "execution; the component tree holds no per-execution state, so parses are cached "
            "by definition text."
        ),
        source_sha256="a59a7d18760fb22e",
        scope="all",
        expected_parameters=("definition",),
        install=_replace("parse-cache", staticmethod(_cached_parse)),
    ),
    Adaptation(
        name="jsonpath-parse-cache",
        target=f"{_P}.asl.utils.json_path:parse",
        kind="wrap",
        why=(
            "extract_json re-parses every JSONPath with jsonpath-ng (a fresh PLY parser each "
            "time, about a fifth of a mocked run); parsed paths are cached by text."
        ),
        source_sha256="8e8fc5e91980418d",
        scope="all",
        expected_parameters=("path", "debug"),
        relies_on=((f"{_P}.asl.utils.json_path:extract_json", "932245247973780c"),),
        install=_replace("jsonpath-parse-cache", _cached_jsonpath_parse),
    ),
    Adaptation(
        name="intrinsic-json-unescape",
        target=f"{_P}.asl.parse.preprocessor:Preprocessor.visitString_intrinsic_function",
        kind="replace",
        why=(
            "moto hands the raw JSON token (JSON escapes included) to the intrinsic parser, so "
            '"\\\\\'" arrives as an escaped backslash and the string ends early: '
            "States.Format('...\\\\'s3://...\\\\'') was silently truncated. The token is now "
            "JSON-decoded first."
        ),
        source_sha256="c9faa27fc0978c24",
        scope="all",
        expected_parameters=("self", "ctx"),
        install=_replace("intrinsic-json-unescape", _visit_string_intrinsic_function),
    ),
    Adaptation(
        name="intrinsic-string-escapes",
        target=f"{_P}.asl.parse.intrinsic.preprocessor:Preprocessor.visitFunc_arg_string",
        kind="replace",
        why=(
            "moto keeps the backslash of \\' \\{ \\} and \\\\ in intrinsic string literals; AWS "
            "decodes them. The literal's States.Format template is kept alongside so an "
            "escaped brace never becomes a placeholder."
        ),
        source_sha256="260f804614f49ef3",
        scope="all",
        expected_parameters=("self", "ctx"),
        install=_replace("intrinsic-string-escapes", _visit_func_arg_string),
    ),
    Adaptation(
        name="states-format",
        target=f"{_P}.asl.component.intrinsic.function.statesfunction.generic.string_format:"
        "StringFormat._eval_body",
        kind="replace",
        why=(
            "moto renders States.Format with Python's str.format, so literal braces (escaped "
            "or in an input template) raise or are misread, and extra arguments are ignored. "
            "Only '{}' is a placeholder and the counts must match, as in AWS."
        ),
        source_sha256="97791ffd1722b681",
        scope="all",
        expected_parameters=("self", "env"),
        install=_replace("states-format", _states_format_eval_body),
    ),
    Adaptation(
        name="jsonata-expressions",
        target=f"{_P}.asl.component.common.string.string_expression:StringJSONata._eval_body",
        kind="replace",
        why=(
            "moto's JSONata evaluator is a stub (jsonata._eval_jsonata = None: 'NoneType' object "
            "is not callable), and it binds $states and variables by pasting JSON text into the "
            "expression without escaping strings. Expressions are evaluated with jsonata-python "
            "with native bindings ($states, variables, Step Functions' $partition/$range/$hash/"
            "$random/$uuid/$parse, and $now/$millis on the run's clock)."
        ),
        source_sha256="277b6f4132141b36",
        scope="all",
        expected_parameters=("self", "env"),
        relies_on=(
            (
                f"{_P}.asl.eval.variable_store:VariableStore.get",
                "a3b4365db1ba199e",
            ),
            (
                f"{_P}.asl.eval.states:States.__init__",
                "a862eeb562baf34c",
            ),
        ),
        install=_replace("jsonata-expressions", _string_jsonata_eval_body),
    ),
    Adaptation(
        name="jsonata-variable-sample",
        target=f"{_P}.asl.component.common.string.string_expression:"
        "StringVariableSample._eval_body",
        kind="replace",
        why=(
            "Reading a variable from JSONPath ('x.$': '$myVar.field', Choice Variable, intrinsic "
            "arguments) goes through the same stubbed JSONata evaluator."
        ),
        source_sha256="4aa01e616a9824dd",
        scope="all",
        expected_parameters=("self", "env"),
        install=_replace("jsonata-variable-sample", _string_variable_sample_eval_body),
    ),
    Adaptation(
        name="task-dispatch",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service:"
        "StateTaskService._eval_execution",
        kind="replace",
        why=(
            "Service-integration Tasks are answered by a MockConfigFile response (indexed by "
            "invocation count; moto's loader is a stub returning None and indexed by RetryCount), "
            "then by the task handler, then by moto. The moto path maps SDK service names "
            "(redshiftdata -> redshift-data, elasticmapreduce -> emr), names SDK errors like AWS "
            "(S3.NoSuchKeyException, not glue.X), returns JSON-safe responses (S3 Body as text, "
            "timestamps as strings), completes Glue/Athena .sync against moto and refuses other "
            ".sync calls with a clear States.Runtime error instead of crashing."
        ),
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
        install=_replace("task-dispatch", _task_eval_execution),
    ),
    Adaptation(
        name="legacy-lambda-dispatch",
        target=f"{_P}.asl.component.state.exec.state_task.lambda_eval_utils:"
        "execute_lambda_function_integration",
        kind="wrap",
        why=(
            "Tasks whose Resource is a Lambda function ARN (not lambda:invoke) bypass "
            "StateTaskService; the same mock -> handler -> moto order applies to them."
        ),
        source_sha256="f8c714c35a2410c0",
        expected_parameters=("env", "parameters", "region", "state_credentials"),
        install=_replace("legacy-lambda-dispatch", _execute_lambda_function_integration),
    ),
    Adaptation(
        name="callback-integration-check",
        target=f"{_P}.asl.component.state.exec.state_task.service.state_task_service_callback:"
        "StateTaskServiceCallback._eval_body",
        kind="replace",
        why=(
            "Before a Task starts, moto asserts that its integration pattern is one the service "
            "class emulates; EMR and Athena only list .waitForTaskToken, so addStep.sync and "
            "startQueryExecution.sync failed with 'Unsupported sync callback procedure' even "
            "when mocked. Stepline's task dispatch decides per invocation instead."
        ),
        source_sha256="1565ede7010df6af",
        expected_parameters=("self", "env"),
        install=_replace("callback-integration-check", _callback_eval_body),
    ),
    Adaptation(
        name="choice-no-match",
        target=f"{_P}.asl.component.state.choice.state_choice:StateChoice._eval_state",
        kind="replace",
        why=(
            "A Choice with no matching rule and no Default raised a bare RuntimeError "
            "(States.Runtime); AWS fails it with States.NoChoiceMatched."
        ),
        source_sha256="47c01743c893e6b2",
        scope="all",
        expected_parameters=("self", "env"),
        install=_replace("choice-no-match", _choice_eval_state),
    ),
    Adaptation(
        name="virtual-time-frames",
        target=f"{_P}.asl.eval.environment:Environment.as_inner_frame_of",
        kind="wrap",
        why=(
            "Every frame (task attempt, Parallel branch, Map iteration) gets its own virtual "
            "timeline starting at its parent's time, so concurrent branches that wait overlap "
            "instead of adding up."
        ),
        source_sha256="eb77183cac4a4c77",
        expected_parameters=("cls", "env", "variable_store", "event_history_frame_cache"),
        relies_on=((f"{_P}.asl.eval.environment:Environment.as_frame_of", "cf031027fa976b6f"),),
        install=_replace("virtual-time-frames", classmethod(_as_inner_frame_of)),
    ),
    Adaptation(
        name="virtual-time-join",
        target=f"{_P}.asl.eval.environment:Environment.close_frame",
        kind="wrap",
        why=(
            "When a frame closes, its parent's virtual time moves on to the frame's (a Parallel "
            "state ends with its slowest branch, a task with its .sync polling)."
        ),
        source_sha256="c7ee3303501d962b",
        expected_parameters=("self", "frame"),
        install=_replace("virtual-time-join", _close_frame),
    ),
    Adaptation(
        name="virtual-time-discard",
        target=f"{_P}.asl.eval.environment:Environment.delete_frame",
        kind="wrap",
        why="As virtual-time-join, for frames moto discards instead of closing.",
        source_sha256="69a75b1390535c3a",
        expected_parameters=("self", "frame"),
        install=_replace("virtual-time-discard", _delete_frame),
    ),
    Adaptation(
        name="states-error-names-allowed",
        target=f"{_P}.asl.component.common.error_name.custom_error_name:CustomErrorName.__init__",
        kind="replace",
        why=(
            "CustomErrorName raises for names starting with 'States.', so a Fail state "
            "re-raising a caught States.TaskFailed ('Error': '{% $states.input.error.Error %}' "
            "or ErrorPath), or a Map iteration / Parallel branch failing with one, crashed into "
            "States.Runtime. CustomErrorName.__new__ now returns the matching StatesErrorName "
            "(so States.TaskFailed/States.ALL matching stays exact)."
        ),
        source_sha256="2814dc26f7aeecf9",
        scope="all",
        expected_parameters=("self", "error_name"),
        install=lambda: setattr(CustomErrorName, "__new__", _custom_error_name_new),
    ),
    Adaptation(
        name="virtual-map-plan",
        target=f"{_P}.asl.component.state.exec.state_map.iteration.inline_iteration_component:"
        "InlineIterationComponent._eval_body",
        kind="wrap",
        why=(
            "Records where an inline Map starts on the virtual clock and its MaxConcurrency "
            "(0 = one lane per item), for virtual-map-lanes."
        ),
        source_sha256="1a65306eb3ca3961",
        expected_parameters=("self", "env"),
        install=_replace("virtual-map-plan", _inline_iteration_eval_body),
    ),
    Adaptation(
        name="virtual-map-lanes",
        target=f"{_P}.asl.component.state.exec.state_map.iteration.iteration_worker:"
        "IterationWorker._eval_job",
        kind="wrap",
        why=(
            "Virtual waits take no real time, so one worker thread picks up every Map item and "
            "iterations would add up as if sequential; each iteration instead starts when the "
            "iteration MaxConcurrency places before it has ended."
        ),
        source_sha256="5f736d9451fe0d18",
        expected_parameters=("self", "env", "job"),
        install=_replace("virtual-map-lanes", _iteration_eval_job),
    ),
    Adaptation(
        name="virtual-wait",
        target=f"{_P}.asl.component.state.wait.wait_function.wait_function:"
        "WaitFunction._wait_interval",
        kind="replace",
        why="Wait states sleep in real time; in a virtual-time run they advance the run's clock.",
        source_sha256="8f954dee80372b4b",
        expected_parameters=("self", "env", "wait_seconds"),
        install=_replace("virtual-wait", _wait_interval),
    ),
    Adaptation(
        name="wait-timestamp-clock",
        target=f"{_P}.asl.component.state.wait.wait_function.timestamp:Timestamp._get_wait_seconds",
        kind="replace",
        why=(
            "Timestamp/TimestampPath waits subtract the machine's local naive time from a UTC "
            "timestamp; they are measured on the run's UTC clock instead."
        ),
        source_sha256="611d040940ad5f39",
        expected_parameters=("self", "env"),
        install=_replace("wait-timestamp-clock", _timestamp_wait_seconds),
    ),
    Adaptation(
        name="virtual-retry",
        target=f"{_P}.asl.component.common.retry.retrier_decl:RetrierDecl._eval_body",
        kind="replace",
        why=(
            "Retry back-off calls time.sleep; in a virtual-time run the computed delay "
            "(IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds, FULL jitter) advances "
            "the run's clock instead."
        ),
        source_sha256="48463fff19cefa98",
        expected_parameters=("self", "env"),
        install=_replace("virtual-retry", _retrier_eval_body),
    ),
    Adaptation(
        name="virtual-entered-time",
        target=f"{_P}.asl.component.state.state:CommonStateField._eval_state_input",
        kind="wrap",
        why=(
            "$$.State.EnteredTime is set from datetime.now() in Python's isoformat; it is "
            "re-stamped from the run's clock in AWS's format just before the state reads its "
            "input."
        ),
        source_sha256="ec618072be7eb029",
        expected_parameters=("self", "env"),
        relies_on=(
            (
                f"{_P}.asl.component.state.state:CommonStateField._eval_body",
                "035f80caae1290dc",
            ),
        ),
        install=_replace("virtual-entered-time", _eval_state_input),
    ),
    Adaptation(
        name="virtual-execution-timeout",
        target=f"{_P}.asl.component.program.program:Program.eval",
        kind="replace",
        why=(
            "The execution's TimeoutSeconds is a real-time thread join; in a virtual-time run "
            "the deadline is checked on the virtual clock (-> TIMED_OUT) and the program runs "
            "inline."
        ),
        source_sha256="6d701880064a8970",
        expected_parameters=("self", "env"),
        relies_on=(
            (
                f"{_P}.asl.eval.environment:Environment.set_timed_out",
                "853b04bf9e6a7db4",
            ),
        ),
        install=_replace("virtual-execution-timeout", _program_eval),
    ),
    Adaptation(
        name="states-all-excludes-terminal-errors",
        target=f"{_P}.asl.component.common.error_name.error_equals_decl:ErrorEqualsDecl._eval_body",
        kind="wrap",
        why=(
            "moto lets States.ALL catch and retry States.Runtime and States.DataLimitExceeded; "
            "AWS never does (they always fail the execution), so a definition error or a "
            "missing mock cannot be swallowed by a catch-all."
        ),
        source_sha256="aeda14a0cc01747d",
        expected_parameters=("self", "env"),
        install=_replace("states-all-excludes-terminal-errors", _error_equals_eval_body),
    ),
    Adaptation(
        name="execution-worker-subclass",
        target=f"{_P}.backend.execution_worker:ExecutionWorker._get_evaluation_environment",
        kind="subclass",
        why=(
            "SteplineExecutionWorker runs an execution without moto's backend objects (no "
            "create_state_machine/deepcopy per run), swaps in the clocked history recorder and "
            "links the root environment to the run; _execution_logic is called in Stepline's "
            "own thread so completion is joined, never polled."
        ),
        source_sha256="ce8421b71dabea7d",
        expected_parameters=("self",),
        relies_on=(
            (
                f"{_P}.backend.execution_worker:ExecutionWorker.__init__",
                "104812d8266d5df3",
            ),
        ),
    ),
    Adaptation(
        name="execution-logic",
        target=f"{_P}.backend.execution_worker:ExecutionWorker._execution_logic",
        kind="subclass",
        why="Called directly by SteplineExecutionWorker.run_to_completion.",
        source_sha256="baa3e2a48fd228d9",
        expected_parameters=("self",),
    ),
    Adaptation(
        name="clocked-event-manager",
        target=f"{_P}.asl.eval.event.event_manager:EventManager.add_event",
        kind="subclass",
        why=(
            "ClockedEventManager.add_event stamps each event with the virtual time of the frame "
            "recording it (found through its EventHistoryContext), ExecutionStarted with the "
            "execution's start date."
        ),
        source_sha256="cb430fa2e3fed3e8",
        expected_parameters=(
            "self",
            "context",
            "event_type",
            "event_details",
            "timestamp",
            "update_source_event_id",
        ),
    ),
    Adaptation(
        name="tmp-threads-pruning",
        target=f"{_P}.utils:TMP_THREADS",
        kind="housekeeping",
        why=(
            "Every Task attempt, branch and iteration starts a thread that moto appends to "
            "utils.TMP_THREADS and never removes; Stepline prunes finished threads after each "
            "run so long test sessions do not grow without bound."
        ),
        source_sha256=None,
        expected_parameters=None,
    ),
)

ADAPTATIONS_BY_NAME: Final[dict[str, Adaptation]] = {
    adaptation.name: adaptation for adaptation in ADAPTATIONS
}
