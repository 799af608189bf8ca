"""The sales generator, the event builder and the checked-in sample events."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from stepline.commands.validate import validate_local_file
from stepline.sample_data import object_created_event, s3_etag, sales_rows, write_sales_csv

EVENTS = Path(__file__).resolve().parents[2] / "events"
MANIFEST = json.loads((EVENTS / "manifest.json").read_text())


def test_generated_rows_have_duplicates_returns_and_bad_rows(tmp_path) -> None:
    """Injected duplicates repeat (order_id, sku) with a later sold_at; returns are negative."""
    path = tmp_path / "day.csv"
    generated = write_sales_csv(path, "2026-11-20", "store_001", 3000, seed=5, duplicates=30)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == generated.rows == 3000
    pairs = Counter((row["order_id"], row["sku"]) for row in rows)
    assert sum(count - 1 for count in pairs.values()) == 30
    first_seen: dict[tuple[str, str], str] = {}
    for row in rows:
        pair = (row["order_id"], row["sku"])
        if pair in first_seen:
            assert row["sold_at"] > first_seen[pair]
        first_seen.setdefault(pair, row["sold_at"])
    returns = sum(int(row["quantity"]) < 0 for row in rows)
    assert returns == generated.returns and 0 < returns < 200


def test_bad_rows_are_exactly_the_rejected_rows(tmp_path) -> None:
    """Every injected bad row is rejected by validation, and no other row is."""
    path = tmp_path / "day.csv"
    generated = write_sales_csv(path, "2026-11-20", "store_001", 2000, seed=2, bad_rows=40)
    verdict = validate_local_file(path, "sales/date=2026-11-20/store=store_001/day.csv",
                                  max_reject_ratio=1.0)
    assert verdict["rejected_rows"] == generated.bad_rows == 40
    assert verdict["good_rows"] == generated.expected_good_rows


def test_rows_are_generated_lazily() -> None:
    """sales_rows is an iterator, so huge files never sit in memory."""
    rows = sales_rows("2026-11-20", "s1", 10**9)
    assert len(next(rows)) == 7


def test_object_created_event_parses_with_powertools() -> None:
    """The built event has the shape EventBridge delivers (Powertools' model accepts it)."""
    event = object_created_event(
        "stepline-sales-dev-raw-123456789012-us-east-1", "sales/date=2026-11-20/store=s1/a b.csv",
        size=10, etag="abc", version_id="v1",
    )
    parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    assert parsed.detail_type == "Object Created" and parsed.source == "aws.s3"
    # URL-encoded as S3 sends keys to EventBridge: '=' as %3D, a space as '+'.
    assert parsed.detail.object.key == "sales/date%3D2026-11-20/store%3Ds1/a+b.csv"
    assert parsed.detail.object.version_id == "v1"
    assert parsed.detail.reason == "PutObject"


def test_object_created_event_is_stable_for_the_same_upload() -> None:
    """Replaying the same upload gives the same event id, like a duplicate delivery."""
    build = lambda: object_created_event("b", "sales/x.csv", size=1, etag="e")  # noqa: E731
    assert build()["id"] == build()["id"]


@pytest.mark.parametrize("arrival", MANIFEST["arrivals"], ids=lambda a: a["event"])
def test_sample_events_match_their_sample_files(arrival) -> None:
    """Each checked-in event's key, size and ETag match the sample it stands for."""
    event = json.loads((EVENTS / arrival["event"]).read_text())
    data = (EVENTS / arrival["upload"]).read_bytes()
    parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    assert parsed.detail.bucket.name == MANIFEST["raw_bucket"]
    # Keys travel URL-encoded, as S3 sends them ('=' as %3D).
    assert unquote_plus(parsed.detail.object.key) == arrival["key"]
    assert parsed.detail.object.size == len(data)
    assert parsed.detail.object.etag == s3_etag(data)


@pytest.mark.parametrize(
    "arrival", [a for a in MANIFEST["arrivals"] if a["key"].startswith("sales/date=")],
    ids=lambda a: a["event"],
)
def test_sample_files_validate_as_the_manifest_says(arrival) -> None:
    """The samples give the outcomes the manifest (and the docs) promise."""
    verdict = validate_local_file(EVENTS / arrival["upload"], arrival["key"])
    assert {name: verdict[name] for name in arrival["expected"]} == arrival["expected"]
