"""The day-published notification counts stores against the stage's expected list.

The subject is what an on-call engineer reads first, so it is checked on the
deployed expression itself (the ASL with the stage's values substituted),
evaluated by the local runtime's JSONata for the cases that matter: every
expected store in, some missing, stores that are not on the list, no list.
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
