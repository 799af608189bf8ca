"""Fixtures for the definition checks: a throw-away copy of the deploy inputs to alter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stepline.definition import PROJECT_ROOT


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The deploy inputs (template, samconfig, ASL, EMR script), copied for a test to edit."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "statemachines", root / "statemachines")
    (root / "emr_jobs").mkdir()
    shutil.copy(PROJECT_ROOT / "emr_jobs/aggregate_sales.py", root / "emr_jobs/aggregate_sales.py")
    return root
