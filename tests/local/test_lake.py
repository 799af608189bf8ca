"""The folder standing in for S3 stays in step with moto S3."""

from __future__ import annotations

import hashlib
import json

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


def _fresh_session_of(tmp_path, s3, *keys_and_bodies):
    """Objects saved by one session, then moto emptied as a new process would find it."""
    for key, body in keys_and_bodies:
        s3.put_object(Bucket="lake", Key=key, Body=body)
    LocalLake(tmp_path, s3).save_bucket("lake")
    for key, _ in keys_and_bodies:
        s3.delete_object(Bucket="lake", Key=key)
    return LocalLake(tmp_path, s3)


def test_a_restore_reads_no_file_the_last_save_left_unchanged(tmp_path, s3, monkeypatch):
    """Unchanged files go back into moto unread (start cost: a stat each); S3 still serves them."""
    from pathlib import Path

    lake = _fresh_session_of(tmp_path, s3, ("old/a.parquet", b"a" * 1000), ("old/b.csv", b"b"))
    opened: list[str] = []
    objects = tmp_path / "lake"
    real_open, real_read = Path.open, Path.read_bytes

    def note(path):
        if objects in path.parents:
            opened.append(path.name)

    monkeypatch.setattr(Path, "open", lambda p, *a, **k: note(p) or real_open(p, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda p: note(p) or real_read(p))
    assert lake.restore_bucket("lake") == 2
    assert opened == []
    listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    assert listed == {"old/a.parquet": 1000, "old/b.csv": 1}
    assert opened == []  # listing needs no bytes: the index gave the ETags
    assert s3.get_object(Bucket="lake", Key="old/a.parquet")["Body"].read() == b"a" * 1000
    assert opened == ["a.parquet"]


def test_a_file_changed_since_the_save_is_restored_with_its_new_bytes(tmp_path, s3):
    """A file edited between sessions (new size or mtime) is read, and S3 gets its new bytes."""

    lake = _fresh_session_of(tmp_path, s3, ("k.txt", b"before"))
    (tmp_path / "lake" / "k.txt").write_bytes(b"after!!")
    lake.restore_bucket("lake")
    head = s3.head_object(Bucket="lake", Key="k.txt")
    assert head["ETag"].strip('"') == hashlib.md5(b"after!!").hexdigest()
    assert s3.get_object(Bucket="lake", Key="k.txt")["Body"].read() == b"after!!"


def test_an_object_restored_unread_keeps_its_bytes_when_its_file_is_rewritten(tmp_path, s3):
    """pull writing a newer version over the file leaves the restored version's bytes intact."""
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    lake = _fresh_session_of(tmp_path, s3, ("v.txt", b"first"))
    lake.restore_bucket("lake")
    [restored] = s3.list_object_versions(Bucket="lake", Prefix="v.txt")["Versions"][-1:]
    s3.put_object(Bucket="lake", Key="v.txt", Body=b"second")
    lake.pull("s3://lake/v.txt")
    assert (tmp_path / "lake" / "v.txt").read_bytes() == b"second"
    old = s3.get_object(Bucket="lake", Key="v.txt", VersionId=restored["VersionId"])
    assert old["Body"].read() == b"first"


def test_a_landed_file_is_a_new_version_with_its_md5_etag(tmp_path, s3):
    """land: the object a single-part PutObject makes, read back whole; the old version kept."""
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    lake = LocalLake(tmp_path / "lake-root", s3)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(b"a,b\n1,2\n" * 300_000)  # more than one copy chunk
    second.write_bytes(b"a,b\n3,4\n")
    etag_1, version_1 = lake.land("s3://lake/in/day.csv", first)
    etag_2, version_2 = lake.land("s3://lake/in/day.csv", second)
    assert etag_1 == hashlib.md5(first.read_bytes()).hexdigest()
    assert version_1 != version_2
    head = s3.head_object(Bucket="lake", Key="in/day.csv")
    assert (head["ETag"], head["VersionId"]) == (f'"{etag_2}"', version_2)
    assert head["ContentLength"] == len(b"a,b\n3,4\n")
    old = s3.get_object(Bucket="lake", Key="in/day.csv", VersionId=version_1)
    assert old["Body"].read() == first.read_bytes()
    assert (tmp_path / "lake-root" / "lake" / "in" / "day.csv").read_bytes() == b"a,b\n3,4\n"


def test_saving_a_bucket_keeps_each_keys_current_version_id(tmp_path, s3):
    """The versions file names every key's latest version; a deleted key's marker is left out."""
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    lake = LocalLake(tmp_path, s3)
    s3.put_object(Bucket="lake", Key="kept", Body=b"1")
    latest = s3.put_object(Bucket="lake", Key="kept", Body=b"2")["VersionId"]
    s3.put_object(Bucket="lake", Key="gone", Body=b"x")
    s3.delete_object(Bucket="lake", Key="gone")
    lake.save_bucket("lake")
    assert json.loads((tmp_path / "lake.versions.json").read_text()) == {"kept": latest}
