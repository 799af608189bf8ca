"""Argument types the commands share: one wording for a bad date or count everywhere."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from urllib.parse import unquote_plus

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` day (``fromisoformat`` alone would also take ``20261120``)."""
    try:
        if _ISO_DATE.fullmatch(text) is None:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def iso_date_text(text: str) -> str:
    """:func:`iso_date`, as the ``YYYY-MM-DD`` text the machines' inputs carry."""
    return iso_date(text).isoformat()


def store_id(text: str) -> str:
    """A store id as raw keys hold it: anything else could match no file at all."""
    from sales_contract import STORE_ID_PATTERN

    if re.fullmatch(STORE_ID_PATTERN, text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a store id ({STORE_ID_PATTERN})")
    return text


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def stored_key(text: str) -> str:
    """A raw key as S3 stores it; a sales key copied URL-encoded from an S3 event is refused.

    Refused only when the key as given is no sales key and its decoding is one
    (``%3D`` for ``=``, ``+`` for a space): a stored key may itself hold ``+`` or ``%``.
    """
    from sales_contract import RawKeyError, parse_raw_key

    def is_sales_key(key: str) -> bool:
        try:
            parse_raw_key(key)
        except RawKeyError:
            return False
        return True

    decoded = unquote_plus(text)
    if decoded != text and not is_sales_key(text) and is_sales_key(decoded):
        raise argparse.ArgumentTypeError(
            f"{text!r} is URL-encoded, as keys are in S3 events: give the key as S3 "
            f"stores it, {decoded!r}"
        )
    return text
