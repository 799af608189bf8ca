"""The Stepline sales data contract: one module owns it, everything else imports it.

* :mod:`sales_contract.layout` - the raw key pattern and every output key,
* :mod:`sales_contract.records` - lines, quoting and size limits: bytes to records,
* :mod:`sales_contract.rules` - the columns and the per-row check,
* :mod:`sales_contract.validation` - streaming validation of a whole file.

The contract is described for data engineers in ``docs/data-contract.md``.
"""

from .layout import (
    ADHOC_RUN,
    RAW_KEY_PATTERN_TEXT,
    RUN_ID_PATTERN,
    SALES_PREFIX,
    STORE_ID_PATTERN,
    RawKeyError,
    RawSalesKey,
    checked_run_id,
    is_sales_key,
    parse_raw_key,
    raw_key,
    s3_uri,
    unmatched_key_rejection_key,
)
from .records import MAX_LINE_BYTES, MAX_RECORD_BYTES
from .rules import COLUMNS, MAX_ORDER_ID_CHARS, MAX_TEXT_CHARS, RowChecker, check_header
from .validation import (
    DEFAULT_MAX_REJECT_RATIO,
    REJECTS_COLUMNS,
    Problem,
    ValidationReport,
    validate_sales_stream,
)

__all__ = [
    "ADHOC_RUN",
    "COLUMNS",
    "DEFAULT_MAX_REJECT_RATIO",
    "MAX_LINE_BYTES",
    "MAX_ORDER_ID_CHARS",
    "MAX_RECORD_BYTES",
    "MAX_TEXT_CHARS",
    "RAW_KEY_PATTERN_TEXT",
    "REJECTS_COLUMNS",
    "RUN_ID_PATTERN",
    "SALES_PREFIX",
    "STORE_ID_PATTERN",
    "Problem",
    "RawKeyError",
    "RawSalesKey",
    "RowChecker",
    "ValidationReport",
    "check_header",
    "checked_run_id",
    "is_sales_key",
    "parse_raw_key",
    "raw_key",
    "s3_uri",
    "unmatched_key_rejection_key",
    "validate_sales_stream",
]
