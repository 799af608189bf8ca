"""The EMR aggregation step on the local SparkSession: wall time and rows/s at several sizes.

Run: ``.venv/bin/python bench/aggregate.py`` (or ``bench/run.py --aggregate``).
For each size the store-day of ``bench/clean.py`` (same generated rows, same
cache folder) is cleaned once with this repository's clean job, and
:func:`aggregate_sales.run` then publishes it from a manifest naming that
generation, on the local SparkSession (``stepline.local.spark``,
``local[2]``). Spark's start is timed and reported on its own, and one
warm-up run comes first, so the figures are the step itself.

A benchmark, not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PUBLISH = "bench-c1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "stepline-clean")
    args = parser.parse_args()

    import clean as clean_bench  # bench/clean.py: the same validated files

    spark, spark_start = clean_bench.start_spark()
    from emr_jobs import aggregate_sales, sales_lake

    job = clean_bench.load_job(ROOT / "glue_jobs/clean_sales.py", "clean_this")
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "spark_start_s": spark_start,
    }
    for rows in args.rows:
        folder = clean_bench.validated_file(args.dir, rows)
        with tempfile.TemporaryDirectory() as workdir:
            lake = Path(workdir)
            _, counts = clean_bench.clean_once(job, spark, lake, folder)
            generation = lake / sales_lake.clean_run_key(
                clean_bench.DATE, clean_bench.STORE, "bench"
            )
            manifest = sales_lake.Manifest(
                run_date=clean_bench.DATE,
                publish=PUBLISH,
                store_days=(sales_lake.StoreDay(clean_bench.STORE, "bench", str(generation)),),
            )
            manifest_path = lake / "manifest.json"
            manifest_path.write_text(json.dumps(manifest.to_json()))

            def once() -> float:
                begin = time.perf_counter()
                aggregate_sales.run(spark, str(manifest_path), str(lake))  # noqa: B023
                return time.perf_counter() - begin

            once()  # warm-up: JIT, the files in the page cache
            samples = [once() for _ in range(args.runs)]
        median = statistics.median(samples)
        lines = counts["rows_out"]
        print(
            f"{rows:>9} rows  aggregate {median:7.2f} s  {lines / median:>10,.0f} clean lines/s"
            f"  ({lines} clean lines; runs {', '.join(f'{s:.2f}' for s in samples)})"
        )
        results[f"aggregate {rows}"] = {
            "clean_lines": lines,
            "median_s": median,
            "samples_s": samples,
            "rows_per_s": lines / median,
        }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"aggregate-{results['when']}.json".replace(":", "")).write_text(
        json.dumps(results, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
