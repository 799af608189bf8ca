"""A local folder standing in for S3, kept in step with moto's in-process S3.

Stepline's local mode runs the Lambda handlers against moto's S3 API and the
Spark jobs against plain files. ``LocalLake`` is the bridge: every bucket is a
folder ``<root>/<bucket>/``; before a Spark job runs, the prefixes it reads are
copied from moto to the folder, and afterwards the prefixes it wrote are copied
back (including deletions, so a partition overwrite on disk is an overwrite in
S3 too). Files whose bytes already match (size and MD5) are not copied
again, so syncing a prefix twice costs a listing, not a transfer; a file the
lake has seen match an ETag, and not changed since (size and mtime), is not
hashed again either. The folder
persists between runs, so ``stepline replay`` sees what ``stepline demo``
landed. A versioned bucket's current version ids are kept beside it
(``<bucket>.versions.json``) and given back to the restored objects, so an
object keeps its identity (and its arrival its name) from one session to the next.

Saving a bucket also writes its index (``<bucket>.index.json``: each key's
ETag, size and mtime), so the next session's start gives moto the unchanged
files without reading them (:mod:`stepline.local.moto_s3`): a start costs a
``stat`` per object, whatever the size of the data earlier sessions left.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from boto3.s3.transfer import TransferConfig

from stepline.local.moto_s3 import (
    FileBackedBuffer,
    current_version_ids,
    land_file_backed,
    put_bytes,
    put_file_backed,
)

# Spark writes checksum side files next to every part file; S3 never sees them.
_IGNORED_SUFFIXES = (".crc",)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3:// URI: {uri!r}")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


#: Landing copies a file into the folder in pieces of this size.
_COPY_CHUNK = 1024 * 1024

# Uploads to in-process moto gain nothing from multipart, and a single-part
# ETag is the MD5 that lets _same_content skip unchanged files (5 GiB: S3's PUT limit).
_SINGLE_PART = TransferConfig(multipart_threshold=5 * 1024**3)


def _same_content(path: Path, obj: dict[str, Any]) -> bool:
    """Whether a local file already holds an S3 object's bytes, so copying can be skipped.

    Compares the size, then the MD5 with the object's ETag, which is the MD5 for a
    single-part upload (a multipart ETag has a ``-N`` suffix: copy to be sure).
    """
    if not path.is_file() or path.stat().st_size != obj["Size"]:
        return False
    etag = str(obj["ETag"]).strip('"')
    if "-" in etag:
        return False
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest() == etag


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class LocalLake:
    """Maps ``s3://bucket/key`` to ``<root>/<bucket>/key`` and mirrors moto S3."""

    def __init__(self, root: Path, s3_client: Any) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._s3 = s3_client
        # (bucket, key) -> (ETag, (size, mtime_ns)) of the file when it last matched.
        self._matched: dict[tuple[str, str], tuple[str, tuple[int, int]]] = {}
        self._matched_lock = threading.Lock()
        # Restored objects still reading their bytes from the folder's files.
        self._file_backed: dict[tuple[str, str], list[FileBackedBuffer]] = {}

    def _matches(self, bucket: str, key: str, path: Path, obj: dict[str, Any]) -> bool:
        """``_same_content``, without hashing a file already seen to match, and untouched since."""
        etag = str(obj["ETag"]).strip('"')
        with self._matched_lock:
            known = self._matched.get((bucket, key))
        if known is not None and known[0] == etag:
            try:
                if _stamp(path) == known[1]:
                    return True
            except FileNotFoundError:
                return False
        if not _same_content(path, obj):
            return False
        self._remember(bucket, key, path, etag)
        return True

    def _remember(self, bucket: str, key: str, path: Path, etag: str) -> None:
        with self._matched_lock:
            self._matched[(bucket, key)] = (etag, _stamp(path))

    def path_for(self, uri: str) -> Path:
        """The local path standing in for an ``s3://`` URI (a prefix keeps its trailing slash)."""
        location = S3Location.parse(uri)
        return self.root / location.bucket / location.key

    def local_uri(self, uri: str) -> str:
        """``path_for`` as text; a prefix keeps its trailing ``/`` (Spark and DuckDB want dirs)."""
        path = str(self.path_for(uri))
        return path + "/" if uri.endswith("/") and not path.endswith("/") else path

    def _objects(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def detach(self, uri: str) -> None:
        """Before the file of ``uri`` is rewritten: restored objects take a copy of its bytes."""
        location = S3Location.parse(uri)
        with self._matched_lock:
            buffers = self._file_backed.pop((location.bucket, location.key), [])
        for buffer in buffers:
            buffer.load()

    def land(self, uri: str, source: Path) -> tuple[str, str]:
        """Upload a local file to ``uri`` as a new object version; returns its ETag and version id.

        The file is copied once into the folder, in chunks, its MD5 (the ETag of
        a single-part upload) computed on the way, and moto is given the
        folder's file (:func:`~stepline.local.moto_s3.land_file_backed`): time
        grows with the size, memory does not.
        """
        location = S3Location.parse(uri)
        target = self.path_for(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.detach(uri)  # the key's earlier versions keep their bytes
        digest = hashlib.md5(usedforsecurity=False)
        with source.open("rb") as reader, target.open("wb") as writer:
            while chunk := reader.read(_COPY_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        etag = digest.hexdigest()
        buffer, version_id = land_file_backed(
            location.bucket, location.key, target, size=target.stat().st_size, etag=etag
        )
        with self._matched_lock:
            self._file_backed.setdefault((location.bucket, location.key), []).append(buffer)
        self._remember(location.bucket, location.key, target, etag)
        return etag, version_id

    def pull(self, uri: str) -> dict[str, dict[str, Any]]:
        """Make the folder under an S3 prefix equal to moto: copy changes, drop what is gone.

        Returns the objects under the prefix, as S3 lists them, by key.
        """
        location = S3Location.parse(uri)
        remote = {obj["Key"]: obj for obj in self._objects(location.bucket, location.key)}
        base = self.root / location.bucket
        target = base / location.key
        # A folder prefix, or the bucket's root (key ""): every file under it that S3 no
        # longer has goes, so a deletion made through S3 (a Lambda replacing its outputs)
        # is never brought back by the next session's restore.
        if (location.key == "" or location.key.endswith("/")) and target.is_dir():
            for path in list(target.rglob("*")):
                if path.is_file() and path.relative_to(base).as_posix() not in remote:
                    self.detach(f"s3://{location.bucket}/{path.relative_to(base).as_posix()}")
                    path.unlink()
        for key, obj in remote.items():
            path = base / key
            if self._matches(location.bucket, key, path, obj):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            self.detach(f"s3://{location.bucket}/{key}")
            body = self._s3.get_object(Bucket=location.bucket, Key=key)["Body"]
            with path.open("wb") as out:
                shutil.copyfileobj(body, out)
            self._remember(location.bucket, key, path, str(obj["ETag"]).strip('"'))
        return remote

    def push(self, uri: str) -> None:
        """Make S3 under a prefix equal to the folder: upload what changed, delete what is gone."""
        location = S3Location.parse(uri)
        remote = {obj["Key"]: obj for obj in self._objects(location.bucket, location.key)}
        base = self.root / location.bucket
        local_keys: set[str] = set()
        start = base / location.key
        files = [start] if start.is_file() else (start.rglob("*") if start.exists() else [])
        for path in files:
            if path.is_file() and not path.name.endswith(_IGNORED_SUFFIXES):
                key = path.relative_to(base).as_posix()
                local_keys.add(key)
                if key not in remote or not self._matches(location.bucket, key, path, remote[key]):
                    self._s3.upload_file(str(path), location.bucket, key, Config=_SINGLE_PART)
        stale = [key for key in remote if key not in local_keys]
        for start_index in range(0, len(stale), 1000):
            chunk = stale[start_index : start_index + 1000]
            self._s3.delete_objects(
                Bucket=location.bucket, Delete={"Objects": [{"Key": k} for k in chunk]}
            )

    def _versions_file(self, bucket: str) -> Path:
        return self.root / f"{bucket}.versions.json"

    def _index_file(self, bucket: str) -> Path:
        return self.root / f"{bucket}.index.json"

    def restore_bucket(self, bucket: str) -> int:
        """Load a bucket's folder into moto at the start of a session; returns objects loaded.

        A file the bucket's index lists with its current size and mtime is given
        to moto without being read; any other file is read and hashed.
        """
        base = self.root / bucket
        versions = _read_json(self._versions_file(bucket))
        index = _read_json(self._index_file(bucket))
        count = 0
        if not base.exists():
            return count
        for path in base.rglob("*"):
            if not path.is_file() or path.name.endswith(_IGNORED_SUFFIXES):
                continue
            key = path.relative_to(base).as_posix()
            stamp = _stamp(path)
            known = index.get(key)
            if known is not None and (known[1], known[2]) == stamp:
                etag = str(known[0])
                buffer = put_file_backed(
                    bucket, key, path, size=stamp[0], etag=etag, version_id=versions.get(key)
                )
                with self._matched_lock:
                    self._file_backed.setdefault((bucket, key), []).append(buffer)
            else:
                etag = put_bytes(bucket, key, path.read_bytes(), version_id=versions.get(key))
            with self._matched_lock:
                self._matched[(bucket, key)] = (etag, stamp)
            count += 1
        return count

    def save_bucket(self, bucket: str) -> None:
        """Write a bucket's moto content to its folder (at the end of a local session)."""
        remote = self.pull(f"s3://{bucket}/")
        base = self.root / bucket
        index = {
            key: [str(obj["ETag"]).strip('"'), *_stamp(base / key)]
            for key, obj in remote.items()
            if (base / key).is_file()
        }
        _write_json(self._index_file(bucket), index)
        versioned = self._s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        if versioned:
            _write_json(self._versions_file(bucket), current_version_ids(bucket))


def _read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Written then renamed: an interrupted save leaves the previous file, not half of one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=0, sort_keys=True))
    partial.replace(path)
