"""JSONata expressions and workflow variables, evaluated as Step Functions does.

moto's JSONata evaluator is a stub (``jsonata._eval_jsonata = None``) that
would paste ``$states`` and variables into the expression as unescaped JSON
text. Stepline's parser builds :class:`SteplineStringJSONata` and
:class:`SteplineStringVariableSample` instead, evaluated with the pure-Python
``jsonata-python`` with native bindings: ``$states``, every variable in scope,
Step Functions' ``$partition``/``$range``/``$hash``/``$random``/``$uuid``/
``$parse``, and ``$now``/``$millis`` on the run's clock.

Variables: AWS evaluates a state's ``Assign`` and ``Output`` with the values
the variables had when the state was entered, and an assignment is visible
from the next state on. moto set them at once (an ``Output``/``OutputPath``
of the same state saw the new value); Stepline keeps them pending until the
state exits.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from jsonata import Jsonata
from jsonata.functions import Functions as JsonataFunctions
from jsonata.jexception import JException
from jsonata.utils import Utils as JsonataUtils
from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringJSONata,
    StringVariableSample,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment

from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, replace_with
from stepline.local.adapter.errors import query_evaluation_failure, runtime_failure
from stepline.local.adapter.runs import RunHooks, frame_of, run_for_env

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


def _range(start: Any, end: Any, step: Any) -> Any:
    # AWS truncates the bounds and step to integers; the result is a JSONata
    # sequence, so one number is that number and no number is undefined.
    start, end, step = int(start), int(end), int(step)
    if step == 0:
        return None
    stop = end + (1 if step > 0 else -1)
    values = list(range(start, stop, step))
    if not values:
        return None
    return values[0] if len(values) == 1 else values


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
    frame = frame_of(env)

    def millis() -> int:
        return int(run.now(frame).timestamp() * 1000)

    def now(picture: Any = None, timezone: Any = None) -> Any:
        return JsonataFunctions.datetime_from_millis(millis(), picture, timezone)

    return {"now": _jfunction(now, "<s?s?:s>"), "millis": _jfunction(millis, "<:n>")}


def variables(env: Environment) -> dict[str, Any]:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _bindings(env: Environment, *, with_states: bool) -> dict[str, Any]:
    bindings = dict(_SFN_JSONATA_FUNCTIONS)
    run = run_for_env(env)
    if run is not None:
        bindings.update(_clock_functions(run, env))
    bindings.update(variables(env))
    if with_states:
        bindings["states"] = env.states._states_data
    return bindings


class SteplineStringJSONata(StringJSONata):
    """A ``{% ... %}`` expression, knowing the field it was written in (``Assign/x``)."""

    def __init__(self, expression: str, field: str | None) -> None:
        super().__init__(expression=expression)
        self.field = field

    def _specified(self) -> str:
        where = f" specified for the field '{self.field}'" if self.field else ""
        return f"The JSONata expression '{self.expression}'{where}"

    def _eval_body(self, env: Environment) -> None:
        try:
            result = evaluate_jsonata(self.expression, _bindings(env, with_states=True))
        except JException as error:
            raise query_evaluation_failure(
                env,
                f"{self._specified()} threw an error during evaluation. "
                f"{error.error}: {error}",
                self.field,
            ) from error
        if result is UNDEFINED:
            raise query_evaluation_failure(
                env, f"{self._specified()} returned nothing (undefined).", self.field
            )
        env.stack.append(result)


_VARIABLE_ROOT: Final = re.compile(r"^\$([A-Za-z0-9_]+)")


class SteplineStringVariableSample(StringVariableSample):
    """``$var.path`` read from JSONPath (Parameters, Choice Variable, intrinsic arguments)."""

    def _eval_body(self, env: Environment) -> None:
        root = _VARIABLE_ROOT.match(self.expression)
        if root is not None and root.group(1) not in variables(env):
            raise runtime_failure(env, f"The variable '${root.group(1)}' is not defined.")
        result = evaluate_jsonata(self.expression, _bindings(env, with_states=False))
        env.stack.append(None if result is UNDEFINED else result)


def _assign_eval_body(self: AssignDecl, env: Environment) -> None:
    if run_for_env(env) is None:
        return original("assign-at-state-exit")(self, env)
    declarations: dict[str, Any] = {}
    for binding in self.declaration_bindings:
        binding.eval(env=env)
        declarations.update(env.stack.pop())
    frame = frame_of(env)
    frame.pending_assignments = {**(frame.pending_assignments or {}), **declarations}
    return None


def _state_exited_details(self: CommonStateField, env: Environment) -> Any:
    if run_for_env(env) is not None:
        frame = frame_of(env)
        pending, frame.pending_assignments = frame.pending_assignments, None
        for identifier, value in (pending or {}).items():
            env.variable_store.set(variable_identifier=identifier, variable_value=value)
    return original("assign-visible-from-next-state")(self, env)


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="jsonata-expressions",
        target=f"{_P}.asl.component.common.string.string_expression:StringJSONata._eval_body",
        kind="subclass",
        why=(
            "moto's JSONata evaluator is a stub (jsonata._eval_jsonata = None: 'NoneType' object "
            "is not callable), and it binds $states and variables by pasting JSON text into the "
            "expression without escaping strings. SteplineStringJSONata evaluates with "
            "jsonata-python with native bindings and fails as AWS does: "
            "States.QueryEvaluationError naming the field ('Assign/x')."
        ),
        canary="test_moto_jsonata_evaluator_is_a_stub",
        source_sha256="277b6f4132141b36",
        expected_parameters=("self", "env"),
        relies_on=(
            (f"{_P}.asl.eval.variable_store:VariableStore.get", "a3b4365db1ba199e"),
            (f"{_P}.asl.eval.states:States.__init__", "a862eeb562baf34c"),
            (f"{_P}.asl.parse.preprocessor:Preprocessor.visitString_jsonata", "82561489302c8a12"),
        ),
    ),
    Adaptation(
        name="jsonata-variable-sample",
        target=f"{_P}.asl.component.common.string.string_expression:"
        "StringVariableSample._eval_body",
        kind="subclass",
        why=(
            "Reading a variable from JSONPath ('x.$': '$myVar.field', Choice Variable, intrinsic "
            "arguments) goes through the same stubbed JSONata evaluator."
        ),
        canary="test_moto_reads_variables_through_the_jsonata_stub",
        source_sha256="4aa01e616a9824dd",
        expected_parameters=("self", "env"),
        relies_on=(
            (f"{_P}.asl.parse.preprocessor:Preprocessor.visitString_variable_sample",
             "2be6d976a449325c"),
        ),
    ),
    Adaptation(
        name="assign-at-state-exit",
        target=f"{_P}.asl.component.common.assign.assign_decl:AssignDecl._eval_body",
        kind="gated",
        why=(
            "moto sets a state's Assign variables immediately, so the same state's Output, "
            "OutputPath or ResultSelector saw the new values; AWS evaluates Assign and Output "
            "with the values at state entry. In a Stepline run the assignments wait on the "
            "frame until the state exits."
        ),
        canary="test_moto_assign_is_visible_in_the_same_state",
        source_sha256="652b8326e85d93b6",
        expected_parameters=("self", "env"),
        install=replace_with(_assign_eval_body),
    ),
    Adaptation(
        name="assign-visible-from-next-state",
        target=f"{_P}.asl.component.state.state:CommonStateField._get_state_exited_event_details",
        kind="gated",
        why=(
            "The state's pending assignments are applied just before its StateExited event is "
            "built (which lists them as assignedVariables), so they are visible from the next "
            "state on."
        ),
        canary="test_moto_assign_is_visible_in_the_same_state",
        source_sha256="82ead97874bb6dfe",
        expected_parameters=("self", "env"),
        install=replace_with(_state_exited_details),
    ),
)
