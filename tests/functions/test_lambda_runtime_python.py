"""The Lambda code's own tests, on the Python its runtime deploys (template.yaml's Runtime).

The suite runs on Python 3.11 (Glue 5.0's, which the Spark jobs need), but the
functions deploy on the template's Lambda runtime. ``.ci/tools.sh`` builds
``.venv-py312/`` with that interpreter, the functions' requirements
(``functions/requirements.txt``) and what their tests need, all pinned by
``constraints.txt``; this test runs ``tests/functions`` and the contract tests
that need no Stepline CLI with it, with the functions and Stepline's source on
the path (nothing of the project is installed there).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stepline.definition import PROJECT_ROOT, load_template

VENV = PROJECT_ROOT / ".venv-py312"
#: What runs under the Lambda's Python: everything of the functions and the contract
#: but the tests driving the `stepline` CLI (the CLI needs the whole project, 3.11 only)
#: and the memory bound, which says nothing about the interpreter and takes 7 s.
TESTS = ["tests/functions", "tests/contract"]
NOT_THERE = [
    "tests/contract/test_contract_cli.py",
    "tests/contract/test_contract_corpus.py",
    "tests/contract/test_contract_memory.py",
    "tests/functions/test_lambda_runtime_python.py",
]


def _deployed_python() -> tuple[int, int]:
    runtime = load_template(PROJECT_ROOT / "template.yaml")["Globals"]["Function"]["Runtime"]
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    assert match, runtime
    return int(match[1]), int(match[2])


def test_the_lambda_tests_pass_on_the_python_the_functions_deploy_on(tmp_path: Path) -> None:
    """tests/functions and the contract tests pass under the template's Lambda runtime Python."""
    wanted = _deployed_python()
    python = VENV / "bin" / "python"
    if not python.exists():
        needs = "python{}.{}".format(*wanted)
        message = f"{VENV} is missing: run `bash .ci/tools.sh` (needs a {needs})"
        if os.environ.get("CI"):
            pytest.fail(message + "; under CI it must exist")
        pytest.skip(message)
    version = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tuple(map(int, version)) == wanted, f"{VENV} runs Python {version}, deploys {wanted}"
    assert sys.version_info[:2] != wanted, "the suite itself already runs on the Lambda's Python"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "functions"), str(PROJECT_ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [
            str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--basetemp", str(tmp_path / "pytest"),
            *TESTS, *(f"--ignore={path}" for path in NOT_THERE),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary
