"""The typed request and result of validating one arrival: what the arrival machine sends and reads.

The arrival's "Validate the sales file" state keeps the whole result as its
``$validation`` variable and reads its fields (``accepted``, ``good_rows``,
``validated_prefix``, ``counts_complete``...); every field is always present,
``None`` when it does not apply. Data rows never appear here: a Step
Functions state carries at most 256 KiB.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sales_contract import ADHOC_RUN, RUN_ID_PATTERN, Problem

#: How many reasons the Lambda returns (the rejects file holds them all).
MAX_RETURNED_REASONS = 20


class Reason(BaseModel):
    """One problem: the physical line it starts on (1 = header), the column, why."""

    model_config = ConfigDict(frozen=True)

    line: int | None
    column: str | None
    reason: str

    @classmethod
    def from_problem(cls, problem: Problem) -> Reason:
        return cls(line=problem.line, column=problem.column, reason=problem.reason)


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
