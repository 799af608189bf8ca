"""The Glue validation route end to end in the local runtime, against the Lambda route.

The same files land in two local environments of the dev stage: one as deployed
(the files are small, so the Lambda validates them), one whose samconfig sets
``LambdaValidationMaxBytes`` and ``LambdaValidationMaxGzipBytes`` to 1 byte, so
the arrival sends them to the Glue job. Everything the validation wrote
(validated/ good rows, quarantine/ rejects) must be the same bytes at the same
keys (the run id aside, which derives from the object's version), and the
arrival must go on with the same result: counts, reasons and their lines.
Spark and the warehouse are mocked (test case SparkAndWarehouseMocked): the
validation, S3, DynamoDB, SNS and every execution are the real local ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stepline.definition import PROJECT_ROOT
from stepline.local.session import LocalSession
from stepline.sample_data import write_sales_csv
from stepline.testing import ExecutionView

MOCKS = json.loads((PROJECT_ROOT / "tests/mocks/sales_pipeline.mock.json").read_text())
RUN_DATE = "2026-11-20"
# key -> (store, gzip). One .csv.gz with a few bad rows: good rows, rejects and their
# reasons, and the gzip threshold. (tests/functions/test_validate_on_glue.py compares
# plain, gzip and rejected files without the runtime, in a fraction of the time.)
FILES = {
    f"sales/date={RUN_DATE}/store=store_002/sales.csv.gz": ("store_002", True),
}
GLUE_V = "Validate the sales file on Glue"
LAMBDA_V = "Validate the sales file"


def _tiny_threshold_project(tmp_path: Path) -> Path:
    """The project as is, but samconfig's dev stage sends every file to the Glue job."""
    root = tmp_path / "project"
    root.mkdir()
    for entry in PROJECT_ROOT.iterdir():
        if entry.name != "samconfig.toml" and not entry.name.startswith("."):
            (root / entry.name).symlink_to(entry)
    config = (PROJECT_ROOT / "samconfig.toml").read_text()
    dev_overrides = 'parameter_overrides = [\n    "Stage=dev",\n'
    assert config.count(dev_overrides) == 1
    config = config.replace(
        dev_overrides,
        dev_overrides
        + '    "LambdaValidationMaxBytes=1",\n    "LambdaValidationMaxGzipBytes=1",\n',
    )
    (root / "samconfig.toml").write_text(config)
    return root


def _land_the_day(
    workdir: Path, files: dict[str, Path], project_root: Path | None
) -> dict[str, Any]:
    """Land every file; what each arrival validated with, saw and left in the lake."""
    with LocalSession(
        "dev",
        workdir=workdir,
        mock_config=MOCKS,
        test_case="SparkAndWarehouseMocked",
        lambda_logs=False,
        project_root=project_root,
    ) as env:
        for key, path in files.items():
            env.deliver(env.land_file(path, key))
        env.wait()
        s3 = env.client("s3")
        lake = env.deployed.resources["DataLakeBucket"]
        arrivals = {}
        for execution in env.stepfunctions.executions("SalesArrival"):
            view = ExecutionView(execution.result)
            (entered,) = [
                e
                for e in view.history
                if e["type"].endswith("StateEntered")
                and e["stateEnteredEventDetails"]["name"] == "Was the file accepted?"
            ]
            validation = json.loads(entered["stateEnteredEventDetails"]["input"])
            arrivals[validation["source_uri"].split("/", 3)[3]] = {
                "run": execution.name,
                "status": execution.status,
                "visited": view.visited,
                "validation": validation,
            }
        objects = {}
        for prefix in ("validated/", "quarantine/"):
            listing = s3.list_objects_v2(Bucket=lake, Prefix=prefix).get("Contents", [])
            for item in listing:
                body = s3.get_object(Bucket=lake, Key=item["Key"])["Body"].read()
                objects[item["Key"]] = body
    return {"arrivals": arrivals, "objects": objects}


def _by_run_placeholder(day: dict[str, Any]) -> dict[str, bytes]:
    """The lake's objects, each arrival's run id replaced by R<n> (n: its file's place in FILES).

    The run id derives from the object's version, which differs between environments.
    """
    renamed = {}
    for key, body in day["objects"].items():
        for number, source in enumerate(FILES):
            key = key.replace(f"run={day['arrivals'][source]['run']}", f"run=R{number}")
        renamed[key] = body
    return renamed


@pytest.fixture(scope="module")
def both_routes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], ...]:
    tmp_path = tmp_path_factory.mktemp("routes")
    files = {}
    for key, (store, gzip) in FILES.items():
        path = tmp_path / Path(key).name.replace("sales", store)
        write_sales_csv(path, RUN_DATE, store, 300, seed=7, bad_rows=4, gzip=gzip)
        files[key] = path
    by_lambda = _land_the_day(tmp_path / "lambda", files, None)
    on_glue = _land_the_day(tmp_path / "glue", files, _tiny_threshold_project(tmp_path))
    return by_lambda, on_glue


def test_each_route_was_taken(both_routes: tuple[dict[str, Any], ...]) -> None:
    by_lambda, on_glue = both_routes
    for key in FILES:
        lambda_arrival, glue_arrival = by_lambda["arrivals"][key], on_glue["arrivals"][key]
        assert lambda_arrival["status"] == glue_arrival["status"] == "SUCCEEDED"
        assert LAMBDA_V in lambda_arrival["visited"] and GLUE_V not in lambda_arrival["visited"]
        assert GLUE_V in glue_arrival["visited"] and LAMBDA_V not in glue_arrival["visited"]


def test_the_glue_route_writes_the_lambda_routes_bytes_at_its_keys(
    both_routes: tuple[dict[str, Any], ...],
) -> None:
    """validated/ and quarantine/: same keys, same bytes; only the Glue result is extra."""
    by_lambda, on_glue = map(_by_run_placeholder, both_routes)
    extra = sorted(set(on_glue) - set(by_lambda))
    assert extra == [f"validated/_results/run=R{number}.json" for number in range(len(FILES))]
    rows_and_rejects = {k: v for k, v in on_glue.items() if k not in extra}
    assert rows_and_rejects.keys() == by_lambda.keys()
    assert any(k.endswith(".rejects.csv") for k in by_lambda)
    assert any(k.endswith(".csv.gz") and k.startswith("validated/sales/") for k in by_lambda)
    for key, body in rows_and_rejects.items():
        assert body == by_lambda[key], key


def test_the_arrival_goes_on_with_the_same_result(
    both_routes: tuple[dict[str, Any], ...],
) -> None:
    """Counts, reasons and their lines: what the later states read is the same."""
    by_lambda, on_glue = both_routes
    for key in FILES:
        lambda_result = by_lambda["arrivals"][key]["validation"]
        glue_result = on_glue["arrivals"][key]["validation"]
        # The run id is in the output URIs; everything else is the same.
        run = re.compile(r"run=[A-Za-z0-9_-]+/")
        for result in (lambda_result, glue_result):
            for name in ("validated_prefix", "rejects_uri"):
                result[name] = run.sub("run=R/", result[name])
        assert glue_result == lambda_result
        assert lambda_result["rejected_rows"] == 4 and len(lambda_result["reasons"]) == 4
        assert all(reason["line"] for reason in lambda_result["reasons"])
