"""The Glue route of "Validate the sales file": the same validation, for files too big for Lambda.

The arrival sends a file whose stored size is above the Lambda's limit (README,
Performance: "The largest file one invocation can validate") to the Glue job
``glue_jobs/validate_sales_file.py`` instead of the function. That job calls
:func:`run_validation_job`, which calls the very function the Lambda handler
calls, :func:`validate_sales_file.service.validate_event`, with the same
settings, so the outputs are the Lambda's byte for byte and at the same keys
(``validated/`` good rows, ``quarantine/`` rejects and rejection records). A Glue
job returns no payload, so the job also writes the result the Lambda would have
returned (:class:`~validate_sales_file.models.ValidationResult`, JSON) to
``result_uri``, which the arrival reads back into ``$validation``; every later
state is the same whichever route ran.

An S3 fault leaves as the Lambda's: classified into
:class:`~validate_sales_file.errors.StorageUnavailableError` or
:class:`~validate_sales_file.errors.SourceObjectError`, which fails the job run
(the arrival catches it and records the store-day ``FAILED``). The result
document is written last, so a job run that failed never leaves one behind a
later attempt could mistake for its own: each attempt overwrites it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sales_contract import checked_run_id

from .errors import classify_s3_failure
from .models import ValidationResult
from .service import S3Client, validate_event
from .settings import ValidatorSettings

#: The job's arguments (Glue passes them as ``--name value``), all required.
JOB_ARGUMENTS = ("sales_event", "run_id", "data_lake_bucket", "max_reject_ratio", "result_uri")


@dataclass(frozen=True)
class ValidationJobArgs:
    """What one run of the validation job is told: the arrival's event and run, where to answer."""

    event: dict[str, Any]
    run: str
    settings: ValidatorSettings
    result_bucket: str
    result_key: str

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> ValidationJobArgs:
        """From Glue's resolved options (``getResolvedOptions``), names without ``--``."""
        missing = [name for name in JOB_ARGUMENTS if not options.get(name)]
        if missing:
            raise ValueError(f"the validation job needs --{', --'.join(missing)}")
        result_uri = options["result_uri"]
        bucket, _, key = result_uri.removeprefix("s3://").partition("/")
        if not result_uri.startswith("s3://") or not bucket or not key:
            raise ValueError(f"--result_uri {result_uri!r} is not s3://<bucket>/<key>")
        event = json.loads(options["sales_event"])
        if not isinstance(event, dict):
            raise ValueError("--sales_event must be the S3 Object Created event (a JSON object)")
        ratio = options["max_reject_ratio"]
        try:
            max_reject_ratio = float(ratio)
        except ValueError:
            raise ValueError(f"--max_reject_ratio {ratio!r} is not a number") from None
        settings = ValidatorSettings(
            data_lake_bucket=options["data_lake_bucket"], max_reject_ratio=max_reject_ratio
        )
        return cls(
            event=event,
            run=checked_run_id(options["run_id"]),
            settings=settings,
            result_bucket=bucket,
            result_key=key,
        )


def run_validation_job(args: ValidationJobArgs, s3: S3Client) -> ValidationResult:
    """Validate the arrival exactly as the Lambda does, then write its result document."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = validate_event(args.event, settings=args.settings, s3=s3, run=args.run)
        s3.put_object(
            Bucket=args.result_bucket,
            Key=args.result_key,
            Body=result_document(result),
            ContentType="application/json",
        )
    except (ClientError, BotoCoreError) as error:
        classified = classify_s3_failure(error)
        if classified is None:
            raise
        raise classified from error
    return result


def result_document(result: ValidationResult) -> bytes:
    """The result as the Lambda returns it (``model_dump(mode="json")``), as JSON bytes."""
    return json.dumps(result.model_dump(mode="json"), sort_keys=True).encode("utf-8")
