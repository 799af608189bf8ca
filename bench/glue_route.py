"""The Glue validation route against the Lambda route, side by side in one run.

Run: ``.venv/bin/python bench/glue_route.py [--mb 200] [--runs 3]``. The same
generated file (plain and gzip, 50 bad rows) is landed on a moto S3 server; then,
in turns, a fresh process runs the validation Lambda's handler on it
(``bench/validate.py invoke``) and another runs what the Glue job runs,
:func:`validate_sales_file.job.run_validation_job` (this file's ``job``). Both
stream the object and write the good rows and rejects to S3; the job also writes
its result document. Medians of wall, CPU and peak RSS, and the job / Lambda ratio:
the README's Lambda throughput holds for the job when it is about 1.

Benchmarks, not tests: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate as bench_validate  # bench/validate.py: its helpers

PYTHON = sys.executable


def job(event_path: Path) -> None:
    """What the Glue job's script does with its arguments, on the same landed object."""
    import boto3
    from validate_sales_file.job import ValidationJobArgs, run_validation_job

    request = json.loads(event_path.read_text())
    options = {
        "sales_event": json.dumps(request["event"]),
        "run_id": request["run"],
        "data_lake_bucket": bench_validate.LAKE_BUCKET,
        "max_reject_ratio": "0.01",
        "result_uri": f"s3://{bench_validate.LAKE_BUCKET}/validated/_results/run=bench.json",
    }
    result = run_validation_job(ValidationJobArgs.from_options(options), boto3.client("s3"))
    if not result.accepted:
        raise SystemExit(f"rejected: {result.rejection_reason}")


def figures(megabytes: int, runs: int, workdir: Path) -> dict[str, dict[str, float]]:
    plain, compressed = bench_validate.generate(workdir, megabytes)
    with bench_validate.moto_server() as (_, endpoint):
        env = bench_validate.aws_env(endpoint)
        commands: dict[str, list[str]] = {}
        validate_py = str(Path(bench_validate.__file__))
        key = bench_validate.KEY
        for name, path, object_key in (("plain", plain, key), ("gzip", compressed, key + ".gz")):
            event = workdir / f"{name}.json"
            subprocess.run(
                [PYTHON, validate_py, "land", str(path), object_key, str(event)],
                env=env,
                check=True,
            )
            commands[f"lambda {name}"] = [PYTHON, validate_py, "invoke", str(event)]
            commands[f"glue job {name}"] = [PYTHON, __file__, "job", str(event)]
        return bench_validate.side_by_side(commands, runs, env)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["job"]:
        job(Path(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the generated file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        measured = figures(args.mb, args.runs, Path(workdir))
    bench_validate.report(measured, [])
    for kind in ("plain", "gzip"):
        glue, lambda_ = measured[f"glue job {kind}"], measured[f"lambda {kind}"]
        print(
            f"glue job / lambda, {kind}: wall {glue['wall_s'] / lambda_['wall_s']:.2f}x,"
            f" cpu {glue['cpu_s'] / lambda_['cpu_s']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
