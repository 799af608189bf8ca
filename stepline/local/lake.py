"""A local folder standing in for S3, kept in step with moto's in-process S3.

Stepline's local mode runs the Lambda handlers against moto's S3 API and the
Spark jobs against plain files. ``LocalLake`` is the bridge: every bucket is a
folder ``<root>/<bucket>/``; before a Spark job runs, the prefixes it reads are
copied from moto to the folder, and afterwards the prefixes it wrote are copied
back (including deletions, so a partition overwrite on disk is an overwrite in
S3 too). Files whose bytes already match (size and MD5) are not copied
again, so syncing a prefix twice costs a listing, not a transfer. The folder
persists between runs, so ``stepline replay`` sees what ``stepline demo``
landed. A versioned bucket's current version ids are kept beside it
(``<bucket>.versions.json``) and given back to the restored objects, so an
object keeps its identity (and its arrival its name) from one session to the next.
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


# Uploads to in-process moto gain nothing from multipart, and a single-part
# ETag is the MD5 that lets _same_content skip unchanged files (5 GiB: S3's PUT limit).
_SINGLE_PART = TransferConfig(multipart_threshold=5 * 1024**3)


def _same_content(path: Path, obj: dict[str, Any]) -> bool:
    """Whether a local file already holds an S3 object's bytes, so copying can be skipped.

    Sizes first; then the MD5 against the ETag, which is the MD5 only for a
    single-part upload (a multipart ETag has a ``-N`` suffix: copy to be sure).
    """
    if not path.is_file() or path.stat().st_size != obj["Size"]:
        return False
    etag = str(obj["ETag"]).strip('"')
    if "-" in etag:
        return False
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest() == etag


class LocalLake:
    """Maps ``s3://bucket/key`` to ``<root>/<bucket>/key`` and mirrors moto S3."""

    def __init__(self, root: Path, s3_client: Any) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._s3 = s3_client

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

    def pull(self, uri: str) -> None:
        """Make the folder under an S3 prefix equal to moto: copy changes, drop what is gone."""
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
                    path.unlink()
        for key, obj in remote.items():
            path = base / key
            if _same_content(path, obj):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            body = self._s3.get_object(Bucket=location.bucket, Key=key)["Body"]
            with path.open("wb") as out:
                shutil.copyfileobj(body, out)

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
                if key not in remote or not _same_content(path, remote[key]):
                    self._s3.upload_file(str(path), location.bucket, key, Config=_SINGLE_PART)
        stale = [key for key in remote if key not in local_keys]
        for start_index in range(0, len(stale), 1000):
            chunk = stale[start_index : start_index + 1000]
            self._s3.delete_objects(
                Bucket=location.bucket, Delete={"Objects": [{"Key": k} for k in chunk]}
            )

    def _versions_file(self, bucket: str) -> Path:
        return self.root / f"{bucket}.versions.json"

    def restore_bucket(self, bucket: str) -> int:
        """Load a bucket's folder into moto at the start of a session; returns objects loaded."""
        base = self.root / bucket
        versions_file = self._versions_file(bucket)
        versions: dict[str, str] = (
            json.loads(versions_file.read_text()) if versions_file.exists() else {}
        )
        count = 0
        if base.exists():
            for path in base.rglob("*"):
                if path.is_file() and not path.name.endswith(_IGNORED_SUFFIXES):
                    key = path.relative_to(base).as_posix()
                    self._s3.upload_file(str(path), bucket, key, Config=_SINGLE_PART)
                    if key in versions:
                        restore_version_id(bucket, key, versions[key])
                    count += 1
        return count

    def save_bucket(self, bucket: str) -> None:
        """Write a bucket's moto content to its folder (at the end of a local session)."""
        self.pull(f"s3://{bucket}/")
        versioned = self._s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        if versioned:
            versions = {
                obj["Key"]: self._s3.head_object(Bucket=bucket, Key=obj["Key"])["VersionId"]
                for obj in self._objects(bucket, "")
            }
            self._versions_file(bucket).write_text(json.dumps(versions, indent=0, sort_keys=True))


_VERSION_LOCK = threading.Lock()


def restore_version_id(bucket: str, key: str, version_id: str) -> None:
    """Give the current version of an object in moto S3 a version id it had in an earlier session.

    S3 offers no API to choose a version id, so this sets it on moto's own
    object (a moto internal; ``tests/local/test_moto_internals.py`` is its canary).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    with _VERSION_LOCK:
        fake_key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, key)
        if fake_key is None:
            raise KeyError(f"s3://{bucket}/{key} is not in moto S3")
        fake_key._version_id = version_id
