"""The status grid: what the run ledger says about each store-day and each date's publish.

:func:`read_status` reads the ledger of a range of dates through an
:class:`~stepline.ops.target.OpsTarget`, **one query per date** and nothing
else, and classifies it; the text, JSON and HTML views (``stepline status``)
only present the result, so the three always agree.

A store-day's cell is its ledger status (``SUCCEEDED``, ``REJECTED``,
``NO_DATA``, ``FAILED``, ``RUNNING``), or ``MISSING`` when the store is in the
stage's ``ExpectedStores`` and the date has no item for it. A store that is
neither expected nor in the ledger for a date has no cell there.

A date's publish state, from its ``PUBLISH`` item and its store-days. Let

* *holding* be the pairs (store, ``data_run``) of the date's store-days that
  hold data (any status: a failed or running arrival leaves the earlier
  generation in place, and the publish aggregates it);
* *included* be the pairs (``store_id``, ``run``) of ``published_stores``,
  what the last successful publish pass included;
* a publish be *running* while ``lease_owner`` is set and ``lease_expires`` is
  in the future (an expired lease belongs to a dead publish);
* a request be *outstanding* when ``requested > published_covered``.

The first of these that applies:

``none``
    nothing to publish: no publish has succeeded (no ``published_at``), none
    is running, none was requested and no store-day holds data.
``pending``
    no publish has succeeded yet, but one is running, was requested, or a
    store-day holds data.
``stale``
    a publish succeeded, but the day's data changed after it: *holding* differs
    from *included* (a store-day's ``data_run`` is not in ``published_stores``,
    or a published generation is no longer its store-day's data), or a request
    is outstanding and no publish is running.
``partial``
    the last publish is current, but an expected store is not ``SUCCEEDED``
    (missing, rejected, no data, failed or running).
``published``
    the last publish included every store-day that holds data, nothing
    requested since is left without a publish, and every expected store
    succeeded.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stepline.ops.target import OpsTarget, expected_stores

#: Store-day cells, in the order the legend and the summary list them.
CELL_STATUSES = ("SUCCEEDED", "NO_DATA", "REJECTED", "FAILED", "RUNNING", "MISSING")
#: The cells that are fine as they are; any other asks a person to look.
SETTLED_STATUSES = frozenset({"SUCCEEDED", "NO_DATA"})
#: Publish states, best first.
PUBLISH_STATES = ("published", "partial", "stale", "pending", "none")
SETTLED_PUBLISH_STATES = frozenset({"published", "none"})
#: The longest range one command reads (93 queries): about a quarter.
MAX_DAYS = 93


@dataclass(frozen=True)
class StoreDayCell:
    """One store on one date: its ledger status (or MISSING) and what the ledger says of it."""

    store: str
    status: str
    execution: str | None = None
    execution_arn: str | None = None
    reason: str | None = None
    failed_state: str | None = None
    rows_in: int | None = None
    rows_rejected: int | None = None
    rows_out: int | None = None
    data_run: str | None = None
    published: bool = False
    ended_at: str | None = None
    object_key: str | None = None
    item: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_STATUSES

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "execution": self.execution,
            "execution_arn": self.execution_arn,
            "reason": self.reason,
            "failed_state": self.failed_state,
            "rows_in": self.rows_in,
            "rows_rejected": self.rows_rejected,
            "rows_out": self.rows_out,
            "data_run": self.data_run,
            "published": self.published,
            "ended_at": self.ended_at,
            "object_key": self.object_key,
        }


@dataclass(frozen=True)
class DateStatus:
    """One date: its publish state, why, and the cells of the stores shown."""

    date: str
    publish: str
    publish_running: bool
    reasons: tuple[str, ...]
    requested: int
    published_covered: int | None
    published_at: str | None
    published_execution: str | None
    publish_execution: str | None
    publishes: int
    stores: dict[str, StoreDayCell]

    @property
    def settled(self) -> bool:
        return (
            self.publish in SETTLED_PUBLISH_STATES
            and not self.publish_running
            and all(cell.settled for cell in self.stores.values())
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "publish": self.publish,
            "publish_running": self.publish_running,
            "reasons": list(self.reasons),
            "requested": self.requested,
            "published_covered": self.published_covered,
            "published_at": self.published_at,
            "published_execution": self.published_execution,
            "publish_execution": self.publish_execution,
            "publishes": self.publishes,
            "stores": {store: cell.as_json() for store, cell in sorted(self.stores.items())},
        }


@dataclass(frozen=True)
class StatusGrid:
    """Dates x stores for one stage, and the counts the summary line gives."""

    stage: str
    start: dt.date
    end: dt.date
    expected_stores: tuple[str, ...]
    stores: tuple[str, ...]
    dates: tuple[DateStatus, ...]

    @property
    def settled(self) -> bool:
        """Every shown store-day SUCCEEDED/NO_DATA, every date published or none, none running."""
        return all(day.settled for day in self.dates)

    def publish_counts(self) -> dict[str, int]:
        return {state: sum(d.publish == state for d in self.dates) for state in PUBLISH_STATES}

    def cell_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CELL_STATUSES, 0)
        for day in self.dates:
            for cell in day.stores.values():
                counts[cell.status] = counts.get(cell.status, 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "expected_stores": list(self.expected_stores),
            "stores": list(self.stores),
            "settled": self.settled,
            "summary": {
                "publish": self.publish_counts(),
                "store_days": self.cell_counts(),
                "publishes_running": sum(d.publish_running for d in self.dates),
            },
            "dates": [day.as_json() for day in self.dates],
        }


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def read_status(
    target: OpsTarget,
    start: dt.date,
    end: dt.date,
    *,
    stores: Sequence[str] = (),
    now: float | None = None,
) -> StatusGrid:
    """The grid of ``start``..``end`` (inclusive): one ``target.ledger_items`` per date.

    ``stores`` limits the stores shown (the publish states stay the dates' own,
    over every store); by default the expected stores and every store the
    ledger has in the range are shown.
    """
    expected = tuple(expected_stores(target))
    moment = time.time() if now is None else now
    ledgers = {day: target.ledger_items(day.isoformat()) for day in date_range(start, end)}
    if stores:
        shown = tuple(sorted(set(stores)))
    else:
        in_ledger = {
            str(item["store_id"])
            for items in ledgers.values()
            for item in items
            if _is_store_day(item)
        }
        shown = tuple(sorted(in_ledger | set(expected)))
    dates = tuple(
        classify_date(day.isoformat(), items, expected=expected, shown=shown, now=moment)
        for day, items in ledgers.items()
    )
    return StatusGrid(
        stage=target.stage,
        start=start,
        end=end,
        expected_stores=expected,
        stores=shown,
        dates=dates,
    )


def classify_date(
    run_date: str,
    items: Iterable[dict[str, Any]],
    *,
    expected: Sequence[str],
    shown: Sequence[str],
    now: float,
) -> DateStatus:
    """One date's publish state (see the module docstring) and the cells of ``shown``."""
    store_days: dict[str, dict[str, Any]] = {}
    publish: dict[str, Any] = {}
    for item in items:
        if _is_store_day(item):
            store_days[str(item["store_id"])] = item
        elif item.get("sk") == "PUBLISH":
            publish = item
    included = {
        (str(entry.get("store_id")), str(entry.get("run")))
        for entry in publish.get("published_stores") or []
        if isinstance(entry, dict)
    }
    holding = {
        (store, str(item["data_run"])) for store, item in store_days.items() if item.get("data_run")
    }
    running = bool(publish.get("lease_owner")) and _lease_alive(publish.get("lease_expires"), now)
    requested = _int(publish.get("requested")) or 0
    covered = _int(publish.get("published_covered"))
    state, reasons = _publish_state(
        store_days=store_days,
        expected=expected,
        holding=holding,
        included=included,
        running=running,
        requested=requested,
        unpublished=requested - (covered or 0),
        succeeded=bool(publish.get("published_at")),
        last_failed=publish.get("publish_status") == "FAILED",
    )
    cells: dict[str, StoreDayCell] = {}
    for store in shown:
        if store in store_days:
            cells[store] = _cell(store, store_days[store], included)
        elif store in expected:
            cells[store] = StoreDayCell(store=store, status="MISSING")
    lease_owner = publish.get("lease_owner") if running else None
    return DateStatus(
        date=run_date,
        publish=state,
        publish_running=running,
        reasons=tuple(reasons),
        requested=requested,
        published_covered=covered,
        published_at=_text(publish.get("published_at")),
        published_execution=_text(publish.get("published_execution")),
        publish_execution=_text(lease_owner or publish.get("publish_execution")),
        publishes=_int(publish.get("publishes")) or 0,
        stores=cells,
    )


def _publish_state(
    *,
    store_days: dict[str, dict[str, Any]],
    expected: Sequence[str],
    holding: set[tuple[str, str]],
    included: set[tuple[str, str]],
    running: bool,
    requested: int,
    unpublished: int,
    succeeded: bool,
    last_failed: bool,
) -> tuple[str, list[str]]:
    failed = "; the last publish failed" if last_failed and not running else ""
    if not succeeded:
        if not (running or requested or holding):
            return "none", []
        reasons = []
        if running:
            reasons.append("a publish is running")
        elif requested:
            reasons.append(f"requested {requested} time(s), no publish succeeded{failed}")
        if holding and not requested:
            reasons.append(f"{len(holding)} store-day(s) hold data that was never requested")
        return "pending", reasons
    stale = [
        f"{store}'s data is not in the last publish ({run})"
        for store, run in sorted(holding - included)
    ]
    holding_stores = {store for store, _ in holding}
    stale += [
        f"{store} no longer holds the data the last publish included ({run})"
        for store, run in sorted(included - holding)
        if store not in holding_stores
    ]
    if unpublished > 0 and not running:
        stale.append(f"{unpublished} request(s) since the last publish, none running{failed}")
    if stale:
        return "stale", stale
    partial = [
        f"{store} expected: {store_days[store]['status'] if store in store_days else 'MISSING'}"
        for store in expected
        if store not in store_days or store_days[store].get("status") != "SUCCEEDED"
    ]
    if partial:
        return "partial", partial
    return "published", []


def _cell(store: str, item: dict[str, Any], included: set[tuple[str, str]]) -> StoreDayCell:
    data_run = _text(item.get("data_run"))
    return StoreDayCell(
        store=store,
        status=str(item.get("status", "UNKNOWN")),
        execution=_text(item.get("execution_name")),
        execution_arn=_text(item.get("execution_arn")),
        reason=_text(item.get("reason")),
        failed_state=_text(item.get("failed_state")),
        rows_in=_int(item.get("rows_in")),
        rows_rejected=_int(item.get("rows_rejected")),
        rows_out=_int(item.get("rows_out")),
        data_run=data_run,
        published=data_run is not None and (store, data_run) in included,
        ended_at=_text(item.get("ended_at")),
        object_key=_text(item.get("object_key")),
        item=item,
    )


def _is_store_day(item: dict[str, Any]) -> bool:
    return str(item.get("sk", "")).startswith("STORE#") and "store_id" in item


def _lease_alive(expires: Any, now: float) -> bool:
    value = _int(expires)
    return value is None or value > now


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
