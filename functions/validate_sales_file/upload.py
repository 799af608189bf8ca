"""The good rows' upload: S3 multipart parts sent while the file is still being read.

Validation writes the good rows (gzip) as it reads; :class:`StreamingUpload`
sends each full part on a thread of its own, so the upload of a large file
overlaps its validation instead of following it (writing to a temporary file
and uploading it afterwards made the Lambda path twice the CLI path). Memory
stays bounded: at most :data:`PARTS_IN_FLIGHT` parts wait for S3 at once, the
writer blocks beyond that.

Nothing is visible under the key until :meth:`StreamingUpload.finish`: a file
that turns out to be rejected is :meth:`~StreamingUpload.abort`-ed, and a
multipart upload that is never completed creates no object (the lake bucket's
lifecycle rule removes the parts of one a crash left). A small output (one part
or less) is sent with a single ``PutObject`` at the end.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: Bytes per part: S3's minimum is 5 MiB (the last part aside).
PART_BYTES = 8 * 1024 * 1024
#: Parts sent or waiting to be sent at once.
PARTS_IN_FLIGHT = 2


class StreamingUpload:
    """A write-only stream whose bytes become one S3 object when finished."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
        part_bytes: int | None = None,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._extra = {"ContentType": content_type, "Metadata": metadata}
        self._part_bytes = PART_BYTES if part_bytes is None else part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pending: deque[Future[dict[str, Any]]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self.closed = False

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= self._part_bytes:
            part = bytes(self._buffer[: self._part_bytes])
            del self._buffer[: self._part_bytes]
            self._send(part)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: parts are sent when full (a file-like object's method)."""

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, **self._extra
            )["UploadId"]
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="stepline-upload")
        assert self._pool is not None
        while len(self._pending) >= PARTS_IN_FLIGHT:
            self._parts.append(self._pending.popleft().result())
        number = len(self._parts) + len(self._pending) + 1
        self._pending.append(self._pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: bytes) -> dict[str, Any]:
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def finish(self) -> None:
        """Make the object: complete the multipart upload, or put a small one whole."""
        self.closed = True
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), **self._extra
            )
            self._buffer.clear()
            return
        try:
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._parts.append(self._pending.popleft().result())
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
        except BaseException:
            self.abort()
            raise
        finally:
            self._shutdown()

    def abort(self) -> None:
        """Drop what was written: no object is made (an earlier one under the key stays)."""
        self.closed = True
        self._buffer.clear()
        if self._upload_id is None:
            return
        for future in self._pending:
            future.cancel()
        self._shutdown()
        self._pending.clear()
        upload_id, self._upload_id = self._upload_id, None
        self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
