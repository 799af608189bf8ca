"""Which EMR job scripts Stepline publishes, and under which S3 keys.

A script is published at ``<prefix>/<first 16 hex of its sha256>/<file name>``: the key
changes exactly when the content does, so publishing is idempotent, a running or
replayed execution keeps the script it started with, and nothing is ever overwritten
with different bytes. The local runtime (:mod:`stepline.definition`) computes the same
keys from the same files, so local and deployed definitions name the same URIs.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DEFAULT_KEY_PREFIX = "emr"
# 64 bits of the digest: collisions between versions of a handful of scripts are not
# a practical concern, and the keys stay readable.
DIGEST_PREFIX_LENGTH = 16


#: The packages the Glue validation job imports (``--extra-py-files``), zipped together.
VALIDATOR_PACKAGES = ("sales_contract", "validate_sales_file")
VALIDATOR_ARCHIVE = "validator_packages.zip"
# Every entry of the archive gets this time stamp (zip's earliest), so the same
# sources always make the same bytes, and so the same content-addressed key.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class NoScriptsFoundError(RuntimeError):
    """The scripts directory holds no script to publish (an empty or wrong layer)."""


@dataclass(frozen=True)
class ScriptAsset:
    """One job script and where it is published."""

    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def attribute_name(self) -> str:
        """The custom resource attribute naming this script's URI.

        ``aggregate_sales.py`` -> ``AggregateSalesScriptUri``.
        """
        stem = Path(self.name).stem
        return "".join(part.capitalize() for part in stem.split("_") if part) + "ScriptUri"

    def key(self, prefix: str = DEFAULT_KEY_PREFIX) -> str:
        return f"{prefix.strip('/')}/{self.sha256[:DIGEST_PREFIX_LENGTH]}/{self.name}"

    def uri(self, bucket: str, prefix: str = DEFAULT_KEY_PREFIX) -> str:
        return f"s3://{bucket}/{self.key(prefix)}"


class PutsObjects(Protocol):
    """The one S3 client call publishing needs (a boto3 S3 client, or a fake)."""

    def put_object(self, **kwargs: Any) -> Mapping[str, Any]: ...


def discover_scripts(scripts_dir: Path) -> list[ScriptAsset]:
    """Every top-level ``*.py`` in ``scripts_dir``, packaging files (``_*.py``) excluded.

    Raises :class:`NoScriptsFoundError` when there is none: publishing nothing would
    leave the state machine pointing at a script that does not exist.
    """
    paths = sorted(
        path
        for path in scripts_dir.glob("*.py")
        if path.is_file() and not path.name.startswith("_")
    )
    if not paths:
        raise NoScriptsFoundError(f"no job script (*.py) found in {scripts_dir}")
    return [ScriptAsset(name=path.name, content=path.read_bytes()) for path in paths]


def package_archive(
    code_root: Path, packages: Iterable[str] = VALIDATOR_PACKAGES, name: str = VALIDATOR_ARCHIVE
) -> ScriptAsset:
    """The ``*.py`` files of ``packages`` under ``code_root`` as one reproducible zip.

    This is how the Glue validation job gets the Lambda's own validation code (Glue
    puts a zip on ``--extra-py-files`` on the import path): the same files, never a
    copy kept in step by hand. Entries are sorted and time-stamped alike, so the
    archive, its digest and its key change exactly when a source file does.
    Raises :class:`NoScriptsFoundError` when a package is missing.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for package in packages:
            files = sorted((code_root / package).rglob("*.py"))
            if not files:
                raise NoScriptsFoundError(f"no package {package} (*.py) found in {code_root}")
            for path in files:
                entry = zipfile.ZipInfo(path.relative_to(code_root).as_posix(), _ZIP_EPOCH)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, path.read_bytes())
    return ScriptAsset(name=name, content=buffer.getvalue())


def script_uris(
    scripts: Iterable[ScriptAsset], bucket: str, prefix: str = DEFAULT_KEY_PREFIX
) -> dict[str, str]:
    """Attribute name -> ``s3://`` URI for each script, without touching S3."""
    return {script.attribute_name: script.uri(bucket, prefix) for script in scripts}


def publish_scripts(
    s3_client: PutsObjects,
    bucket: str,
    scripts: Iterable[ScriptAsset],
    prefix: str = DEFAULT_KEY_PREFIX,
) -> dict[str, str]:
    """Upload each script to its content-addressed key; return :func:`script_uris`.

    Re-uploading an existing key writes the very same bytes, so a repeated deploy (or
    a CloudFormation retry) is harmless.
    """
    scripts = list(scripts)
    for script in scripts:
        s3_client.put_object(
            Bucket=bucket,
            Key=script.key(prefix),
            Body=script.content,
            ContentType="application/zip" if script.name.endswith(".zip") else "text/x-python",
            Metadata={"sha256": script.sha256},
        )
    return script_uris(scripts, bucket, prefix)
