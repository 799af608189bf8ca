"""The Glue route of "Validate the sales file": the Lambda's code, the Lambda's outputs.

A file above the Lambda's limit is validated by the Glue job
``glue_jobs/validate_sales_file.py`` (validate_sales_file.job). These tests prove
the job writes what the Lambda writes, at the same keys, and answers with the
Lambda's result: directly on moto S3, and end to end in the local runtime with
the thresholds overridden to 1 byte so a real file takes the Glue route.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from publish_pipeline_assets.assets import VALIDATOR_PACKAGES, package_archive
from validate_sales_file.app import lambda_handler
from validate_sales_file.errors import SourceObjectError
from validate_sales_file.job import (
    JOB_ARGUMENTS,
    ValidationJobArgs,
    result_document,
    run_validation_job,
)

from stepline.definition import PROJECT_ROOT
from stepline.local.services import FakeLambdaContext
from stepline.sample_data import write_sales_csv

LAKE_BUCKET = "stepline-sales-dev-lake-123456789012-us-east-1"  # the ``lake`` fixture's
KEY = "sales/date=2026-11-20/store=store_001/sales.csv"
RESULT_KEY = "validated/_results/run=r1.json"


def _options(event: dict[str, Any], **overrides: str) -> dict[str, str]:
    options = {
        "sales_event": json.dumps(event),
        "run_id": "r1",
        "data_lake_bucket": LAKE_BUCKET,
        "max_reject_ratio": "0.05",
        "result_uri": f"s3://{LAKE_BUCKET}/{RESULT_KEY}",
        # Glue's own arguments reach the job too; they are not the validator's business.
        "job-language": "python",
    }
    return {**options, **overrides}


def _sales(tmp_path: Path, *, bad_rows: int, gzip: bool = False) -> bytes:
    path = tmp_path / ("sales.csv.gz" if gzip else "sales.csv")
    write_sales_csv(path, "2026-11-20", "store_001", 200, seed=3, bad_rows=bad_rows, gzip=gzip)
    return path.read_bytes()


def _lake_objects(lake: Any) -> dict[str, bytes]:
    return {key: lake.read(key) for key in lake.listing() if not key.startswith("validated/_")}


def _lambda_result(lake: Any, event: dict[str, Any]) -> dict[str, Any]:
    context = FakeLambdaContext(function_name="validate", invoked_function_arn="arn:validate")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_LAKE_BUCKET", LAKE_BUCKET)
        patch.setenv("MAX_REJECT_RATIO", "0.05")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        result: dict[str, Any] = lambda_handler({"event": event, "run": "r1"}, context)
    return result


@pytest.mark.parametrize(
    ("bad_rows", "gzip"),
    [(3, False), (3, True), (40, False)],
    ids=["rejects-under-ratio", "gzip", "rejected-file"],
)
def test_the_job_writes_what_the_lambda_writes_and_answers_its_result(
    lake: Any, tmp_path: Path, bad_rows: int, gzip: bool
) -> None:
    """Same objects, same bytes, same keys as the Lambda; the result document is its payload."""
    key = KEY + (".gz" if gzip else "")
    event = lake.land(key, _sales(tmp_path, bad_rows=bad_rows, gzip=gzip))
    by_lambda = _lambda_result(lake, event)
    lambda_objects = _lake_objects(lake)
    for stale in lake.listing():
        lake.s3.delete_object(Bucket=LAKE_BUCKET, Key=stale)

    result = run_validation_job(ValidationJobArgs.from_options(_options(event)), lake.s3)
    document = json.loads(lake.read(RESULT_KEY))
    assert document == by_lambda == result.model_dump(mode="json")
    assert document["rejected_rows"] > 0 and document["reasons"]
    glue_objects = _lake_objects(lake)
    assert glue_objects.keys() == lambda_objects.keys()
    for name, body in glue_objects.items():
        if name.endswith(".rejection.json"):  # stamped with the time it was written
            stamped = re.compile(rb'"validated_at": "[^"]+"')
            body, lambda_body = (stamped.sub(b"", b) for b in (body, lambda_objects[name]))
            assert body == lambda_body, name
        else:
            assert body == lambda_objects[name], name
    assert (bad_rows == 40) == (not document["accepted"])


def test_the_result_document_is_the_lambda_payload_as_json(lake: Any, tmp_path: Path) -> None:
    """The arrival parses the document into $validation: every field the Lambda returns."""
    event = lake.land(KEY, _sales(tmp_path, bad_rows=0))
    result = run_validation_job(ValidationJobArgs.from_options(_options(event)), lake.s3)
    assert json.loads(result_document(result)) == result.model_dump(mode="json")
    assert set(json.loads(lake.read(RESULT_KEY))) == {f.name for f in dataclasses.fields(result)}


def test_a_missing_object_fails_the_job_as_the_lambda_fails_and_leaves_no_result(
    lake: Any, tmp_path: Path
) -> None:
    """An S3 refusal is the Lambda's SourceObjectError; no result document is written."""
    event = lake.land(KEY, _sales(tmp_path, bad_rows=0))
    lake.s3.delete_object(
        Bucket=event["detail"]["bucket"]["name"],
        Key=KEY,
        VersionId=event["detail"]["object"]["version-id"],
    )
    with pytest.raises(SourceObjectError, match=r"NoSuchVersion|NoSuchKey"):
        run_validation_job(ValidationJobArgs.from_options(_options(event)), lake.s3)
    assert RESULT_KEY not in lake.listing()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run_id": ""}, "needs --run_id"),
        ({"result_uri": "validated/_results/x.json"}, "is not s3://<bucket>/<key>"),
        ({"result_uri": f"s3://{LAKE_BUCKET}/"}, "is not s3://<bucket>/<key>"),
        ({"sales_event": "[]"}, "must be the S3 Object Created event"),
        ({"run_id": "a/b"}, "does not match"),
    ],
)
def test_malformed_job_arguments_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ValidationJobArgs.from_options(_options({"detail": {}}, **overrides))


def test_the_job_script_asks_glue_for_exactly_the_jobs_arguments() -> None:
    """The ASL's Arguments plus the job's DefaultArguments are the names the job resolves."""
    from stepline.definition import load_deployed_stack

    deployed = load_deployed_stack("dev")
    job = deployed.glue_job_for_name(deployed.resources["ValidateSalesFileJob"])
    state = deployed.machine("SalesArrival").definition["States"]["Validate the sales file on Glue"]
    given = {*job.default_arguments, *state["Arguments"]["Arguments"]}
    assert {f"--{name}" for name in JOB_ARGUMENTS} <= given
    assert job.default_arguments["--max_reject_ratio"] == deployed.parameters["MaxRejectRatio"]
    assert job.default_arguments["--data_lake_bucket"] == deployed.resources["DataLakeBucket"]
    assert job.script_path.name == "validate_sales_file.py"


# ------------------------------------------------------------------ packaging
def test_the_packages_zip_is_reproducible_and_holds_the_lambdas_source() -> None:
    """The same files give the same bytes (so the same key); entries are the source files."""
    functions = PROJECT_ROOT / "functions"
    first, second = package_archive(functions), package_archive(functions)
    assert first.content == second.content
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    expected = sorted(
        path.relative_to(functions).as_posix()
        for package in VALIDATOR_PACKAGES
        for path in (functions / package).rglob("*.py")
    )
    assert names == expected
    assert "validate_sales_file/job.py" in names and "sales_contract/columnar.py" in names


def test_the_packages_zip_is_an_import_root_for_the_job(tmp_path: Path) -> None:
    """On the import path (as --extra-py-files puts it), the zip provides the job's module."""
    archive = tmp_path / "validator_packages.zip"
    archive.write_bytes(package_archive(PROJECT_ROOT / "functions").content)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import validate_sales_file.job as job, sales_contract.columnar as columnar;"
        "print(job.__file__); print(columnar.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(archive)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert all(path.startswith(str(archive)) for path in out), out


def test_a_missing_package_is_refused(tmp_path: Path) -> None:
    from publish_pipeline_assets.assets import NoScriptsFoundError

    with pytest.raises(NoScriptsFoundError, match="sales_contract"):
        package_archive(tmp_path)


def test_the_job_keeps_freed_buffers_before_it_validates(monkeypatch) -> None:
    """The driver only validates: it takes the Lambda's allocator settings first."""
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location(
        "glue_validate_sales_file", PROJECT_ROOT / "glue_jobs/validate_sales_file.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    calls: list[str] = []
    monkeypatch.setattr(script, "keep_freed_buffers", lambda: calls.append("kept"))

    class Resolved(Exception):
        pass

    def get_resolved_options(argv: Any, names: Any) -> None:
        calls.append("arguments")
        raise Resolved

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    with pytest.raises(Resolved):
        script.main(["validate_sales_file.py"])
    assert calls == ["kept", "arguments"]
