"""The typed request and result of validating one arrival: what the arrival machine sends and reads.

The arrival's "Validate the sales file" state keeps the whole result as its
``$validation`` variable and reads its fields (``accepted``, ``good_rows``,
``validated_prefix``, ``counts_complete``...); every field is always present,
``None`` when it does not apply. Data rows never appear here: a Step
Functions state carries at most 256 KiB.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sales_contract import ADHOC_RUN, RUN_ID_PATTERN, Problem

#: How many reasons the Lambda returns (the rejects file holds them all).
MAX_RETURNED_REASONS = 20
#: The longest a returned reason, and the rejection reason, may be once JSON-encoded
#: (each character escaped as \uXXXX at worst). A reason quotes the value it is
#: about, and a value may be 64 KiB: cut, twenty reasons and the reason still leave the
#: result a few KiB, far inside Step Functions' 256 KiB per state. The rejects file and
#: the rejection record keep every reason whole.
MAX_RETURNED_REASON_BYTES = 240
MAX_REJECTION_REASON_BYTES = 1000
_CUT = "..."


def bounded(text: str, limit: int) -> str:
    """``text``, or its longest prefix + ``...`` whose JSON form is at most ``limit`` bytes."""
    if len(json.dumps(text)) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle] + _CUT)) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + _CUT


class Reason(BaseModel):
    """One problem: the physical line it starts on (1 = header), the column, why."""

    model_config = ConfigDict(frozen=True)

    line: int | None
    column: str | None
    reason: str

    @classmethod
    def from_problem(cls, problem: Problem) -> Reason:
        reason = bounded(problem.reason, MAX_RETURNED_REASON_BYTES)
        return cls(line=problem.line, column=problem.column, reason=reason)


class ValidationResult(BaseModel):
    """The verdict on one raw sales object."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    run_date: str | None
    store_id: str | None
    source_uri: str
    rows: int
    good_rows: int
    rejected_rows: int
    #: False when the file was rejected as a whole before it was read to its end: the
    #: counts above are then not the file's (0), and must not be reported as if they were.
    counts_complete: bool
    validated_prefix: str | None
    rejects_uri: str | None
    rejection_reason: str | None
    reasons: list[Reason]

    @field_validator("rejection_reason")
    @classmethod
    def _bounded_rejection_reason(cls, value: str | None) -> str | None:
        return None if value is None else bounded(value, MAX_REJECTION_REASON_BYTES)


class SourceObject(BaseModel):
    """The raw object that was validated, as recorded in rejection records."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None


class ValidationRequest(BaseModel):
    """What the Lambda is invoked with.

    The arrival state machine sends ``{"event": <the S3 Object Created event>,
    "run": <its execution name>}``; the run id scopes every output key. A bare
    EventBridge event (``sam local invoke -e events/...json``, a hand-made test)
    is accepted too and validated as run ``adhoc``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: dict[str, Any]
    run: str = Field(default=ADHOC_RUN, pattern=f"^{RUN_ID_PATTERN}$")

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ValidationRequest:
        if "detail" in payload and "event" not in payload:
            return cls(event=payload)
        return cls.model_validate(payload)
