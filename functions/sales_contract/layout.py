"""Where Stepline sales files live: the raw key pattern and every output key.

Stores drop files in the raw bucket under::

    sales/date=YYYY-MM-DD/store=<store_id>/<name>.csv      (or .csv.gz)

and the validation step of arrival run ``R`` writes, in the data-lake bucket::

    validated/sales/date=D/store=S/run=R/<name>.csv.gz            good rows (gzip CSV, or
                                                                  <name>.csv: a clean .csv copied)
    quarantine/sales/date=D/store=S/run=R/<name>.rejects.csv      rejected rows, when there are some
    quarantine/sales/date=D/store=S/run=R/<name>.rejection.json   why a whole file was rejected
    quarantine/unmatched_keys/run=R/<url-quoted key>.rejection.json   keys that break the pattern

``R`` is the arrival's execution name, which the starter derives from the object
(key and version), so a retry or a redelivery of the same object version
overwrites the same objects, while a new version (or a concurrent arrival of the
same store-day) writes beside them and never under another run's feet. Which
run is a store-day's data is recorded in the run ledger, not in these keys.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import quote

#: Everything under this prefix of the raw bucket belongs to Stepline.
SALES_PREFIX = "sales/"

#: The human-readable form of the pattern, used verbatim in rejection reasons.
RAW_KEY_PATTERN_TEXT = "sales/date=YYYY-MM-DD/store=<store_id>/<name>.csv[.gz]"

STORE_ID_PATTERN = r"[A-Za-z0-9_-]{1,32}"

# <name> is anything without a slash; it must not be empty (".csv" alone is not a file name).
_RAW_KEY_RE = re.compile(
    r"sales/date=(?P<date>\d{4}-\d{2}-\d{2})"
    rf"/store=(?P<store>{STORE_ID_PATTERN})"
    r"/(?P<name>[^/]+?)(?P<ext>\.csv|\.csv\.gz)"
)
_STORE_ID_RE = re.compile(STORE_ID_PATTERN)

#: Run ids are Step Functions execution names; only these characters are allowed.
RUN_ID_PATTERN = r"[A-Za-z0-9_-]{1,80}"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)
#: The run id of a validation nobody started as an arrival (tests, ad hoc invocations).
ADHOC_RUN = "adhoc"

VALIDATED_ROOT = "validated/sales/"
QUARANTINE_ROOT = "quarantine/sales/"
UNMATCHED_KEYS_ROOT = "quarantine/unmatched_keys/"


class RawKeyError(ValueError):
    """A key under ``sales/`` that does not follow the raw key pattern."""

    def __init__(self, key: str) -> None:
        self.key = key
        problem = key_problem(key)
        super().__init__(
            f"key does not match {RAW_KEY_PATTERN_TEXT}" + (f": {problem}" if problem else "")
        )


_PARTS_RE = re.compile(r"sales/(?P<date>[^/]*)/(?P<store>[^/]*)/(?P<name>[^/]*)")


def key_problem(key: str) -> str | None:
    """What is wrong with a key that breaks the pattern, in words (None if nothing specific)."""
    if key.endswith("/"):
        return "it ends with '/', a folder marker, not a file"
    parts = _PARTS_RE.fullmatch(key)
    if parts is None:
        depth = key.count("/")
        return (
            f"it has {depth} '/' where the pattern has 3: sales/, date=YYYY-MM-DD/, "
            "store=<store_id>/ and the name"
        )
    date, store, name = parts["date"], parts["store"], parts["name"]
    if not re.fullmatch(r"date=\d{4}-\d{2}-\d{2}", date):
        return f"the folder {date!r} must be date=YYYY-MM-DD"
    try:
        dt.date.fromisoformat(date.removeprefix("date="))
    except ValueError:
        return f"{date.removeprefix('date=')!r} is not a real date"
    if not (store.startswith("store=") and _STORE_ID_RE.fullmatch(store.removeprefix("store="))):
        return f"the folder {store!r} must be store=<store_id>, the id matching {STORE_ID_PATTERN}"
    lowered = name.lower()
    for extension in (".csv.gz", ".csv"):
        if lowered.endswith(extension) and not name.endswith(extension):
            return (
                f"the name ends in {name[-len(extension):]!r}: the extension must be "
                "lower-case .csv or .csv.gz"
            )
        if name == extension:
            return f"the name {name!r} is only an extension"
    return f"the name {name!r} must end in .csv or .csv.gz"


@dataclass(frozen=True, slots=True)
class RawSalesKey:
    """A parsed raw key: which store, which day, which file."""

    key: str
    run_date: dt.date
    store_id: str
    #: The file name without ``.csv`` / ``.csv.gz``; names every output object.
    name: str
    compressed: bool

    @property
    def run_date_text(self) -> str:
        return self.run_date.isoformat()

    @property
    def partition(self) -> str:
        return f"date={self.run_date_text}/store={self.store_id}/"

    def validated_prefix_key(self, run: str) -> str:
        """Folder of run ``run``'s validated file (what that run's Glue clean job reads)."""
        return f"{VALIDATED_ROOT}{self.partition}run={checked_run_id(run)}/"

    def validated_key(self, run: str, *, compressed: bool = True) -> str:
        """Run ``run``'s validated file: gzip CSV, or (``compressed=False``) plain CSV.

        The plain one is the copy of a ``.csv`` raw file whose rows were all good
        and already in the validated form (the validator then copies the object
        rather than writing it); a run has one or the other, never both. The
        clean job relies on it: a plain validated file has one record per line
        (a quoted line break stops the copy), so it reads one line by line, in
        parts.
        """
        extension = ".csv.gz" if compressed else ".csv"
        return f"{self.validated_prefix_key(run)}{self.name}{extension}"

    def validated_keys(self, run: str) -> tuple[str, str]:
        """Both forms of run ``run``'s validated file (a retry removes the one it did not write)."""
        return self.validated_key(run), self.validated_key(run, compressed=False)

    def rejects_key(self, run: str) -> str:
        return f"{QUARANTINE_ROOT}{self.partition}run={checked_run_id(run)}/{self.name}.rejects.csv"

    def rejection_key(self, run: str) -> str:
        return (
            f"{QUARANTINE_ROOT}{self.partition}run={checked_run_id(run)}/{self.name}.rejection.json"
        )


def checked_run_id(run: str) -> str:
    """``run`` if it is a valid run id (it becomes a path segment), else ValueError."""
    if not _RUN_ID_RE.fullmatch(run):
        raise ValueError(f"run id {run!r} does not match {RUN_ID_PATTERN}")
    return run


def is_sales_key(key: str) -> bool:
    """Whether the object is Stepline's business at all.

    Objects outside ``sales/`` are ignored. Objects inside it are validated, and
    a key that breaks the pattern is rejected (and notified), never ignored.
    """
    return key.startswith(SALES_PREFIX)


def parse_raw_key(key: str) -> RawSalesKey:
    """Parse a raw key, or raise :class:`RawKeyError` if it breaks the pattern.

    The date must be a real calendar date (``2026-02-30`` is rejected) and the
    store id must match ``[A-Za-z0-9_-]{1,32}``.
    """
    match = _RAW_KEY_RE.fullmatch(key)
    if match is None:
        raise RawKeyError(key)
    try:
        run_date = dt.date.fromisoformat(match["date"])
    except ValueError:
        raise RawKeyError(key) from None
    return RawSalesKey(
        key=key,
        run_date=run_date,
        store_id=match["store"],
        name=match["name"],
        compressed=match["ext"] == ".csv.gz",
    )


def raw_key(
    run_date: dt.date | str, store_id: str, name: str = "sales", *, gzip: bool = False
) -> str:
    """Build the raw key a store uploads to, e.g. ``sales/date=2026-11-20/store=001/sales.csv``."""
    if isinstance(run_date, str):
        run_date = dt.date.fromisoformat(run_date)
    if not _STORE_ID_RE.fullmatch(store_id):
        raise ValueError(f"store id {store_id!r} does not match {STORE_ID_PATTERN}")
    if not name or "/" in name:
        raise ValueError(f"file name {name!r} must be non-empty and contain no '/'")
    extension = ".csv.gz" if gzip else ".csv"
    return f"{SALES_PREFIX}date={run_date.isoformat()}/store={store_id}/{name}{extension}"


def unmatched_key_rejection_key(key: str, run: str) -> str:
    """Where run ``run``'s rejection record of a key that breaks the pattern goes."""
    return f"{UNMATCHED_KEYS_ROOT}run={checked_run_id(run)}/{quote(key, safe='')}.rejection.json"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
