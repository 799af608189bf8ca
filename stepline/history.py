"""Reading a Step Functions execution history: which states an execution entered.

Works on the ``events`` of ``GetExecutionHistory`` as AWS returns them (or
as the local engine records them): the one definition of "states visited"
that :class:`~stepline.local.ExecutionResult`,
:class:`~stepline.testing.ExecutionView` and :mod:`stepline.report` share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["entered_state", "event_details", "states_visited"]

_ENTERED_SUFFIX = "StateEntered"


def event_details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one ``...EventDetails`` object of an event (empty when it has none)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def entered_state(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(state name, state type)`` when the event enters a state, else None."""
    event_type = str(event.get("type", ""))
    if not event_type.endswith(_ENTERED_SUFFIX):
        return None
    name = event_details(event).get("name")
    if name is None:
        return None
    return str(name), event_type.removesuffix(_ENTERED_SUFFIX)


def states_visited(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the states entered, in event order (repeats, Map/Parallel inner states too)."""
    events = list(history)
    if events and all(isinstance(event.get("id"), int) for event in events):
        # A history read with reverseOrder=True comes newest first; ids restore the order.
        events.sort(key=lambda event: event["id"])
    return [entered[0] for event in events if (entered := entered_state(event)) is not None]
