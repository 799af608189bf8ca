"""Operations against the persisted local environment, without Spark.

The session mocks only Glue, EMR, Redshift and Athena (test case
SparkAndWarehouseMocked): the starter, the arrivals, the publish protocol,
the real validation Lambda, the run ledger, S3 and SNS all run locally, so a
day takes a second and every ledger state can be produced for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_support import DAY, MOCKS

from stepline.local.session import LocalSession
from stepline.ops.target import LocalTarget
from stepline.sample_data import write_sales_csv


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "local"


@pytest.fixture
def env(workdir: Path) -> Iterator[LocalSession]:
    with LocalSession(
        "dev",
        workdir=workdir,
        mock_config=MOCKS,
        test_case="SparkAndWarehouseMocked",
        lambda_logs=False,
    ) as session:
        yield session


@pytest.fixture
def target(env: LocalSession) -> LocalTarget:
    return LocalTarget(env)


@pytest.fixture
def sales(tmp_path: Path):
    """Write a valid file of a store for a day; returns its path."""

    def write(store: str, day: str = DAY, rows: int = 20, seed: int = 1) -> Path:
        path = tmp_path / f"{store}-{day}-{seed}.csv"
        write_sales_csv(path, day, store, rows, seed=seed)
        return path

    return write
