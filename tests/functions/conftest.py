"""moto-backed S3 for the validation Lambda tests (no network, no AWS account)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from validate_sales_file.settings import ValidatorSettings

from stepline.sample_data import object_created_event

RAW_BUCKET = "stepline-sales-dev-raw-123456789012-us-east-1"
LAKE_BUCKET = "stepline-sales-dev-lake-123456789012-us-east-1"


@pytest.fixture(scope="module")
def fake_aws_credentials() -> Iterator[None]:
    """Fake credentials and region for a test module, so no test can reach a real account."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="module")
def _moto_s3(fake_aws_credentials: None) -> Iterator[Any]:
    """One moto S3 per test module (starting moto costs ~0.5 s), with fake credentials."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=RAW_BUCKET)
        s3.put_bucket_versioning(
            Bucket=RAW_BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        s3.create_bucket(Bucket=LAKE_BUCKET)
        yield s3


def _empty(s3: Any, bucket: str) -> None:
    listing = s3.list_object_versions(Bucket=bucket)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


@dataclass
class Lake:
    """The raw and data-lake buckets, and helpers to land files and read outputs."""

    s3: Any
    settings: ValidatorSettings

    def land(self, key: str, data: bytes) -> dict[str, Any]:
        """Upload raw bytes and return the Object Created event S3 would send."""
        response = self.s3.put_object(Bucket=RAW_BUCKET, Key=key, Body=data)
        return object_created_event(
            RAW_BUCKET,
            key,
            size=len(data),
            etag=response["ETag"].strip('"'),
            version_id=response.get("VersionId"),
        )

    def listing(self) -> list[str]:
        """Every key in the lake bucket, sorted."""
        listing = self.s3.list_objects_v2(Bucket=LAKE_BUCKET)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str, bucket: str = LAKE_BUCKET) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def lake(_moto_s3: Any) -> Iterator[Lake]:
    """A versioned raw bucket and a lake bucket in moto, empty at the start of each test."""
    yield Lake(_moto_s3, ValidatorSettings(data_lake_bucket=LAKE_BUCKET, max_reject_ratio=0.01))
    _empty(_moto_s3, RAW_BUCKET)
    _empty(_moto_s3, LAKE_BUCKET)
