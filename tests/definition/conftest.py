"""Fixtures for the definition checks: a throw-away copy of the deploy inputs to alter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from publish_pipeline_assets.assets import VALIDATOR_PACKAGES

from stepline.definition import PROJECT_ROOT


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The deploy inputs (template, samconfig, ASL, job scripts), copied for a test to edit."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("template.yaml", "samconfig.toml", "local_bindings.py"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "statemachines", root / "statemachines")
    # Custom::PipelineAssets publishes every script of the layer (aggregate_sales.py,
    # sales_lake.py): the URIs are content hashes, so the copy needs them all.
    (root / "emr_jobs").mkdir()
    for script in (PROJECT_ROOT / "emr_jobs").glob("*.py"):
        shutil.copy(script, root / "emr_jobs" / script.name)
    # It zips the Glue validation job's packages from functions/ too (content-addressed).
    for package in VALIDATOR_PACKAGES:
        shutil.copytree(
            PROJECT_ROOT / "functions" / package,
            root / "functions" / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return root
