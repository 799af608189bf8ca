"""Row rules: each column's check, with the exact reason a data engineer sees."""

from __future__ import annotations

import pytest
from sales_contract import COLUMNS


def test_good_row_has_no_reasons(one_row_reasons) -> None:
    """The reference row passes every check."""
    assert one_row_reasons() == []


def test_store_mismatch_is_rejected(one_row_reasons) -> None:
    """store_id must equal the key's store."""
    assert one_row_reasons(store_id="store_002") == [
        "store_id: 'store_002' differs from the key's store 'store_001'"
    ]


@pytest.mark.parametrize(
    "sold_at",
    [
        "2026-11-20T10:15:00Z",
        "2026-11-20T10:15:00.123Z",
        "2026-11-20T00:00:00+00:00",
        # Local date matches though the UTC date is the day before / after.
        "2026-11-20T02:00:00+05:30",
        "2026-11-20T23:30:00-05:00",
    ],
)
def test_sold_at_with_offset_on_the_run_date_is_accepted(one_row_reasons, sold_at: str) -> None:
    """sold_at with Z or an offset is judged by its local date, not its UTC date."""
    assert one_row_reasons(sold_at=sold_at) == []


def test_sold_at_on_another_local_date_is_rejected(one_row_reasons) -> None:
    """A local date other than the run date is rejected even if the UTC date matches."""
    assert one_row_reasons(sold_at="2026-11-19T23:30:00-01:00") == [
        "sold_at: local date 2026-11-19 differs from the run date 2026-11-20"
    ]


def test_sold_at_without_offset_is_rejected(one_row_reasons) -> None:
    """A timestamp without Z or an offset is ambiguous and rejected."""
    assert one_row_reasons(sold_at="2026-11-20T10:15:00") == [
        "sold_at: '2026-11-20T10:15:00' has no UTC offset (end it with Z or e.g. +01:00)"
    ]


@pytest.mark.parametrize("sold_at", ["20/11/2026 10:15", "yesterday", "2026-11-20T10h15Z"])
def test_sold_at_not_iso_is_rejected(one_row_reasons, sold_at: str) -> None:
    """Anything that is not shaped like an ISO-8601 timestamp gets the general reason."""
    assert one_row_reasons(sold_at=sold_at) == [
        f"sold_at: {sold_at!r} is not an ISO-8601 timestamp: the contract wants "
        "YYYY-MM-DDTHH:MM:SS with Z or an offset, like 2026-11-20T14:03:00Z or "
        "2026-11-20T14:03:00+05:30"
    ]


@pytest.mark.parametrize(
    ("sold_at", "reason"),
    [
        ("", "sold_at: must not be empty"),
        (
            "10:00Z",
            "sold_at: '10:00Z' has no date: the contract wants a date and a time, "
            "like 2026-11-20T14:03:00Z",
        ),
        (
            "2026-11-20",
            "sold_at: '2026-11-20' has no time of day: the contract wants one, "
            "like 2026-11-20T14:03:00Z",
        ),
        (
            "2026-11-20 10:15:00Z",
            "sold_at: '2026-11-20 10:15:00Z' has ' ' between the date and the time: "
            "the contract wants T, like 2026-11-20T14:03:00Z",
        ),
        (
            "2026-11-2010:15:00Z",
            "sold_at: '2026-11-2010:15:00Z' has nothing between the date and the time: "
            "the contract wants T, like 2026-11-20T14:03:00Z",
        ),
        (
            "2026-11-20T10:00Z",
            "sold_at: '2026-11-20T10:00Z' has no seconds: the contract wants HH:MM:SS, "
            "like 2026-11-20T14:03:00Z",
        ),
        (
            "2026-11-20T10:00:00.1234567Z",
            "sold_at: '2026-11-20T10:00:00.1234567Z' has a malformed fraction of a second: "
            "the contract wants a point and 1 to 6 digits, like 2026-11-20T14:03:00.25Z",
        ),
        (
            "2026-11-20T10:00:00,5Z",
            "sold_at: '2026-11-20T10:00:00,5Z' has a malformed fraction of a second: "
            "the contract wants a point and 1 to 6 digits, like 2026-11-20T14:03:00.25Z",
        ),
        (
            "2026-11-20T10:15:00+0100",
            "sold_at: '2026-11-20T10:15:00+0100' has the offset '+0100' without a colon: "
            "the contract wants +HH:MM, like +01:00",
        ),
        (
            "2026-11-20T10:15:00+01",
            "sold_at: '2026-11-20T10:15:00+01' has the offset '+01' without minutes: "
            "the contract wants +HH:MM, like +01:00",
        ),
        (
            "2026-11-20T10:15:00z",
            "sold_at: '2026-11-20T10:15:00z' ends with a lowercase z: the contract wants Z",
        ),
    ],
)
def test_sold_at_near_misses_say_what_to_fix(one_row_reasons, sold_at: str, reason: str) -> None:
    """A timestamp that is almost right names the part that is wrong and the form wanted."""
    assert one_row_reasons(sold_at=sold_at) == [reason]


def test_sold_at_that_is_not_a_real_time_is_rejected(one_row_reasons) -> None:
    """An hour of 25 matches the shape but is not a real time."""
    assert one_row_reasons(sold_at="2026-11-20T25:00:00Z") == [
        "sold_at: '2026-11-20T25:00:00Z' is not a real date and time"
    ]


@pytest.mark.parametrize("offset", ["+05:75", "+05:60", "+18:01", "-18:30", "+23:59", "-23:00"])
def test_sold_at_with_no_real_utc_offset_is_rejected(one_row_reasons, offset: str) -> None:
    """Python reads these offsets (+05:75 as +06:15); the clean zone's Spark would type NULL."""
    for sold_at in (f"2026-11-20T10:15:00{offset}", f"2026-11-20T10:15:00.25{offset}"):
        assert one_row_reasons(sold_at=sold_at) == [
            f"sold_at: {sold_at!r} has the offset {offset!r}, which is no UTC offset: the "
            "contract wants minutes 00 to 59 and at most 18:00 either side, like +05:30"
        ]


@pytest.mark.parametrize("offset", ["+18:00", "-18:00", "+17:59", "+14:00", "-12:00", "-00:00"])
def test_sold_at_at_the_edges_of_the_utc_offsets_is_accepted(one_row_reasons, offset: str) -> None:
    """Up to 18:00 either side of UTC, java.time.ZoneOffset's range, is a real offset."""
    assert one_row_reasons(sold_at=f"2026-11-20T10:15:00{offset}") == []


@pytest.mark.parametrize("quantity", ["1", "12", "-2", "2147483647"])
def test_non_zero_integer_quantities_are_accepted(one_row_reasons, quantity: str) -> None:
    """quantity may be any non-zero integer; negative means a return."""
    assert one_row_reasons(quantity=quantity) == []


@pytest.mark.parametrize("quantity", ["0", "-0", "1.5", "two", "", "+3", " 3"])
def test_bad_quantities_are_rejected(one_row_reasons, quantity: str) -> None:
    """Zero, fractions and non-numbers are rejected with a specific reason."""
    assert one_row_reasons(quantity=quantity) == [
        f"quantity: {quantity!r} is not a non-zero integer"
    ]


def test_quantity_out_of_int32_range_is_rejected(one_row_reasons) -> None:
    """quantity must fit a 32-bit integer (the clean step's INT)."""
    assert one_row_reasons(quantity="99999999999") == [
        "quantity: '99999999999' is out of range (at most 2147483647 either way)"
    ]


@pytest.mark.parametrize("quantity", ["9" * 5000, "-" + "9" * 5000, "0" * 5000])
def test_a_quantity_of_thousands_of_digits_is_a_bad_row_not_a_crash(
    one_row_reasons, quantity: str
) -> None:
    """Past 4300 digits Python refuses int(): the row is still judged, with its reason."""
    reason = "is not a non-zero integer" if set(quantity) == {"0"} else "is out of range"
    (found,) = one_row_reasons(quantity=quantity)
    assert found.startswith("quantity: '") and reason in found


@pytest.mark.parametrize("price", ["0", "0.00", "3", "3.5", "3.49", "1234567890.99"])
def test_prices_with_up_to_two_decimals_are_accepted(one_row_reasons, price: str) -> None:
    """unit_price is a non-negative decimal with at most 2 decimal places."""
    assert one_row_reasons(unit_price=price) == []


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("3.495", "unit_price: '3.495' has more than 2 decimal places"),
        ("-1.00", "unit_price: '-1.00' is negative"),
        ("-.5", "unit_price: '-.5' is negative"),
        ("1,50", "unit_price: '1,50' has a decimal comma: the contract wants a point, like 1.50"),
        (".5", "unit_price: '.5' has no digit before the point: the contract wants e.g. 0.5"),
        ("5.", "unit_price: '5.' has no digit after the point: the contract wants e.g. 5"),
        ("+3", "unit_price: '+3' has a plus sign: the contract wants the number alone, like 3"),
        (" 3", "unit_price: ' 3' has leading or trailing whitespace"),
        ("", "unit_price: must not be empty"),
        (
            "1,234.50",
            "unit_price: '1,234.50' is not a decimal number: the contract wants digits with an "
            "optional point and at most 2 decimals, like 12.50",
        ),
        (
            "3.50 EUR",
            "unit_price: '3.50 EUR' is not a decimal number: the contract wants digits with an "
            "optional point and at most 2 decimals, like 12.50",
        ),
        (
            "12345678901",
            "unit_price: '12345678901' is too large (at most 10 digits before the point)",
        ),
    ],
)
def test_bad_prices_are_rejected(one_row_reasons, price: str, reason: str) -> None:
    """Negative, over-precise or malformed prices are rejected with a specific reason."""
    assert one_row_reasons(unit_price=price) == [reason]


def test_order_id_of_64_characters_is_accepted(one_row_reasons) -> None:
    """64 characters is the longest order id."""
    assert one_row_reasons(order_id="o" * 64) == []


def test_order_id_of_65_characters_is_rejected(one_row_reasons) -> None:
    """An order id longer than 64 characters is rejected."""
    assert one_row_reasons(order_id="o" * 65) == ["order_id: 65 characters, more than 64"]


@pytest.mark.parametrize("column", ["order_id", "sku", "category"])
def test_empty_text_values_are_rejected(one_row_reasons, column: str) -> None:
    """order_id, sku and category must not be empty."""
    assert one_row_reasons(**{column: ""}) == [f"{column}: must not be empty"]


@pytest.mark.parametrize("column", ["sku", "category"])
def test_text_of_256_multibyte_characters_is_accepted(one_row_reasons, column: str) -> None:
    """256 characters fit VARCHAR(1024) even at 4 UTF-8 bytes each."""
    assert one_row_reasons(**{column: "😀" * 256}) == []


@pytest.mark.parametrize("column", ["sku", "category"])
def test_text_of_257_characters_is_rejected(one_row_reasons, column: str) -> None:
    """More than 256 characters in sku or category is rejected."""
    assert one_row_reasons(**{column: "x" * 257}) == [f"{column}: 257 characters, more than 256"]


def test_surrounding_whitespace_is_rejected_not_trimmed(one_row_reasons) -> None:
    """Values are never trimmed; surrounding whitespace is an error to fix at the source."""
    assert one_row_reasons(category="Grocery ") == [
        "category: 'Grocery ' has leading or trailing whitespace"
    ]


def test_every_problem_of_a_row_is_reported(one_row_reasons) -> None:
    """A row breaking several rules reports each one, in column order."""
    reasons = one_row_reasons(quantity="0", unit_price="-1", sku="")
    assert reasons == [
        "sku: must not be empty",
        "quantity: '0' is not a non-zero integer",
        "unit_price: '-1' is negative",
    ]


def test_duplicate_order_lines_are_kept(kit) -> None:
    """Duplicate (order_id, sku) rows pass validation; the clean step removes them."""
    row = kit.row()
    validated = kit.validate(kit.csv([row, kit.row(sold_at="2026-11-20T11:00:00Z")]))
    assert validated.report.good_rows == 2


@pytest.mark.parametrize(
    ("column", "character", "name"),
    [("order_id", "\x00", "NUL"), ("sku", "\x01", "SOH"), ("category", "\x1b", "ESC"),
     ("category", "\x0c", "FF"), ("quantity", "\x00", "NUL"), ("store_id", "\x1f", "US")],
)
def test_control_characters_in_values_are_rejected(
    one_row_reasons, column: str, character: str, name: str
) -> None:
    """A C0 control character (they break Redshift COPY) rejects the row, naming it."""
    value = {"order_id": "o-1", "sku": "GRO-1", "category": "Grocery", "quantity": "2",
             "store_id": "store_001"}[column]
    reasons = one_row_reasons(**{column: value[:1] + character + value[1:]})
    assert reasons == [
        f"{column}: contains the control character U+{ord(character):04X} ({name}): "
        "values may hold no control characters but tab and quoted line breaks"
    ]


def test_tab_and_quoted_line_breaks_are_not_control_problems(one_row_reasons) -> None:
    """Tab and a quoted line break are the allowed control characters."""
    assert one_row_reasons(category="Home\tGarden", sku="GRO\n1") == []


def test_repeated_header_line_is_named_as_such(kit) -> None:
    """A second header inside the data (two files joined) gets one reason saying so."""
    text = kit.csv([kit.row(), list(COLUMNS), kit.row()])
    validated = kit.validate(text, max_reject_ratio=1.0)
    assert [(p.line, p.column, p.reason) for p in validated.report.row_problems] == [
        (3, None, "the header line repeats here: is this two files joined together?")
    ]
