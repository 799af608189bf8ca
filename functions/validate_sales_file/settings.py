"""The validation Lambda's configuration: read once from the environment, typed.

A missing or malformed setting raises :class:`SettingsError` on first use, so a
misconfigured deployment fails loudly instead of validating with defaults.
(A dataclass checked by hand rather than a pydantic model: see
:mod:`validate_sales_file.models`.)
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

_BUCKET_VARIABLE = "DATA_LAKE_BUCKET"
_RATIO_VARIABLE = "MAX_REJECT_RATIO"


class SettingsError(RuntimeError):
    """The Lambda's environment is missing a setting or has a malformed one."""


@dataclass(frozen=True, slots=True)
class ValidatorSettings:
    """Settings of ``validate_sales_file`` (environment variable in brackets).

    Checked when made: a value out of range raises ``ValueError`` naming the field.
    """

    #: Bucket receiving validated files and quarantine records (``DATA_LAKE_BUCKET``),
    #: 3 to 63 characters.
    data_lake_bucket: str
    #: Share of rejected rows above which a file is rejected (``MAX_REJECT_RATIO``), 0 to 1.
    max_reject_ratio: float

    def __post_init__(self) -> None:
        bucket = self.data_lake_bucket
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise ValueError(f"data_lake_bucket: {bucket!r} is not a name of 3 to 63 characters")
        ratio = self.max_reject_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float):
            raise ValueError(f"max_reject_ratio: {ratio!r} is not a number")
        if math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
            raise ValueError(f"max_reject_ratio: {ratio!r} is not between 0 and 1")
        object.__setattr__(self, "max_reject_ratio", float(ratio))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ValidatorSettings:
        environ = os.environ if environ is None else environ
        missing = [name for name in (_BUCKET_VARIABLE, _RATIO_VARIABLE) if not environ.get(name)]
        if missing:
            raise SettingsError(f"missing environment variable(s): {', '.join(missing)}")
        text = environ[_RATIO_VARIABLE]
        try:
            try:
                ratio = float(text)
            except ValueError:
                raise ValueError(f"max_reject_ratio: {text!r} is not a number") from None
            return cls(data_lake_bucket=environ[_BUCKET_VARIABLE], max_reject_ratio=ratio)
        except ValueError as error:
            raise SettingsError(f"invalid settings for validate_sales_file: {error}") from error


def get_settings() -> ValidatorSettings:
    """The settings from the environment, parsed and checked once, then reused.

    Keyed by the raw values, so a process whose environment changes between
    invocations (the local runtime, tests) gets fresh settings, while a Lambda
    container parses them once.
    """
    return _settings_for(os.environ.get(_BUCKET_VARIABLE), os.environ.get(_RATIO_VARIABLE))


@functools.cache
def _settings_for(bucket: str | None, ratio: str | None) -> ValidatorSettings:
    environ = {
        name: value
        for name, value in ((_BUCKET_VARIABLE, bucket), (_RATIO_VARIABLE, ratio))
        if value is not None
    }
    return ValidatorSettings.from_environ(environ)
