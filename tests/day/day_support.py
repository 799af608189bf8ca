"""Helpers of the day tests: store files, the independent sums, the warehouse and report readers."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stepline.local.session import LocalSession
from stepline.sample_data import write_sales_csv

RUN_DATE = "2026-11-20"


DayRows = dict[tuple[str, str], tuple[Decimal, int, int, int]]


def expected_day(paths: Iterable[Path]) -> DayRows:
    """Dedupe (order_id, sku) keeping the latest sold_at, then sum per store and category."""
    latest: dict[tuple[str, str, str], tuple[datetime, dict[str, str]]] = {}
    for path in paths:
        opener: Any = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["store_id"], row["order_id"], row["sku"])
                when = datetime.fromisoformat(row["sold_at"].replace("Z", "+00:00"))
                if key not in latest or when > latest[key][0]:
                    latest[key] = (when, row)
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"revenue": Decimal(0), "units": 0, "orders": set(), "returns": 0}
    )
    for _, row in latest.values():
        bucket = totals[(row["store_id"], row["category"])]
        quantity = int(row["quantity"])
        bucket["revenue"] += quantity * Decimal(row["unit_price"])
        if quantity > 0:
            bucket["units"] += quantity
            bucket["orders"].add(row["order_id"])
        else:
            bucket["returns"] -= quantity
    return {
        key: (v["revenue"], v["units"], len(v["orders"]), v["returns"]) for key, v in totals.items()
    }


def warehouse_day(env: LocalSession, run_date: str = RUN_DATE) -> DayRows:
    """What the local Redshift holds for the date, in the same shape."""
    rows = env.services.warehouse.query(
        "SELECT store_id, category, revenue, units, orders, returns FROM sales.daily_sales "
        f"WHERE sale_date = DATE '{run_date}'"
    )
    day = {
        (r["store_id"], r["category"]): (
            Decimal(str(r["revenue"])),
            r["units"],
            r["orders"],
            r["returns"],
        )
        for r in rows
    }
    assert len(day) == len(rows), "one warehouse row per store and category"
    return day


def report_day(env: LocalSession, run_date: str = RUN_DATE) -> DayRows:
    """The day's latest Athena report (the one the last publish recorded), in the same shape."""
    record = env.publish_record(run_date)
    assert record is not None and record.get("published_report"), record
    assert env.lake is not None
    # At the date's one key, a copy the publish made in S3.
    assert record["published_report"].endswith(f"/reports/latest/daily_sales/date={run_date}.csv")
    env.lake.pull(record["published_report"])
    with env.lake.path_for(record["published_report"]).open(newline="") as handle:
        return {
            (r["store_id"], r["category"]): (
                Decimal(r["revenue"]),
                int(r["units"]),
                int(r["orders"]),
                int(r["returns"]),
            )
            for r in csv.DictReader(handle)
        }


@dataclass
class StoreFiles:
    """Writes each store's file for the run date, deterministic per store and version."""

    folder: Path

    def write(self, store: str, *, version: int = 1, rows: int = 40, duplicates: int = 2) -> Path:
        path = self.folder / f"{store}-v{version}.csv"
        write_sales_csv(
            path,
            RUN_DATE,
            store,
            rows,
            seed=zlib.crc32(f"{store}/{version}".encode()),
            duplicates=duplicates,
        )
        return path

    @staticmethod
    def key(store: str, name: str = "sales") -> str:
        return f"sales/date={RUN_DATE}/store={store}/{name}.csv"


def arrive(
    env: LocalSession, path: Path, key: str, *, times: int = 1
) -> tuple[dict[str, Any], str]:
    """Land a file and deliver its event; returns the event and its arrival's execution name."""
    event = env.land_file(path, key)
    env.deliver(event, times=times)
    return event, env.arrival_of(event)[0]


def executions(env: LocalSession, machine: str) -> list[Any]:
    return env.stepfunctions.executions(machine)
