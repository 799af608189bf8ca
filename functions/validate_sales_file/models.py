"""The typed request and result of validating one arrival: what the arrival machine sends and reads.

The arrival's "Validate the sales file" state keeps the whole result as its
``$validation`` variable and reads its fields (``accepted``, ``good_rows``,
``validated_prefix``, ``counts_complete``...); every field is always present,
``None`` when it does not apply. Data rows never appear here: a Step
Functions state carries at most 256 KiB.

Plain frozen dataclasses, checked by hand, not pydantic models: building the
pydantic models took about 0.13 s of CPU at every cold start, a third of the
handler's import time over a bare ``import boto3``, for five small records
(README "Performance", "Validation").
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from sales_contract import ADHOC_RUN, Problem, checked_run_id

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


class ValidationError(ValueError):
    """The invocation payload is malformed (a bug in the caller, the same on every attempt).

    Named like pydantic's error on purpose: Step Functions sees the class name as
    the Task's error, and the arrival catches ``ValidationError``
    (:data:`~validate_sales_file.errors.ERROR_DECISIONS`).
    """


class _Record:
    """What the records below share: their JSON form."""

    __slots__ = ()

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """The fields as a dict of JSON values (the name and ``mode`` of pydantic's, kept
        for callers written against the earlier models; every field is JSON already)."""
        del mode
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class Reason(_Record):
    """One problem: the physical line it starts on (1 = header), the column, why."""

    line: int | None
    column: str | None
    reason: str

    @classmethod
    def from_problem(cls, problem: Problem) -> Reason:
        reason = bounded(problem.reason, MAX_RETURNED_REASON_BYTES)
        return cls(line=problem.line, column=problem.column, reason=reason)


@dataclass(frozen=True, slots=True)
class ValidationResult(_Record):
    """The verdict on one raw sales object."""

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

    def __post_init__(self) -> None:
        if self.rejection_reason is not None:
            bounded_reason = bounded(self.rejection_reason, MAX_REJECTION_REASON_BYTES)
            object.__setattr__(self, "rejection_reason", bounded_reason)


@dataclass(frozen=True, slots=True)
class SourceObject(_Record):
    """The raw object that was validated, as recorded in rejection records."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class ValidationRequest:
    """What the Lambda is invoked with.

    The arrival state machine sends ``{"event": <the S3 Object Created event>,
    "run": <its execution name>}``; the run id scopes every output key. A bare
    EventBridge event (``sam local invoke -e events/...json``, a hand-made test)
    is accepted too and validated as run ``adhoc``. Anything else (not an
    object, no ``event`` object, another field, a ``run`` that is not a run id)
    raises :class:`ValidationError`. The event's own content is checked when it
    is parsed (:func:`validate_sales_file.service.validate_event`).
    """

    event: dict[str, Any]
    run: str = field(default=ADHOC_RUN)

    @classmethod
    def from_payload(cls, payload: Any) -> ValidationRequest:
        if not isinstance(payload, dict):
            raise ValidationError(
                f"the payload must be an object, not {type(payload).__name__}"
            )
        if "detail" in payload and "event" not in payload:
            return cls(event=payload)
        extra = sorted(str(name) for name in payload if name not in ("event", "run"))
        if extra:
            raise ValidationError(f"unexpected field(s) in the payload: {', '.join(extra)}")
        if not isinstance(payload.get("event"), dict):
            raise ValidationError("the payload's 'event' must be an object (the S3 event)")
        run = payload.get("run", ADHOC_RUN)
        if not isinstance(run, str):
            raise ValidationError(f"the payload's 'run' must be a string, not {run!r}")
        try:
            checked_run_id(run)
        except ValueError as error:
            raise ValidationError(f"the payload's 'run': {error}") from None
        return cls(event=payload["event"], run=run)
