"""The policy scanner (checkov) finds nothing in template.yaml that is not suppressed with a reason.

checkov (pinned with everything under it by .ci/checkov-constraints.txt) is installed
by `bash .ci/tools.sh` into .venv-checkov/, apart from the project venv whose pins it
clashes with. A new finding fails here until it is fixed or suppressed in the template
itself, on the resource, with a written reason::

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_116
            comment: why this finding does not apply here

and a suppression that no longer matches a finding fails too, so none outlives its reason.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stepline.definition import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"
CHECKOV = Path(os.environ.get("STEPLINE_CHECKOV", PROJECT_ROOT / ".venv-checkov/bin/checkov"))
#: A reason says something: which protection exists instead, or why none is needed.
SHORTEST_REASON = 40


@functools.cache
def _scan() -> dict[str, Any]:
    if not CHECKOV.is_file():
        message = f"{CHECKOV} is missing: run `bash .ci/tools.sh` (or set STEPLINE_CHECKOV)"
        if os.environ.get("CI"):
            pytest.fail(message + "; under CI it must exist")
        pytest.skip(message)
    completed = subprocess.run(
        [
            str(CHECKOV), "--file", str(TEMPLATE), "--framework", "cloudformation",
            "--skip-download", "--output", "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        # No platform key, no telemetry: the scan is local and offline.
        env={k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))},
    )  # fmt: skip
    # checkov exits 1 when a check fails; its JSON report says which.
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def _template_suppressions(resources: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(resource logical id, check id) -> the comment, for every skip in the template."""
    found: dict[tuple[str, str], str] = {}
    for logical_id, resource in resources.items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            found[(logical_id, skip["id"])] = str(skip.get("comment", ""))
    return found


def _resource_id(check: dict[str, Any]) -> str:
    """checkov names a resource ``<Type>.<logical id>``."""
    return str(check["resource"]).rsplit(".", 1)[-1]


def test_checkov_scanned_every_resource(resources: dict[str, Any]) -> None:
    """The scan is live: the whole template parsed, every resource seen, most checks passing."""
    summary = _scan()["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == len(resources)
    assert summary["passed"] >= 80


def test_checkov_finds_nothing_that_is_not_suppressed() -> None:
    """No failed check: each finding is fixed, or suppressed on its resource with a reason."""
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in _scan()["results"]["failed_checks"]
    ]
    assert failed == []


def test_every_suppression_has_a_reason_and_a_finding(resources: dict[str, Any]) -> None:
    """Each skip in the template is reasoned, and matches a finding checkov really skipped."""
    in_template = _template_suppressions(resources)
    short = {key: why for key, why in in_template.items() if len(why) < SHORTEST_REASON}
    assert short == {}, "say why the finding does not apply"
    skipped = {
        (_resource_id(check), check["check_id"]): check["check_result"].get("suppress_comment")
        for check in _scan()["results"]["skipped_checks"]
    }
    assert set(skipped) == set(in_template), "a suppression no finding needs, or one not read"
    assert all(skipped[key] == in_template[key] for key in skipped)
