"""The columnar validator's fast checks: what they prove good, and Python's whitespace.

The differential test (test_contract_differential.py) proves the columnar
validator gives the reference's verdicts whatever its fast checks decide, since a
line they do not prove good goes to the reference. These tests prove the other
half: the usual forms of a good row *are* proven good by the vectorised checks,
so a file of them never falls back to the row-by-row path (which would keep the
verdicts and lose the speed).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sales_contract import COLUMNS, columnar, parse_raw_key

KEY = parse_raw_key("sales/date=2026-11-20/store=store_001/day.csv")


def _scan(lines: list[str], header: tuple[str, ...] = COLUMNS) -> columnar._Scan:
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    data = np.zeros(len(body) + columnar._PAD, np.uint8)
    data[: len(body)] = np.frombuffer(body, np.uint8)
    scanner = columnar._Scanner(list(header), KEY, want_output=True)
    return scanner.scan(columnar._Block(data, len(body)))


SOLD_AT_FORMS = [
    "2026-11-20T00:00:00Z",
    "2026-11-20T23:59:59Z",
    "2026-11-20T14:03:00+00:00",
    "2026-11-20T14:03:00-05:00",
    "2026-11-20T14:03:00+05:30",
    "2026-11-20T14:03:00+14:00",
    "2026-11-20T14:03:00+18:00",
    "2026-11-20T14:03:00-18:00",
    "2026-11-20T14:03:00.5+18:00",
    "2026-11-20T14:03:00.5-17:59",
    "2026-11-20T14:03:00.1Z",
    "2026-11-20T14:03:00.123456Z",
    "2026-11-20T14:03:00.123456-08:00",
]


@pytest.mark.parametrize("sold_at", SOLD_AT_FORMS)
def test_every_usual_sold_at_form_is_proven_good(sold_at: str) -> None:
    """A UTC or offset timestamp, with or without a fraction, never needs the reference."""
    scan = _scan([f"S1-0001,store_001,{sold_at},GRO-00001,Grocery,2,3.49"] * 3)
    assert scan.count == 3
    assert scan.good.tolist() == [True, True, True]


@pytest.mark.parametrize(
    "row",
    [
        "S1-0001,store_001,2026-11-20T14:03:00Z,GRO-00001,Grocery,-2,3.49",
        "S1-0001,store_001,2026-11-20T14:03:00Z,GRO-00001,Grocery,12345678,0",
        '"S1-0001","store_001","2026-11-20T14:03:00Z","GRO-00001","Home, Garden","2","3.5"',
        "Ünïcode-1,store_001,2026-11-20T14:03:00Z,é,Épicerie,1,12345.99",
    ],
)
def test_usual_good_rows_are_proven_good(row: str) -> None:
    """Negative quantities, quoted values with commas and non-ASCII text stay on the fast path."""
    assert _scan([row]).good.tolist() == [True]


@pytest.mark.parametrize(
    "sold_at",
    [
        "2026-11-20T24:00:00Z",  # no hour 24
        "2026-11-20T14:60:00Z",
        "2026-11-20T14:03:00+24:00",  # an offset of a day
        # Past java.time.ZoneOffset's +-18:00, or 60 minutes and more: Python
        # reads them, the clean zone's Spark does not.
        "2026-11-20T14:03:00+23:59",
        "2026-11-20T14:03:00+18:01",
        "2026-11-20T14:03:00-18:10",
        "2026-11-20T14:03:00+19:00",
        "2026-11-20T14:03:00+05:60",
        "2026-11-20T14:03:00.5+18:01",
        "2026-11-20T14:03:00.5-18:30",
        "2026-11-20T14:03:00.25+20:00",
        "2026-11-20T14:03:00.5+05:75",
        "2026-11-20T14:03:00",  # no offset
        "2026-11-21T14:03:00Z",  # another day than the key's
        "2026-11-20T14:03:00.1234567Z",  # 7 digits of fraction
    ],
)
def test_a_wrong_sold_at_is_never_proven_good(sold_at: str) -> None:
    """What the contract rejects goes to the reference, which says why."""
    scan = _scan([f"S1-0001,store_001,{sold_at},GRO-00001,Grocery,2,3.49"])
    assert scan.good.tolist() == [False]


def _utf8_number(character: str) -> int:
    return int.from_bytes(character.encode("utf-8"), "big")


def test_the_unicode_spaces_are_pythons() -> None:
    """SPACE_2 and SPACE_3 are exactly the 2- and 3-byte characters str.strip() removes."""
    stripped = [chr(c) for c in range(0x80, 0x10000) if chr(c).strip() == "" and c < 0xD800]
    two = sorted(_utf8_number(c) for c in stripped if len(c.encode("utf-8")) == 2)
    three = sorted(_utf8_number(c) for c in stripped if len(c.encode("utf-8")) == 3)
    assert two == sorted(columnar.SPACE_2)
    assert three == sorted(columnar.SPACE_3)
    assert all(ord(c) < 0x10000 for c in map(chr, range(sys.maxunicode + 1)) if c.strip() == "")
