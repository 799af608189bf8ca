"""Fixtures for the Spark job tests: one local SparkSession and a validated-file writer.

The session is started once per test run (a JVM start costs seconds) with
two cores, two shuffle partitions and no UI, bound to the loopback address.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from glue_jobs.clean_sales import RAW_COLUMNS

# pandas-on-Spark, which pyspark.testing imports with the test modules, wants this
# set before it loads and before Spark starts.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

ValidatedWriter = Callable[..., Path]


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
        name: str = "sales",
        header: Sequence[str] = RAW_COLUMNS,
    ) -> Path:
        folder = lake / "validated" / "sales" / f"date={run_date}" / f"store={store_id}"
        folder.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        path = folder / f"{name}.csv.gz"
        path.write_bytes(gzip.compress(text.getvalue().encode("utf-8")))
        return path

    return write
