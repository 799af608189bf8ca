"""The CLI and the pytest plugin read the user's project, and the same one.

A copy of this project with its own dev MaxRejectRatio (0.5 instead of 0.05) stands in
for a user's project: ``stepline validate --stage dev`` run inside it, and a pytest run
inside it using the ``stepline`` fixture, must both see 0.5, not the values of the
checkout Stepline is installed from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepline.definition import (
    PROJECT_ROOT,
    PROJECT_ROOT_VARIABLE,
    DefinitionError,
    find_project_root,
)

# What load_deployed_stack reads: the template, the stages, the ASL, the code SAM packages.
PROJECT_FILES = ["template.yaml", "samconfig.toml", "statemachines", "functions", "emr_jobs"]
KEY = "sales/date=2026-11-20/store=store_002/sales.csv"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    root.mkdir()
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    samconfig = root / "samconfig.toml"
    text = samconfig.read_text()
    assert text.count('"MaxRejectRatio=0.05"') == 1
    samconfig.write_text(text.replace('"MaxRejectRatio=0.05"', '"MaxRejectRatio=0.5"'))
    (root / "sub").mkdir()
    return root


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != PROJECT_ROOT_VARIABLE}


def test_the_project_is_the_nearest_folder_with_a_template_and_stages(
    project: Path, monkeypatch
) -> None:
    """From the project or any folder under it; the variable overrides; else this checkout."""
    monkeypatch.delenv(PROJECT_ROOT_VARIABLE, raising=False)
    assert find_project_root(project / "sub") == project
    assert find_project_root(project.parent) == PROJECT_ROOT
    monkeypatch.setenv(PROJECT_ROOT_VARIABLE, str(project))
    assert find_project_root(PROJECT_ROOT) == project
    monkeypatch.setenv(PROJECT_ROOT_VARIABLE, str(project / "sub"))
    with pytest.raises(DefinitionError, match=r"holds no template\.yaml"):
        find_project_root()


def test_the_cli_and_the_plugin_read_the_same_users_project(project: Path) -> None:
    """validate --stage dev in the project and the fixture in the project both see 0.5."""
    sample = PROJECT_ROOT / "events/samples/with_bad_rows.csv"
    validate = subprocess.run(
        [sys.executable, "-m", "stepline.cli", "validate", str(sample), "--key", KEY,
         "--stage", "dev", "--json"],
        cwd=project / "sub", env=_environment(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stderr
    assert json.loads(validate.stdout)["max_reject_ratio"] == 0.5

    (project / "test_acme.py").write_text(
        "def test_the_fixture_reads_this_project(stepline):\n"
        "    assert stepline.deployed.parameters['MaxRejectRatio'] == '0.5'\n"
        f"    assert str(stepline.deployed.project_root) == {str(project)!r}\n"
        f"    assert str(stepline.local_session().project_root) == {str(project)!r}\n"
    )
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_acme.py"],
        cwd=project, env=_environment(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
