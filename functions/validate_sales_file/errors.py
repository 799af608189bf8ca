"""The errors the validation Lambda lets reach the state machine, and what the arrival does.

A rejected file is never an error (it is an ``accepted: false`` result). What
does raise is a fault, and Step Functions sees its class name as the Task's
error (``errorType``), so the arrival's Retry and Catch can tell them apart:

* :class:`StorageUnavailableError`: S3 throttled the function (``SlowDown``),
  failed on its side (5xx) or the connection broke or timed out, while reading
  the raw object or writing the outputs. Another attempt can succeed, and one
  is safe: every output key is derived from the run id, and a retry replaces
  what the earlier attempt wrote. The arrival retries it.
* :class:`SourceObjectError`: the raw object (or the event's version of it) is
  gone, or the function may not read it or write the lake. Another attempt
  fails the same way. The arrival catches it: the store-day is recorded
  ``FAILED`` and notified, with this error and its cause.

:data:`ERROR_DECISIONS` lists every error name that can reach the Task,
these two and the ones the Lambda service itself raises, with the decision;
``tests/definition`` checks the arrival's Retry against it, so a new error
class needs a decision before it ships.
"""

from __future__ import annotations

from typing import Any, Literal

Decision = Literal["retry", "catch"]


class StorageUnavailableError(Exception):
    """S3 was throttled, failed on its side, or the connection broke: a retry can succeed."""


class SourceObjectError(Exception):
    """The raw object is gone or not readable (or the lake not writable): a retry cannot help."""


#: S3 error codes after which another attempt can succeed (AWS: "Error responses",
#: Amazon S3 API reference; "Retry behavior", AWS SDKs and Tools reference).
TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)

#: Error name (the Task's ``Error``) -> what the arrival does with it, and why.
ERROR_DECISIONS: dict[str, tuple[Decision, str]] = {
    StorageUnavailableError.__name__: (
        "retry",
        "S3 throttled or failed on its side; outputs are keyed by the run, so a retry is safe",
    ),
    SourceObjectError.__name__: (
        "catch",
        "the object or its version is gone, or access is denied: it fails the same way again",
    ),
    # A malformed invocation payload (validate_sales_file.models.ValidationError), or an
    # event that is not an S3 Object Created event (pydantic's, from Powertools' model of
    # it; a key or file breaking the contract is a rejection, not this): a bug in the
    # caller, the same on every attempt.
    "ValidationError": ("catch", "the invocation payload is malformed: a retry sends it again"),
    # The Lambda service's own errors, as the lambda:invoke integration names them
    # (AWS: "Handle Lambda transient service exceptions", Step Functions developer guide).
    "Lambda.ServiceException": ("retry", "the Lambda service failed: transient"),
    "Lambda.AWSLambdaException": ("retry", "the Lambda service failed: transient"),
    "Lambda.SdkClientException": ("retry", "the call to Lambda failed on the way: transient"),
    "Lambda.TooManyRequestsException": ("retry", "the function was throttled: transient"),
    # The function ran for its whole 15 minutes: the file is too big to read in time,
    # and it would be again.
    "Sandbox.Timedout": ("catch", "the function timed out; it would time out again"),
    "Runtime.OutOfMemory": ("catch", "the function ran out of memory; it would again"),
}


def classify_s3_failure(error: BaseException) -> Exception | None:
    """The error to raise for a botocore failure, or None when it is not an S3 fault.

    ``ClientError`` with a transient code or a 5xx status, and connection,
    timeout and broken-stream errors, become :class:`StorageUnavailableError`;
    every other ``ClientError`` (``NoSuchKey``, ``NoSuchVersion``,
    ``AccessDenied``...) becomes :class:`SourceObjectError`.
    """
    from botocore import exceptions

    if isinstance(error, exceptions.ClientError):
        response: dict[str, Any] = error.response
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in TRANSIENT_S3_CODES or status >= 500:
            return StorageUnavailableError(f"S3 is unavailable ({code or status}): {error}")
        return SourceObjectError(f"S3 refused the request ({code or status}): {error}")
    transient = (
        exceptions.ConnectionError,  # EndpointConnectionError, ConnectionClosedError...
        exceptions.HTTPClientError,  # ReadTimeoutError, ConnectTimeoutError...
        exceptions.ResponseStreamingError,  # the object's stream broke while being read
        exceptions.IncompleteReadError,
    )
    if isinstance(error, transient):
        return StorageUnavailableError(f"S3 could not be reached ({type(error).__name__}): {error}")
    return None
