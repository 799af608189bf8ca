"""The raw key pattern and the output layout derived from it."""

from __future__ import annotations

import datetime as dt

import pytest
from sales_contract import (
    RAW_KEY_PATTERN_TEXT,
    RawKeyError,
    is_sales_key,
    parse_raw_key,
    raw_key,
    unmatched_key_rejection_key,
)


def test_plain_csv_key_is_parsed() -> None:
    """A key following the pattern yields its run date, store, name and compression."""
    parsed = parse_raw_key("sales/date=2026-11-20/store=store_001/morning.csv")
    assert parsed.run_date == dt.date(2026, 11, 20)
    assert parsed.store_id == "store_001"
    assert parsed.name == "morning"
    assert parsed.compressed is False


def test_gzip_key_is_parsed_as_compressed() -> None:
    """A .csv.gz key is compressed and its name drops both extensions."""
    parsed = parse_raw_key("sales/date=2026-11-20/store=A-9/batch.1.csv.gz")
    assert parsed.compressed is True
    assert parsed.name == "batch.1"


@pytest.mark.parametrize(
    "key",
    [
        "sales/date=2026-02-30/store=store_001/sales.csv",  # not a calendar date
        "sales/date=2026-13-01/store=store_001/sales.csv",
        "sales/date=2026-1-01/store=store_001/sales.csv",
        "sales/date=2026-11-20/store=" + "s" * 33 + "/sales.csv",  # store id too long
        "sales/date=2026-11-20/store=/sales.csv",  # empty store id
        "sales/date=2026-11-20/sales.csv",  # missing store
        "sales/date=2026-11-20/store=st.01/sales.csv",  # '.' not allowed in a store id
        "sales/date=2026-11-20/store=store_001/sales.txt",
        "sales/date=2026-11-20/store=store_001/.csv",  # empty name
        "sales/date=2026-11-20/store=store_001/extra/sales.csv",
        "sales/2026-11-20/store_001.csv",
    ],
)
def test_keys_breaking_the_pattern_are_rejected(key: str) -> None:
    """Keys under sales/ that break the pattern raise RawKeyError with the pattern text."""
    with pytest.raises(RawKeyError) as raised:
        parse_raw_key(key)
    assert str(raised.value).startswith(f"key does not match {RAW_KEY_PATTERN_TEXT}: ")
    assert is_sales_key(key)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("sales/date=2026-11-20/store=s1/day.CSV", "the name ends in '.CSV': the extension must "
         "be lower-case .csv or .csv.gz"),
        ("sales/date=2026-11-20/store=s1/day.Csv.GZ", "the name ends in '.Csv.GZ'"),
        ("sales/date=2026-11-20/store=s1/", "it ends with '/', a folder marker, not a file"),
        ("sales/date=2026-11-20/store=s1/day.txt",
         "the name 'day.txt' must end in .csv or .csv.gz"),
        ("sales/date=2026-11-20/store=s1/.csv", "the name '.csv' is only an extension"),
        ("sales/date=2026-02-30/store=s1/day.csv", "'2026-02-30' is not a real date"),
        ("sales/date%3D2026-11-20/store%3Ds1/day.csv",
         "the folder 'date%3D2026-11-20' must be date=YYYY-MM-DD"),
        ("sales/date=2026-11-20/store=st.01/day.csv", "the folder 'store=st.01' must be "
         "store=<store_id>, the id matching [A-Za-z0-9_-]{1,32}"),
        ("sales/2026-11-20/store_001.csv", "it has 2 '/' where the pattern has 3"),
        ("sales/date=2026-11-20/store=s1/extra/day.csv", "it has 4 '/' where the pattern has 3"),
    ],
)  # fmt: skip
def test_a_key_rejection_says_what_is_wrong(key: str, problem: str) -> None:
    """Each rejected key names its own problem after the pattern, not only the pattern."""
    with pytest.raises(RawKeyError) as raised:
        parse_raw_key(key)
    assert str(raised.value).startswith(f"key does not match {RAW_KEY_PATTERN_TEXT}: {problem}")


def test_store_id_of_32_characters_is_accepted() -> None:
    """32 characters is the longest store id allowed."""
    store = "S" * 32
    assert parse_raw_key(f"sales/date=2026-11-20/store={store}/x.csv").store_id == store


@pytest.mark.parametrize("key", ["inventory/date=2026-11-20/x.csv", "Sales/x.csv", "x.csv", ""])
def test_objects_outside_sales_are_not_ours(key: str) -> None:
    """Only keys under sales/ are Stepline's business."""
    assert not is_sales_key(key)


def test_output_keys_follow_the_layout() -> None:
    """Validated, rejects and rejection keys: the raw key's date, store and name, under the run."""
    parsed = parse_raw_key("sales/date=2026-11-20/store=store_001/evening.csv.gz")
    run = "2026-11-20_store_001_0123456789ab"
    base = f"date=2026-11-20/store=store_001/run={run}/"
    assert parsed.validated_prefix_key(run) == f"validated/sales/{base}"
    assert parsed.validated_key(run) == f"validated/sales/{base}evening.csv.gz"
    assert parsed.rejects_key(run) == f"quarantine/sales/{base}evening.rejects.csv"
    assert parsed.rejection_key(run) == f"quarantine/sales/{base}evening.rejection.json"


def test_unmatched_key_record_uses_the_url_quoted_key() -> None:
    """Keys breaking the pattern are recorded under quarantine/unmatched_keys/<run>/, quoted."""
    assert (
        unmatched_key_rejection_key("sales/2026-11-20/a b.csv", "unmatched_0123456789abcdef")
        == "quarantine/unmatched_keys/run=unmatched_0123456789abcdef/"
        "sales%2F2026-11-20%2Fa%20b.csv.rejection.json"
    )


@pytest.mark.parametrize("run", ["", "a b", "../up", "x" * 81])
def test_output_keys_refuse_a_run_id_that_is_not_a_segment(run: str) -> None:
    """A run id outside [A-Za-z0-9_-]{1,80} cannot name an output."""
    with pytest.raises(ValueError, match="run id"):
        parse_raw_key("sales/date=2026-11-20/store=s/x.csv").validated_key(run)


def test_raw_key_builder_round_trips() -> None:
    """raw_key builds keys that parse back to the same store, date and name."""
    key = raw_key("2026-11-20", "store_001", "till-3", gzip=True)
    assert key == "sales/date=2026-11-20/store=store_001/till-3.csv.gz"
    parsed = parse_raw_key(key)
    assert (parsed.store_id, parsed.name, parsed.compressed) == ("store_001", "till-3", True)


def test_raw_key_builder_refuses_a_bad_store_id() -> None:
    """raw_key refuses store ids the pattern would reject."""
    with pytest.raises(ValueError, match="store id"):
        raw_key("2026-11-20", "store 1")
