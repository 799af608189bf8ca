"""The whole pipeline in local mode: real handler, real Spark jobs, real SQL, on stand-ins.

One test, because it is the expensive one (a SparkSession and two full
executions): it lands two stores' generated files, replays their arrival
events through the dev definition, and checks the warehouse rows DuckDB holds
against aggregates computed here, independently, from the input CSVs.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pytest

from stepline.sample_data import write_sales_csv

RUN_DATE = "2026-11-20"
STORES = {
    "store_a": dict(rows=120, duplicates=4, gzip=False),
    "store_b": dict(rows=80, duplicates=0, gzip=True),
}


def expected_daily_sales(paths):
    """Dedupe (order_id, sku) keeping the latest sold_at, then aggregate per store and category."""
    latest = {}
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["store_id"], row["order_id"], row["sku"])
                when = datetime.fromisoformat(row["sold_at"].replace("Z", "+00:00"))
                if key not in latest or when > latest[key][0]:
                    latest[key] = (when, row)
    totals = defaultdict(lambda: {"revenue": Decimal(0), "units": 0, "orders": set(), "returns": 0})
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


@pytest.mark.slow
@pytest.mark.spark
def test_local_mode_loads_the_day_into_the_warehouse(stepline, tmp_path):
    """Two stores' files go through every real step; DuckDB holds exactly the expected rows."""
    inputs = []
    with stepline.local_session(workdir=tmp_path / "local") as session:
        runs = []
        for index, (store, options) in enumerate(STORES.items()):
            suffix = ".csv.gz" if options["gzip"] else ".csv"
            path = tmp_path / f"{store}{suffix}"
            write_sales_csv(
                path,
                RUN_DATE,
                store,
                options["rows"],
                seed=index,
                duplicates=options["duplicates"],
                gzip=options["gzip"],
            )
            inputs.append(path)
            key = f"sales/date={RUN_DATE}/store={store}/sales{suffix}"
            runs.append(session.replay(session.land_file(path, key)))

        for run, (store, options) in zip(runs, STORES.items(), strict=True):
            assert run.result.status == "SUCCEEDED", (run.result.error, run.result.cause)
            [note] = run.notifications
            message = note["message"]
            assert message["outcome"] == "SUCCEEDED"
            assert message["store_id"] == store
            assert message["rows_in"] == options["rows"]
            assert message["rows_deduplicated"] == options["duplicates"]
            assert message["rows_loaded"] == options["rows"] - options["duplicates"]

        rows = session.services.warehouse.query(
            "SELECT store_id, category, revenue, units, orders, returns FROM sales.daily_sales "
            f"WHERE sale_date = DATE '{RUN_DATE}'"
        )
        actual = {
            (r["store_id"], r["category"]): (
                Decimal(str(r["revenue"])),
                r["units"],
                r["orders"],
                r["returns"],
            )
            for r in rows
        }
        assert len(rows) == len(actual), "one warehouse row per store and category"
        assert actual == expected_daily_sales(inputs)

        # The report the last run wrote covers the whole day: every store's categories.
        report_uri = runs[-1].result.output["report"]["output_uri"]
        with session.lake.path_for(report_uri).open(newline="") as handle:
            report = list(csv.DictReader(handle))
        assert {(r["store_id"], r["category"]) for r in report} == set(actual)

        # Replaying the same arrival again (EventBridge delivers at least once) changes nothing.
        again = session.replay(runs[0].event)
        assert again.result.status == "SUCCEEDED"
        rerun_rows = session.services.warehouse.query(
            f"SELECT COUNT(*) AS n FROM sales.daily_sales WHERE sale_date = DATE '{RUN_DATE}'"
        )
        assert rerun_rows[0]["n"] == len(actual)

    # The raw files are untouched in the local raw bucket.
    raw_root = tmp_path / "local" / "dev" / "s3" / session.raw_bucket
    for path, store in zip(inputs, STORES, strict=True):
        landed = raw_root / f"sales/date={RUN_DATE}/store={store}/sales{''.join(path.suffixes)}"
        assert landed.read_bytes() == path.read_bytes()
