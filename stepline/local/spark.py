"""One local SparkSession per process, shared by the Glue and EMR stand-ins.

Starting Spark costs seconds, so local mode starts it on first use and keeps
it: every Glue job run and EMR step of a demo reuses the same session, as a
cluster would.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@functools.cache
def local_spark() -> SparkSession:
    """A ``local[2]`` session tuned for small data on a laptop or a 2-core CI runner."""
    from pyspark.sql import SparkSession

    # Spark workers must run the same interpreter (and venv) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Local runs need no network interface; binding loopback also silences Spark's warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = Path(__file__).with_name("log4j2.properties")
    spark = (
        SparkSession.builder.master(os.environ.get("STEPLINE_SPARK_MASTER", "local[2]"))
        .appName("stepline-local")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config}")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark
