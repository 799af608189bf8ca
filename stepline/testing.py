"""Assertions on Stepline executions, for a project's own tests.

Works on any result the local engine or an endpoint returns (anything with
``status``, ``output``, ``error``, ``cause`` and a ``GetExecutionHistory``
shaped ``history``), so the same test reads the same whether a run was
mocked, local or on an endpoint::

    run = ExecutionView(result)
    run.assert_path("Validate the sales file", "Was the file accepted?", ...)
    assert run.notifications[-1].message["outcome"] == "SUCCEEDED"
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stepline.history import event_details, states_visited


@dataclass(frozen=True)
class Notification:
    """One ``sns:publish`` the execution attempted, decoded from its history."""

    state: str
    topic_arn: str | None
    subject: str | None
    message: Any
    sent: bool
    #: SNS message attributes (name -> value), which subscription filter policies read.
    attributes: dict[str, Any] = field(default_factory=dict)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event_details(event))


def _maybe_json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class ExecutionView:
    """A read-only view of one execution with helpers for asserting its path."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.history: list[dict[str, Any]] = list(result.history)

    @property
    def status(self) -> str:
        return str(self.result.status)

    @property
    def output(self) -> Any:
        return self.result.output

    @property
    def error(self) -> str | None:
        return self.result.error

    @property
    def cause(self) -> str | None:
        return self.result.cause

    @property
    def visited(self) -> list[str]:
        """State names in the order they were entered (repeats included)."""
        return states_visited(self.history)

    @property
    def notifications(self) -> list[Notification]:
        """Every SNS publish the run attempted, in order, and whether it was sent.

        A publish that failed and was retried counts once: sent if any attempt
        succeeded before the state was left.
        """
        found: list[Notification] = []
        state = ""
        pending: dict[str, Any] | None = None

        def flush(sent: bool) -> None:
            nonlocal pending
            if pending is not None:
                found.append(
                    Notification(
                        state=state,
                        topic_arn=pending.get("TopicArn"),
                        subject=pending.get("Subject"),
                        message=_maybe_json(pending.get("Message")),
                        sent=sent,
                        attributes={
                            name: value.get("StringValue", value.get("BinaryValue"))
                            for name, value in (pending.get("MessageAttributes") or {}).items()
                            if isinstance(value, dict)
                        },
                    )
                )
                pending = None

        for event in self.history:
            kind, details = event["type"], _details(event)
            if kind == "TaskScheduled" and details.get("resourceType") == "sns":
                pending = _maybe_json(details.get("parameters")) or {}
            elif kind == "TaskSucceeded":
                flush(sent=True)
            elif kind.endswith(("StateEntered", "StateExited")) or kind.startswith("Execution"):
                flush(sent=False)
                if kind.endswith("StateEntered"):
                    state = details.get("name", "")
        return found

    @property
    def sent_notifications(self) -> list[Notification]:
        return [n for n in self.notifications if n.sent]

    def retries(self, state: str) -> int:
        """How many times a Task state's work was scheduled again after failing."""
        scheduled = 0
        current: str | None = None
        for event in self.history:
            if event["type"].endswith("StateEntered"):
                current = _details(event).get("name")
            elif event["type"] == "TaskScheduled" and current == state:
                scheduled += 1
        entries = self.visited.count(state)
        return max(0, scheduled - entries)

    # -- assertions --------------------------------------------------------------

    def assert_path(self, *states: str) -> None:
        """The execution entered exactly these states, in this order."""
        assert self.visited == list(states), _diff(list(states), self.visited)

    def assert_visited(self, *states: str) -> None:
        missing = [s for s in states if s not in self.visited]
        assert not missing, f"states never entered: {missing}; path was {self.visited}"

    def assert_not_visited(self, *states: str) -> None:
        entered = [s for s in states if s in self.visited]
        assert not entered, f"states entered but should not be: {entered}; path was {self.visited}"

    def assert_status(self, status: str, error: str | None = None) -> None:
        assert self.status == status, f"status {self.status} ({self.error}: {self.cause})"
        if error is not None:
            assert self.error == error, f"error {self.error!r} != {error!r} (cause: {self.cause})"


def _diff(expected: Iterable[str], actual: Iterable[str]) -> str:
    expected, actual = list(expected), list(actual)
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return (
                f"path differs at step {index}: expected {want!r}, got {got!r}\nfull path: {actual}"
            )
    return f"expected {len(expected)} states, got {len(actual)}\nfull path: {actual}"
