"""Answering CloudFormation for a custom resource.

CloudFormation waits for a JSON document PUT to the pre-signed ``ResponseURL`` of the
request; if none arrives the stack hangs for up to an hour. This is the few lines of
the ``cfnresponse`` helper that only exists for inline code, written with urllib.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

SUCCESS: Literal["SUCCESS"] = "SUCCESS"
FAILED: Literal["FAILED"] = "FAILED"

# CloudFormation rejects response bodies over 4 KiB; the reason is the only free text.
MAX_REASON_LENGTH = 1000
SEND_ATTEMPTS = 3


@dataclass(frozen=True)
class CustomResourceResponse:
    """What the custom resource tells CloudFormation."""

    status: Literal["SUCCESS", "FAILED"]
    physical_resource_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)

    def body(self, event: Mapping[str, Any]) -> bytes:
        """The response document for ``event``, as CloudFormation expects it."""
        document = {
            "Status": self.status,
            "Reason": self.reason[:MAX_REASON_LENGTH] or self.status,
            "PhysicalResourceId": self.physical_resource_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": dict(self.data),
        }
        return json.dumps(document).encode("utf-8")


def send_response(
    event: Mapping[str, Any],
    response: CustomResourceResponse,
    *,
    timeout_seconds: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PUT ``response`` to the event's ResponseURL, retrying transient failures.

    Raises the last error if every attempt failed, so the invocation is marked failed
    and Lambda's own retry of the asynchronous invocation gets another chance.
    """
    body = response.body(event)
    # The URL is pre-signed without a content type: sending one would break the
    # signature, and urllib adds a form content type unless told otherwise.
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as reply:
                reply.read()
            logger.info(
                "Answered CloudFormation: %s %s", response.status, response.physical_resource_id
            )
            return
        except OSError:
            if attempt == SEND_ATTEMPTS:
                raise
            logger.warning("Answering CloudFormation failed (attempt %d), retrying", attempt)
            sleep(2.0**attempt)
