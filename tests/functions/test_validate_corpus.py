"""The validation corpus through the Lambda's logic on moto S3.

Each case of tests/contract/corpus is landed in the raw bucket and validated with
``validate_event``, as the "Validate the sales file" state does. Results are read from the
returned ValidationResult (and the URIs it names), never from lake keys built here.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import pytest
from make_corpus import case_names, corpus_case
from sales_contract import parse_raw_key
from sales_contract.validation import validate_sales_stream
from validate_sales_file.models import MAX_RETURNED_REASONS
from validate_sales_file.service import validate_event
from validate_sales_file.settings import ValidatorSettings

# The buckets of the `lake` fixture (tests/functions/conftest.py).
RAW_BUCKET = "stepline-sales-dev-raw-123456789012-us-east-1"
LAKE_BUCKET = "stepline-sales-dev-lake-123456789012-us-east-1"
Lake = Any

CORPUS = Path(__file__).resolve().parents[1] / "contract" / "corpus"
NAMES = case_names()


def _read_uri(lake: Lake, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _csv_records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _good_rows_written(key: str, data: bytes) -> bytes:
    """The good rows the reference (row by row) writes for the object, decompressed."""
    out = io.BytesIO()
    validate_sales_stream(io.BytesIO(data), parse_raw_key(key), good_rows_out=out,
                          max_reject_ratio=1.0)
    return gzip.decompress(out.getvalue())


@pytest.mark.parametrize("name", NAMES)
def test_lambda_gives_the_corpus_verdict(lake: Lake, name: str) -> None:
    """validate_event gives each case's verdict, counts, reasons, rejects and validated rows."""
    case, data = corpus_case(name)
    key = case["key"]
    expected = case["expected"]
    settings = ValidatorSettings(
        data_lake_bucket=LAKE_BUCKET, max_reject_ratio=case["max_reject_ratio"]
    )
    result = validate_event(lake.land(case["key"], data), settings=settings, s3=lake.s3)

    assert (result.accepted, result.rows, result.good_rows, result.rejected_rows) == (
        expected["accepted"], expected["rows"], expected["good_rows"], expected["rejected_rows"]
    )
    assert result.rejection_reason == expected["rejection_reason"]
    problems = expected["file_problems"] + expected["row_problems"]
    assert [reason.model_dump() for reason in result.reasons] == problems[:MAX_RETURNED_REASONS]

    if expected["rejected_rows"]:
        assert result.rejects_uri is not None
        header, *rejects = _csv_records(_read_uri(lake, result.rejects_uri).decode("utf-8"))
        assert header == ["line", "column", "reason", "record"]
        assert [
            {"line": int(line), "column": column or None, "reason": reason}
            for line, column, reason, _ in rejects
        ] == expected["row_problems"]
    else:
        assert result.rejects_uri is None

    if expected["accepted"]:
        assert result.validated_prefix is not None
        bucket, prefix = result.validated_prefix.removeprefix("s3://").split("/", 1)
        listing = lake.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
        (validated,) = listing
        stored = _read_uri(lake, f"s3://{bucket}/{validated['Key']}")
        # A gzip CSV, or the copy of a clean .csv (the raw object as it is).
        if validated["Key"].endswith(".csv"):
            assert key.endswith(".csv") and stored == data
            good = stored
        else:
            good = gzip.decompress(stored)
        assert good == _good_rows_written(key, data)
        assert len(_csv_records(good.decode("utf-8"))) == 1 + expected["good_rows"]
    else:
        assert result.validated_prefix is None


@pytest.mark.parametrize("name", NAMES)
def test_lambda_leaves_the_raw_object_untouched(lake: Lake, name: str) -> None:
    """Whatever the verdict, the raw object keeps its bytes, ETag and only version."""
    case, data = corpus_case(name)
    key = case["key"]
    event = lake.land(key, data)
    before = lake.s3.head_object(Bucket=RAW_BUCKET, Key=key)
    validate_event(event, settings=lake.settings, s3=lake.s3)
    after = lake.s3.head_object(Bucket=RAW_BUCKET, Key=key)
    assert (after["ETag"], after["VersionId"]) == (before["ETag"], before["VersionId"])
    assert lake.read(key, bucket=RAW_BUCKET) == data
    versions = lake.s3.list_object_versions(Bucket=RAW_BUCKET, Prefix=key)
    assert len(versions["Versions"]) == 1 and not versions.get("DeleteMarkers")
