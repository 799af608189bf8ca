"""Helpers for the local engine's tests: tiny purpose-built state machines."""

from __future__ import annotations

import datetime as dt
from typing import Any

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition whose states run in the order given (the last one ends)."""
    built: dict[str, Any] = {}
    for index, (name, state) in enumerate(states):
        state = dict(state)
        terminal = state["Type"] in ("Succeed", "Fail", "Choice")
        if not terminal and "Next" not in state and "End" not in state:
            if index + 1 < len(states):
                state["Next"] = states[index + 1][0]
            else:
                state["End"] = True
        built[name] = state
    return {"StartAt": states[0][0], "States": built, **top}


def mock_file(test_cases: dict[str, dict[str, str]], responses: dict[str, Any],
              name: str = "Machine") -> dict[str, Any]:
    """A MockConfigFile for one state machine."""
    return {"StateMachines": {name: {"TestCases": test_cases}}, "MockedResponses": responses}


def parse_ts(timestamp: str) -> dt.datetime:
    return dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def seconds_between(earlier: str, later: str) -> float:
    return (parse_ts(later) - parse_ts(earlier)).total_seconds()
