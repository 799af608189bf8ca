"""Suite-wide settings.

Tests that need a SparkSession (marker ``spark``) or run the whole pipeline
locally (marker ``slow``) share one xdist worker (``--dist loadgroup``), so
the suite starts one JVM, not one per worker.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("spark") or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("spark"))
