"""Re-uploads re-derive the store-day: the latest file, whatever its outcome, is the store-day.

Each test ends with the warehouse and the report equal to the day computed in
plain Python from the latest accepted file of each store (``expected_day``).
"""

from __future__ import annotations

import csv

import pytest
from day_support import RUN_DATE, arrive, expected_day, report_day, warehouse_day

from stepline.ops.ledger import RunLedger

pytestmark = pytest.mark.spark

HEADER = "order_id,store_id,sold_at,sku,category,quantity,unit_price\n"


def test_a_header_only_reupload_empties_the_store_day_and_no_later_arrival_brings_it_back(
    env, files
):
    """Issue 8: a header-only re-upload kept the old rows; a later arrival re-aggregated them."""
    a, b = files.write("store_a"), files.write("store_b")
    arrive(env, a, files.key("store_a"))
    arrive(env, b, files.key("store_b"))
    env.wait()
    assert warehouse_day(env) == expected_day([a, b])

    header_only = files.folder / "store_a-empty.csv"
    header_only.write_text(HEADER)
    arrive(env, header_only, files.key("store_a", "evening"))  # a second file of the day
    env.wait()
    assert RunLedger(env).store_day(RUN_DATE, "store_a")["status"] == "NO_DATA"
    assert warehouse_day(env) == report_day(env) == expected_day([b])

    b2 = files.write("store_b", version=2, rows=20, duplicates=0)
    _, b2_run = arrive(env, b2, files.key("store_b"))  # any later arrival re-aggregates the date
    env.wait()
    assert warehouse_day(env) == report_day(env) == expected_day([b2])

    # Expiry: the lake keeps the current and previous generations, nothing older.
    ledger = RunLedger(env)
    published = ledger.publish_record(RUN_DATE)
    assert published is not None
    lake = next(b for b in env.buckets if "-lake-" in b)
    keys = [
        o["Key"]
        for page in env.client("s3").get_paginator("list_objects_v2").paginate(Bucket=lake)
        for o in page.get("Contents", [])
    ]
    curated = {
        k.split("/")[3] for k in keys if k.startswith(f"curated/daily_sales/sale_date={RUN_DATE}/")
    }
    assert f"publish={published['published_pass']}" in curated and len(curated) == 2, curated
    clean = {tuple(k.split("/")[3:5]) for k in keys if k.startswith("clean/sales/")}
    # store_a holds no data (its latest file was empty) and neither of the last two
    # passes read its old generation: gone. store_b: b2 (current) and b (previous pass).
    assert {store for store, _ in clean} == {"store_id=store_b"}, clean
    assert ("store_id=store_b", f"run={b2_run}") in clean and len(clean) == 2, clean


def test_a_correction_sent_as_a_second_file_replaces_the_first_not_merges_with_it(env, files):
    """morning.csv then evening.csv for one store-day: the day is evening's rows only.

    evening corrects morning: the same (order_id, sku) and sold_at, other
    quantities, so a dedupe across both files would have to break a tie.
    """
    morning = files.write("store_a")
    with morning.open(newline="") as source:
        rows = list(csv.DictReader(source))
    evening = files.folder / "store_a-evening.csv"
    with evening.open("w", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows[5:]:
            writer.writerow({**row, "quantity": str(int(row["quantity"]) * 3)})
    assert expected_day([evening]) != expected_day([morning])
    arrive(env, morning, files.key("store_a", "morning"))
    env.wait()
    _, second = arrive(env, evening, files.key("store_a", "evening"))
    env.wait()
    assert RunLedger(env).store_day(RUN_DATE, "store_a")["data_run"] == second
    assert warehouse_day(env) == report_day(env) == expected_day([evening])


def test_while_a_new_day_is_being_published_readers_see_the_whole_old_day(env, files):
    """Paused after the new curated generation is written, before the load: no gap, no mix."""
    a1, b = files.write("store_a"), files.write("store_b")
    arrive(env, a1, files.key("store_a"))
    arrive(env, b, files.key("store_b"))
    env.wait()
    old_day = expected_day([a1, b])
    before = RunLedger(env).publish_record(RUN_DATE)
    assert before is not None

    gate = env.stepfunctions.hooks.pause("SalesPublish", "Load the day into Redshift")
    a2 = files.write("store_a", version=2, rows=25, duplicates=0)
    arrive(env, a2, files.key("store_a"))
    gate.wait_reached()
    # The new generation is on disk; every reader still gets the old day, whole.
    during = RunLedger(env).publish_record(RUN_DATE)
    assert during is not None
    assert during["published_curated"] == before["published_curated"]
    assert warehouse_day(env) == report_day(env) == old_day
    bucket, _, prefix = str(before["published_curated"]).removeprefix("s3://").partition("/")
    listed = env.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert any(o["Key"].endswith(".parquet") for o in listed.get("Contents", []))
    gate.release()
    env.wait()

    after = RunLedger(env).publish_record(RUN_DATE)
    assert after is not None and after["published_curated"] != before["published_curated"]
    assert warehouse_day(env) == report_day(env) == expected_day([a2, b])
