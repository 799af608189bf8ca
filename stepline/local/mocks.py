"""Step Functions Local MockConfigFile support for Stepline's local engine.

A MockConfigFile is the JSON document AWS Step Functions Local reads from
``SFN_MOCK_CONFIG``. Stepline reads the very same format, so one file drives
both the in-process engine and Step Functions Local in Docker::

    {
      "StateMachines": {
        "<state machine name>": {
          "TestCases": {
            "<test case>": {"<Task state name>": "<mocked response name>"}
          }
        }
      },
      "MockedResponses": {
        "<mocked response name>": {
          "0":   {"Throw": {"Error": "Glue.ConcurrentRunsExceededException", "Cause": "..."}},
          "1-2": {"Return": {"JobRunState": "SUCCEEDED", "Id": "jr_1"}}
        }
      }
    }

Responses are indexed by the Task state's *invocation count* within one
execution, starting at 0: a retry, a re-entry through a loop and every Map
iteration each advance it. Keys are either one integer (``"3"``) or an
inclusive range (``"1-2"``); together they must cover ``0..N`` without gaps
or overlaps. Each entry holds exactly one of ``Return`` (the service response,
as Step Functions would receive it, e.g. the whole Lambda invoke response
``{"StatusCode": 200, "Payload": {...}}``, or for ``.sync`` the final
description such as Glue's ``JobRun``) or ``Throw`` (``Error`` and ``Cause``,
behaving like the service failing with that error).

This module only parses and validates; :mod:`stepline.local.engine` applies
the responses. It has no AWS or moto dependency.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MockConfig",
    "MockConfigError",
    "MockReturn",
    "MockTestCase",
    "MockThrow",
    "MockedResponseSeries",
    "parse_mock_config",
    "parse_mock_config_cached",
]

_TOP_LEVEL_KEYS = frozenset({"StateMachines", "MockedResponses"})
_RANGE_KEY = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class MockConfigError(ValueError):
    """The MockConfigFile is malformed or does not fit the state machine being run."""


@dataclass(frozen=True)
class MockReturn:
    """A mocked successful service response (the ``Return`` object)."""

    payload: Any

    def response(self) -> Any:
        """A private copy of the payload, so a run can never alter the configuration."""
        return copy.deepcopy(self.payload)


@dataclass(frozen=True)
class MockThrow:
    """A mocked service failure (the ``Throw`` object)."""

    error: str
    cause: str


MockResponse = MockReturn | MockThrow


@dataclass(frozen=True)
class MockedResponseSeries:
    """One named entry of ``MockedResponses``: what invocation 0, 1, 2... receive."""

    name: str
    responses: tuple[MockResponse, ...]
    keys: tuple[str, ...]

    def at(self, invocation_index: int) -> MockResponse | None:
        """The response for this invocation, or ``None`` when the series is exhausted."""
        if 0 <= invocation_index < len(self.responses):
            return self.responses[invocation_index]
        return None


@dataclass(frozen=True)
class MockTestCase:
    """One test case of one state machine: which Task states are mocked, and how."""

    state_machine_name: str
    name: str
    series_by_state: Mapping[str, MockedResponseSeries]

    def mocks(self, state_name: str) -> bool:
        return state_name in self.series_by_state

    def response_for(self, state_name: str, invocation_index: int) -> MockResponse:
        """The response for a mocked state's invocation; fails loudly when none is configured.

        Step Functions Local fails the execution when a mocked state is invoked
        more times than its mocked response covers; the engine turns this error
        into exactly that.
        """
        series = self.series_by_state[state_name]
        response = series.at(invocation_index)
        if response is None:
            raise MockConfigError(
                f"No mocked response for invocation {invocation_index} of state "
                f"'{state_name}' in test case '{self.name}' of state machine "
                f"'{self.state_machine_name}': mocked response '{series.name}' only "
                f"defines invocation(s) {', '.join(series.keys)}."
            )
        return response


@dataclass(frozen=True)
class MockConfig:
    """A validated MockConfigFile."""

    test_cases: Mapping[str, Mapping[str, Mapping[str, str]]]
    mocked_responses: Mapping[str, MockedResponseSeries]

    @property
    def state_machine_names(self) -> tuple[str, ...]:
        return tuple(self.test_cases)

    def default_state_machine_name(self) -> str:
        """The only state machine of the file; ambiguous files must name one."""
        names = self.state_machine_names
        if len(names) != 1:
            raise MockConfigError(
                "The MockConfigFile defines "
                f"{len(names)} state machines ({', '.join(names) or 'none'}); "
                "pass state_machine_name= to say which one this run uses."
            )
        return names[0]

    def test_case(self, state_machine_name: str, test_case: str) -> MockTestCase:
        if state_machine_name not in self.test_cases:
            raise MockConfigError(
                f"State machine '{state_machine_name}' is not under StateMachines in the "
                f"MockConfigFile (known: {', '.join(self.state_machine_names) or 'none'})."
            )
        cases = self.test_cases[state_machine_name]
        if test_case not in cases:
            raise MockConfigError(
                f"Test case '{test_case}' is not defined for state machine "
                f"'{state_machine_name}' (known: {', '.join(cases) or 'none'})."
            )
        series_by_state = {
            state: self.mocked_responses[response_name]
            for state, response_name in cases[test_case].items()
        }
        return MockTestCase(
            state_machine_name=state_machine_name, name=test_case, series_by_state=series_by_state
        )


def parse_mock_config(raw: Any) -> MockConfig:
    """Validate a parsed MockConfigFile and index its responses.

    Raises :class:`MockConfigError` naming the offending place: unknown
    top-level keys (a common slip is the singular ``MockedResponse``), test
    cases pointing at undefined mocked responses, malformed or overlapping
    range keys, gaps in the invocation numbering, entries that are not exactly
    one ``Return`` or ``Throw``.
    """
    if not isinstance(raw, Mapping):
        raise MockConfigError("A MockConfigFile must be a JSON object.")
    unknown = set(raw) - _TOP_LEVEL_KEYS
    if unknown:
        raise MockConfigError(
            f"Unknown top-level key(s) {sorted(unknown)} in the MockConfigFile; "
            "expected only 'StateMachines' and 'MockedResponses'."
        )
    raw_responses = raw.get("MockedResponses", {})
    if not isinstance(raw_responses, Mapping):
        raise MockConfigError("'MockedResponses' must be an object of named mocked responses.")
    mocked_responses = {
        name: _parse_series(name, entries) for name, entries in raw_responses.items()
    }

    raw_machines = raw.get("StateMachines", {})
    if not isinstance(raw_machines, Mapping):
        raise MockConfigError("'StateMachines' must be an object keyed by state machine name.")
    test_cases: dict[str, dict[str, dict[str, str]]] = {}
    for machine_name, machine in raw_machines.items():
        where = f"StateMachines.{machine_name}"
        if not isinstance(machine, Mapping) or set(machine) != {"TestCases"}:
            raise MockConfigError(f"{where} must be an object with a single 'TestCases' field.")
        cases = machine["TestCases"]
        if not isinstance(cases, Mapping):
            raise MockConfigError(f"{where}.TestCases must be an object keyed by test case name.")
        test_cases[machine_name] = {}
        for case_name, states in cases.items():
            case_where = f"{where}.TestCases.{case_name}"
            if not isinstance(states, Mapping):
                raise MockConfigError(
                    f"{case_where} must map Task state names to mocked response names."
                )
            for state_name, response_name in states.items():
                if not isinstance(response_name, str):
                    raise MockConfigError(
                        f"{case_where}.{state_name} must be the name of a mocked response."
                    )
                if response_name not in mocked_responses:
                    raise MockConfigError(
                        f"{case_where}.{state_name} refers to mocked response "
                        f"'{response_name}', which is not defined under MockedResponses."
                    )
            test_cases[machine_name][case_name] = dict(states)
    return MockConfig(test_cases=test_cases, mocked_responses=mocked_responses)


def parse_mock_config_cached(raw: Any) -> MockConfig:
    """:func:`parse_mock_config`, remembered by the file's content.

    A test suite or a benchmark runs many executions against one MockConfigFile;
    parsing it (and copying every ``Return``) is a tenth of a mocked run. The key
    is the content, not the object, so a dictionary changed between runs is parsed
    again. The result is shared: :class:`MockConfig` is frozen and a ``Return``
    payload is copied each time it answers a Task.
    """
    try:
        key = json.dumps(raw, sort_keys=True)
    except (TypeError, ValueError):  # not JSON: parse_mock_config says what is wrong
        return parse_mock_config(raw)
    return _parse_mock_text(key)


@functools.lru_cache(maxsize=16)
def _parse_mock_text(text: str) -> MockConfig:
    return parse_mock_config(json.loads(text))


def _parse_series(name: str, entries: Any) -> MockedResponseSeries:
    where = f"MockedResponses.{name}"
    if not isinstance(entries, Mapping) or not entries:
        raise MockConfigError(f"{where} must be a non-empty object keyed by invocation number.")
    ranged: list[tuple[int, int, str, MockResponse]] = []
    for key, entry in entries.items():
        match = _RANGE_KEY.match(key) if isinstance(key, str) else None
        if match is None:
            raise MockConfigError(
                f"{where} has key '{key}': keys must be an invocation number such as "
                "'0' or an inclusive range such as '1-3'."
            )
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        if end < start:
            raise MockConfigError(f"{where} has range '{key}' whose end is before its start.")
        ranged.append((start, end, key.strip(), _parse_response(f"{where}.{key}", entry)))
    ranged.sort(key=lambda item: item[0])
    responses: list[MockResponse] = []
    for start, end, key, response in ranged:
        if start != len(responses):
            problem = "overlaps an earlier key" if start < len(responses) else "leaves a gap"
            raise MockConfigError(
                f"{where} key '{key}' {problem}: invocation numbers must run from 0 "
                f"without gaps or overlaps (next expected: {len(responses)})."
            )
        responses.extend([response] * (end - start + 1))
    return MockedResponseSeries(
        name=name, responses=tuple(responses), keys=tuple(item[2] for item in ranged)
    )


def _parse_response(where: str, entry: Any) -> MockResponse:
    if not isinstance(entry, Mapping) or len(entry) != 1 or next(iter(entry)) not in (
        "Return",
        "Throw",
    ):
        raise MockConfigError(f"{where} must hold exactly one field: 'Return' or 'Throw'.")
    if "Return" in entry:
        return MockReturn(payload=copy.deepcopy(entry["Return"]))
    throw = entry["Throw"]
    if not isinstance(throw, Mapping) or not isinstance(throw.get("Error"), str):
        raise MockConfigError(f"{where}.Throw must be an object with a string 'Error'.")
    cause = throw.get("Cause", "")
    if not isinstance(cause, str):
        raise MockConfigError(f"{where}.Throw.Cause must be a string.")
    unknown = set(throw) - {"Error", "Cause"}
    if unknown:
        raise MockConfigError(f"{where}.Throw has unknown field(s) {sorted(unknown)}.")
    return MockThrow(error=throw["Error"], cause=cause)
