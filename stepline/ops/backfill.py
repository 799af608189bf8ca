"""Backfill: run the store-days of a date range that the run ledger says need it.

The raw bucket is the source of truth for what arrived; the run ledger for
what ran. For each date, the latest file of each store (the store-day) is
compared with its ledger record and, under the reprocess rule, started or
skipped (:func:`plan`):

==========================  ========================================  ==========
ledger says                 action                                    reprocess
==========================  ========================================  ==========
no record                   start (``never ran``)                     any
a different (newer) object  start (``a newer file never ran``)        any
``RUNNING``                 skip: never started twice                 any
``FAILED``, ``REJECTED``    start                                     failed, completed
``SUCCEEDED``, ``NO_DATA``  start                                     completed
==========================  ========================================  ==========

Starts go through the same deterministic names as arrivals: a store-day that
never ran gets the very name the starter would give its object (so a late
S3 delivery of the same event is a duplicate, not a second run); a store-day
run again gets that name plus ``-bf<backfill id>``, where the id is derived
from the command's arguments. So a backfill interrupted and run again with the
same arguments finds its own executions already there and starts nothing
twice. Arrivals are started with ``defer_publish`` and each date touched is
published once, after its last arrival ended (:func:`run`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stepline.ops.target import OpsTarget, RawObject

Reprocess = Literal["none", "failed", "completed"]
REPROCESS_CHOICES: tuple[Reprocess, ...] = ("none", "failed", "completed")
_DONE = frozenset({"SUCCEEDED", "NO_DATA"})
_FAILED = frozenset({"FAILED", "REJECTED"})


@dataclass
class PlanItem:
    """One store-day of the range and what the backfill does with it."""

    date: str
    store: str
    action: Literal["start", "skip"]
    reason: str
    key: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "store": self.store,
            "action": self.action,
            "reason": self.reason,
            "key": self.key,
            "execution": self.name,
        }


def backfill_id(start: dt.date, end: dt.date, stores: Sequence[str], reprocess: Reprocess) -> str:
    """Six hex digits naming this backfill's reruns: the same arguments, the same names."""
    text = f"{start}|{end}|{','.join(sorted(stores))}|{reprocess}"
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def dates_between(start: dt.date, end: dt.date, *, backwards: bool = False) -> list[str]:
    days = [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    return days[::-1] if backwards else days


def latest_per_store(objects: Iterable[RawObject], run_date: str) -> dict[str, RawObject]:
    """Each store's store-day: its latest file of the date (keys breaking the pattern skipped)."""
    from sales_contract import RawKeyError, parse_raw_key

    latest: dict[str, RawObject] = {}
    for obj in objects:
        try:
            parsed = parse_raw_key(obj.key)
        except RawKeyError:
            continue
        if parsed.run_date_text != run_date:
            continue
        current = latest.get(parsed.store_id)
        if current is None or (obj.last_modified, obj.key) > (current.last_modified, current.key):
            latest[parsed.store_id] = obj
    return latest


def object_event(obj: RawObject) -> dict[str, Any]:
    """The Object Created event S3 would have sent for this object (key URL-encoded)."""
    from stepline.sample_data import object_created_event

    return object_created_event(
        bucket=obj.bucket,
        key=obj.key,
        size=obj.size,
        etag=obj.etag,
        version_id=obj.version_id,
        time=obj.last_modified,
    )


def _same_object(record: dict[str, Any], obj: RawObject) -> bool:
    if record.get("object_key") != obj.key:
        return False
    if obj.version_id is not None and record.get("object_version") not in (None, obj.version_id):
        return False
    return record.get("object_etag") in (None, obj.etag)


def plan(
    target: OpsTarget,
    stack: Any,
    dates: Sequence[str],
    *,
    stores: Sequence[str] = (),
    reprocess: Reprocess = "none",
    run_id: str,
) -> list[PlanItem]:
    """What to start and skip, per store-day, in the order the dates are given."""
    from stepline.local.session import arrival_for_event

    wanted = set(stores)
    items: list[PlanItem] = []
    for run_date in dates:
        objects = latest_per_store(target.raw_objects(f"sales/date={run_date}/"), run_date)
        ledger = {
            str(item["store_id"]): item
            for item in target.ledger_items(run_date)
            if str(item.get("sk", "")).startswith("STORE#")
        }
        for store in sorted(set(objects) | set(ledger)):
            if wanted and store not in wanted:
                continue
            obj, record = objects.get(store), ledger.get(store)
            if obj is None:
                items.append(PlanItem(run_date, store, "skip", "no file in the raw bucket"))
                continue
            if record is None or not _same_object(record, obj):
                name, arrival_input = arrival_for_event(stack, object_event(obj))
                reason = "never ran" if record is None else "a newer file never ran"
                items.append(
                    PlanItem(run_date, store, "start", reason, obj.key, name, arrival_input)
                )
                continue
            status = str(record.get("status"))
            if status == "RUNNING":
                items.append(
                    PlanItem(run_date, store, "skip", "running (never started twice)", obj.key)
                )
                continue
            rerun = (status in _FAILED and reprocess in ("failed", "completed")) or (
                status in _DONE and reprocess == "completed"
            )
            if not rerun:
                hint = " (--reprocess failed runs it again)" if status in _FAILED else ""
                items.append(PlanItem(run_date, store, "skip", f"ran: {status}{hint}", obj.key))
                continue
            original = target.describe_execution(str(record["execution_arn"]))
            base = str(record["execution_name"]).split("-bf", 1)[0]
            import json

            items.append(
                PlanItem(
                    run_date,
                    store,
                    "start",
                    f"reprocess {status}",
                    obj.key,
                    f"{base}-bf{run_id}",
                    dict(json.loads(original["input"])),
                )
            )
    return items


@dataclass
class Outcome:
    """What a backfill did."""

    started: list[PlanItem] = field(default_factory=list)
    already: list[PlanItem] = field(default_factory=list)
    skipped: list[PlanItem] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [name for name, status in self.statuses.items() if status != "SUCCEEDED"]


def run(
    target: OpsTarget,
    items: Sequence[PlanItem],
    *,
    max_active: int,
    run_id: str,
    timeout: float = 6 * 3600,
    on_progress: Callable[[PlanItem, str], None] | None = None,
) -> Outcome:
    """Start the plan's arrivals (at most ``max_active`` at once), then publish each date once."""
    outcome = Outcome(skipped=[item for item in items if item.action == "skip"])
    queue = [item for item in items if item.action == "start"]
    active: dict[str, PlanItem] = {}
    by_date: dict[str, list[str]] = {}

    def finished(arns: Iterable[str]) -> None:
        for arn in arns:
            item = active.pop(arn)
            status = str(target.describe_execution(arn)["status"])
            outcome.statuses[str(item.name)] = status
            if on_progress:
                on_progress(item, status)

    while queue or active:
        while queue and len(active) < max_active:
            item = queue.pop(0)
            assert item.name is not None and item.input is not None
            started = target.start_execution(
                "SalesArrival", {**item.input, "defer_publish": True}, name=item.name
            )
            if started.existed:
                outcome.already.append(item)
                if on_progress:
                    on_progress(item, "ALREADY STARTED")
                continue
            outcome.started.append(item)
            active[started.arn] = item
            by_date.setdefault(item.date, []).append(started.arn)
        if active:
            finished(target.wait_any(list(active), timeout))
    for run_date in sorted(by_date):
        target.start_execution(
            "SalesPublishRequest",
            {"run_date": run_date, "requested_by": f"backfill {run_id}"},
        )
        outcome.published.append(run_date)
    return outcome
