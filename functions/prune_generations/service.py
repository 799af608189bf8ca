"""Which of a date's generations may go, and removing them (``prune_generations``).

Every arrival writes its clean rows under its own run (``clean/sales/sale_date=D/
store_id=S/run=R/``) and every publish pass its curated day under its own pass
(``curated/daily_sales/sale_date=D/publish=P/``); readers follow the run ledger to
the current one. The publish that has just recorded a date (and still holds the
date's lease, so no other publish of the date writes) calls this for the date:

* **curated**: every ``publish=P/`` goes except the pass just recorded, the pass
  recorded before it (a COPY or an Athena query that began before the switch may
  still read it) and whatever the ledger names as published when it is read;
* **clean**: a store-day's ``run=R/`` goes unless R is the store-day's data or its
  claimant in the ledger, or the generation this pass or the previous publish
  aggregated (from their manifests), **and** only once R's clean job has finished:
  its counts file (``clean/_metrics/.../run=R.json``) exists, which the job writes
  last. A run still cleaning (a file superseded while its job runs) is never touched;
  one without counts whose newest object is a day old is a job that died (an
  arrival and its job end within hours), and goes.

The order makes it safe against a concurrent arrival of the date: the objects are
listed first, the ledger is read (strongly consistent) after. A run whose objects
were listed had claimed its store-day before the listing; if it has become (or
will become) the store-day's data, the ledger read after the listing shows it as
the claimant or the data, so it is kept. A run that claims after the listing wrote
nothing that was listed. Only listed objects are deleted. Every step is idempotent:
deleting a key that is already gone succeeds, and a second publish of the date
decides the same from the same ledger.

The counts files, the validated zone, the manifests and summaries are not touched
here: the template expires ``validated/`` and ``clean/_metrics/`` by age (they are
read only by their own arrival, within its two hours), and the manifests and
summaries are the days' audit record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

CLEAN_ROOT = "clean/sales/"
CLEAN_METRICS_ROOT = "clean/_metrics/"
CURATED_ROOT = "curated/daily_sales/"
MANIFESTS_ROOT = "curated/_manifests/"

_CLEAN_KEY = re.compile(
    r"clean/sales/sale_date=[^/]+/store_id=(?P<store>[^/]+)/run=(?P<run>[^/]+)/"
)
_METRICS_KEY = re.compile(
    r"clean/_metrics/date=[^/]+/store=(?P<store>[^/]+)/run=(?P<run>[^/]+)\.json"
)
_CURATED_KEY = re.compile(r"curated/daily_sales/sale_date=[^/]+/publish=(?P<publish>[^/]+)/")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: At most this many pages of 1,000 keys are listed per zone and call (a bound on
#: the Lambda's work); what is not listed is left for the next publish.
DEFAULT_MAX_PAGES = 50
#: At most this many per-key delete errors are returned (the result stays small).
MAX_REPORTED_ERRORS = 5
#: A clean generation without its counts file whose newest object is older than this
#: belongs to a job that died: an arrival ends within 2 hours (its machine's timeout)
#: and its Glue job within 1 hour of starting, so nothing can still be writing it.
ABANDONED_AFTER = dt.timedelta(hours=24)


class S3Client(Protocol):
    def get_paginator(self, name: str) -> Any: ...
    def get_object(self, **kwargs: Any) -> Any: ...
    def delete_objects(self, **kwargs: Any) -> Any: ...


class DynamoDBClient(Protocol):
    def get_paginator(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PruneRequest:
    """What the publish passes: the date, the pass it recorded and the pass before it."""

    run_date: str
    publish: str
    previous_publish: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> PruneRequest:
        if not isinstance(payload, dict):
            raise ValueError("the prune request must be a JSON object")
        run_date, publish = payload.get("run_date"), payload.get("publish")
        previous = payload.get("previous_publish") or None
        if not isinstance(run_date, str) or not _DATE.fullmatch(run_date):
            raise ValueError(f"run_date must be a YYYY-MM-DD date, not {run_date!r}")
        if not isinstance(publish, str) or not publish:
            raise ValueError("publish must name the pass just recorded")
        if previous is not None and not isinstance(previous, str):
            raise ValueError("previous_publish must be a pass name or null")
        return cls(run_date=run_date, publish=publish, previous_publish=previous)


@dataclass
class Listing:
    """The date's generations as listed, each with its keys."""

    clean: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    curated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    #: (store, run) whose clean job finished (its counts file was listed).
    finished: set[tuple[str, str]] = field(default_factory=set)
    #: The newest LastModified of each clean generation.
    newest: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    #: False when a zone had more pages than the bound.
    complete: bool = True


@dataclass(frozen=True)
class Ledger:
    """The ledger as read after the listing: per store, the runs that are its data or claim it."""

    runs_by_store: dict[str, frozenset[str]]
    published_pass: str | None


@dataclass(frozen=True)
class Plan:
    delete: tuple[str, ...]
    clean_generations: int
    curated_generations: int
    kept_running: int


@dataclass(frozen=True)
class PruneResult:
    status: str  # PRUNED, PARTIAL (some keys not deleted, or not all listed)
    deleted_objects: int
    deleted_clean_generations: int
    deleted_curated_generations: int
    kept_unfinished_runs: int
    listing_complete: bool
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deleted_objects": self.deleted_objects,
            "deleted_clean_generations": self.deleted_clean_generations,
            "deleted_curated_generations": self.deleted_curated_generations,
            "kept_unfinished_runs": self.kept_unfinished_runs,
            "listing_complete": self.listing_complete,
            "errors": list(self.errors),
        }


def _objects(
    s3: S3Client, bucket: str, prefix: str, max_pages: int
) -> tuple[list[tuple[str, dt.datetime]], bool]:
    found: list[tuple[str, dt.datetime]] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}
    )
    for number, page in enumerate(pages):
        if number >= max_pages:
            return found, False
        found.extend((str(o["Key"]), o["LastModified"]) for o in page.get("Contents", []))
    return found, True


def list_day(s3: S3Client, bucket: str, run_date: str, *, max_pages: int) -> Listing:
    """The date's clean and curated generations, and which clean jobs have finished.

    The data is listed before the counts files: a run whose counts file is listed
    wrote all its data before it, and what it wrote after the data listing was not
    listed, so it is not deleted either.
    """
    listing = Listing()
    clean, complete = _objects(s3, bucket, f"{CLEAN_ROOT}sale_date={run_date}/", max_pages)
    listing.complete &= complete
    for key, modified in clean:
        if match := _CLEAN_KEY.match(key):
            generation = (match["store"], match["run"])
            listing.clean[generation].append(key)
            listing.newest[generation] = max(modified, listing.newest.get(generation, modified))
    curated, complete = _objects(s3, bucket, f"{CURATED_ROOT}sale_date={run_date}/", max_pages)
    listing.complete &= complete
    for key, _ in curated:
        if match := _CURATED_KEY.match(key):
            listing.curated[match["publish"]].append(key)
    metrics, complete = _objects(s3, bucket, f"{CLEAN_METRICS_ROOT}date={run_date}/", max_pages)
    listing.complete &= complete
    for key, _ in metrics:
        if match := _METRICS_KEY.fullmatch(key):
            listing.finished.add((match["store"], match["run"]))
    return listing


def read_ledger(dynamodb: DynamoDBClient, table: str, run_date: str) -> Ledger:
    """One strongly consistent query of the date: each store-day's data and claimant runs."""
    runs: dict[str, set[str]] = defaultdict(set)
    published: str | None = None
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"DATE#{run_date}"}},
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            sort_key = item.get("sk", {}).get("S", "")
            if sort_key == "PUBLISH":
                published = item.get("published_pass", {}).get("S") or None
            elif sort_key.startswith("STORE#"):
                store = sort_key.removeprefix("STORE#")
                for name in ("data_run", "execution_name"):
                    if value := item.get(name, {}).get("S"):
                        runs[store].add(value)
    return Ledger({s: frozenset(r) for s, r in runs.items()}, published)


def manifest_runs(
    s3: S3Client, bucket: str, run_date: str, publish: str | None
) -> set[tuple[str, str]]:
    """(store, run) of the store-days a pass aggregated, from its manifest (none if missing)."""
    if not publish:
        return set()
    key = f"{MANIFESTS_ROOT}date={run_date}/{publish}.json"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # a missing manifest keeps nothing extra, it deletes nothing
        if _error_code(error) in {"NoSuchKey", "404"}:
            return set()
        raise
    document = json.loads(body)
    return {(str(day["store_id"]), str(day["run"])) for day in document.get("store_days") or []}


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def plan(
    listing: Listing,
    ledger: Ledger,
    request: PruneRequest,
    aggregated: Iterable[tuple[str, str]],
    now: dt.datetime | None = None,
) -> Plan:
    """The keys to delete: superseded generations whose job finished (or died long ago)."""
    now = now or dt.datetime.now(dt.UTC)
    keep_passes = {request.publish, request.previous_publish, ledger.published_pass} - {None}
    aggregated = set(aggregated)
    delete: list[str] = []
    curated = 0
    for publish, keys in sorted(listing.curated.items()):
        if publish not in keep_passes:
            delete.extend(keys)
            curated += 1
    clean = running = 0
    for (store, run), keys in sorted(listing.clean.items()):
        if run in ledger.runs_by_store.get(store, frozenset()) or (store, run) in aggregated:
            continue
        newest = listing.newest.get((store, run), now)
        if (store, run) not in listing.finished and now - newest < ABANDONED_AFTER:
            running += 1  # its clean job may still be writing: left for a later publish
            continue
        delete.extend(keys)
        clean += 1
    return Plan(tuple(delete), clean, curated, running)


def delete_keys(s3: S3Client, bucket: str, keys: Iterable[str]) -> tuple[int, list[str]]:
    """DeleteObjects in batches of 1,000 (quiet); returns (deleted, per-key errors)."""
    deleted = 0
    errors: list[str] = []
    for batch in _batches(list(keys), 1000):
        answer = s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
        )
        failed = answer.get("Errors", [])
        deleted += len(batch) - len(failed)
        errors.extend(
            f"{e.get('Key')}: {e.get('Code')} {e.get('Message', '')}".strip() for e in failed
        )
    return deleted, errors


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prune_day(
    request: PruneRequest,
    *,
    s3: S3Client,
    dynamodb: DynamoDBClient,
    bucket: str,
    table: str,
    max_pages: int = DEFAULT_MAX_PAGES,
    after_listing: Callable[[Listing], None] | None = None,
) -> PruneResult:
    """List, then read the ledger and the manifests, then delete what is superseded.

    ``after_listing`` runs between the listing and the ledger read (tests force a
    concurrent arrival there).
    """
    listing = list_day(s3, bucket, request.run_date, max_pages=max_pages)
    if after_listing is not None:
        after_listing(listing)
    ledger = read_ledger(dynamodb, table, request.run_date)
    aggregated = manifest_runs(s3, bucket, request.run_date, request.publish)
    aggregated |= manifest_runs(s3, bucket, request.run_date, request.previous_publish)
    decided = plan(listing, ledger, request, aggregated)
    deleted, errors = delete_keys(s3, bucket, decided.delete)
    partial = bool(errors) or not listing.complete
    return PruneResult(
        status="PARTIAL" if partial else "PRUNED",
        deleted_objects=deleted,
        deleted_clean_generations=decided.clean_generations,
        deleted_curated_generations=decided.curated_generations,
        kept_unfinished_runs=decided.kept_running,
        listing_complete=listing.complete,
        errors=tuple(errors[:MAX_REPORTED_ERRORS]),
    )
