"""``stepline validate --key`` takes the key as S3 stores it, and says so for an event's key."""

from __future__ import annotations

import pytest

from stepline.cli import main

HEADER_ONLY = "events/samples/header_only.csv"


def test_a_key_copied_url_encoded_from_an_event_is_refused_with_its_decoding(capsys) -> None:
    """`%3D` for `=`, `+` for a space, `%C3%A9` for é: exit 2 naming the key to give."""
    encoded = "sales/date%3D2026-11-20/store%3Dstore_001/my+day+caf%C3%A9.csv"
    with pytest.raises(SystemExit) as exc:
        main(["validate", HEADER_ONLY, "--key", encoded])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "is URL-encoded, as keys are in S3 events" in err
    assert "'sales/date=2026-11-20/store=store_001/my day café.csv'" in err


@pytest.mark.parametrize(
    "key",
    [
        "sales/date=2026-11-20/store=store_001/a+b.csv",  # a stored key may hold + and %
        "sales/date=2026-11-20/store=store_001/caf%C3%A9.csv",
    ],
)
def test_a_stored_key_holding_plus_or_percent_is_taken_as_given(key, capsys) -> None:
    """Only a key that is no sales key until decoded is refused; these are sales keys."""
    assert main(["validate", HEADER_ONLY, "--key", key]) == 0
    assert f"(as {key}," in capsys.readouterr().out


def test_land_refuses_a_url_encoded_key_too(capsys) -> None:
    """land would otherwise put the file at a literal 'date%3D...' key, which is no store-day."""
    encoded = "sales/date%3D2026-11-20/store%3Dstore_001/day.csv"
    with pytest.raises(SystemExit) as exc:
        main(["land", HEADER_ONLY, "--key", encoded])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "'sales/date=2026-11-20/store=store_001/day.csv'" in err
