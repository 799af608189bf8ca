"""Constants and helpers of the operations tests."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOCKS = json.loads((ROOT / "tests/mocks/sales_pipeline.mock.json").read_text())
DAY = "2026-11-20"


def key(store: str, day: str = DAY) -> str:
    return f"sales/date={day}/store={store}/sales.csv"
