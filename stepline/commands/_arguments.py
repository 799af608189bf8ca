"""Argument types the commands share: one wording for a bad date or count everywhere."""

from __future__ import annotations

import argparse
import datetime as dt
import re

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


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
