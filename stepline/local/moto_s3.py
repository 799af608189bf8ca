"""Restoring a folder into moto S3 without copying it: objects whose bytes stay in their files.

A local session starts by giving moto back every object earlier sessions left
in the work directory. Through the S3 API that meant reading, hashing and
copying every byte (a transfer manager, a thread and a request per object):
the start grew with the data. Here an object whose file is unchanged since
the session that saved it (same size and mtime as the lake's index) is put
into moto's backend with its known ETag and an empty buffer that reads the
file the first time moto asks for the bytes, so a start costs a ``stat`` per
object. Everything else about the object is moto's own.

This is the local runtime's use of moto's S3 internals (outside the ASL
adapter; ``tests/local/test_moto_internals.py`` holds the canaries):
``S3Backend.put_object`` with ``etag=``, and the key's ``_value_buffer``,
``contentsize`` and ``_version_id``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

#: moto keeps objects up to this size in memory, larger ones in a temporary file.
_SPOOL_BYTES = 16 * 1024 * 1024
_VERSION_LOCK = threading.Lock()


def _backend() -> Any:
    """moto's S3 backend of the default account, the one the session's clients reach."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


class FileBackedBuffer:
    """The buffer of a moto object that reads its bytes from a file on first use.

    moto reads an object through ``seek``/``read`` and replaces it through
    ``truncate``/``write``; the first of these takes a copy of the file (a
    snapshot: later changes to the file are not the object's), and from then
    on the copy answers.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._buffer: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._buffer is not None

    def load(self, *, copy: bool = True) -> IO[bytes]:
        with self._lock:
            if self._buffer is None:
                # Owned by the object: moto closes it when it disposes of the key.
                buffer: IO[bytes] = tempfile.SpooledTemporaryFile(_SPOOL_BYTES)  # noqa: SIM115
                if copy:
                    with self.path.open("rb") as source:
                        shutil.copyfileobj(source, buffer)
                buffer.seek(0)
                self._buffer = buffer
            return self._buffer

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.load().seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        return self.load().read(size)

    def truncate(self, size: int | None = None) -> int:
        # moto truncates before it writes a new value: the file's bytes are not needed.
        return self.load(copy=False).truncate(size)

    def write(self, data: bytes) -> int:
        return self.load().write(data)

    def close(self) -> None:
        with self._lock:
            if self._buffer is not None:
                self._buffer.close()


def put_file_backed(
    bucket: str, key: str, path: Path, *, size: int, etag: str, version_id: str | None = None
) -> FileBackedBuffer:
    """Put ``path`` into moto as ``s3://bucket/key`` without reading it; returns its buffer."""
    fake_key = _backend().put_object(bucket, key, b"", etag=etag, disable_notification=True)
    buffer = FileBackedBuffer(path)
    with fake_key.lock:
        fake_key._value_buffer.close()
        fake_key._value_buffer = buffer
        fake_key.contentsize = size
    if version_id is not None:
        set_version_id(fake_key, version_id)
    return buffer


def put_bytes(bucket: str, key: str, data: bytes, *, version_id: str | None = None) -> str:
    """Put ``data`` into moto as ``s3://bucket/key`` (no request, no event); returns its ETag."""
    fake_key = _backend().put_object(bucket, key, data, disable_notification=True)
    if version_id is not None:
        set_version_id(fake_key, version_id)
    return str(fake_key.etag).strip('"')


def set_version_id(fake_key: Any, version_id: str) -> None:
    with _VERSION_LOCK:
        fake_key._version_id = version_id


def restore_version_id(bucket: str, key: str, version_id: str) -> None:
    """Give the current version of an object in moto S3 a version id it had in an earlier session.

    S3 offers no API to choose a version id, so this sets it on moto's own object.
    """
    fake_key = _backend().get_object(bucket, key)
    if fake_key is None:
        raise KeyError(f"s3://{bucket}/{key} is not in moto S3")
    set_version_id(fake_key, version_id)
