"""The handler's own check of the S3 event agrees with Powertools' pydantic model of it.

``checked_event`` spares the cold start pydantic: it must accept only events the
model accepts, reading the same values, and leave every other event to the model
(which then accepts it or raises its own error). Each checked-in event and
hundreds of variants of it (a field missing, null, of another type, another
form of the time...) are given to both.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import ValidationError
from validate_sales_file.service import checked_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(EVENTS.glob("object_created_*.json"))
#: Values every field is set to in turn (and the field removed).
VALUES: list[Any] = [
    None, "", "x", "12", 0, 7, -1, 1.5, 2**53, True, [], ["a"], [1], {}, {"name": "b"},
    "2026-11-30T23:00:00+01:00", "2026-11-30T23:00:00.123Z", "2026-02-30T00:00:00Z",
    "2026-11-30 23:00:00Z", "1764543600",
]
_MISSING = object()


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield (*prefix, name)
            yield from _paths(item, (*prefix, name))


def _variant(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    parent = changed
    for name in path[:-1]:
        parent = parent[name]
    if value is _MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def _variants(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield event
    for path in _paths(event):
        for value in (_MISSING, *VALUES):
            yield _variant(event, path, value)
    # Fields the model has but the samples may not, and names it also accepts.
    for path in (("replay-name",), ("detail_type",), ("replay_name",), ("detail", "reason"),
                 ("detail", "object", "version-id"), ("detail", "object", "sequencer")):
        for value in ("x", None, 3):
            yield _variant(event, path, value)


def _fields(arrival: Any) -> tuple[Any, ...]:
    item = arrival.detail.object
    size = None if item.size is None else int(item.size)
    return arrival.detail.bucket.name, item.key, size, item.etag, item.version_id


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_the_fast_check_accepts_only_what_the_model_accepts_with_the_same_values(
    sample: Path,
) -> None:
    event = json.loads(sample.read_text())
    assert checked_event(event) is not None, "a checked-in event must take the fast path"
    fast_path = 0
    for variant in _variants(event):
        checked = checked_event(variant)
        try:
            parsed = parse(event=variant, model=S3EventNotificationEventBridgeModel)
        except ValidationError:
            assert checked is None, variant
            continue
        if checked is not None:
            fast_path += 1
            assert _fields(checked) == _fields(parsed), variant
    assert fast_path > 10  # the variants the check proves valid are many, not just the sample


def test_anything_but_an_object_is_left_to_the_model() -> None:
    for event in (None, [], "event", 3):
        assert checked_event(event) is None
