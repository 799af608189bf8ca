"""The Glue clean job on the local SparkSession: wall time and rows/s at several sizes.

Run: ``.venv/bin/python bench/clean.py`` (or ``bench/run.py --clean``). For each
size a generated store-day (``write_sales_csv``, valid rows, 0.1% duplicate
lines) is gzipped as validation writes it, then :func:`clean_sales.run` cleans
it on the local SparkSession (``stepline.local.spark``, ``local[2]``), Spark's
start-up excluded (timed and printed on its own; one warm-up run first).
``--plain`` also cleans the same rows as the plain ``.csv`` the validator copies
when a store's file is clean (the common case; one line per record, so Spark
splits it), as ``this (plain .csv)``; the other versions read the gzip form,
which every validated file was before the copy.
``--job FILE`` (repeatable) times other versions of
``glue_jobs/clean_sales.py`` side by side, in turns, on the same files
(e.g. ``git show main:glue_jobs/clean_sales.py > /tmp/clean_main.py``)
and checks that every version writes the same rows.

A benchmark, not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATE, STORE = "2026-11-20", "store_001"


def start_spark() -> tuple[Any, float]:
    """The local SparkSession and the seconds its import and start took (printed)."""
    start = time.perf_counter()
    from stepline.local.spark import local_spark

    spark = local_spark()
    seconds = time.perf_counter() - start
    print(f"Spark start (import and session): {seconds:.2f} s")
    return spark, seconds


def load_job(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def validated_file(directory: Path, rows: int, copied: bool = False) -> Path:
    """A store-day of ``rows`` valid rows as the validator writes them (gzip CSV).

    ``copied``: as it copies a clean ``.csv`` (the same rows, uncompressed).
    """
    from stepline.sample_data import write_sales_csv

    if copied:
        folder = directory / f"rows-{rows}-plain" / f"validated/sales/date={DATE}/store={STORE}"
        folder /= "run=bench"
        target = folder / "sales.csv"
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            compressed = validated_file(directory, rows) / "sales.csv.gz"
            with gzip.open(compressed, "rb") as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
        return folder
    folder = directory / f"rows-{rows}" / f"validated/sales/date={DATE}/store={STORE}/run=bench"
    target = folder / "sales.csv.gz"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        plain = directory / f"rows-{rows}.csv"
        write_sales_csv(plain, DATE, STORE, rows, seed=1, duplicates=rows // 1000)
        with plain.open("rb") as source, gzip.open(target, "wb", compresslevel=1) as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        plain.unlink()
    return folder


def clean_once(job: ModuleType, spark: Any, lake: Path, folder: Path) -> tuple[float, dict]:
    args = job.CleanArgs.from_options(
        {
            "run_date": DATE,
            "store_id": STORE,
            "run_id": "bench",
            "validated_prefix": str(folder),
            "lake_root": str(lake),
        }
    )
    start = time.perf_counter()
    metrics = job.run(spark, args, write_metrics=lambda uri, counts: None)
    return time.perf_counter() - start, metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--job", type=Path, action="append", default=[])
    parser.add_argument(
        "--plain", action="store_true", help="also clean the plain .csv a clean file is copied as"
    )
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "stepline-clean")
    args = parser.parse_args()
    spark, spark_start = start_spark()
    this = load_job(ROOT / "glue_jobs/clean_sales.py", "clean_this")
    jobs = {"this": this}
    for index, path in enumerate(args.job):
        jobs[path.name] = load_job(path, f"clean_other_{index}")
    if args.plain:
        jobs["this (plain .csv)"] = this
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "spark_start_s": spark_start,
    }
    for rows in args.rows:
        folders = {name: validated_file(args.dir, rows) for name in jobs}
        if args.plain:
            folders["this (plain .csv)"] = validated_file(args.dir, rows, copied=True)
        samples: dict[str, list[float]] = {name: [] for name in jobs}
        written: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as workdir:
            for name, job in jobs.items():  # warm-up: JIT, the file in the page cache
                clean_once(job, spark, Path(workdir) / name, folders[name])
            for _ in range(args.runs):
                for name, job in jobs.items():
                    seconds, metrics = clean_once(job, spark, Path(workdir) / name, folders[name])
                    samples[name].append(seconds)
            for name in jobs:
                out = Path(workdir) / name / "clean"
                written[name] = spark.read.parquet(str(next(out.glob("sales/*/*/run=bench"))))
            differing = {
                name: frame.exceptAll(written["this"]).count()
                + written["this"].exceptAll(frame).count()
                for name, frame in written.items()
            }
        for name in jobs:
            median = statistics.median(samples[name])
            same = "" if name == "this" else f"  rows differing from this: {differing[name]}"
            print(f"{rows:>9} rows  {name:24} {median:7.2f} s  {rows / median:>10,.0f} rows/s"
                  f"  ({metrics['rows_out']} out){same}")
            results[f"{name} {rows}"] = {"median_s": median, "rows_per_s": rows / median}
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"clean-{results['when']}.json".replace(":", "")).write_text(
        json.dumps(results, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
