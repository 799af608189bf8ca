"""The errors the validation Lambda lets reach the arrival, named so Retry and Catch can differ.

S3 faults leave the handler as StorageUnavailableError (retried by the arrival) or
SourceObjectError (caught and recorded FAILED); tests/definition checks the arrival's
Retry against validate_sales_file.errors.ERROR_DECISIONS.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from validate_sales_file import app
from validate_sales_file.errors import (
    ERROR_DECISIONS,
    SourceObjectError,
    StorageUnavailableError,
    classify_s3_failure,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

LAKE = "stepline-sales-dev-lake-123456789012-us-east-1"
KEY = "sales/date=2026-11-20/store=store_002/sales.csv"
DATA = b"order_id,store_id,sold_at,sku,category,quantity,unit_price\n"


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


class FailingS3:
    """The lake's moto client, except that reading the raw object fails with ``error``."""

    def __init__(self, client: Any, error: Exception) -> None:
        self._client = client
        self._error = error

    def get_object(self, **kwargs: Any) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _LambdaContext:
    function_name = "stepline-sales-dev-validate-sales-file"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:validate"
    aws_request_id = "req-1"


def _invoke(lake, monkeypatch, error: Exception) -> None:
    monkeypatch.setenv("DATA_LAKE_BUCKET", LAKE)
    monkeypatch.setenv("MAX_REJECT_RATIO", "0.01")
    monkeypatch.setattr(app, "get_s3_client", lambda: FailingS3(lake.s3, error))
    app.lambda_handler({"event": lake.land(KEY, DATA), "run": "r1"}, _LambdaContext())


@pytest.mark.parametrize(
    "error",
    [
        _client_error("SlowDown", 503),
        _client_error("InternalError", 500),
        _client_error("SomethingNew", 502),
        ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
    ],
    ids=["SlowDown", "InternalError", "any-5xx", "read-timeout", "no-connection"],
)
def test_a_transient_s3_fault_leaves_as_storage_unavailable(lake, monkeypatch, error) -> None:
    """Throttling, 5xx and broken connections are StorageUnavailableError: the arrival retries."""
    with pytest.raises(StorageUnavailableError) as raised:
        _invoke(lake, monkeypatch, error)
    assert raised.value.__cause__ is error
    assert ERROR_DECISIONS[type(raised.value).__name__][0] == "retry"


@pytest.mark.parametrize(
    ("code", "status"), [("NoSuchKey", 404), ("NoSuchVersion", 404), ("AccessDenied", 403)]
)
def test_a_missing_or_forbidden_object_leaves_as_source_object_error(
    lake, monkeypatch, code, status
) -> None:
    """The object gone or forbidden is SourceObjectError, naming the code: caught, not retried."""
    with pytest.raises(SourceObjectError, match=code):
        _invoke(lake, monkeypatch, _client_error(code, status))
    assert ERROR_DECISIONS[SourceObjectError.__name__][0] == "catch"


def test_errors_that_are_not_s3_faults_are_not_renamed() -> None:
    """Only botocore's S3 failures are classified; anything else keeps its own name."""
    assert classify_s3_failure(ValueError("x")) is None


def test_every_error_class_the_function_defines_has_a_decision() -> None:
    """Each exception class of validate_sales_file.errors is listed with retry or catch."""
    from validate_sales_file import errors

    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert classes == {"StorageUnavailableError", "SourceObjectError"}
    assert classes <= set(ERROR_DECISIONS)
    assert all(decision in ("retry", "catch") and why for decision, why in ERROR_DECISIONS.values())
