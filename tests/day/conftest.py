"""The day under the real arrival pattern: a local environment and store files per test.

Every test here runs the deployed machines in local mode (Lambda in-process,
Glue and EMR on local Spark, Redshift and Athena on DuckDB, DynamoDB, S3 and
SNS on moto), with executions side by side, and forces its interleaving with
task hooks (pause at a Task, release, abort), never with sleeps. The final
warehouse rows and report are compared with ``day_support.expected_day``,
computed from the accepted input files with plain Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from day_support import StoreFiles

from stepline.local.session import LocalSession


@pytest.fixture
def files(tmp_path: Path) -> StoreFiles:
    folder = tmp_path / "inputs"
    folder.mkdir()
    return StoreFiles(folder)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[LocalSession]:
    """A fresh persisted local environment of the dev stage."""
    with LocalSession("dev", workdir=tmp_path / "local", lambda_logs=False) as session:
        yield session
