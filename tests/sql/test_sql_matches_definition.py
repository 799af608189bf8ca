"""The reviewed SQL files are exactly what the state machine sends to Redshift and Athena.

The state machine builds its SQL with intrinsic functions (``States.Array`` of
literals and ``States.Format(...)`` calls). These tests evaluate those
expressions with the run date left as ``{run_date}`` and compare them, token
by token (layout and comments aside), with the files under ``sql/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stepline.local.warehouse import split_sql_statements

REPO = Path(__file__).resolve().parents[2]
LOAD_SQL = REPO / "sql/redshift/load_daily_sales.sql"
REPORT_SQL = REPO / "sql/athena/daily_report.sql"

# --------------------------------------------------------------------------- intrinsics

#: JSONPaths the SQL may use, and the placeholder each stands for in the files.
PATH_PLACEHOLDERS = {"$.validation.run_date": "{run_date}"}


class IntrinsicParser:
    """Evaluates the subset of ASL intrinsic functions the SQL states use.

    Supports ``States.Array`` and ``States.Format``, single-quoted string
    literals with ``\\'`` and ``\\\\`` escapes (``\\{``/``\\}`` stay escaped until
    Format), and the JSONPaths in :data:`PATH_PLACEHOLDERS`.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parse(self) -> Any:
        value = self._expression()
        self._skip_space()
        if self.position != len(self.text):
            raise ValueError(f"unexpected text at {self.position}: {self.text[self.position :]!r}")
        return value

    def _skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def _expression(self) -> Any:
        self._skip_space()
        char = self.text[self.position]
        if char == "'":
            return self._string()
        if char == "$":
            match = re.compile(r"\$[\w.\[\]]*").match(self.text, self.position)
            assert match is not None
            self.position = match.end()
            if match[0] not in PATH_PLACEHOLDERS:
                raise ValueError(f"the SQL uses {match[0]}, which has no placeholder in sql/")
            return PATH_PLACEHOLDERS[match[0]]
        match = re.compile(r"States\.(\w+)\(").match(self.text, self.position)
        if match is None:
            raise ValueError(f"unexpected text at {self.position}: {self.text[self.position :]!r}")
        self.position = match.end()
        arguments: list[Any] = []
        self._skip_space()
        while self.text[self.position] != ")":
            arguments.append(self._expression())
            self._skip_space()
            if self.text[self.position] == ",":
                self.position += 1
        self.position += 1
        return self._call(match[1], arguments)

    def _string(self) -> str:
        self.position += 1  # opening quote
        out: list[str] = []
        while True:
            char = self.text[self.position]
            if char == "\\":
                escaped = self.text[self.position + 1]
                # \{ and \} keep their backslash: they mean literal braces to Format.
                out.append(escaped if escaped in "'\\" else "\\" + escaped)
                self.position += 2
            elif char == "'":
                self.position += 1
                return "".join(out)
            else:
                out.append(char)
                self.position += 1

    @staticmethod
    def _call(name: str, arguments: list[Any]) -> Any:
        if name == "Array":
            return arguments
        if name == "Format":
            template, *values = arguments
            pieces = re.split(r"(?<!\\)\{\}", template)
            if len(pieces) - 1 != len(values):
                raise ValueError(
                    f"States.Format has {len(pieces) - 1} {{}} but {len(values)} values"
                )
            filled = pieces[0] + "".join(
                str(v) + piece for v, piece in zip(values, pieces[1:], strict=True)
            )
            return filled.replace("\\{", "{").replace("\\}", "}")
        raise ValueError(f"States.{name} is not supported by this test's evaluator")


def evaluate(expression: str) -> Any:
    return IntrinsicParser(expression).parse()


# --------------------------------------------------------------------------- comparison

_TOKEN_RE = re.compile(
    r"""'(?:[^']|'')*'      # a string literal, compared exactly
      | "(?:[^"]|"")*"      # a quoted identifier
      | \$\{\w+\}           # a deploy-time placeholder
      | \{run_date\}        # the run date
      | [A-Za-z_][\w$]*     # a word
      | \d+(?:\.\d+)?       # a number
      | \S                  # any other symbol
    """,
    re.VERBOSE,
)


def tokens(statement: str) -> list[str]:
    return _TOKEN_RE.findall(statement)


def assert_same_statements(file: Path, from_file: list[str], from_definition: list[str]) -> None:
    name = file.relative_to(REPO).as_posix()
    assert len(from_file) == len(from_definition), (
        f"{name} has {len(from_file)} statement(s) but the state machine sends "
        f"{len(from_definition)}:\n  file: {from_file}\n  state machine: {from_definition}"
    )
    for number, (mine, theirs) in enumerate(zip(from_file, from_definition, strict=True), 1):
        assert tokens(mine) == tokens(theirs), (
            f"statement {number} of {name} differs from the state machine's:\n"
            f"  file:          {' '.join(tokens(mine))}\n"
            f"  state machine: {' '.join(tokens(theirs))}\n"
            "Change both together: the file is the reviewed source, the definition is what runs."
        )


# --------------------------------------------------------------------------- tests


def test_evaluator_handles_escaped_quotes_and_format() -> None:
    """The test's own evaluator turns \\' into ' and fills {} with the run-date placeholder."""
    expression = (
        "States.Array('A', States.Format('x = \\'{}\\' and y = \\{\\}', $.validation.run_date))"
    )
    assert evaluate(expression) == ["A", "x = '{run_date}' and y = {}"]


def test_load_sql_file_is_what_the_load_state_sends(definition: dict[str, Any]) -> None:
    """sql/redshift/load_daily_sales.sql equals the "Load the day into Redshift" Sqls, in order."""
    parameters = definition["States"]["Load the day into Redshift"]["Parameters"]
    from_definition = evaluate(parameters["Sqls.$"])
    from_file = split_sql_statements(LOAD_SQL.read_text(encoding="utf-8"))
    assert_same_statements(LOAD_SQL, from_file, from_definition)


def test_report_sql_file_is_what_the_report_state_runs(definition: dict[str, Any]) -> None:
    """sql/athena/daily_report.sql equals the "Build the daily report" QueryString."""
    parameters = definition["States"]["Build the daily report"]["Parameters"]
    from_definition = [evaluate(parameters["QueryString.$"])]
    from_file = split_sql_statements(REPORT_SQL.read_text(encoding="utf-8"))
    assert_same_statements(REPORT_SQL, from_file, from_definition)


@pytest.mark.parametrize(
    "changed",
    [
        "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date <= '{run_date}'",
        "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date = '{run_date} '",
    ],
)
def test_comparison_catches_a_one_token_change(changed: str) -> None:
    """An operator or a space inside a literal is a difference, not layout."""
    original = "DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date = '{run_date}'"
    with pytest.raises(AssertionError, match=r"statement 1 of sql/redshift/load_daily_sales\.sql"):
        assert_same_statements(LOAD_SQL, [original], [changed])
