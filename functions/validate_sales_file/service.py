"""Validate one raw sales object in S3 and publish the outcome in the data lake.

This is everything the Lambda does, as a plain function taking its S3 client
and settings, so tests (moto) and the local runtime call it directly.

Outputs go to deterministic keys derived from the raw key and the arrival's
run id (see :mod:`sales_contract.layout`): a retry of the same run overwrites
its own objects, and also removes what an earlier attempt of that run left and
this one would not write (a stale validated copy, rejects file or rejection
record). Other runs' outputs are never touched. The raw object is only ever read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

from aws_lambda_powertools import Logger
from sales_contract import (
    ADHOC_RUN,
    RAW_KEY_PATTERN_TEXT,
    SALES_PREFIX,
    RawKeyError,
    RawSalesKey,
    ValidationReport,
    checked_run_id,
    is_sales_key,
    parse_raw_key,
    s3_uri,
    unmatched_key_rejection_key,
)

from .models import MAX_RETURNED_REASONS, Reason, SourceObject, ValidationResult
from .settings import ValidatorSettings
from .upload import StreamingUpload

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parser.models import (
        S3EventNotificationEventBridgeModel,
    )

logger = Logger(child=True)

# A boto3 S3 client; typed loosely to keep boto3 stubs out of the Lambda bundle.
S3Client = Any

# The rejects up to this size stay in memory; larger ones spill to /tmp, so memory
# stays bounded while small files never touch the disk.
SPOOL_MAX_BYTES = 8 * 1024 * 1024


def validate_event(
    event: dict[str, Any],
    *,
    settings: ValidatorSettings,
    s3: S3Client,
    run: str = ADHOC_RUN,
) -> ValidationResult:
    """Validate the object named by an EventBridge S3 "Object Created" event, as run ``run``.

    The event is checked against Powertools' pydantic model of it
    (``S3EventNotificationEventBridgeModel``; a malformed event raises pydantic's
    ``ValidationError``). An event of the usual form is proven valid by
    :func:`checked_event` without it: importing pydantic and building that model's
    schema took about 0.2 s of CPU, in every cold start.
    """
    arrival: CheckedEvent | S3EventNotificationEventBridgeModel | None = checked_event(event)
    if arrival is None:
        from aws_lambda_powertools.utilities.parser import parse
        from aws_lambda_powertools.utilities.parser.models import (
            S3EventNotificationEventBridgeModel,
        )

        arrival = parse(event=event, model=S3EventNotificationEventBridgeModel)
    return validate_arrival(arrival, settings=settings, s3=s3, run=run)


@dataclasses.dataclass(frozen=True, slots=True)
class _EventObject:
    key: str
    size: int | None
    etag: str
    version_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class _EventBucket:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class _EventDetail:
    bucket: _EventBucket
    object: _EventObject


@dataclasses.dataclass(frozen=True, slots=True)
class CheckedEvent:
    """The fields of an S3 Object Created event that validation reads (as the model names them)."""

    detail: _EventDetail


#: The EventBridge envelope's and the S3 detail's string fields the model requires...
_REQUIRED_TEXT = ("version", "id", "source", "account", "region", "detail-type")
_REQUIRED_DETAIL_TEXT = ("version", "request-id", "requester")
#: ...and the optional ones, a string or null.
_OPTIONAL_DETAIL_TEXT = (
    "source-ip-address", "reason", "deletion-type", "restore-expiry-time",
    "source-storage-class", "destination-storage-class", "destination-access-tier",
)
#: Names the model also accepts for a field (populate_by_name): the model decides.
_FIELD_NAMES = frozenset({"detail_type", "replay_name"})
_EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


def checked_event(event: object) -> CheckedEvent | None:
    """The event's fields if it is proven to be what Powertools' model accepts, else None.

    Stricter than the model, never looser: every field the model requires is there
    with exactly its type (a string, not something pydantic would convert), the
    time is RFC 3339 in UTC, the size an integer. Anything else (a missing field,
    a number as a string, another form of the time...) returns None, and the model
    itself then parses the event: it accepts it, or raises its own error.
    """

    def text(mapping: dict[str, Any], name: str, *, optional: bool = False) -> bool:
        value = mapping.get(name)
        return type(value) is str or (optional and value is None)

    if type(event) is not dict or _FIELD_NAMES & event.keys():
        return None
    detail = event.get("detail")
    time = event.get("time")
    resources = event.get("resources")
    if (
        not all(text(event, name) for name in _REQUIRED_TEXT)
        or ("replay-name" in event and not text(event, "replay-name", optional=True))
        or type(time) is not str
        or not _EVENT_TIME.fullmatch(time)
        or type(resources) is not list
        or not all(type(resource) is str for resource in resources)
        or type(detail) is not dict
        or not all(text(detail, name) for name in _REQUIRED_DETAIL_TEXT)
        or not all(
            text(detail, name, optional=True) for name in _OPTIONAL_DETAIL_TEXT if name in detail
        )
    ):
        return None
    try:
        dt.datetime.fromisoformat(time)
    except ValueError:  # 2026-02-30...
        return None
    bucket, item = detail.get("bucket"), detail.get("object")
    if type(bucket) is not dict or not text(bucket, "name") or type(item) is not dict:
        return None
    size = item.get("size")
    if (
        not text(item, "key")
        or ("etag" in item and not text(item, "etag"))
        or not text(item, "version-id", optional=True)
        or not text(item, "sequencer", optional=True)
        # The model's size is a float >= 0: an integer it holds exactly.
        or not (size is None or (type(size) is int and 0 <= size < 2**53))
    ):
        return None
    return CheckedEvent(
        _EventDetail(
            _EventBucket(bucket["name"]),
            _EventObject(item["key"], size, item.get("etag", ""), item.get("version-id")),
        )
    )


def validate_arrival(
    arrival: CheckedEvent | S3EventNotificationEventBridgeModel,
    *,
    settings: ValidatorSettings,
    s3: S3Client,
    run: str,
) -> ValidationResult:
    """Validate one arrival; a contract breach is a normal ``accepted=False`` result.

    ``run`` (the arrival execution's name) scopes every output key. Only real
    faults (S3 errors) raise, so the state machine's Retry/Catch handles them.
    """
    checked_run_id(run)
    detail = arrival.detail
    # S3 URL-encodes keys in its event notifications ("a b.csv" -> "a+b.csv").
    key = unquote_plus(detail.object.key)
    version_id = detail.object.version_id
    source = SourceObject(
        bucket=detail.bucket.name,
        key=key,
        # Unversioned buckets report no version (or "null"): read the current object.
        version_id=version_id if version_id not in (None, "null") else None,
        etag=detail.object.etag or None,
        size=int(detail.object.size) if detail.object.size is not None else None,
    )
    source_uri = s3_uri(source.bucket, key)

    if not is_sales_key(key):
        logger.warning("Ignoring an object outside the sales prefix", extra={"key": key})
        return _rejected_result(
            source_uri,
            None,
            f"ignored: the object is outside {SALES_PREFIX} and is not a Stepline sales file",
        )
    try:
        raw_key = parse_raw_key(key)
    except RawKeyError as error:
        reason = str(error)
        _put_rejection_record(
            s3,
            settings.data_lake_bucket,
            unmatched_key_rejection_key(key, run),
            source,
            None,
            reason,
        )
        return _rejected_result(source_uri, None, reason)

    request: dict[str, Any] = {"Bucket": source.bucket, "Key": key}
    if source.version_id is not None:
        # Pin the version in the event, so a later overwrite can't change what this run sees.
        request["VersionId"] = source.version_id
    response = s3.get_object(**request)
    source = dataclasses.replace(
        source,
        version_id=response.get("VersionId", source.version_id),
        etag=response.get("ETag", "").strip('"') or source.etag,
        size=response.get("ContentLength", source.size),
    )
    if source.etag != (detail.object.etag or source.etag):
        logger.warning(
            "The object changed since the event; validating the current version",
            extra={"event_etag": detail.object.etag, "object_etag": source.etag},
        )

    # Imported here: numpy (a third of the module's import time) serves only the
    # objects that are read; an ignored object or a key breaking the pattern needs none.
    from sales_contract.columnar import validate_sales_object

    reopen = dict(request)
    if source.etag:
        # The gzip re-read of a rejected .csv.gz must see the same bytes.
        reopen["IfMatch"] = source.etag
    bodies = [response["Body"]]

    @contextlib.contextmanager
    def open_raw() -> Iterator[Any]:
        body = bodies.pop() if bodies else s3.get_object(**reopen)["Body"]
        try:
            yield body
        finally:
            body.close()

    # The good rows stream to S3 while the file is read; nothing appears under the
    # validated key unless the file is accepted. They are deferred: a clean file
    # already in the validated form is copied by S3 instead (see _publish).
    good_rows = StreamingUpload(
        s3,
        settings.data_lake_bucket,
        raw_key.validated_key(run),
        content_type=_content_type(compressed=True),
        metadata=_lineage_metadata(source),
    )
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as rejects:
        try:
            report = validate_sales_object(
                open_raw,
                raw_key,
                max_reject_ratio=settings.max_reject_ratio,
                good_rows_out=good_rows,
                rejects_out=rejects,
                max_reasons=MAX_RETURNED_REASONS,
                defer_good_rows=True,
            )
            return _publish(
                s3, settings.data_lake_bucket, raw_key, run, source, report, good_rows, rejects
            )
        finally:
            good_rows.abort()  # a no-op once finished; else no object is made


def _publish(
    s3: S3Client,
    lake: str,
    raw_key: RawSalesKey,
    run: str,
    source: SourceObject,
    report: ValidationReport,
    good_rows: StreamingUpload,
    rejects: IO[bytes],
) -> ValidationResult:
    lineage = _lineage_metadata(source)
    rejects_uri = None
    if report.rejected_rows:
        _upload(s3, rejects, lake, raw_key.rejects_key(run), "text/csv; charset=utf-8", lineage)
        rejects_uri = s3_uri(lake, raw_key.rejects_key(run))
    else:
        s3.delete_object(Bucket=lake, Key=raw_key.rejects_key(run))

    if report.accepted:
        if report.good_rows_unchanged:
            # Every row was good and is already in the validated form: the object is
            # its own validated file. S3 copies it (no bytes through the function),
            # from the version and ETag this run read.
            good_rows.abort()
            written = raw_key.validated_key(run, compressed=raw_key.compressed)
            copy_object(s3, source, lake, written, _content_type(raw_key.compressed), lineage)
        else:
            good_rows.finish()
            written = raw_key.validated_key(run)
        for other in raw_key.validated_keys(run):
            if other != written:  # the other form, if an earlier attempt wrote it
                s3.delete_object(Bucket=lake, Key=other)
        s3.delete_object(Bucket=lake, Key=raw_key.rejection_key(run))
        validated_prefix: str | None = s3_uri(lake, raw_key.validated_prefix_key(run))
    else:
        good_rows.abort()
        # Good rows an earlier attempt of this run wrote must not be cleaned.
        for key in raw_key.validated_keys(run):
            s3.delete_object(Bucket=lake, Key=key)
        _put_rejection_record(
            s3,
            lake,
            raw_key.rejection_key(run),
            source,
            raw_key,
            report.rejection_reason or "",
            report,
            rejects_uri,
        )
        validated_prefix = None

    logger.info(
        "Validated a sales file",
        extra={
            "source_uri": s3_uri(source.bucket, source.key),
            "accepted": report.accepted,
            "rows": report.rows,
            "rejected_rows": report.rejected_rows,
            "rejection_reason": report.rejection_reason,
            "run": run,
        },
    )
    return ValidationResult(
        accepted=report.accepted,
        run_date=raw_key.run_date_text,
        store_id=raw_key.store_id,
        source_uri=s3_uri(source.bucket, source.key),
        rows=report.rows,
        good_rows=report.good_rows,
        rejected_rows=report.rejected_rows,
        counts_complete=report.counts_complete,
        validated_prefix=validated_prefix,
        rejects_uri=rejects_uri,
        rejection_reason=report.rejection_reason,
        reasons=[Reason.from_problem(p) for p in report.reasons(MAX_RETURNED_REASONS)],
    )


def _rejected_result(source_uri: str, raw_key: RawSalesKey | None, reason: str) -> ValidationResult:
    return ValidationResult(
        accepted=False,
        run_date=raw_key.run_date_text if raw_key else None,
        store_id=raw_key.store_id if raw_key else None,
        source_uri=source_uri,
        rows=0,
        good_rows=0,
        rejected_rows=0,
        counts_complete=False,
        validated_prefix=None,
        rejects_uri=None,
        rejection_reason=reason,
        reasons=[Reason(line=None, column=None, reason=reason)],
    )


def _lineage_metadata(source: SourceObject) -> dict[str, str]:
    # S3 metadata must be ASCII: the key is URL-quoted.
    return {
        "stepline-source-key": quote(source.key, safe="/="),
        "stepline-source-version-id": source.version_id or "",
        "stepline-source-etag": source.etag or "",
    }


def _content_type(compressed: bool) -> str:
    return "application/gzip" if compressed else "text/csv; charset=utf-8"


#: Objects up to this size are copied with one CopyObject (S3's limit is 5 GiB);
#: larger ones with a multipart copy of parts this size (10,000 parts: 5 TiB).
COPY_THRESHOLD_BYTES = 4 * 1024**3
COPY_PART_BYTES = 512 * 1024**2


def copy_object(
    s3: S3Client,
    source: SourceObject,
    bucket: str,
    key: str,
    content_type: str,
    metadata: dict[str, str],
) -> None:
    """Copy the object this run read to ``bucket``/``key``, server-side, with new metadata.

    boto3's managed copy makes one ``CopyObject`` or, past
    :data:`COPY_THRESHOLD_BYTES`, a multipart copy (``UploadPartCopy``), pinned
    to the version read and, every request, to its ETag: an object replaced
    since it was validated fails the copy (a 412 the Retry sees) rather than
    being published unchecked. The destination gets the bucket's default
    encryption, like every object the function writes.
    """
    from boto3.s3.transfer import TransferConfig

    copy_source = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id is not None:
        copy_source["VersionId"] = source.version_id
    extra: dict[str, Any] = {
        "ContentType": content_type,
        "Metadata": metadata,
        "MetadataDirective": "REPLACE",
    }
    if source.etag:
        # Quoted, as S3 returns it (RFC 9110's entity-tag); the HeadObject the
        # managed copy makes first compares the quotes too.
        extra["CopySourceIfMatch"] = f'"{source.etag}"'
    config = TransferConfig(
        multipart_threshold=COPY_THRESHOLD_BYTES, multipart_chunksize=COPY_PART_BYTES
    )
    s3.copy(copy_source, bucket, key, ExtraArgs=extra, Config=config)


def _upload(
    s3: S3Client,
    data: IO[bytes],
    bucket: str,
    key: str,
    content_type: str,
    metadata: dict[str, str],
) -> None:
    data.seek(0)
    # upload_fileobj streams from the temp file, in parts when it is large.
    s3.upload_fileobj(
        data, bucket, key, ExtraArgs={"ContentType": content_type, "Metadata": metadata}
    )


def _put_rejection_record(
    s3: S3Client,
    lake: str,
    record_key: str,
    source: SourceObject,
    raw_key: RawSalesKey | None,
    reason: str,
    report: ValidationReport | None = None,
    rejects_uri: str | None = None,
) -> None:
    reasons = (
        [p.as_dict() for p in report.reasons(MAX_RETURNED_REASONS)]
        if report is not None
        else [{"line": None, "column": None, "reason": reason}]
    )
    record = {
        "source": source.model_dump(),
        "run_date": raw_key.run_date_text if raw_key else None,
        "store_id": raw_key.store_id if raw_key else None,
        "reason": reason,
        "reasons": reasons,
        "rows": report.rows if report else 0,
        "good_rows": report.good_rows if report else 0,
        "rejected_rows": report.rejected_rows if report else 0,
        "counts_complete": report.counts_complete if report else False,
        "rejects_uri": rejects_uri,
        "key_pattern": RAW_KEY_PATTERN_TEXT,
        "validated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    s3.put_object(
        Bucket=lake,
        Key=record_key,
        Body=json.dumps(record, indent=2).encode("utf-8"),
        ContentType="application/json",
    )
