"""Fixtures for the Spark job tests: one local SparkSession, a validated-file writer, ASL text.

The session is started once per test run (a JVM start costs seconds) with
two cores, two shuffle partitions and no UI, bound to the loopback address.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from jsonata import Jsonata

from glue_jobs.clean_sales import RAW_COLUMNS

# pandas-on-Spark, which pyspark.testing imports with the test modules, wants this
# set before it loads and before Spark starts.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

ValidatedWriter = Callable[..., Path]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A ``local[2]`` SparkSession shared by every Spark test."""
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("stepline-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        # The local runtime's session uses dynamic overwrite; the jobs must
        # replace exactly one partition under it too.
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A folder standing in for the data-lake bucket."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def write_validated(lake: Path) -> ValidatedWriter:
    """Write a validated gzip CSV the way the validation Lambda does; returns its path."""

    def write(
        run_date: str,
        store_id: str,
        rows: Sequence[Sequence[object]],
        *,
        run: str = "arrival-1",
        name: str = "sales",
        header: Sequence[str] = RAW_COLUMNS,
    ) -> Path:
        folder = (
            lake / "validated" / "sales" / f"date={run_date}" / f"store={store_id}" / f"run={run}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        path = folder / f"{name}.csv.gz"
        path.write_bytes(gzip.compress(text.getvalue().encode("utf-8")))
        return path

    return write


class StateMachine:
    """One ASL file of ``statemachines/`` with its JSONata fields evaluated as Step Functions would.

    ``${Name}`` placeholders are replaced from ``substitutions`` first (a
    missing one fails the test); a ``{% ... %}`` value is evaluated with the
    given variables, any other string is returned as is.
    """

    def __init__(self, file_name: str, substitutions: Mapping[str, str]) -> None:
        self.definition = json.loads((REPO / "statemachines" / file_name).read_text())
        self.substitutions = dict(substitutions)

    def state(self, name: str) -> dict[str, Any]:
        state: dict[str, Any] = self.definition["States"][name]
        return state

    def evaluate(self, value: str, variables: Mapping[str, Any]) -> Any:
        text = re.sub(r"\$\{(\w+)\}", lambda match: self.substitutions[match[1]], value)
        if not (text.startswith("{%") and text.endswith("%}")):
            return text
        return Jsonata(text[2:-2]).evaluate(None, dict(variables))


@pytest.fixture
def state_machine() -> Callable[[str, Mapping[str, str]], StateMachine]:
    """Load an ASL file of this repository, ready to evaluate its JSONata fields."""
    return StateMachine
