"""GetObject on in-process moto answered from the object's file, not from a copy in memory.

moto answers ``GetObject`` with ``FakeKey.value``, the object's bytes read
whole into memory, which botocore's in-process stub then serves from a
``BytesIO``. A Lambda handler that streams a 1 GB object locally therefore
held 1 GB for as long as it read, on top of its own working memory (the
local validation of a 1 GB file peaked far above the file's size, where on
AWS the function streams it). While :func:`streamed_get_object` is active
(a local session holds it), an object of at least :data:`STREAM_MIN_BYTES`
is served from a duplicate of its buffer's file descriptor, read in pieces
as the caller reads (``os.pread``), ranges included; smaller objects, and
every other operation, are moto's own.

``CopyObject`` the same way: moto's backend copies an object by reading its
``value`` whole and putting it as a new object's body (and the validation
Lambda copies a clean file to ``validated/`` as it is), so while the patch
is held a large object is copied with an empty body that is then filled from
the source's file in pieces, its MD5 (the ETag moto gives a copy) computed
on the way.

moto internals this relies on (canaries in ``tests/local/test_moto_internals.py``):
``S3Response.get_object`` returning ``key.value`` as the body,
``S3Response._handle_range_header`` taking ``len()`` and a slice of that
body, ``FakeKey.value`` (a property) and ``FakeKey._value_buffer`` (a
spooled temporary file, or :class:`~stepline.local.moto_s3.FileBackedBuffer`),
and ``moto.core.botocore_stubber.MockRawResponse``, the raw response the
stub wraps every body in; for the copy, ``S3Backend.copy_object`` putting
``src_key.value`` as the new object's value, and ``FakeKey._etag`` and
``contentsize``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from typing import Any

from stepline.local.moto_s3 import FileBackedBuffer
from stepline.local.nesting import NestedPatch

#: Objects at least this large are streamed; moto keeps smaller ones in memory anyway.
STREAM_MIN_BYTES = 16 * 1024 * 1024
_PIECE = 1024 * 1024

_serving = threading.local()
_originals: dict[str, Any] = {}


class StreamedBody:
    """An object's bytes as moto's response body: a file descriptor of its own, read on demand.

    The descriptor is a duplicate taken when the request is answered, so the
    object being replaced or deleted meanwhile (moto closes its buffer) does
    not cut a read short. Slicing (a ``Range`` request) reads just that part.
    """

    def __init__(self, descriptor: int, start: int, stop: int) -> None:
        self._descriptor = descriptor
        self._start = start
        self._stop = stop
        self._position = start

    def __len__(self) -> int:
        return self._stop - self._start

    def __bool__(self) -> bool:
        return self._stop > self._start

    def __getitem__(self, part: slice) -> StreamedBody | bytes:
        """Bytes ``part`` of the body (a ``Range`` request), itself streamed when large."""
        start, stop, step = part.indices(len(self))
        if step != 1:
            raise ValueError("an object's bytes are sliced contiguously")
        start, stop = self._start + start, self._start + max(stop, start)
        if stop - start < STREAM_MIN_BYTES:
            try:
                return os.pread(self._descriptor, stop - start, start)
            finally:
                self.close()
        view = StreamedBody(os.dup(self._descriptor), start, stop)
        self.close()
        return view

    def read(self, amount: int | None = -1) -> bytes:
        left = self._stop - self._position
        wanted = left if amount is None or amount < 0 else min(amount, left)
        if wanted <= 0:
            return b""
        data = os.pread(self._descriptor, wanted, self._position)
        self._position += len(data)
        return data

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1

    def __del__(self) -> None:
        self.close()


class StreamedRawResponse(io.RawIOBase):
    """What botocore reads a streamed body from: ``MockRawResponse``'s ``read``/``stream``."""

    def __init__(self, body: StreamedBody) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, amount: int | None = -1) -> bytes:
        return self._body.read(amount)

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        while piece := self._body.read(_PIECE):
            yield piece

    def close(self) -> None:
        self._body.close()
        super().close()


def _descriptor_of(key: Any) -> int:
    """A duplicate descriptor of a moto key's buffer, its writes flushed."""
    buffer = key._value_buffer
    if isinstance(buffer, FileBackedBuffer):
        buffer = buffer.load()
    buffer.flush()
    return os.dup(buffer.fileno())


def _fill_copy(target: Any, descriptor: int, size: int) -> None:
    """Write ``size`` bytes of ``descriptor`` into ``target`` (a copy moto made empty)."""
    digest = hashlib.md5(usedforsecurity=False)
    with target.lock:
        buffer = target._value_buffer
        buffer.seek(0)
        buffer.truncate()
        for offset in range(0, size, _PIECE):
            piece = os.pread(descriptor, min(_PIECE, size - offset), offset)
            digest.update(piece)
            buffer.write(piece)
        target.contentsize = size
        target._etag = digest.hexdigest()


def _install() -> None:
    from moto.core import botocore_stubber
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    value = FakeKey.value
    get_object = S3Response.get_object
    raw_response = botocore_stubber.MockRawResponse
    copy_object = S3Backend.copy_object
    _originals.update(
        value=value, get_object=get_object, raw_response=raw_response, copy_object=copy_object
    )
    assert isinstance(value, property) and value.fget is not None

    def streamed_value(self: Any) -> Any:
        if getattr(_serving, "copy_source", None) is self:
            return b""  # filled from the source's file once the copy is made
        if getattr(_serving, "get_object", False) and self.size >= STREAM_MIN_BYTES:
            with self.lock:
                return StreamedBody(_descriptor_of(self), 0, self.size)
        return value.fget(self)

    @functools.wraps(copy_object)
    def streamed_copy_object(
        self: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str, *args: Any,
        **kwargs: Any,
    ) -> Any:
        if src_key.size < STREAM_MIN_BYTES:
            return copy_object(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        # The source's bytes, held before the copy replaces anything (a copy onto
        # its own key in an unversioned bucket disposes of the source's buffer).
        with src_key.lock:
            descriptor, size = _descriptor_of(src_key), src_key.size
        try:
            _serving.copy_source = src_key
            try:
                result = copy_object(
                    self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs
                )
            finally:
                _serving.copy_source = None
            _fill_copy(self.get_object(dest_bucket_name, dest_key_name), descriptor, size)
        finally:
            os.close(descriptor)
        return result

    @functools.wraps(get_object)
    def serving_get_object(self: Any) -> Any:
        _serving.get_object = True
        try:
            return get_object(self)
        finally:
            _serving.get_object = False

    def response_for(body: Any) -> Any:
        if isinstance(body, StreamedBody):
            return StreamedRawResponse(body)
        return raw_response(body)

    FakeKey.value = property(streamed_value, value.fset)
    S3Response.get_object = serving_get_object
    S3Backend.copy_object = streamed_copy_object
    botocore_stubber.MockRawResponse = response_for  # type: ignore[misc]


def _uninstall() -> None:
    from moto.core import botocore_stubber
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    if _originals:
        FakeKey.value = _originals["value"]  # type: ignore[method-assign]
        S3Response.get_object = _originals["get_object"]  # type: ignore[method-assign]
        S3Backend.copy_object = _originals["copy_object"]  # type: ignore[method-assign]
        botocore_stubber.MockRawResponse = _originals["raw_response"]  # type: ignore[misc]
        _originals.clear()


_PATCH = NestedPatch(_install, _uninstall)


def streamed_get_object() -> contextlib.AbstractContextManager[None]:
    """While inside, large objects are read (GetObject) and copied (CopyObject) from their files."""
    return _PATCH.held()


def is_streaming() -> bool:
    return bool(_originals)


__all__: list[str] = ["STREAM_MIN_BYTES", "is_streaming", "streamed_get_object"]
