"""A validation process keeps the memory its scan frees (glibc malloc's thresholds).

functions/sales_contract/allocator.py says why; README "Performance" gives what it saves.
"""

from __future__ import annotations

import platform

import pytest
from sales_contract import allocator

from stepline.cli import main
from stepline.definition import load_deployed_stack
from stepline.sample_data import write_sales_csv


def test_glibc_accepts_the_validation_thresholds() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's thresholds are glibc's; elsewhere the call does nothing")
    allocator.keep_freed_buffers.cache_clear()
    # mallopt returns 0 for a value glibc refuses (an mmap threshold above its maximum).
    assert allocator.keep_freed_buffers()


def test_the_lambda_gets_the_thresholds_stepline_validate_sets() -> None:
    """The Lambda cannot call mallopt before its runtime starts: glibc reads its environment."""
    validation = next(
        spec
        for spec in load_deployed_stack("dev").functions.values()
        if spec.handler == "validate_sales_file.app.lambda_handler"
    )
    assert validation.environment["MALLOC_MMAP_THRESHOLD_"] == str(
        allocator.VALIDATION_MMAP_THRESHOLD_BYTES
    )
    assert validation.environment["MALLOC_TRIM_THRESHOLD_"] == str(
        allocator.VALIDATION_TRIM_THRESHOLD_BYTES
    )


def test_stepline_validate_applies_them(tmp_path, monkeypatch, capsys) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        "stepline.commands.validate.keep_freed_buffers", lambda: calls.append("kept")
    )
    path = tmp_path / "sales.csv"
    write_sales_csv(path, "2026-11-20", "store_001", 50, seed=1)
    code = main(
        ["validate", str(path), "--key", "sales/date=2026-11-20/store=store_001/sales.csv"]
    )
    assert (code, calls) == (0, ["kept"])
