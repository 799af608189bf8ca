"""Lambda entry point of "Remove the superseded generations" (``app.lambda_handler``).

Receives ``{"run_date": "YYYY-MM-DD", "publish": <the pass just recorded>,
"previous_publish": <the pass recorded before it, or null>}`` from the publish,
while it holds the date's lease, and returns a small summary
(:class:`~prune_generations.service.PruneResult`). The rules are in
:mod:`prune_generations.service`. Any exception reaches the publish, which
records it as a warning in the day's notification and goes on: the day is
published, and the next publish of the date prunes again.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .service import PruneRequest, prune_day

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stepline"))

Decision = Literal["retry", "catch"]

#: Every error name that can reach the publish's Task, with its decision (tests/definition
#: checks the Task's Retry against it). Caught errors do not fail the publish.
ERROR_DECISIONS: dict[str, tuple[Decision, str]] = {
    "Lambda.ServiceException": ("retry", "the Lambda service failed: transient"),
    "Lambda.AWSLambdaException": ("retry", "the Lambda service failed: transient"),
    "Lambda.SdkClientException": ("retry", "the call to Lambda failed on the way: transient"),
    "Lambda.TooManyRequestsException": ("retry", "the function was throttled: transient"),
    # boto3 already retries S3 and DynamoDB throttling inside the call; what is left is
    # a warning of the day's notification, and the next publish of the date prunes again.
    "ClientError": ("catch", "S3 or DynamoDB refused (after boto3's retries): a warning"),
    "BotoCoreError": ("catch", "the connection failed after boto3's retries: a warning"),
    "ValueError": ("catch", "the request is malformed: the same on every attempt"),
    "KeyError": ("catch", "an environment variable is missing: a deployment problem"),
}


@functools.cache
def _clients() -> tuple[Any, Any]:
    """The S3 and DynamoDB clients, created on first use (never at import, so moto can stand in)."""
    return boto3.client("s3"), boto3.client("dynamodb")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PruneRequest.from_payload(event)
    s3, dynamodb = _clients()
    result = prune_day(
        request,
        s3=s3,
        dynamodb=dynamodb,
        bucket=os.environ["DATA_LAKE_BUCKET"],
        table=os.environ["RUN_LEDGER_TABLE"],
    )
    metrics.add_metric(
        name="GenerationObjectsDeleted", unit=MetricUnit.Count, value=result.deleted_objects
    )
    logger.info("pruned %s", request.run_date, extra={"prune": result.to_json()})
    return result.to_json()
