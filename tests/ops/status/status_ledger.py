"""Run ledger items as the machines write them, for status tests that need no Spark.

:func:`store_day` and :func:`publish_record` build items with the attributes
docs/day-protocol.md lists; :data:`WEEK` is one week holding every store-day
status and every publish state, the same on every target the tests put it in.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "stepline-sales-dev"
TABLE = f"{STACK}-run-ledger"
ARRIVAL_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STACK}-arrival:"
#: The stores the stage expects every day (ExpectedStores), and one that sends now and then.
EXPECTED = ("store_001", "store_002", "store_003")
POPUP = "store_popup"
#: Far in the future / the past: a held lease and an expired one, whatever the clock says.
LEASE_HELD = 4_102_444_800
LEASE_EXPIRED = 1_000_000_000


def run_name(date: str, store: str, version: str = "v1") -> str:
    digest = hashlib.sha256(f"{date}|{store}|{version}".encode()).hexdigest()[:12]
    return f"{date}_{store}_{digest}"


def store_day(
    date: str,
    store: str,
    status: str,
    *,
    version: str = "v1",
    holds: str | None = None,
    reason: str | None = None,
    failed_state: str | None = None,
    rows_out: int = 100,
) -> dict[str, Any]:
    """A store-day item; ``holds`` is the generation that is its data (SUCCEEDED: its own)."""
    name = run_name(date, store, version)
    item: dict[str, Any] = {
        "pk": f"DATE#{date}",
        "sk": f"STORE#{store}",
        "run_date": date,
        "store_id": store,
        "status": status,
        "execution_name": name,
        "execution_arn": ARRIVAL_ARN + name,
        "arrival_order": f"{date}T05:00:00Z#{version}",
        "object_bucket": f"{STACK}-raw-{ACCOUNT}-{REGION}",
        "object_key": f"sales/date={date}/store={store}/sales.csv",
        "object_version": version,
        "started_at": f"{date}T05:00:01.000Z",
    }
    if status != "RUNNING":
        item["ended_at"] = f"{date}T05:03:00.000Z"
        item["rows_in"] = rows_out + 2
        item["rows_rejected"] = 2
    if status == "SUCCEEDED":
        item["rows_out"] = rows_out
        holds = holds or name
    if holds:
        item["data_run"] = holds
        item["clean_prefix"] = f"clean/sales/sale_date={date}/store_id={store}/run={holds}/"
        item["data_rows"] = rows_out
    if reason:
        item["reason"] = reason
    if failed_state:
        item["failed_state"] = failed_state
    return item


def publish_record(
    date: str,
    *,
    requested: int,
    published: list[tuple[str, str]] | None = None,
    covered: int | None = None,
    lease: int | None = None,
    publish_status: str = "SUCCEEDED",
    publishes: int = 1,
) -> dict[str, Any]:
    """The date's PUBLISH item; ``published`` lists the (store, run) of the last publish."""
    item: dict[str, Any] = {
        "pk": f"DATE#{date}",
        "sk": "PUBLISH",
        "run_date": date,
        "requested": requested,
        "covered": covered if covered is not None else requested,
        "publish_status": publish_status,
        "publish_execution": f"{date}_publish_{requested}_0000abcd",
    }
    if lease is not None:
        item["lease_owner"] = f"{date}_publish_{requested}_0000abcd"
        item["lease_expires"] = lease
    if published is not None:
        item.update(
            published_at=f"{date}T06:00:00.000Z",
            published_execution=f"{date}_publish_{requested}_0000abcd",
            published_covered=covered if covered is not None else requested,
            published_stores=[
                {
                    "store_id": store,
                    "run": run,
                    "revenue": Decimal("1234.50"),
                    "units": 40,
                    "orders": 12,
                    "returns": 1,
                }
                for store, run in published
            ],
            published_rows=len(published) * 10,
            publishes=publishes,
        )
    return item


def _succeeded(date: str, *stores: str) -> list[dict[str, Any]]:
    return [store_day(date, store, "SUCCEEDED") for store in stores]


def _included(date: str, *stores: str) -> list[tuple[str, str]]:
    return [(store, run_name(date, store)) for store in stores]


def week() -> list[dict[str, Any]]:
    """2026-11-14..20: one date per publish state, every store-day status (see WEEK_STATES)."""
    items: list[dict[str, Any]] = []
    # 14: published: every expected store succeeded and is in the last publish.
    d = "2026-11-14"
    items += _succeeded(d, *EXPECTED)
    items.append(publish_record(d, requested=3, published=_included(d, *EXPECTED), publishes=2))
    # 15: partial: store_003 sent nothing.
    d = "2026-11-15"
    items += _succeeded(d, "store_001", "store_002")
    items.append(publish_record(d, requested=2, published=_included(d, "store_001", "store_002")))
    # 16: stale: store_002 re-sent a corrected file after the publish, whose publish failed.
    d = "2026-11-16"
    items += _succeeded(d, "store_001", "store_003")
    items.append(store_day(d, "store_002", "SUCCEEDED", version="v2"))
    items.append(
        publish_record(
            d,
            requested=4,
            covered=3,
            published=_included(d, *EXPECTED),
            publish_status="FAILED",
        )
    )
    # 17: pending: the first publish runs; store_002 is still arriving, store_003 failed.
    d = "2026-11-17"
    items += _succeeded(d, "store_001")
    items.append(store_day(d, "store_002", "RUNNING"))
    items.append(
        store_day(
            d,
            "store_003",
            "FAILED",
            failed_state="Clean the sales file",
            reason="Glue.AWSGlueException: the job run failed",
        )
    )
    items.append(publish_record(d, requested=1, lease=LEASE_HELD, publish_status="RUNNING"))
    # 18: none: a rejected file and an empty one, nothing to publish; store_003 missing.
    d = "2026-11-18"
    items.append(
        store_day(d, "store_001", "REJECTED", reason="missing column unit_price", rows_out=0)
    )
    items.append(store_day(d, "store_002", "NO_DATA", reason="the file holds a header and no rows"))
    # 19: published, and the popup store (not expected) sent an empty file.
    d = "2026-11-19"
    items += _succeeded(d, *EXPECTED)
    items.append(store_day(d, POPUP, "NO_DATA", reason="the file holds a header and no rows"))
    items.append(publish_record(d, requested=3, published=_included(d, *EXPECTED)))
    # 20: nothing arrived at all.
    return items


#: What `stepline status` must say of week(), per date.
WEEK_STATES = {
    "2026-11-14": "published",
    "2026-11-15": "partial",
    "2026-11-16": "stale",
    "2026-11-17": "pending",
    "2026-11-18": "none",
    "2026-11-19": "published",
    "2026-11-20": "none",
}
WEEK_CELLS = {
    "2026-11-14": {"store_001": "SUCCEEDED", "store_002": "SUCCEEDED", "store_003": "SUCCEEDED"},
    "2026-11-15": {"store_001": "SUCCEEDED", "store_002": "SUCCEEDED", "store_003": "MISSING"},
    "2026-11-16": {"store_001": "SUCCEEDED", "store_002": "SUCCEEDED", "store_003": "SUCCEEDED"},
    "2026-11-17": {"store_001": "SUCCEEDED", "store_002": "RUNNING", "store_003": "FAILED"},
    "2026-11-18": {"store_001": "REJECTED", "store_002": "NO_DATA", "store_003": "MISSING"},
    "2026-11-19": {
        "store_001": "SUCCEEDED",
        "store_002": "SUCCEEDED",
        "store_003": "SUCCEEDED",
        POPUP: "NO_DATA",
    },
    "2026-11-20": {"store_001": "MISSING", "store_002": "MISSING", "store_003": "MISSING"},
}


def typed(item: dict[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's wire format (what put_item takes)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


def put_items(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for item in items:
        dynamodb.put_item(TableName=table, Item=typed(item))


class LedgerOnlyTarget:
    """A target with nothing but a ledger: any other call fails, every query is counted."""

    kind = "fake"

    def __init__(self, items: list[dict[str, Any]], expected: tuple[str, ...] = EXPECTED) -> None:
        self.stage = "dev"
        self.parameters = {"ExpectedStores": ",".join(expected)}
        self.items = items
        self.queries: list[str] = []

    def ledger_items(self, run_date: str) -> list[dict[str, Any]]:
        self.queries.append(run_date)
        return [dict(item) for item in self.items if item["pk"] == f"DATE#{run_date}"]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"status called target.{name}: only ledger_items is allowed")
