"""The good rows' multipart upload: it overlaps the read, and a rejected file leaves nothing."""

from __future__ import annotations

import gzip
import io
import threading
from typing import Any

import moto.s3.models
import pytest
from sales_contract import columnar, parse_raw_key, validate_sales_stream
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

    def close(self) -> None:
        self._body.close()


class _Recorder:
    """An S3 client that records how much of the raw object was read at each part upload."""

    def __init__(self, s3: Any, gate_at: int | None = None) -> None:
        self._s3 = s3
        self.read_bytes = 0
        self.read_at_part: list[int] = []
        #: Past this many bytes, the raw object is read on only once a part was sent.
        self.gate_at = gate_at
        self.part_sent = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._s3.get_object(**request)
        response["Body"] = _CountingBody(response["Body"], self)
        return response

    def upload_part(self, **request: Any) -> Any:
        self.read_at_part.append(self.read_bytes)
        self.part_sent.set()
        return self._s3.upload_part(**request)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts, reads and blocks of 64 KiB (moto's 5 MiB part minimum lowered), one read ahead."""
    monkeypatch.setattr(upload, "PART_BYTES", 64 * 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setattr(columnar, "_READ_BYTES", 64 * 1024)
    monkeypatch.setattr(columnar, "_READ_AHEAD", 1)
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 64 * 1024)


def _day(tmp_path: Any, rows: int, bad_rows: int) -> bytes:
    path = tmp_path / "big.csv"
    write_sales_csv(path, "2026-11-20", "store_002", rows, seed=3, bad_rows=bad_rows)
    return path.read_bytes()


def test_good_rows_are_uploaded_in_parts_while_the_file_is_read(
    lake: Any, tmp_path: Any, small_parts: None
) -> None:
    """Parts go up before the raw object is read to its end; the object is the reference's rows."""
    data = _day(tmp_path, 40_000, bad_rows=10)
    # The read stops at half the file until a part is sent: forced, not left to the
    # threads' timing (a loaded machine let the read run ahead of the compressor).
    recorder = _Recorder(lake.s3, gate_at=len(data) // 2)
    result = validate_event(lake.land(KEY, data), settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted and result.good_rows == 40_000 - 10
    assert len(recorder.read_at_part) > 2
    assert recorder.read_at_part[0] <= len(data) // 2
    reference = io.BytesIO()
    validate_sales_stream(io.BytesIO(data), parse_raw_key(KEY), good_rows_out=reference)
    stored = lake.s3.get_object(Bucket=LAKE, Key=VALIDATED_KEY)
    assert gzip.decompress(stored["Body"].read()) == gzip.decompress(reference.getvalue())
    assert stored["ContentType"] == "application/gzip"
    assert stored["Metadata"]["stepline-source-key"] == KEY


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
    data = b"order_id,store_id,sold_at,sku,category,quantity,unit_price\n" + (
        b"o-1,store_002,2026-11-20T10:00:00Z,GRO-1,Grocery,1,2.50\n"
    )
    result = validate_event(lake.land(KEY, data), settings=lake.settings, s3=recorder, run=RUN)
    assert result.accepted
    assert recorder.read_at_part == []
    assert gzip.decompress(lake.read(VALIDATED_KEY)).endswith(b"2.50\n")
