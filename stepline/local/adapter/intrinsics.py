"""Intrinsic functions as AWS evaluates them: string escapes and ``States.Format``.

AWS reads an intrinsic call from the JSON-decoded field value, and inside its
string literals ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` are escapes. moto parses
the raw JSON token instead (JSON escapes and all, so ``\\\\'`` truncated the
string), keeps the backslash of every intrinsic escape, and renders
``States.Format`` with Python's ``str.format``. Stepline's parser builds its
intrinsic components with :class:`SteplineIntrinsicPreprocessor` and
:class:`SteplineStringFormat`; moto's own parser is untouched.
"""

from __future__ import annotations

import json
from typing import Any, Final, Protocol, cast

from antlr4 import CommonTokenStream, InputStream
from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicLexer import ASLIntrinsicLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicParser import ASLIntrinsicParser
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringIntrinsicFunction,
)
from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import (
    ArgumentLiteral,
    ArgumentVar,
)
from moto.stepfunctions.parser.asl.component.intrinsic.function.function import Function
from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (  # noqa: E501
    StringFormat,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import (
    Preprocessor as IntrinsicPreprocessor,
)

from stepline.local.adapter.core import MOTO_SFN, Adaptation
from stepline.local.adapter.jsonata import SteplineStringVariableSample

_LETTER_ESCAPES: Final[dict[str, str]] = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def unescape_intrinsic_string(raw: str) -> tuple[str, tuple[str | None, ...]]:
    """Decode an intrinsic string literal (without its quotes).

    Returns the literal's value and its States.Format template: literal text
    parts with ``None`` where an unescaped ``{}`` placeholder stands. ``\\'``,
    ``\\{``, ``\\}`` and ``\\\\`` are the escapes AWS defines; ``\\uXXXX`` and
    the JSON letter escapes stand for their character; an escaped brace is
    literal text, never part of a placeholder.
    """
    value: list[str] = []
    parts: list[str | None] = []
    text: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else ""
        width = 2
        if char == "\\" and following:
            hex_digits = raw[index + 2 : index + 6]
            if following == "u" and len(hex_digits) == 4 and set(hex_digits) <= _HEX:
                decoded, width = chr(int(hex_digits, 16)), 6
            elif following in "'{}\\\"/":
                decoded = following
            elif following.isalpha():
                decoded = _LETTER_ESCAPES.get(following, following)
            else:
                decoded = char + following
            value.append(decoded)
            text.append(decoded)
            index += width
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


# The intrinsic lexer refuses raw control characters inside a string literal,
# yet a JSON "\n" in a States.Format template is common (and works on AWS):
# after JSON decoding they are written back as the escapes the literal decoder reads.
_CONTROL_ESCAPES: Final[dict[int, str]] = {
    code: {10: "\\n", 9: "\\t", 13: "\\r"}.get(code, f"\\u{code:04x}") for code in range(32)
}


def intrinsic_derivation(token_text: str) -> str:
    """The intrinsic call a JSON string token stands for, as AWS reads it."""
    return cast(str, json.loads(token_text)).translate(_CONTROL_ESCAPES)


class _FormatTemplateArgument(Protocol):
    """An intrinsic string literal carrying its States.Format template."""

    stepline_format_template: tuple[str | None, ...]


class SteplineStringFormat(StringFormat):
    """``States.Format`` as AWS renders it: only an unescaped ``{}`` is a placeholder."""

    def _eval_body(self, env: Environment) -> None:
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


class SteplineIntrinsicPreprocessor(IntrinsicPreprocessor):
    """moto's intrinsic preprocessor with AWS's string escapes, States.Format and variables."""

    def visitFunc_arg_string(self, ctx: Any) -> ArgumentLiteral:
        value, template = unescape_intrinsic_string(ctx.STRING().getText()[1:-1])
        argument = ArgumentLiteral(definition_value=value)
        # Read back by States.Format, which must tell escaped braces from placeholders.
        cast(_FormatTemplateArgument, argument).stepline_format_template = template
        return argument

    def visitFunc_arg_var(self, ctx: Any) -> ArgumentVar:
        sample = SteplineStringVariableSample(
            query_language_mode=QueryLanguageMode.JSONPath,
            expression=ctx.STRING_VARIABLE().getText(),
        )
        return ArgumentVar(string_variable_sample=sample)

    def visitStates_func_decl(self, ctx: Any) -> Any:
        function = super().visitStates_func_decl(ctx)
        if type(function) is StringFormat:
            return SteplineStringFormat(argument_list=function.argument_list)
        return function


def parse_intrinsic(derivation: str) -> Function:
    """As moto's ``IntrinsicParser.parse``, building Stepline's intrinsic components."""
    parser = ASLIntrinsicParser(CommonTokenStream(ASLIntrinsicLexer(InputStream(derivation))))
    function: Function = SteplineIntrinsicPreprocessor().visit(parser.func_decl())
    return function


def string_intrinsic_function(token_text: str) -> StringIntrinsicFunction:
    """The component for a ``"x.$": "States.Format(...)"`` field, from its JSON token."""
    derivation = intrinsic_derivation(token_text)
    return StringIntrinsicFunction(
        intrinsic_function_derivation=derivation, function=parse_intrinsic(derivation)
    )


_P = MOTO_SFN

ADAPTATIONS: Final[tuple[Adaptation, ...]] = (
    Adaptation(
        name="intrinsic-json-unescape",
        target=f"{_P}.asl.parse.preprocessor:Preprocessor.visitString_intrinsic_function",
        kind="subclass",
        why=(
            "moto hands the raw JSON token (JSON escapes included) to the intrinsic parser, so "
            '"\\\\\'" arrives as an escaped backslash and the string ends early: '
            "States.Format('...\\\\'s3://...\\\\'') was silently truncated. Stepline's parser "
            "JSON-decodes the token first (writing control characters such as a JSON \\n back "
            "as escapes the intrinsic lexer accepts)."
        ),
        canary="test_moto_parses_the_raw_json_token_of_an_intrinsic",
        source_sha256="c9faa27fc0978c24",
        expected_parameters=("self", "ctx"),
        relies_on=((f"{_P}.asl.parse.intrinsic.intrinsic_parser:IntrinsicParser.parse",
                    "9f7bf0002f09ff48"),),
    ),
    Adaptation(
        name="intrinsic-string-escapes",
        target=f"{_P}.asl.parse.intrinsic.preprocessor:Preprocessor.visitFunc_arg_string",
        kind="subclass",
        why=(
            "moto keeps the backslash of \\' \\{ \\} and \\\\ in intrinsic string literals; AWS "
            "decodes them. The literal's States.Format template is kept alongside so an "
            "escaped brace never becomes a placeholder."
        ),
        canary="test_moto_keeps_the_backslash_of_intrinsic_escapes",
        source_sha256="260f804614f49ef3",
        expected_parameters=("self", "ctx"),
        relies_on=(
            (f"{_P}.asl.parse.intrinsic.preprocessor:Preprocessor.visitStates_func_decl",
             "11cea3b92fa84eb2"),
            (f"{_P}.asl.parse.intrinsic.preprocessor:Preprocessor.visitFunc_arg_var",
             "41e06f975361d762"),
        ),
    ),
    Adaptation(
        name="states-format",
        target=f"{_P}.asl.component.intrinsic.function.statesfunction.generic.string_format:"
        "StringFormat._eval_body",
        kind="subclass",
        why=(
            "moto renders States.Format with Python's str.format, so literal braces (escaped "
            "or in an input template) raise or are misread, and extra arguments are ignored. "
            "Only '{}' is a placeholder and the counts must match, as in AWS."
        ),
        canary="test_moto_states_format_still_uses_str_format",
        source_sha256="97791ffd1722b681",
        expected_parameters=("self", "env"),
    ),
)
