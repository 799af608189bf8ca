"""No state's input or output grows with the file: measured from a real arrival's history.

Step Functions carries at most 256 KiB per state, and the arrival keeps the
validation result as a variable; only counts and the first reasons travel, never
rows. The worst file for that is not a big one but one whose bad values are huge
(reasons quote the value), so the test lands one: 2,000 rows, 200 of them with
a 20,000-character value in a different column each, which the dev stage rejects
(10% > MaxRejectRatio 0.05) with the real Lambda, in-process. Every input and
output in the history of every execution it caused must stay within 8 KiB.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from stepline.local.session import LocalSession
from stepline.sample_data import write_sales_csv

RUN_DATE = "2026-11-20"
LIMIT = 8 * 1024
HUGE = "9" * 20_000


def _huge_values_file(path: Path) -> Path:
    good = path.with_name("good.csv")
    write_sales_csv(good, RUN_DATE, "store_001", 2_000, seed=3)
    with good.open(newline="") as source, path.open("w", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        columns = ["store_id", "sold_at", "quantity", "unit_price"]
        for number, row in enumerate(reader):
            if number % 10 == 0:
                row[columns[number // 10 % len(columns)]] = HUGE
            writer.writerow(row)
    return path


def _sizes(history: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(bytes, event type, field) of every input and output the history holds."""
    found = []
    for event in history:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        for field in ("input", "output"):
            value = details.get(field)
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                found.append((len(text.encode()), event["type"], f"{details.get('name')}.{field}"))
    return found


def test_no_state_input_or_output_exceeds_8_kib(tmp_path: Path) -> None:
    """Rejected for too many huge bad values: every state's data stays under 8 KiB."""
    path = _huge_values_file(tmp_path / "huge.csv")
    with LocalSession("dev", workdir=tmp_path / "local", lambda_logs=False) as env:
        env.deliver(env.land_file(path, f"sales/date={RUN_DATE}/store=store_001/sales.csv"))
        env.wait()
        executions = env.stepfunctions.executions()
        assert env.store_day(RUN_DATE, "store_001")["status"] == "REJECTED"
        measured = [
            size
            for execution in executions
            if execution.result is not None
            for size in _sizes(execution.result.history)
        ]
    assert len(measured) > 20, "the history was read"
    largest = max(measured)
    assert largest[0] <= LIMIT, f"{largest} is over 8 KiB"
