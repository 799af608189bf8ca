"""Stepline's own ASL parser: moto's grammar, Stepline's components, parses cached.

:func:`parse` lexes and parses a definition exactly as moto's
``AmazonStateLanguageParser.parse`` does, but builds it with
:class:`SteplinePreprocessor`, whose components carry AWS's behaviour
(JSONata, variables, intrinsic escapes, ``States.Format``, Map items). Only
executions started by Stepline run these components; moto's parser is not
touched. Parsing a ~20-state definition takes ~60 ms, and the tree
holds no per-execution state, so results are cached by definition text.

jsonpath-ng builds a fresh PLY parser for every path moto evaluates (about
a fifth of a mocked run); in the threads of a Stepline run parsed paths are
cached too.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from antlr4 import CommonTokenStream, InputStream, ParserRuleContext
from antlr4.tree.Tree import TerminalNodeImpl
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringIntrinsicFunction,
    StringJSONata,
    StringVariableSample,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException, SyntaxErrorListener
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

from stepline.local.adapter import intrinsics
from stepline.local.adapter.core import MOTO_SFN, Adaptation, original, replace_with
from stepline.local.adapter.errors import ItemsMustBeAnArray
from stepline.local.adapter.jsonata import SteplineStringJSONata, SteplineStringVariableSample
from stepline.local.adapter.runs import current_run, stepline_work


def field_path(ctx: ParserRuleContext) -> str | None:
    """Where a value sits in its state, as AWS names fields in causes (``Assign/x``).

    The ASL grammar is JSON: walking up from the value, every ``"key": value``
    rule adds ``key`` and every array adds ``[index]``; the walk stops at the
    state's body.
    """
    segments: list[str] = []
    child: Any = ctx
    node: Any = ctx.parentCtx
    while node is not None and not isinstance(node, ASLParser.State_decl_bodyContext):
        count = node.getChildCount()
        first = node.getChild(0) if count else None
        if isinstance(first, TerminalNodeImpl) and first.getText() == "[":
            values = [c for c in node.getChildren() if not isinstance(c, TerminalNodeImpl)]
            index = next((i for i, c in enumerate(values) if c is child), None)
            if index is not None:
                segments.insert(0, f"[{index}]")
        elif count >= 3 and node.getChild(1).getText() == ":":
            segments.insert(0, node.getChild(0).getText().strip('"'))
        child, node = node, node.parentCtx
    path = ""
    for segment in segments:
        path += segment if segment.startswith("[") or not path else f"/{segment}"
    return path or None


class SteplinePreprocessor(Preprocessor):
    """moto's ASL preprocessor, building Stepline's components where AWS differs from moto."""

    def visitString_jsonata(self, ctx: Any) -> StringJSONata:
        moto_component = super().visitString_jsonata(ctx)
        return SteplineStringJSONata(moto_component.expression, field_path(ctx))

    def visitString_variable_sample(self, ctx: Any) -> StringVariableSample:
        moto_component = super().visitString_variable_sample(ctx)
        return SteplineStringVariableSample(
            query_language_mode=moto_component.query_language_mode,
            expression=moto_component.expression,
        )

    def visitString_intrinsic_function(self, ctx: Any) -> StringIntrinsicFunction:
        return intrinsics.string_intrinsic_function(ctx.STRINGINTRINSICFUNC().getText())

    def visitItems_path_decl(self, ctx: Any) -> Any:
        items_path = super().visitItems_path_decl(ctx)
        # moto declares the sampler Final and a StringSampler; the wrapper evaluates it.
        items_path.string_sampler = ItemsMustBeAnArray(items_path.string_sampler)  # type: ignore[misc, assignment]
        return items_path


_PARSE_CACHE: dict[str, EvalComponent] = {}
_PARSE_CACHE_LOCK = threading.Lock()
_PARSE_CACHE_SIZE: Final[int] = 64


def parse(definition: str) -> EvalComponent:
    """The program for a definition, built by :class:`SteplinePreprocessor` (cached).

    Raises moto's ``ASLParserException`` for a syntax error and whatever the
    preprocessor raises for a definition it refuses.
    """
    cached = _PARSE_CACHE.get(definition)
    if cached is not None:
        return cached
    syntax_errors = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(syntax_errors)
    tree = parser.state_machine()
    if syntax_errors.errors:
        raise ASLParserException(errors=syntax_errors.errors)
    with stepline_work():
        program: EvalComponent = SteplinePreprocessor().visit(tree)
    with _PARSE_CACHE_LOCK:
        if len(_PARSE_CACHE) >= _PARSE_CACHE_SIZE:
            _PARSE_CACHE.pop(next(iter(_PARSE_CACHE)))
        _PARSE_CACHE[definition] = program
    return program


_JSONPATH_CACHE: dict[str, Any] = {}


def _cached_jsonpath_parse(path: str, debug: bool | None = None) -> Any:
    if current_run() is None:
        return original("jsonpath-parse-cache")(path, debug)
    parsed = _JSONPATH_CACHE.get(path)
    if parsed is None:
        parsed = original("jsonpath-parse-cache")(path, debug)
        if len(_JSONPATH_CACHE) < 4096:
            _JSONPATH_CACHE[path] = parsed
    return parsed


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="stepline-parser",
        target=f"{_P}.asl.parse.asl_parser:AmazonStateLanguageParser.parse",
        kind="subclass",
        why=(
            "Stepline parses with moto's grammar but its own SteplinePreprocessor, so the "
            "components of a local run carry AWS's behaviour while moto's parser stays as "
            "shipped; moto parses again for every execution (~60 ms for the pipeline), "
            "Stepline caches the result by definition text."
        ),
        canary="test_moto_parses_every_definition_again",
        source_sha256="a59a7d18760fb22e",
        expected_parameters=("definition",),
        relies_on=(
            (f"{_P}.asl.parse.preprocessor:Preprocessor.visitItems_path_decl", "d537218520480fb7"),
        ),
    ),
    Adaptation(
        name="jsonpath-parse-cache",
        target=f"{_P}.asl.utils.json_path:parse",
        kind="gated",
        why=(
            "extract_json re-parses every JSONPath with jsonpath-ng (a fresh PLY parser each "
            "time, about a fifth of a mocked run); in a Stepline run's threads parsed paths are "
            "cached by text."
        ),
        canary="test_moto_reparses_every_jsonpath",
        source_sha256="8e8fc5e91980418d",
        expected_parameters=("path", "debug"),
        relies_on=((f"{_P}.asl.utils.json_path:extract_json", "932245247973780c"),),
        install=replace_with(_cached_jsonpath_parse),
    ),
)
