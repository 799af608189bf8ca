"""Lambda entry point of "Validate the sales file" (``validate_sales_file.app.lambda_handler``).

Receives ``{"event": <the EventBridge S3 "Object Created" event, exactly as
delivered>, "run": <the arrival execution's name>}`` (see
:class:`~validate_sales_file.models.ValidationRequest`) and returns the
:class:`ValidationResult` fields the state machine reads. The work is in
:mod:`validate_sales_file.service`. An S3 fault leaves as one of the two error
classes of :mod:`validate_sales_file.errors`, whose names the arrival's Retry
and Catch tell apart (transient: retried; the object gone or forbidden: caught).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from .errors import classify_s3_failure
from .models import ValidationRequest, ValidationResult
from .service import S3Client, validate_event
from .settings import get_settings

# Service name comes from POWERTOOLS_SERVICE_NAME; the namespace defaults to
# "Stepline" so the function works without extra configuration.
logger = Logger()
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stepline"))


@functools.cache
def get_s3_client() -> S3Client:
    """The S3 client, created on first use (never at import, so moto can stand in)."""
    return boto3.client("s3")


@functools.cache
def _traced(handler: Handler) -> Handler:
    """``handler`` under the Powertools Tracer, made on the first invocation.

    The Tracer imports the X-Ray SDK (about half a second, more than boto3 itself):
    made here rather than at import, the module imports fast and a process with
    tracing off (POWERTOOLS_TRACE_DISABLED, the local runtime, tests) never pays it.
    """
    from aws_lambda_powertools import Tracer

    # Powertools' own rule (POWERTOOLS_TRACE_DISABLED, or outside Lambda, or SAM
    # local); a Tracer made disabled would still load the SDK.
    if Tracer._is_tracer_disabled():
        return handler
    traced: Handler = Tracer().capture_lambda_handler(handler)
    return traced


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _traced(_measured_handler)(event, context)


@metrics.log_metrics
def _measured_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ValidationRequest.from_payload(event)
    try:
        result = validate_event(
            request.event, settings=get_settings(), s3=get_s3_client(), run=request.run
        )
    except (ClientError, BotoCoreError) as error:
        classified = classify_s3_failure(error)
        if classified is None:
            raise
        raise classified from error
    record_metrics(result)
    return result.model_dump(mode="json")


def record_metrics(result: ValidationResult) -> None:
    # Stages share one metric namespace; the stage dimension keeps their alarms apart.
    metrics.add_dimension(name="stage", value=os.environ.get("STEPLINE_STAGE", "unknown"))
    metrics.add_metric(name="Rows", unit=MetricUnit.Count, value=result.rows)
    metrics.add_metric(name="RejectedRows", unit=MetricUnit.Count, value=result.rejected_rows)
    files_rejected = 0 if result.accepted else 1
    metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=files_rejected)
