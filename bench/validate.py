"""Validation throughput, the Lambda path and cold start, side by side in one run.

Run: ``.venv/bin/python bench/validate.py`` (or ``bench/run.py --validate``).
Every figure is a whole process (start-up and imports included), timed from
outside, the commands taking turns (A B A B ...) so a machine whose speed drifts
moves all of them alike; medians are printed with the ratios the targets are
about (README "Performance"):

* ``validate`` (``stepline validate``, the columnar engine) against
  ``pyarrow.csv.read_csv`` of the same file, which parses it and checks nothing:
  target ratio of throughputs >= 0.8, that is wall(validate) <= 1.25 x wall(pyarrow);
  also ``--engine reference``, the row-by-row implementation; plain and gzip.
* ``lambda``: the validation Lambda's handler in a fresh process against a moto
  S3 server (the file landed first, not timed; good rows and rejects written to
  S3), against the CLI on the same file: target <= 1.25 x. The moto server
  shares the machine's cores, so its own CPU during each run is reported too
  (``server cpu``), and the ratio of the handler's CPU to the CLI's, which is
  what a CPU-bound function's billed duration follows (the server stands in
  for S3: its CPU is not the function's, though the function waits for it).
  The generated file has 50 bad rows, so the good rows are compressed and
  uploaded; with ``--bad-rows 0`` it is clean, and the handler has S3 copy it
  instead (the production common case).
* ``import``: each Lambda handler module against a bare ``import boto3``:
  target <= 1.5 x.

Benchmarks, not tests: nothing here fails a build. Needs the dev extra (pyarrow)
and moto's server (``moto[server]``), both in the project's venv.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATE, STORE = "2026-11-30", "store_001"
STEM = f"sales-{DATE}-{STORE}"
KEY = f"sales/date={DATE}/store={STORE}/{STEM}.csv"
RAW_BUCKET, LAKE_BUCKET = "bench-raw", "bench-lake"
#: Rows per MB of a generated file (write_sales_csv's rows are about 92 bytes).
ROWS_PER_MB = 10_880


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(
    command: Sequence[str], env: dict[str, str] | None = None, server: int | None = None
) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one whole process.

    With ``server`` (a process id), also the CPU seconds that process used
    meanwhile (``server_cpu_s``). Only ``stepline validate`` may exit 1 (a
    rejected file); any other command must exit 0, or its figures would be
    those of a run cut short.
    """
    server_before = process_cpu(server) if server is not None else 0.0
    # The warm-up writes the .pyc files an installed package has (pip compiles
    # them): a shell with PYTHONDONTWRITEBYTECODE would have every run compile
    # Stepline's modules from source, and only Stepline's, not pyarrow's.
    env = {k: v for k, v in (os.environ if env is None else env).items()
           if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    allowed = (0, 1) if "validate" in command else (0,)
    if process.returncode not in allowed:
        raise RuntimeError(f"{command} exited {process.returncode}: {errors[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "server_cpu_s": process_cpu(server) - server_before if server is not None else 0.0,
    }


def side_by_side(
    commands: Mapping[str, Sequence[str]],
    runs: int,
    env: dict[str, str] | None = None,
    server: int | None = None,
) -> dict[str, dict[str, float]]:
    """Each command ``runs`` times (after one warm-up each), in turns; medians."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for command in commands.values():
        run_once(command, env, server)  # warm-up: page cache, .pyc files
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(run_once(command, env, server))
    return {
        name: {
            figure: statistics.median(sample[figure] for sample in runs_of)
            for figure in ("wall_s", "cpu_s", "peak_mib", "server_cpu_s")
        }
        for name, runs_of in samples.items()
    }


def generate(directory: Path, megabytes: int, bad_rows: int = 50) -> tuple[Path, Path]:
    """A generated store-day of about ``megabytes`` (``bad_rows`` bad rows), plain and gzip."""
    plain = directory / f"{STEM}.csv"
    compressed = directory / f"{STEM}.csv.gz"
    if not plain.exists():
        sys.path.insert(0, str(ROOT))
        from stepline.sample_data import write_sales_csv

        write_sales_csv(plain, DATE, STORE, megabytes * ROWS_PER_MB, seed=0, bad_rows=bad_rows)
    if not compressed.exists():
        with plain.open("rb") as source, gzip.open(compressed, "wb", compresslevel=6) as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
    return plain, compressed


def validate_commands(plain: Path, compressed: Path, reference: bool) -> dict[str, list[str]]:
    stepline = [PYTHON, "-m", "stepline.cli", "validate"]
    # The generated file has rows with a wrong field count, which read_csv refuses
    # by default (it would stop at the first, a fraction into the file): skipped.
    read_csv = (
        "import pyarrow.csv as c, sys; c.read_csv(sys.argv[1], "
        "parse_options=c.ParseOptions(invalid_row_handler=lambda row: 'skip'))"
    )
    commands = {
        "validate plain": [*stepline, str(plain), "--key", KEY, "--json"],
        "pyarrow plain": [PYTHON, "-c", read_csv, str(plain)],
        "validate gzip": [*stepline, str(compressed), "--key", KEY + ".gz", "--json"],
        "pyarrow gzip": [PYTHON, "-c", read_csv, str(compressed)],
    }
    if reference:
        commands["reference plain"] = [*commands["validate plain"], "--engine", "reference"]
    return commands


# ------------------------------------------------------------ the Lambda path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A moto S3 server on a free local port, once it accepts connections: (process, endpoint)."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def validation_function_environment() -> dict[str, str]:
    """The validation Lambda's environment as the dev stage deploys it (template.yaml)."""
    from stepline.definition import load_deployed_stack

    return next(
        spec.environment
        for spec in load_deployed_stack("dev").functions.values()
        if spec.handler == "validate_sales_file.app.lambda_handler"
    )


def aws_env(endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        DATA_LAKE_BUCKET=LAKE_BUCKET,
        MAX_REJECT_RATIO="0.01",
        POWERTOOLS_SERVICE_NAME="bench",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        PYTHONPATH=str(ROOT / "functions"),
    )
    # The allocator settings the function's environment in template.yaml gives
    # the Lambda's process (glibc reads them at start-up).
    env.update(
        (name, value) for name, value in validation_function_environment().items()
        if name.startswith("MALLOC_")
    )
    env.pop("AWS_PROFILE", None)
    return env


def land(path: Path, key: str, event_path: Path) -> None:
    """Upload ``path`` to the raw bucket (multipart) and write its Object Created event."""
    import boto3

    s3 = boto3.client("s3")
    for bucket in (RAW_BUCKET, LAKE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(path), RAW_BUCKET, key)
    head = s3.head_object(Bucket=RAW_BUCKET, Key=key)
    event = {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-30T23:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{RAW_BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": RAW_BUCKET},
            "object": {
                "key": key,
                "size": head["ContentLength"],
                "etag": head["ETag"].strip('"'),
                "sequencer": "0",
            },
            "request-id": "0",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    event_path.write_text(json.dumps({"event": event, "run": "bench_run_0001"}))


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def invoke(event_path: Path, phases: Path | None = None) -> None:
    """The Lambda handler on one event, as the Lambda runtime calls it.

    ``phases``: also write the CPU seconds of its parts there (JSON): the import,
    the S3 client, the validator's import (numpy; the handler makes it on its first
    read, timed apart here so the invocation compares with the CLI's validation),
    the invocation.
    """
    marks = [cpu_now()]
    from validate_sales_file.app import get_s3_client, lambda_handler

    marks.append(cpu_now())
    get_s3_client()
    marks.append(cpu_now())
    import sales_contract.columnar  # noqa: F401  (the handler imports it on its first read)

    marks.append(cpu_now())

    class Context:
        function_name = "bench-validate-sales-file"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        aws_request_id = "00000000-0000-0000-0000-000000000000"

    result = lambda_handler(json.loads(event_path.read_text()), cast(Any, Context()))
    marks.append(cpu_now())
    if not result["accepted"]:
        raise SystemExit(f"rejected: {result['rejection_reason']}")
    if phases is not None:
        names = (
            "handler: import", "handler: S3 client", "handler: validator import (lazy)",
            "handler: invocation",
        )
        parts = {name: b - a for name, a, b in zip(names, marks[:-1], marks[1:], strict=True)}
        phases.write_text(json.dumps(parts))


def cli_phases(path: Path, key: str, phases: Path) -> None:
    """What the CLI does, in parts (CPU seconds, JSON to ``phases``): the import of the
    validator, the validation (no output, as ``stepline validate``), and the
    validation again writing the good rows as the Lambda does (gzip) to a sink that
    drops them: the cost of making them, without S3."""
    marks = [cpu_now()]
    from sales_contract import parse_raw_key
    from sales_contract.columnar import validate_sales_object

    marks.append(cpu_now())
    validate_sales_object(lambda: path.open("rb"), parse_raw_key(key))
    marks.append(cpu_now())

    class Sink:
        def write(self, data: bytes) -> int:
            return len(data)

        def flush(self) -> None:
            pass

    validate_sales_object(lambda: path.open("rb"), parse_raw_key(key), good_rows_out=Sink())
    marks.append(cpu_now())
    names = ("cli: import", "cli: validation", "cli: validation + gzip good rows")
    parts = {name: b - a for name, a, b in zip(names, marks[:-1], marks[1:], strict=True)}
    phases.write_text(json.dumps(parts))


def phase_figures(
    event: Path, path: Path, key: str, runs: int, env: dict[str, str], server: int
) -> dict[str, float]:
    """Medians of the parts of the handler's and the CLI's CPU, in turns."""
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "phases.json"
        for _ in range(runs):
            for step in (
                ["invoke", str(event), "--phases", str(out)],
                ["cli-phases", str(path), key, str(out)],
            ):
                figures = run_once([PYTHON, __file__, *step], env, server)
                parts = json.loads(out.read_text())
                if step[0] == "invoke":
                    parts["moto server (during the handler)"] = figures["server_cpu_s"]
                for name, seconds in parts.items():
                    samples.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def lambda_figures(
    plain: Path, compressed: Path, runs: int, phases: bool = False
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    with moto_server() as (server, endpoint):
        env = aws_env(endpoint)
        commands: dict[str, list[str]] = {}
        with tempfile.TemporaryDirectory() as workdir:
            for name, path, key in (("plain", plain, KEY), ("gzip", compressed, KEY + ".gz")):
                event = Path(workdir) / f"{name}.json"
                subprocess.run(
                    [PYTHON, __file__, "land", str(path), key, str(event)], env=env, check=True
                )
                commands[f"lambda {name}"] = [PYTHON, __file__, "invoke", str(event)]
                commands[f"cli {name}"] = [
                    PYTHON, "-m", "stepline.cli", "validate", str(path), "--key", key, "--json",
                ]
            figures = side_by_side(commands, runs, env, server.pid)
            parts = (
                phase_figures(Path(workdir) / "plain.json", plain, KEY, runs, env, server.pid)
                if phases
                else {}
            )
            return figures, parts


# ------------------------------------------------------------ cold start


def import_commands() -> dict[str, list[str]]:
    commands = {"import boto3": [PYTHON, "-c", "import boto3"]}
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        module = f"{app.parent.name}.app"
        commands[f"import {module}"] = [PYTHON, "-c", f"import {module}"]
    return commands


def report(figures: dict[str, dict[str, float]], pairs: list[tuple[str, str, float]]) -> None:
    for name, figure in figures.items():
        server = figure.get("server_cpu_s", 0.0)
        print(
            f"{name:40} wall {figure['wall_s']:7.3f} s  cpu {figure['cpu_s']:7.3f} s"
            f"  peak {figure['peak_mib']:7.1f} MiB"
            + (f"  server cpu {server:6.3f} s" if server else "")
        )
    for a, b, target in pairs:
        ratio = figures[a]["wall_s"] / figures[b]["wall_s"]
        cpu = figures[a]["cpu_s"] / figures[b]["cpu_s"]
        print(f"{a + ' / ' + b:60} {ratio:6.2f}  (target <= {target}: "
              f"{'met' if ratio <= target else 'MISSED'}); cpu {cpu:.2f}")
        server = figures[a].get("server_cpu_s", 0.0)
        if server:
            both = (figures[a]["cpu_s"] + server) / figures[b]["cpu_s"]
            print(f"{'  cpu with the server, / ' + b:60} {both:6.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step")
    land_step = sub.add_parser("land", help="(internal) land a file on the moto server")
    land_step.add_argument("path", type=Path)
    land_step.add_argument("key")
    land_step.add_argument("event", type=Path)
    invoke_step = sub.add_parser("invoke", help="(internal) run the handler on an event")
    invoke_step.add_argument("event", type=Path)
    invoke_step.add_argument("--phases", type=Path)
    cli_step = sub.add_parser("cli-phases", help="(internal) the CLI's work, in parts")
    cli_step.add_argument("path", type=Path)
    cli_step.add_argument("key")
    cli_step.add_argument("phases", type=Path)
    parser.add_argument("--mb", type=int, default=200, help="size of the generated file")
    parser.add_argument(
        "--bad-rows", type=int, default=50,
        help="bad rows in the generated file (0: a clean file, which the Lambda copies)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="where to keep the generated files")
    parser.add_argument("--reference", action="store_true", help="time --engine reference too")
    parser.add_argument("--skip-lambda", action="store_true")
    parser.add_argument(
        "--phases", action="store_true",
        help="also split the handler's and the CLI's CPU into parts (plain file)",
    )
    args = parser.parse_args(argv)
    if args.step == "land":
        land(args.path, args.key, args.event)
        return 0
    if args.step == "invoke":
        invoke(args.event, args.phases)
        return 0
    if args.step == "cli-phases":
        cli_phases(args.path, args.key, args.phases)
        return 0

    name = f"stepline-bench-{args.mb}mb" + ("" if args.bad_rows == 50 else f"-{args.bad_rows}bad")
    directory = args.dir or Path(tempfile.gettempdir()) / name
    directory.mkdir(parents=True, exist_ok=True)
    plain, compressed = generate(directory, args.mb, args.bad_rows)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "functions"))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "file_bytes": plain.stat().st_size,
        "gzip_bytes": compressed.stat().st_size,
        "bad_rows": args.bad_rows,
    }
    figures = side_by_side(validate_commands(plain, compressed, args.reference), args.runs)
    pairs = [("validate plain", "pyarrow plain", 1.25), ("validate gzip", "pyarrow gzip", 1.25)]
    imports = side_by_side(import_commands(), max(args.runs, 10), env)
    figures.update(imports)
    pairs += [(name, "import boto3", 1.5) for name in imports if name != "import boto3"]
    if not args.skip_lambda:
        lambda_runs, parts = lambda_figures(plain, compressed, args.runs, args.phases)
        figures.update(lambda_runs)
        pairs += [("lambda plain", "cli plain", 1.25), ("lambda gzip", "cli gzip", 1.25)]
        results["cpu_parts"] = parts
    report(figures, pairs)
    parts = results.get("cpu_parts", {})
    for name, seconds in parts.items():
        print(f"cpu of {name:52} {seconds:6.3f} s")
    if parts:
        # A warm Lambda: its imports and S3 client made, the file's work against the
        # CLI's same work (both without their process start and imports).
        warm = parts["handler: invocation"] / parts["cli: validation"]
        print(f"{'warm invocation / cli validation (cpu)':60} {warm:6.2f}  (target <= 1.25: "
              f"{'met' if warm <= 1.25 else 'MISSED'})")
        results["warm_invocation_cpu_ratio"] = warm
    results["figures"] = figures
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"validate-{results['when']}.json".replace(":", "")).write_text(
        json.dumps(results, indent=2)
    )
    peak = max(f["peak_mib"] for n, f in figures.items() if n.startswith(("validate", "lambda")))
    print(f"largest validation peak RSS: {peak:.1f} MiB (target <= 256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
