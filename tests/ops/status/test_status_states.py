"""The status grid's definitions, one per test: cells and publish states from ledger items.

Pure logic on items as the machines write them (tests/ops/status/status_ledger.py): no
local environment, no AWS.
"""

from __future__ import annotations

import datetime as dt

import pytest
from status_ledger import (
    EXPECTED,
    LEASE_EXPIRED,
    LEASE_HELD,
    POPUP,
    WEEK_CELLS,
    WEEK_STATES,
    LedgerOnlyTarget,
    publish_record,
    run_name,
    store_day,
    week,
)

from stepline.ops.status import classify_date, read_status

D = "2026-11-20"
NOW = 1_800_000_000.0


def classify(items, expected=EXPECTED, shown=None):
    stores = {i["store_id"] for i in items if "store_id" in i}
    return classify_date(
        D, items, expected=expected, shown=shown or sorted(stores | set(expected)), now=NOW
    )


def succeeded(*stores):
    return [store_day(D, s, "SUCCEEDED") for s in stores]


def included(*stores):
    return [(s, run_name(D, s)) for s in stores]


def test_every_expected_store_succeeded_and_published_is_published():
    """published: the last publish holds every store-day's data and every expected store."""
    day = classify(
        [*succeeded(*EXPECTED), publish_record(D, requested=3, published=included(*EXPECTED))]
    )
    assert day.publish == "published" and day.reasons == ()
    assert day.settled
    assert all(cell.published for cell in day.stores.values())


def test_an_expected_store_without_an_item_is_missing_and_the_date_partial():
    """MISSING: expected but no ledger item; the publish of the others is partial."""
    items = [*succeeded("store_001", "store_002")]
    items.append(publish_record(D, requested=2, published=included("store_001", "store_002")))
    day = classify(items)
    assert day.stores["store_003"].status == "MISSING"
    assert day.publish == "partial"
    assert day.reasons == ("store_003 expected: MISSING",)
    assert not day.settled


@pytest.mark.parametrize("status", ["REJECTED", "NO_DATA", "FAILED", "RUNNING"])
def test_an_expected_store_not_succeeded_makes_a_current_publish_partial(status):
    """partial: published and current, but an expected store is rejected/no data/failed/running."""
    items = [*succeeded("store_001", "store_002"), store_day(D, "store_003", status)]
    items.append(publish_record(D, requested=2, published=included("store_001", "store_002")))
    day = classify(items)
    assert day.stores["store_003"].status == status
    assert day.publish == "partial"


def test_a_store_not_expected_with_no_data_leaves_the_date_published():
    """Only expected stores make a date partial: a popup store's empty file does not."""
    items = [*succeeded(*EXPECTED), store_day(D, POPUP, "NO_DATA")]
    items.append(publish_record(D, requested=3, published=included(*EXPECTED)))
    day = classify(items)
    assert day.publish == "published"
    assert day.stores[POPUP].status == "NO_DATA" and day.settled


def test_a_store_day_whose_data_run_is_not_in_the_publish_makes_it_stale():
    """stale: a corrected file's generation (its data_run) is not in published_stores."""
    items = [
        *succeeded("store_001", "store_003"),
        store_day(D, "store_002", "SUCCEEDED", version="v2"),
    ]
    items.append(publish_record(D, requested=3, published=included(*EXPECTED)))
    day = classify(items)
    assert day.publish == "stale"
    assert day.reasons == (
        f"store_002's data is not in the last publish ({run_name(D, 'store_002', 'v2')})",
    )
    assert not day.stores["store_002"].published and day.stores["store_001"].published


def test_a_published_store_whose_data_was_removed_makes_it_stale():
    """stale: a rejected re-upload removed a published store-day's data, not yet republished."""
    items = [*succeeded("store_001", "store_003")]
    items.append(store_day(D, "store_002", "REJECTED", version="v2"))
    items.append(publish_record(D, requested=3, published=included(*EXPECTED)))
    day = classify(items)
    assert day.publish == "stale"
    run = run_name(D, "store_002")
    assert day.reasons == (f"store_002 no longer holds the data the last publish included ({run})",)


def test_an_outstanding_request_with_no_publish_running_is_stale():
    """stale: requested > published_covered and no lease held, even with matching data."""
    items = [*succeeded(*EXPECTED)]
    items.append(
        publish_record(
            D, requested=4, covered=3, published=included(*EXPECTED), publish_status="FAILED"
        )
    )
    day = classify(items)
    assert day.publish == "stale"
    assert day.reasons == (
        "1 request(s) since the last publish, none running; the last publish failed",
    )


def test_an_outstanding_request_while_a_publish_runs_is_not_stale():
    """A request covered by a running publish leaves a current publish published, but running."""
    items = [*succeeded(*EXPECTED)]
    items.append(
        publish_record(D, requested=4, covered=3, published=included(*EXPECTED), lease=LEASE_HELD)
    )
    day = classify(items)
    assert day.publish == "published" and day.publish_running
    assert not day.settled  # a running publish asks to wait and look again


def test_an_expired_lease_is_not_a_running_publish():
    """A lease past lease_expires belongs to a dead publish: the outstanding request is stale."""
    items = [*succeeded(*EXPECTED)]
    items.append(
        publish_record(
            D, requested=4, covered=3, published=included(*EXPECTED), lease=LEASE_EXPIRED
        )
    )
    day = classify(items)
    assert not day.publish_running
    assert day.publish == "stale"


def test_a_running_first_publish_is_pending():
    """pending: a publish is running and none has succeeded yet."""
    items = [
        *succeeded("store_001"),
        publish_record(D, requested=1, lease=LEASE_HELD, publish_status="RUNNING"),
    ]
    day = classify(items)
    assert day.publish == "pending" and day.publish_running
    assert day.publish_execution == f"{D}_publish_1_0000abcd"


def test_a_failed_first_publish_is_pending():
    """pending: requested, no publish running, none succeeded (the first one failed)."""
    items = [*succeeded(*EXPECTED), publish_record(D, requested=3, publish_status="FAILED")]
    day = classify(items)
    assert day.publish == "pending" and not day.publish_running
    assert day.reasons == ("requested 3 time(s), no publish succeeded; the last publish failed",)


def test_data_never_requested_is_pending():
    """pending: a store-day holds data but the date has no PUBLISH item at all."""
    day = classify(succeeded("store_001"), expected=())
    assert day.publish == "pending"


def test_rejected_and_empty_files_alone_have_nothing_to_publish():
    """none: no store-day holds data, nothing requested, no publish ever ran."""
    items = [store_day(D, "store_001", "REJECTED"), store_day(D, "store_002", "NO_DATA")]
    day = classify(items)
    assert day.publish == "none"
    assert day.stores["store_003"].status == "MISSING"


def test_a_store_neither_expected_nor_in_the_ledger_has_no_cell():
    """A shown store absent on a date and not expected has no cell (nothing was due)."""
    day = classify(succeeded(*EXPECTED), shown=[*EXPECTED, POPUP])
    assert POPUP not in day.stores and set(day.stores) == set(EXPECTED)


def test_the_week_gives_each_date_its_state_and_cells():
    """status_ledger.week(), read date by date, is exactly WEEK_STATES and WEEK_CELLS."""
    target = LedgerOnlyTarget(week())
    grid = read_status(target, dt.date(2026, 11, 14), dt.date(2026, 11, 20), now=NOW)
    assert {d.date: d.publish for d in grid.dates} == WEEK_STATES
    assert {d.date: {s: c.status for s, c in d.stores.items()} for d in grid.dates} == WEEK_CELLS
    assert grid.stores == (*EXPECTED, POPUP)
    assert target.queries == sorted(WEEK_STATES)  # one ledger query per date, nothing else
    assert not grid.settled


def test_only_the_stores_asked_for_are_shown_but_the_publish_state_is_the_dates():
    """--store limits the cells; the date's publish state still counts every store."""
    day = dt.date(2026, 11, 15)
    grid = read_status(LedgerOnlyTarget(week()), day, day, stores=["store_001"], now=NOW)
    [status] = grid.dates
    assert grid.stores == ("store_001",) and set(status.stores) == {"store_001"}
    assert status.publish == "partial"  # store_003, not shown, is missing
