"""Cold start: importing a handler module leaves out what only some invocations need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(FUNCTIONS), "PATH": "/usr/bin:/bin"},
    )
    return set(result.stdout.split())


def test_importing_the_validation_handler_loads_neither_numpy_nor_xray_nor_pydantic() -> None:
    """numpy (validation only), the X-Ray SDK (the Tracer, first call) and pydantic (the
    event's model, parsed per invocation) wait for an invocation."""
    modules = _modules_after("import validate_sales_file.app")
    assert "validate_sales_file.app" in modules
    assert not {"numpy", "aws_xray_sdk", "sales_contract.columnar", "pydantic"} & modules


def _first_invocation(environ: str) -> set[str]:
    return _modules_after(
        f"import os; os.environ.update(dict({environ})); import validate_sales_file.app as app; "
        "assert app._traced(app._measured_handler) is app._traced(app._measured_handler)"
    )


def test_the_first_invocation_in_lambda_makes_the_tracer() -> None:
    """In the Lambda runtime the handler wraps itself in the Tracer, once."""
    assert "aws_xray_sdk" in _first_invocation("LAMBDA_TASK_ROOT='/var/task'")


def test_with_tracing_off_the_xray_sdk_is_never_loaded() -> None:
    """POWERTOOLS_TRACE_DISABLED (and any run outside Lambda) skips the Tracer altogether."""
    environ = "LAMBDA_TASK_ROOT='/var/task', POWERTOOLS_TRACE_DISABLED='true'"
    assert "aws_xray_sdk" not in _first_invocation(environ)
    assert "aws_xray_sdk" not in _first_invocation("")
