"""The good rows' multipart upload: it overlaps the read, and a rejected file leaves nothing."""

from __future__ import annotations

import gzip
import io
import threading
from typing import Any

import moto.s3.models
import pytest
from botocore.exceptions import ClientError
from isal import igzip
from sales_contract import columnar, parse_raw_key, validate_sales_stream, validation
from validate_sales_file import upload
from validate_sales_file.service import validate_event

from stepline.sample_data import write_sales_csv

LAKE = "stepline-sales-dev-lake-123456789012-us-east-1"
KEY = "sales/date=2026-11-20/store=store_002/big.csv"
RUN = "2026-11-20_store_002_0123456789ab"
VALIDATED_KEY = f"validated/sales/date=2026-11-20/store=store_002/run={RUN}/big.csv.gz"


class _CountingBody:
    """An S3 body that counts the bytes read from it."""

    def __init__(self, body: Any, counter: _Recorder) -> None:
        self._body = body
        self._counter = counter

    def read(self, size: int = -1) -> bytes:
        gate = self._counter.gate_at
        if gate is not None and self._counter.read_bytes >= gate:
            # Reading on waits for the first part: an upload that overlaps the read
            # sends one from what came before; one that waits for the end never does.
            self._counter.part_sent.wait(30)
            self._counter.gate_at = None  # once: a failing upload fails in 30 s, not per read
        data: bytes = self._body.read(size)
        self._counter.read_bytes += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        """What a buffered reader calls (botocore's StreamingBody has it too)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()


class _Recorder:
    """An S3 client that records how much of the raw object was read at each part upload.

    It counts the bytes of the first read of the object, the one the validation
    goes through; a re-read of its start (the good rows deferred) is not progress.
    """

    def __init__(self, s3: Any, gate_at: int | None = None) -> None:
        self._s3 = s3
        self.read_bytes = 0
        self.read_at_part: list[int] = []
        #: Past this many bytes, the raw object is read on only once a part was sent.
        self.gate_at = gate_at
        self.part_sent = threading.Event()
        self.counting = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._s3.get_object(**request)
        if not self.counting:
            self.counting = True
            response["Body"] = _CountingBody(response["Body"], self)
        return response

    def upload_part(self, **request: Any) -> Any:
        self.read_at_part.append(self.read_bytes)
        self.part_sent.set()
        return self._s3.upload_part(**request)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts, reads and blocks of 64 KiB (moto's 5 MiB part minimum lowered), one read ahead.

    The object is read 16 KiB at a time (not 256 KiB, and ISA-L's gzip reader's
    512 KiB: more than these tests' whole .csv.gz objects), so a read can stop
    part way through one.
    """
    monkeypatch.setattr(validation, "_READ_BUFFER_BYTES", 16 * 1024)
    monkeypatch.setattr(igzip, "READ_BUFFER_SIZE", 16 * 1024)
    monkeypatch.setattr(upload, "PART_BYTES", 64 * 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setattr(columnar, "_READ_BYTES", 64 * 1024)
    monkeypatch.setattr(columnar, "_READ_AHEAD", 1)
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 64 * 1024)


def _day(tmp_path: Any, rows: int, bad_rows: int) -> bytes:
    path = tmp_path / "big.csv"
    write_sales_csv(path, "2026-11-20", "store_002", rows, seed=3, bad_rows=bad_rows)
    return path.read_bytes()


def _with_bad_first_row(data: bytes) -> bytes:
    header, rows = data.split(b"\n", 1)
    return header + b"\nnot,a,row\n" + rows


@pytest.mark.parametrize("gzipped", [False, True], ids=["csv", "csv.gz"])
def test_good_rows_are_uploaded_in_parts_while_the_file_is_read(
    lake: Any, tmp_path: Any, small_parts: None, gzipped: bool
) -> None:
    """Parts go up before the raw object is read to its end; the object is the reference's rows."""
    # A bad first row: the output differs from the file from the start, so nothing
    # is deferred (see the tests of copying below).
    data = _with_bad_first_row(_day(tmp_path, 40_000, bad_rows=10))
    key, raw = (KEY + ".gz", gzip.compress(data)) if gzipped else (KEY, data)
    # The read stops at half the object until a part is sent: forced, not left to the
    # threads' timing (a loaded machine let the read run ahead of the compressor).
    recorder = _Recorder(lake.s3, gate_at=len(raw) // 2)
    result = validate_event(lake.land(key, raw), settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted and result.good_rows == 40_000 - 10
    assert len(recorder.read_at_part) > 2
    assert recorder.read_at_part[0] <= len(raw) // 2
    reference = io.BytesIO()
    validate_sales_stream(io.BytesIO(data), parse_raw_key(KEY), good_rows_out=reference)
    stored = lake.s3.get_object(Bucket=LAKE, Key=VALIDATED_KEY)
    assert gzip.decompress(stored["Body"].read()) == gzip.decompress(reference.getvalue())
    assert stored["ContentType"] == "application/gzip"
    assert stored["Metadata"]["stepline-source-key"] == key


def test_a_rejected_file_leaves_no_upload_and_no_validated_object(
    lake: Any, tmp_path: Any, small_parts: None
) -> None:
    """Too many bad rows, found after parts went up: the upload is aborted, nothing is stored."""
    data = _day(tmp_path, 40_000, bad_rows=2_000)
    recorder = _Recorder(lake.s3)
    result = validate_event(lake.land(KEY, data), settings=lake.settings, s3=recorder, run=RUN)
    assert not result.accepted
    assert recorder.read_at_part  # parts were sent before the verdict
    assert VALIDATED_KEY not in lake.listing()
    assert lake.s3.list_multipart_uploads(Bucket=LAKE).get("Uploads", []) == []


def test_a_small_output_is_put_whole(lake: Any) -> None:
    """Output below one part is a single PutObject: no multipart upload at all."""
    recorder = _Recorder(lake.s3)
    # The needless quotes make the output differ from the file (else it is copied).
    data = b"order_id,store_id,sold_at,sku,category,quantity,unit_price\n" + (
        b'o-1,store_002,2026-11-20T10:00:00Z,GRO-1,"Grocery",1,2.50\n'
    )
    result = validate_event(lake.land(KEY, data), settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted
    assert recorder.read_at_part == []
    assert gzip.decompress(lake.read(VALIDATED_KEY)).endswith(b"2.50\n")


class _CopyRecorder(_Recorder):
    """Also records the copies and the reads of the raw object."""

    def __init__(self, s3: Any) -> None:
        super().__init__(s3)
        self.copies: list[dict[str, Any]] = []
        self.gets = 0

    def get_object(self, **request: Any) -> dict[str, Any]:
        self.gets += 1
        return super().get_object(**request)

    def copy(self, copy_source: Any, bucket: str, key: str, **kwargs: Any) -> Any:
        self.copies.append({"CopySource": copy_source, "Bucket": bucket, "Key": key, **kwargs})
        return self._s3.copy(copy_source, bucket, key, **kwargs)


COPIED_KEY = VALIDATED_KEY.removesuffix(".gz")


@pytest.mark.parametrize("gzipped", [False, True], ids=["csv", "csv.gz"])
def test_a_clean_file_is_copied_by_s3_not_sent_through_the_function(
    lake: Any, tmp_path: Any, small_parts: None, gzipped: bool
) -> None:
    """Every row good, canonical form: one server-side copy of the version read, no part sent."""
    data = _day(tmp_path, 40_000, bad_rows=0)
    key, stored = (KEY + ".gz", gzip.compress(data)) if gzipped else (KEY, data)
    event = lake.land(key, stored)
    recorder = _CopyRecorder(lake.s3)
    result = validate_event(event, settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted and result.good_rows == 40_000
    assert recorder.read_at_part == [] and recorder.gets == 1  # read once, nothing uploaded
    (copy,) = recorder.copies
    assert copy["CopySource"]["VersionId"] == event["detail"]["object"]["version-id"]
    assert copy["ExtraArgs"]["CopySourceIfMatch"] == f'"{event["detail"]["object"]["etag"]}"'
    target = VALIDATED_KEY if gzipped else COPIED_KEY
    assert lake.listing() == [target]
    copied = lake.s3.get_object(Bucket=LAKE, Key=target)
    assert copied["Body"].read() == stored
    assert copied["ContentType"] == ("application/gzip" if gzipped else "text/csv; charset=utf-8")
    assert copied["Metadata"]["stepline-source-key"] == key
    version = event["detail"]["object"]["version-id"]
    assert copied["Metadata"]["stepline-source-version-id"] == version


def test_a_file_whose_first_bad_row_comes_late_writes_the_rows_before_it_again(
    lake: Any, tmp_path: Any, small_parts: None
) -> None:
    """Deferred good rows: at the first bad row, the bytes before it are read again and sent."""
    clean = _day(tmp_path, 40_000, bad_rows=0)
    cut = clean.index(b"\n", len(clean) * 3 // 4) + 1  # a bad row three quarters in
    data = clean[:cut] + b"not,a,row\n" + clean[cut:]
    recorder = _CopyRecorder(lake.s3)
    result = validate_event(lake.land(KEY, data), settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted and (result.good_rows, result.rejected_rows) == (40_000, 1)
    assert recorder.copies == [] and recorder.gets == 2  # the second read: the deferred rows
    reference = io.BytesIO()
    validate_sales_stream(io.BytesIO(data), parse_raw_key(KEY), good_rows_out=reference)
    stored = lake.s3.get_object(Bucket=LAKE, Key=VALIDATED_KEY)["Body"].read()
    assert gzip.decompress(stored) == gzip.decompress(reference.getvalue())
    assert [k for k in lake.listing() if k.startswith("validated/")] == [VALIDATED_KEY]


def test_a_raw_object_replaced_after_it_was_read_is_not_copied(
    lake: Any, tmp_path: Any, small_parts: None
) -> None:
    """The copy is pinned to the ETag read: an overwrite in between fails it (a fault to retry)."""
    data = _day(tmp_path, 1_000, bad_rows=0)
    # Versioning suspended: the overwrite replaces the version read; only the ETag pins it.
    raw_bucket = lake.land(KEY, b"")["detail"]["bucket"]["name"]
    lake.s3.put_bucket_versioning(
        Bucket=raw_bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    event = lake.land(KEY, data)

    class Overwriting(_CopyRecorder):
        def copy(self, copy_source: Any, bucket: str, key: str, **kwargs: Any) -> Any:
            self._s3.put_object(Bucket=copy_source["Bucket"], Key=copy_source["Key"], Body=b"x")
            return super().copy(copy_source, bucket, key, **kwargs)

    with pytest.raises(ClientError, match=r"\(412\)"):
        validate_event(event, settings=lake.settings, s3=Overwriting(lake.s3), run=RUN)
    assert COPIED_KEY not in lake.listing()


def test_a_retry_that_writes_the_other_form_removes_the_first(
    lake: Any, tmp_path: Any, small_parts: None
) -> None:
    """A run has one validated file: a copied .csv replaces an earlier .csv.gz, and back."""
    clean = _day(tmp_path, 1_000, bad_rows=0)
    validate_event(lake.land(KEY, _with_bad_first_row(clean)), settings=lake.settings,
                   s3=lake.s3, run=RUN)
    assert VALIDATED_KEY in lake.listing()
    validate_event(lake.land(KEY, clean), settings=lake.settings, s3=lake.s3, run=RUN)
    assert [k for k in lake.listing() if k.startswith("validated/")] == [COPIED_KEY]
    validate_event(lake.land(KEY, _with_bad_first_row(clean)), settings=lake.settings,
                   s3=lake.s3, run=RUN)
    assert [k for k in lake.listing() if k.startswith("validated/")] == [VALIDATED_KEY]
