"""Restoring a folder into moto S3 without copying it: objects whose bytes stay in their files.

A local session starts by giving moto back every object earlier sessions left
in the work directory. Through the S3 API that meant reading, hashing and
copying every byte (a transfer manager, a thread and a request per object):
the start grew with the data. Here an object whose file is unchanged since
the session that saved it (same size and mtime as the lake's index) is put
into moto's backend with its known ETag and an empty buffer that reads the
file the first time moto asks for the bytes, so a start costs a ``stat`` per
object. Everything else about the object is moto's own.

A landed file goes into moto the same way (:func:`land_file_backed`): its
bytes are copied once into the lake's folder, hashed on the way, and moto
gets the file, not a request body it would assemble in memory.

This is the local runtime's use of moto's S3 internals (outside the ASL
adapter; ``tests/local/test_moto_internals.py`` holds the canaries):
``S3Backend.put_object`` with ``etag=``, and the key's ``_value_buffer``,
``contentsize``, ``version_id`` and ``_version_id``, and a bucket's ``keys``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from stepline.local.moto_serial import REQUEST_LOCK

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
    """Put ``path`` into moto as ``s3://bucket/key`` without reading it; returns its buffer.

    In a versioned bucket this is a new version of the key (earlier ones stay),
    with moto's fresh version id unless ``version_id`` gives the one it had.
    """
    return _put_file_backed(bucket, key, path, size=size, etag=etag, version_id=version_id)[0]


def land_file_backed(
    bucket: str, key: str, path: Path, *, size: int, etag: str
) -> tuple[FileBackedBuffer, str]:
    """Put ``path`` into moto as a new upload of ``s3://bucket/key``: its buffer, its version id.

    Landing a file through moto's in-process S3 API reads it into memory
    several times over, and in quadratic time: botocore's request checksum
    (``AwsChunkedWrapper.read``) and moto's decoding of the aws-chunked body
    (``S3Response._handle_encoded_body``) both build the body with repeated
    ``bytes +=`` (landing a 100 MB file took 55 s and 508 MB with moto 5.2.5). The object this puts
    is the one a single-part ``PutObject`` makes: the same key, a new version
    id, the MD5 ``etag`` the caller computed while copying the file, the
    bucket's default encryption; nothing is read until something reads it.
    """
    buffer, fake_key = _put_file_backed(bucket, key, path, size=size, etag=etag, version_id=None)
    return buffer, str(fake_key.version_id)


def _put_file_backed(
    bucket: str, key: str, path: Path, *, size: int, etag: str, version_id: str | None
) -> tuple[FileBackedBuffer, Any]:
    buffer = FileBackedBuffer(path)
    # Takes its turn with the requests of executions running meanwhile.
    with REQUEST_LOCK:
        fake_key = _backend().put_object(bucket, key, b"", etag=etag, disable_notification=True)
        with fake_key.lock:
            fake_key._value_buffer.close()
            fake_key._value_buffer = buffer
            fake_key.contentsize = size
    if version_id is not None:
        set_version_id(fake_key, version_id)
    return buffer, fake_key


def put_bytes(bucket: str, key: str, data: bytes, *, version_id: str | None = None) -> str:
    """Put ``data`` into moto as ``s3://bucket/key`` (no request, no event); returns its ETag."""
    fake_key = _backend().put_object(bucket, key, data, disable_notification=True)
    if version_id is not None:
        set_version_id(fake_key, version_id)
    return str(fake_key.etag).strip('"')


def set_version_id(fake_key: Any, version_id: str) -> None:
    with _VERSION_LOCK:
        fake_key._version_id = version_id


def current_version_ids(bucket: str) -> dict[str, str]:
    """Each key's current version id in a moto bucket (keys whose latest version is a delete
    marker left out), as ``ListObjectVersions``' ``IsLatest`` versions give them.

    Read from moto's bucket: its ``ListObjectVersions`` deep-copies every
    version of every key, bytes included, so saving a bucket through it took
    time and memory growing with everything the bucket ever held.
    """
    from moto.s3.models import FakeKey

    with REQUEST_LOCK:
        keys = _backend().get_bucket(bucket).keys
        latest = {name: keys[name] for name in list(keys)}
    return {
        name: str(fake_key.version_id)
        for name, fake_key in latest.items()
        if isinstance(fake_key, FakeKey)
    }


def restore_version_id(bucket: str, key: str, version_id: str) -> None:
    """Give the current version of an object in moto S3 a version id it had in an earlier session.

    S3 offers no API to choose a version id, so this sets it on moto's own object.
    """
    fake_key = _backend().get_object(bucket, key)
    if fake_key is None:
        raise KeyError(f"s3://{bucket}/{key} is not in moto S3")
    set_version_id(fake_key, version_id)
