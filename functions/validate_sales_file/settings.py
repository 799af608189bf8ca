"""The validation Lambda's configuration: read once from the environment, typed.

A missing or malformed setting raises :class:`SettingsError` on first use, so a
misconfigured deployment fails loudly instead of validating with defaults.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_BUCKET_VARIABLE = "DATA_LAKE_BUCKET"
_RATIO_VARIABLE = "MAX_REJECT_RATIO"


class SettingsError(RuntimeError):
    """The Lambda's environment is missing a setting or has a malformed one."""


class ValidatorSettings(BaseModel):
    """Settings of ``validate_sales_file`` (environment variable in brackets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Bucket receiving validated files and quarantine records (``DATA_LAKE_BUCKET``).
    data_lake_bucket: str = Field(min_length=3, max_length=63)
    #: Share of rejected rows above which a file is rejected (``MAX_REJECT_RATIO``).
    max_reject_ratio: float = Field(ge=0.0, le=1.0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ValidatorSettings:
        environ = os.environ if environ is None else environ
        names = {"data_lake_bucket": _BUCKET_VARIABLE, "max_reject_ratio": _RATIO_VARIABLE}
        missing = [variable for variable in names.values() if not environ.get(variable)]
        if missing:
            raise SettingsError(f"missing environment variable(s): {', '.join(missing)}")
        try:
            return cls.model_validate(
                {field: environ[variable] for field, variable in names.items()}
            )
        except ValidationError as error:
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
