"""Canaries for the moto internals the local service uses outside the ASL adapter.

Each fails loudly if a moto upgrade changes the behaviour Stepline relies on:
EventBridge's pattern engine (stepline/local/events.py), the request
dispatch that moto_serial serialises, and the S3 objects stepline/local/moto_s3.py
restores (their version ids, and their bytes left in the lake's files).
"""

from __future__ import annotations

import inspect
import json
import threading
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws

from stepline.local.moto_s3 import restore_version_id
from stepline.local.moto_serial import REQUEST_LOCK, is_serialised, serialised_moto

PINNED = "5.2.5"


def _context(what: str) -> str:
    return f"{what} was written against moto {PINNED}; installed moto is {moto.__version__}"


def _versioned_bucket(name: str) -> Any:
    """A moto S3 client (inside ``mock_aws``) and a bucket ``name`` with versioning on."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


def test_moto_event_patterns_match_as_eventbridge_does() -> None:
    """moto's EventPattern: prefix, wildcard, lists and nested detail, as EventBridge matches."""
    from moto.events.models import EventPattern

    pattern = EventPattern.load(
        json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": ["raw"]}, "object": {"key": [{"prefix": "sales/"}]}},
            }
        )
    )

    def event(key: str, bucket: str = "raw", kind: str = "Object Created") -> dict:
        return {
            "source": "aws.s3",
            "detail-type": kind,
            "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
        }

    assert pattern.matches_event(event("sales/x.csv")), _context("LocalEventBridge")
    assert not pattern.matches_event(event("other/x.csv"))
    assert not pattern.matches_event(event("sales/x.csv", bucket="else"))
    assert not pattern.matches_event(event("sales/x.csv", kind="Object Deleted"))
    wildcard = EventPattern.load(json.dumps({"detail": {"key": [{"wildcard": "sales/*.csv"}]}}))
    assert wildcard.matches_event({"detail": {"key": "sales/a/b.csv"}})
    assert not wildcard.matches_event({"detail": {"key": "sales/a/b.csv.gz"}})


def test_moto_answers_in_process_requests_in_process_request() -> None:
    """BotocoreStubber.process_request(self, request) is moto's one dispatch: it is wrapped."""
    from moto.core.botocore_stubber import BotocoreStubber

    assert list(inspect.signature(BotocoreStubber.process_request).parameters) == [
        "self",
        "request",
    ], _context("moto_serial")
    with mock_aws(), serialised_moto():
        assert is_serialised()
        boto3.client("s3", region_name="us-east-1").list_buckets()
    assert not is_serialised(), "leaving the last session restores moto's own dispatch"


def test_requests_from_threads_take_turns_while_serialised() -> None:
    """While serialised, a request waits for another thread that holds the lock."""
    entered = threading.Event()
    with mock_aws(), serialised_moto():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="turns")

        def request() -> None:
            s3.list_objects_v2(Bucket="turns")
            entered.set()

        with REQUEST_LOCK:
            worker = threading.Thread(target=request)
            worker.start()
            assert not entered.wait(0.5), "the request ran while another held the lock"
        assert entered.wait(10)
        worker.join(10)


def test_moto_s3_objects_take_a_restored_version_id() -> None:
    """The current version of a moto object can be given its earlier session's version id."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="versions")
        s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="versions", Key="k", Body=b"x")
        restore_version_id("versions", "k", "earlier-session-version")
        head = s3.head_object(Bucket="versions", Key="k")
        assert head["VersionId"] == "earlier-session-version", _context("restore_version_id")
        body = s3.get_object(Bucket="versions", Key="k", VersionId="earlier-session-version")
        assert body["Body"].read() == b"x"


def test_moto_serves_an_object_whose_buffer_reads_a_file(tmp_path) -> None:
    """A moto key given a file-backed buffer, a size and an ETag answers list, head and get."""
    from stepline.local.moto_s3 import put_file_backed

    path = tmp_path / "object"
    path.write_bytes(b"bytes on disk")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lazy")
        etag = "0123456789abcdef0123456789abcdef"
        buffer = put_file_backed("lazy", "k", path, size=13, etag=etag)
        [listed] = s3.list_objects_v2(Bucket="lazy")["Contents"]
        head = s3.head_object(Bucket="lazy", Key="k")
        assert (listed["Size"], head["ContentLength"]) == (13, 13), _context("put_file_backed")
        assert head["ETag"] == f'"{etag}"', _context("put_file_backed")
        assert not buffer.loaded, _context("moto read the value to list or head it")
        assert s3.get_object(Bucket="lazy", Key="k")["Body"].read() == b"bytes on disk"
        assert buffer.loaded
        s3.put_object(Bucket="lazy", Key="k", Body=b"replaced")
        assert s3.get_object(Bucket="lazy", Key="k")["Body"].read() == b"replaced"


def test_moto_builds_an_uploaded_body_by_repeated_concatenation() -> None:
    """Why land_file_backed exists: an in-process PutObject assembles the body in memory twice.

    botocore's request checksum wraps the body in an AwsChunkedWrapper that
    moto reads whole (``self._remaining += ...``), and moto decodes the
    aws-chunked body with ``decoded_body += ...``: quadratic time, several
    copies of the file in memory. If either changes, landing through the S3
    API may have become linear: measure (bench/local_land.py) and drop the
    adaptation if so.
    """
    from botocore.httpchecksum import AwsChunkedWrapper
    from moto.core.request import Request
    from moto.s3.responses import S3Response

    assert "self._remaining +=" in inspect.getsource(AwsChunkedWrapper.read), _context(
        "land_file_backed"
    )
    assert "body = body.read()" in inspect.getsource(Request.from_primitives)
    assert "decoded_body +=" in inspect.getsource(S3Response._handle_encoded_body)


def test_moto_takes_a_landed_file_as_a_new_version_without_reading_it(tmp_path) -> None:
    """land_file_backed: a new version, moto's version id, the bucket's encryption, unread."""
    from stepline.local.moto_s3 import land_file_backed

    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"first upload")
    second.write_bytes(b"second")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="landing")
        s3.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket="landing",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        etag = "0123456789abcdef0123456789abcdef"
        buffer, version_1 = land_file_backed("landing", "k", first, size=12, etag=etag)
        _, version_2 = land_file_backed("landing", "k", second, size=6, etag=etag)
        head = s3.head_object(Bucket="landing", Key="k")
        assert head["VersionId"] == version_2 != version_1, _context("land_file_backed")
        assert head["ServerSideEncryption"] == "aws:kms", _context("land_file_backed")
        assert not buffer.loaded
        old = s3.get_object(Bucket="landing", Key="k", VersionId=version_1)
        assert old["Body"].read() == b"first upload"
        versions = s3.list_object_versions(Bucket="landing")["Versions"]
        assert {v["VersionId"] for v in versions} == {version_1, version_2}


def test_moto_list_object_versions_reads_the_bytes_of_every_version(tmp_path) -> None:
    """Why current_version_ids reads moto's bucket: ListObjectVersions deep-copies each version."""
    from stepline.local.moto_s3 import current_version_ids, put_file_backed

    path = tmp_path / "object"
    path.write_bytes(b"bytes on disk")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="listed")
        s3.put_bucket_versioning(Bucket="listed", VersioningConfiguration={"Status": "Enabled"})
        buffer = put_file_backed("listed", "k", path, size=13, etag="0" * 32)
        s3.put_object(Bucket="listed", Key="deleted", Body=b"x")
        s3.delete_object(Bucket="listed", Key="deleted")
        assert not buffer.loaded
        assert current_version_ids("listed") == {
            "k": s3.head_object(Bucket="listed", Key="k")["VersionId"]
        }
        assert not buffer.loaded, "current_version_ids read an object's bytes"
        listed = s3.list_object_versions(Bucket="listed")
        assert buffer.loaded, _context("current_version_ids (ListObjectVersions no longer copies)")
        latest = {v["Key"]: v["VersionId"] for v in listed["Versions"] if v["IsLatest"]}
        assert latest == current_version_ids("listed")


def test_moto_answers_get_object_with_the_whole_value_in_memory() -> None:
    """Why moto_stream exists, and what it hooks: GetObject's body is ``key.value``, whole bytes.

    The range handler takes ``len()`` and a slice of that body, and the stub
    wraps every body in ``MockRawResponse``. If moto starts streaming objects
    itself, drop the adaptation.
    """
    from moto.core import botocore_stubber
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    assert "return 200, response_headers, key.value" in inspect.getsource(
        S3Response.get_object
    ), _context("moto_stream")
    ranges = inspect.getsource(S3Response._handle_range_header)
    assert "len(response_content)" in ranges, _context("moto_stream")
    assert "response_content[begin : end + 1]" in ranges, _context("moto_stream")
    assert "MockRawResponse(body)" in inspect.getsource(botocore_stubber.BotocoreStubber.__call__)
    assert isinstance(FakeKey.value, property), _context("moto_stream")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="whole")
        s3.put_object(Bucket="whole", Key="k", Body=b"x" * 10)
        body = s3.get_object(Bucket="whole", Key="k")["Body"]
        assert isinstance(body._raw_stream, botocore_stubber.MockRawResponse)


def test_large_objects_stream_from_their_files_while_streamed_get_object_holds() -> None:
    """Inside: a large object's body reads its file (whole, a range, a version); outside: moto's."""
    import os

    from moto.core import botocore_stubber
    from moto.s3.models import FakeKey

    from stepline.local.moto_stream import (
        STREAM_MIN_BYTES,
        StreamedRawResponse,
        is_streaming,
        streamed_get_object,
    )

    data = os.urandom(STREAM_MIN_BYTES + 12_345)
    with mock_aws():
        s3 = _versioned_bucket("streamed")
        first = s3.put_object(Bucket="streamed", Key="k", Body=data)["VersionId"]
        s3.put_object(Bucket="streamed", Key="small", Body=b"tiny")
        original_value = FakeKey.value
        with streamed_get_object():
            assert is_streaming()
            response = s3.get_object(Bucket="streamed", Key="k")
            assert isinstance(response["Body"]._raw_stream, StreamedRawResponse)
            # Replaced before it is read: the body read is still the version answered.
            s3.put_object(Bucket="streamed", Key="k", Body=b"newer")
            assert response["Body"].read() == data
            old = s3.get_object(Bucket="streamed", Key="k", VersionId=first)["Body"]
            assert b"".join(old.iter_chunks(1 << 20)) == data
            tail = s3.get_object(Bucket="streamed", Key="k", VersionId=first, Range="bytes=100-")
            assert tail["ContentRange"] == f"bytes 100-{len(data) - 1}/{len(data)}"
            assert tail["Body"].read() == data[100:]
            part = s3.get_object(Bucket="streamed", Key="k", VersionId=first, Range="bytes=5-9")
            assert part["Body"].read() == data[5:10]
            assert s3.get_object(Bucket="streamed", Key="small")["Body"].read() == b"tiny"
        assert not is_streaming()
        assert FakeKey.value is original_value
        plain = s3.get_object(Bucket="streamed", Key="k", VersionId=first)["Body"]
        assert isinstance(plain._raw_stream, botocore_stubber.MockRawResponse)


def test_moto_copies_an_object_by_reading_its_value_whole() -> None:
    """Why moto_stream patches CopyObject: the backend puts ``src_key.value`` as the copy's body.

    If moto starts copying buffers itself, drop that part of the adaptation.
    """
    from moto.s3.models import FakeKey, S3Backend

    source = inspect.getsource(S3Backend.copy_object)
    assert "value=src_key.value" in source, _context("moto_stream's copy")
    assert "self.put_object(" in source, _context("moto_stream's copy")
    assert "_etag" in inspect.getsource(FakeKey.etag.fget), _context("moto_stream's copy")
    assert "self.contentsize" in inspect.getsource(FakeKey.size.fget), _context("moto_stream")


def test_large_objects_are_copied_from_their_files_while_streamed_get_object_holds() -> None:
    """Inside: CopyObject of a large object never holds it whole, and gives moto's own result."""
    import hashlib
    import os
    import tracemalloc

    from stepline.local.moto_stream import STREAM_MIN_BYTES, streamed_get_object

    data = os.urandom(2 * STREAM_MIN_BYTES + 7)
    with mock_aws():
        s3 = _versioned_bucket("copied")
        first = s3.put_object(Bucket="copied", Key="k", Body=data)["VersionId"]
        s3.put_object(Bucket="copied", Key="k", Body=b"newer")
        s3.put_object(Bucket="copied", Key="small", Body=b"tiny")
        with streamed_get_object():
            tracemalloc.start()
            try:
                result = s3.copy_object(
                    Bucket="copied", Key="copy", CopySource={
                        "Bucket": "copied", "Key": "k", "VersionId": first},
                    MetadataDirective="REPLACE", Metadata={"a": "b"}, ContentType="text/csv",
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < STREAM_MIN_BYTES // 2
            s3.copy_object(Bucket="copied", Key="small-copy",
                           CopySource={"Bucket": "copied", "Key": "small"})
            # Onto its own key (new metadata), in a bucket without versions.
            s3.create_bucket(Bucket="plain")
            s3.put_object(Bucket="plain", Key="k", Body=data)
            s3.copy_object(Bucket="plain", Key="k", CopySource={"Bucket": "plain", "Key": "k"},
                           MetadataDirective="REPLACE", Metadata={"c": "d"})
            assert s3.get_object(Bucket="plain", Key="k")["Body"].read() == data
        expected_etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
        assert result["CopyObjectResult"]["ETag"] == expected_etag
        copy = s3.get_object(Bucket="copied", Key="copy")
        assert copy["Body"].read() == data and copy["ETag"] == expected_etag
        assert (copy["Metadata"], copy["ContentType"]) == ({"a": "b"}, "text/csv")
        assert copy["ContentLength"] == len(data)
        assert s3.get_object(Bucket="copied", Key="small-copy")["Body"].read() == b"tiny"
        assert s3.get_object(Bucket="copied", Key="k")["Body"].read() == b"newer"


def test_glibc_mmap_threshold_can_be_fixed() -> None:
    """malloc.return_large_buffers: mallopt(M_MMAP_THRESHOLD) is accepted by this libc."""
    import platform

    from stepline.malloc import return_large_buffers

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's M_MMAP_THRESHOLD is glibc's; elsewhere the call does nothing")
    assert return_large_buffers()
