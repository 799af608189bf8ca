"""Stepline's performance benchmarks (run: ``make bench`` or ``.venv/bin/python bench/run.py``).

Measured side by side in one run, on whatever machine runs it:

1. ``mock_execution``: median wall time of one fully mocked execution of the
   sales pipeline (HappyPath test case), after import and a warm-up run.
   Target: at most 0.05 s (issue 9).
2. ``mock_suite``: the whole mocked scenario suite
   (``tests/pipeline/test_mock_scenarios.py``) in a fresh interpreter, import
   included. Target: at most 10 s.
3. ``demo``: ``stepline demo`` end to end in a fresh interpreter (Spark start,
   four store files, every step locally), with the split the demo prints
   (``demo_split``). Reported, no target.
4. With ``--validate`` (or on its own, ``bench/validate.py``): validation
   throughput against ``pyarrow.csv.read_csv``, the Lambda path on a moto S3
   server against the CLI, and each Lambda handler's import against
   ``import boto3`` (``--validate-mb`` sets the generated file's size).
5. With ``--clean`` (or ``bench/clean.py``): the Glue clean job on the local
   SparkSession at 100k and 1M rows.
6. With ``--land`` (or ``bench/local_land.py``): landing and local validation
   of 100 MiB, 200 MiB and 1 GiB files: wall, MiB/s, peak RSS.
7. With ``--aggregate`` (or ``bench/aggregate.py``): the EMR aggregation step
   on the local SparkSession, on those store-days once cleaned.

Benchmarks, not tests: a noisy machine moves the figures, so nothing here
fails a build. Results are printed and written to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"mock_execution_median_s": 0.05, "mock_suite_s": 10.0}


def bench_mock_execution(runs: int) -> dict[str, float]:
    from stepline.definition import load_deployed_stack
    from stepline.local import run_state_machine
    from stepline.local.session import arrival_for_event

    stack = load_deployed_stack("dev", project_root=ROOT)
    arrival = stack.machine("SalesArrival")
    config = json.loads((ROOT / "tests/mocks/sales_pipeline.mock.json").read_text())
    event = json.loads((ROOT / "events/object_created_store_001.json").read_text())
    _, arrival_input = arrival_for_event(stack, event)

    def once() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        result = run_state_machine(
            arrival.definition,
            arrival_input,
            mock_config=config,
            test_case="HappyPath",
            state_machine_name=arrival.mock_name,
            state_machine_arn=arrival.arn,
        )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        return elapsed, cpu

    once()  # warm-up: first-use adaptation of the engine, parser caches
    measured = [once() for _ in range(runs)]
    samples = [wall for wall, _ in measured]
    return {
        "mock_execution_median_s": statistics.median(samples),
        "mock_execution_p90_s": sorted(samples)[int(0.9 * (len(samples) - 1))],
        "mock_execution_cpu_median_s": statistics.median(cpu for _, cpu in measured),
        "mock_execution_runs": runs,
    }


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_mock_suite() -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "tests/pipeline/test_mock_scenarios.py",
    ]
    return {"mock_suite_s": _timed(command, ROOT)}


def bench_demo() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "stepline.cli", "demo", "--workdir", workdir]
        start = time.perf_counter()
        out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        elapsed = time.perf_counter() - start
    split = out[out.find("Wall time ") :].splitlines()[:-1] if "Wall time " in out else []
    return {"demo_s": elapsed, "demo_split": "\n".join(split)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--validate", action="store_true", help="also run bench/validate.py")
    parser.add_argument("--validate-mb", type=int, default=200)
    parser.add_argument("--clean", action="store_true", help="also run bench/clean.py")
    parser.add_argument("--land", action="store_true", help="also run bench/local_land.py")
    parser.add_argument("--aggregate", action="store_true", help="also run bench/aggregate.py")
    args = parser.parse_args()
    os.chdir(ROOT)
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}",
    }
    results.update(bench_mock_execution(args.runs))
    results.update(bench_mock_suite())
    if not args.skip_demo:
        results.update(bench_demo())
    for name, value in results.items():
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None or not isinstance(value, int | float)
            else f"  (target <= {target}: {'met' if value <= target else 'MISSED'})"
        )
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{name:28} {shown}{verdict}" if "\n" not in str(shown) else f"{name}:\n{shown}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench-{results['when']}.json".replace(":", "")).write_text(
        json.dumps(results, indent=2)
    )
    # Separate scripts, each printing its own figures and writing its own results.
    if args.validate:
        validate = [sys.executable, "bench/validate.py", "--mb", str(args.validate_mb)]
        subprocess.run(validate, cwd=ROOT, check=True)
    if args.clean:
        subprocess.run([sys.executable, "bench/clean.py"], cwd=ROOT, check=True)
    if args.land:
        subprocess.run([sys.executable, "bench/local_land.py"], cwd=ROOT, check=True)
    if args.aggregate:
        subprocess.run([sys.executable, "bench/aggregate.py"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
