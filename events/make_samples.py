"""Rebuild the sample CSVs, their Object Created events and manifest.json.

Run from the repository root after changing the generator or the contract::

    .venv/bin/python events/make_samples.py

Everything is deterministic, so an unchanged generator rewrites identical files.
The events carry no version id (except the bad-key one, which is never read) so
they can be replayed against any bucket where the sample was uploaded under the
event's key; the local runtime builds events with real version ids instead.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sales_contract import COLUMNS

from stepline.commands.validate import validate_local_file
from stepline.sample_data import (
    EXAMPLE_LAKE_BUCKET,
    EXAMPLE_RAW_BUCKET,
    object_created_event,
    s3_etag,
    write_sales_csv,
)

EVENTS = Path(__file__).resolve().parent
SAMPLES = EVENTS / "samples"
RUN_DATE = "2026-11-20"
ARRIVED_AT = dt.datetime(2026, 11, 20, 23, 5, 12, tzinfo=dt.UTC)

# (event file, sample file, raw key, version id, description)
ARRIVALS = [
    ("object_created_store_001.json", "good.csv",
     f"sales/date={RUN_DATE}/store=store_001/sales.csv", None,
     "good file with 2 duplicate (order_id, sku) rows for the clean step to remove"),
    ("object_created_store_002.json", "with_bad_rows.csv",
     f"sales/date={RUN_DATE}/store=store_002/sales.csv", None,
     "2 bad rows in 200 (exactly MaxRejectRatio 0.01): accepted, rejects file written"),
    ("object_created_store_003_gz.json", "good.csv.gz",
     f"sales/date={RUN_DATE}/store=store_003/sales.csv.gz", None, "gzip file"),
    ("object_created_store_004_header_only.json", "header_only.csv",
     f"sales/date={RUN_DATE}/store=store_004/sales.csv", None,
     "header only: accepted with zero rows (NO_DATA notification)"),
    ("object_created_store_005_bad_header.json", "bad_header.csv",
     f"sales/date={RUN_DATE}/store=store_005/sales.csv", None,
     "unknown column colour, missing category: file rejected"),
    ("object_created_bad_key.json", "good.csv", f"sales/{RUN_DATE}/store_001.csv",
     "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
     "key breaks the pattern: rejected, recorded under quarantine/unmatched_keys/"),
]


def write_samples() -> None:
    SAMPLES.mkdir(exist_ok=True)
    write_sales_csv(SAMPLES / "good.csv", RUN_DATE, "store_001", 40, seed=7, duplicates=2)
    write_sales_csv(SAMPLES / "with_bad_rows.csv", RUN_DATE, "store_002", 200, seed=7, bad_rows=2)
    write_sales_csv(SAMPLES / "good.csv.gz", RUN_DATE, "store_003", 60, seed=7, gzip=True)
    (SAMPLES / "header_only.csv").write_text(",".join(COLUMNS) + "\n")
    (SAMPLES / "bad_header.csv").write_text(
        "order_id,store_id,sold_at,sku,colour,quantity,unit_price\n"
        "store_005-20261120-000001,store_005,2026-11-20T09:12:44+01:00,APP-00012,navy,1,19.99\n"
        "store_005-20261120-000002,store_005,2026-11-20T09:30:02+01:00,APP-00031,red,2,24.50\n"
    )


def write_events_and_manifest() -> None:
    arrivals = []
    for position, (event_name, sample, key, version_id, description) in enumerate(ARRIVALS):
        data = (SAMPLES / sample).read_bytes()
        event = object_created_event(
            EXAMPLE_RAW_BUCKET,
            key,
            size=len(data),
            etag=s3_etag(data),
            version_id=version_id,
            time=ARRIVED_AT + dt.timedelta(seconds=7 * position),
        )
        (EVENTS / event_name).write_text(json.dumps(event, indent=2) + "\n")
        verdict = validate_local_file(SAMPLES / sample, key)
        expected = ("accepted", "rows", "good_rows", "rejected_rows", "rejection_reason")
        arrivals.append(
            {
                "event": event_name,
                "upload": f"samples/{sample}",
                "key": key,
                "description": description,
                "expected": {name: verdict[name] for name in expected},
            }
        )
    manifest = {
        "raw_bucket": EXAMPLE_RAW_BUCKET,
        "lake_bucket": EXAMPLE_LAKE_BUCKET,
        "arrivals": arrivals,
    }
    (EVENTS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    write_samples()
    write_events_and_manifest()
