"""The folder standing in for S3 stays in step with moto S3."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from stepline.local.lake import LocalLake, S3Location


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="lake")
        yield client


def test_s3_uri_maps_to_bucket_folder(tmp_path, s3):
    """s3://bucket/key maps to <root>/bucket/key, and prefixes keep their trailing slash."""
    lake = LocalLake(tmp_path, s3)
    assert lake.path_for("s3://lake/a/b.csv") == tmp_path / "lake" / "a" / "b.csv"
    assert lake.local_uri("s3://lake/a/").endswith("/lake/a/")
    with pytest.raises(ValueError, match="not an s3:// URI"):
        S3Location.parse("/tmp/x")


def test_pull_replaces_the_local_prefix_with_s3_content(tmp_path, s3):
    """pull copies every object under the prefix and drops local files S3 no longer has."""
    lake = LocalLake(tmp_path, s3)
    s3.put_object(Bucket="lake", Key="validated/d=1/a.csv", Body=b"a")
    stale = tmp_path / "lake" / "validated" / "d=1" / "old.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    lake.pull("s3://lake/validated/")
    assert (tmp_path / "lake/validated/d=1/a.csv").read_bytes() == b"a"
    assert not stale.exists()


def test_push_uploads_and_deletes_so_overwrites_propagate(tmp_path, s3):
    """push makes S3 equal the folder: new files uploaded, removed ones deleted, .crc skipped."""
    lake = LocalLake(tmp_path, s3)
    s3.put_object(Bucket="lake", Key="clean/p=1/part-old.parquet", Body=b"old")
    s3.put_object(Bucket="lake", Key="clean/p=2/keep.parquet", Body=b"keep")
    folder = tmp_path / "lake" / "clean" / "p=1"
    folder.mkdir(parents=True)
    (folder / "part-new.parquet").write_bytes(b"new")
    (folder / ".part-new.parquet.crc").write_bytes(b"crc")
    lake.push("s3://lake/clean/p=1/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    assert keys == {"clean/p=1/part-new.parquet", "clean/p=2/keep.parquet"}


def test_buckets_survive_a_session_through_the_folder(tmp_path, s3):
    """save_bucket then restore_bucket into an emptied bucket brings every object back."""
    s3.put_object(Bucket="lake", Key="raw/x.csv", Body=b"x,y\n")
    LocalLake(tmp_path, s3).save_bucket("lake")
    s3.delete_object(Bucket="lake", Key="raw/x.csv")
    assert "Contents" not in s3.list_objects_v2(Bucket="lake")
    assert LocalLake(tmp_path, s3).restore_bucket("lake") == 1
    assert s3.get_object(Bucket="lake", Key="raw/x.csv")["Body"].read() == b"x,y\n"


def test_a_deletion_made_through_s3_is_not_restored_by_the_next_session(tmp_path, s3):
    """save_bucket mirrors deletions at the bucket root too: a deleted object stays deleted."""
    s3.put_object(Bucket="lake", Key="validated/run=1/a.csv.gz", Body=b"a")
    s3.put_object(Bucket="lake", Key="keep.txt", Body=b"k")
    LocalLake(tmp_path, s3).save_bucket("lake")  # session 1 ends
    s3.delete_object(Bucket="lake", Key="validated/run=1/a.csv.gz")  # session 2 deletes it
    LocalLake(tmp_path, s3).save_bucket("lake")  # session 2 ends
    for obj in s3.list_objects_v2(Bucket="lake")["Contents"]:  # a fresh moto for session 3
        s3.delete_object(Bucket="lake", Key=obj["Key"])
    assert LocalLake(tmp_path, s3).restore_bucket("lake") == 1
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]] == ["keep.txt"]


class CountingS3:
    """Passes calls through to the real client, counting the transfers."""

    def __init__(self, client):
        self._client = client
        self.transfers = 0

    def upload_file(self, *args, **kwargs):
        self.transfers += 1
        return self._client.upload_file(*args, **kwargs)

    def get_object(self, *args, **kwargs):
        self.transfers += 1
        return self._client.get_object(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_unchanged_files_are_not_transferred_again(tmp_path, s3):
    """A second pull or push of the same content only lists; a changed file is copied."""
    counting = CountingS3(s3)
    lake = LocalLake(tmp_path, counting)
    s3.put_object(Bucket="lake", Key="curated/d=1/a.parquet", Body=b"aaaa")
    lake.pull("s3://lake/curated/")
    lake.push("s3://lake/curated/")
    assert counting.transfers == 1  # the first download only
    (tmp_path / "lake/curated/d=1/a.parquet").write_bytes(b"bbbb")  # same size, new bytes
    lake.push("s3://lake/curated/")
    assert counting.transfers == 2
    assert s3.get_object(Bucket="lake", Key="curated/d=1/a.parquet")["Body"].read() == b"bbbb"
