"""Notification subjects say what an on-call engineer needs first, on the deployed expressions.

Each is checked on the ASL with the stage's values substituted, evaluated by
the local runtime's JSONata: the day-published subject counts stores against
the stage's expected list (every expected store in, some missing, stores off
the list, no list), and an arrival's subject names its store-day, or the key
when the key breaks the pattern and has neither.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from definition_support import raw_text, stack, states_of

from stepline.definition import resolve_definition_text
from stepline.local.adapter.jsonata import evaluate_jsonata

PUBLISH = "SalesPublishStateMachine"
NOTIFY = "Notify that the day was published"
DAY = "2026-11-20"


def _notify(expected: str) -> dict[str, Any]:
    substitutions = dict(stack("dev").machine(PUBLISH).substitutions, ExpectedStores=expected)
    definition = json.loads(resolve_definition_text(raw_text(PUBLISH), substitutions))
    arguments: dict[str, Any] = states_of(definition)[NOTIFY]["Arguments"]
    return arguments


def _evaluate(template: str, included: list[str]) -> Any:
    assert template.startswith("{%") and template.endswith("%}")
    bindings = {
        "day": DAY,
        "summary": {
            "stores": [{"store_id": store} for store in included],
            "totals": {"revenue": "1.00", "units": 1, "orders": 1, "returns": 0},
            "rows": len(included),
        },
        "storeDays": [{"store_id": {"S": s}, "status": {"S": "SUCCEEDED"}} for s in included],
        "passes": 0,
        "publish": "p-c1",
        "report": {"latest_uri": "s3://l/r.csv", "output_uri": "s3://l/q.csv",
                   "query_execution_id": "q"},
        "emrStep": "s",
        "expiry": {"status": "OK"},
        "states": {"context": {"Execution": {"Id": "arn:aws:states:::execution:p:e"}}},
    }
    return evaluate_jsonata(template[2:-2], bindings)


@pytest.mark.parametrize(
    ("expected", "included", "subject", "not_expected"),
    [
        ("a,b", ["a", "b"], "2 of 2 stores", []),
        ("a,b,c,d", ["a"], "1 of 4 stores", []),
        # Stores off the list are not counted as expected ones (it said "2 of 4").
        ("a,b,c,d", ["x", "y"], "0 of 4 stores (+2 not expected)", ["x", "y"]),
        ("a,b", ["a", "b", "x"], "2 of 2 stores (+1 not expected)", ["x"]),
        ("", ["x", "y"], "2 stores", []),
        (" a , b ", ["b"], "1 of 2 stores", []),
    ],
)
def test_the_subject_counts_only_the_expected_stores(
    expected: str, included: list[str], subject: str, not_expected: list[str]
) -> None:
    arguments = _notify(expected)
    assert _evaluate(arguments["Subject"], included) == (
        f"Stepline sales {DAY}: day published, {subject}"
    )
    message = json.loads(_evaluate(arguments["Message"], included))
    assert message["not_expected"] == not_expected
    assert message["stores_included"] == included


def _arrival_subjects() -> list[tuple[str, str, str]]:
    """(machine, state, Subject) of every notification naming an arrival's store-day."""
    found = []
    for machine in ("SalesArrivalStateMachine", "SalesRecoveryStateMachine"):
        definition = json.loads(
            resolve_definition_text(raw_text(machine), stack("dev").machine(machine).substitutions)
        )
        for name, state in states_of(definition).items():
            subject = state.get("Arguments", {}).get("Subject", "")
            if "$arrival" in subject:
                found.append((machine, name, subject))
    return found


@pytest.mark.parametrize(
    ("machine", "state", "subject"), _arrival_subjects(), ids=lambda v: str(v)[:40]
)
def test_an_arrival_subject_names_the_store_day_or_else_the_key(
    machine: str, state: str, subject: str
) -> None:
    """A key that breaks the pattern has no date or store: the subject names the key instead."""
    others = {"counts": {"rows_out": 5}, "failedState": "Validate", "dead": {"status": "TIMED_OUT"}}
    known = {"run_date": DAY, "store_id": "store_001", "key": "sales/date=x/a.csv"}
    text = evaluate_jsonata(subject[2:-2], {"arrival": known, **others})
    assert text.startswith(f"Stepline sales {DAY} store_001: ") and "key" not in text
    unknown = {"run_date": None, "store_id": None, "key": "sales/stray.csv"}
    text = evaluate_jsonata(subject[2:-2], {"arrival": unknown, **others})
    assert text.startswith("Stepline sales: ") and text.endswith(", key sales/stray.csv")
    assert len(text) <= 100


def test_the_arrival_subjects_are_found() -> None:
    """The test above is parametrised by a search: it finds the 4 outcomes and the recovery's."""
    assert len(_arrival_subjects()) >= 5
