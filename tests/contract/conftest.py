"""Helpers for the data-contract tests: build CSV text, validate it, read the outputs."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from sales_contract import COLUMNS, ValidationReport, parse_raw_key, validate_sales_stream

RUN_DATE = "2026-11-20"
STORE = "store_001"
KEY = f"sales/date={RUN_DATE}/store={STORE}/sales.csv"
GZ_KEY = f"sales/date={RUN_DATE}/store={STORE}/sales.csv.gz"


@dataclass
class Validated:
    report: ValidationReport
    #: The good-rows output, decompressed ("" when nothing was written).
    good_csv: str
    #: The rejects output ("" when no row was rejected).
    rejects_csv: str


class ContractKit:
    """Builds sales CSV text and runs the streaming validator on it."""

    run_date = RUN_DATE
    store = STORE
    key = KEY
    gz_key = GZ_KEY

    def row(self, **values: str) -> dict[str, str]:
        """A good row; keyword arguments override single columns."""
        row = {
            "order_id": "store_001-20261120-000001",
            "store_id": STORE,
            "sold_at": f"{RUN_DATE}T10:15:00Z",
            "sku": "GRO-00001",
            "category": "Grocery",
            "quantity": "2",
            "unit_price": "3.49",
        }
        row.update(values)
        return row

    def csv(
        self,
        rows: Sequence[dict[str, str] | Sequence[str]] = (),
        *,
        header: Sequence[str] = COLUMNS,
        newline: str = "\n",
    ) -> str:
        """CSV text; dict rows follow ``header``, list rows are written as given."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=newline)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[name] for name in header] if isinstance(row, dict) else row)
        return buffer.getvalue()

    def validate(
        self,
        data: bytes | str,
        *,
        key: str = KEY,
        max_reject_ratio: float = 0.01,
        max_reasons: int = 20,
    ) -> Validated:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        good, rejects = io.BytesIO(), io.BytesIO()
        report = validate_sales_stream(
            io.BytesIO(raw),
            parse_raw_key(key),
            max_reject_ratio=max_reject_ratio,
            good_rows_out=good,
            rejects_out=rejects,
            max_reasons=max_reasons,
        )
        good_csv = gzip.decompress(good.getvalue()).decode("utf-8") if good.getvalue() else ""
        return Validated(report, good_csv, rejects.getvalue().decode("utf-8"))

    def reasons(self, validated: Validated) -> list[str]:
        return [problem.reason for problem in validated.report.reasons()]


@pytest.fixture
def kit() -> ContractKit:
    """Builds CSV text and validates it with the real streaming validator."""
    return ContractKit()


@pytest.fixture
def one_row_reasons(kit: ContractKit) -> Callable[..., list[str]]:
    """Validate a file with one row built from overrides; return that row's reasons."""

    def reasons(**values: str) -> list[str]:
        validated = kit.validate(kit.csv([kit.row(**values)]), max_reject_ratio=1.0)
        return [problem.reason for problem in validated.report.row_problems]

    return reasons
