"""The Custom::PipelineAssets function: content-addressed publication of the EMR scripts,
and an answer to CloudFormation whatever happens (moto S3, fake ResponseURL)."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from publish_pipeline_assets import app
from publish_pipeline_assets.assets import (
    VALIDATOR_PACKAGES,
    NoScriptsFoundError,
    ScriptAsset,
    discover_scripts,
    package_archive,
    publish_scripts,
)
from publish_pipeline_assets.cfn_response import (
    SEND_ATTEMPTS,
    CustomResourceResponse,
    send_response,
)

from stepline.definition import PROJECT_ROOT, load_deployed_stack

BUCKET = "stepline-sales-test-artifacts"
RESPONSE_URL = "https://cloudformation-custom-resource-response.example/presigned?sig=abc"


@pytest.fixture
def scripts_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "opt"
    directory.mkdir()
    (directory / "aggregate_sales.py").write_text("print('aggregate')\n")
    (directory / "__init__.py").write_text("")
    (directory / "README.md").write_text("not a script\n")
    (directory / "__pycache__").mkdir()
    return directory


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class FakeResponseUrl:
    """Stands in for urllib.request.urlopen: records each PUT, optionally failing first."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[urllib.request.Request] = []
        self.failures = failures

    def __call__(self, request: urllib.request.Request, timeout: float) -> Any:
        self.requests.append(request)
        if self.failures:
            self.failures -= 1
            raise urllib.error.URLError("connection reset")
        return _Reply()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.data) for request in self.requests]  # type: ignore[arg-type]


class _Reply:
    def __enter__(self) -> _Reply:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self) -> bytes:
        return b""


@pytest.fixture
def response_url(monkeypatch: pytest.MonkeyPatch) -> FakeResponseUrl:
    fake = FakeResponseUrl()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return fake


def _event(request_type: str, **extra: Any) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": RESPONSE_URL,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/stepline-sales-test/1",
        "RequestId": "request-1",
        "LogicalResourceId": "PipelineAssets",
        "ResourceType": "Custom::PipelineAssets",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:publisher",
            "ArtifactsBucket": BUCKET,
            "KeyPrefix": "emr",
            "ScriptsLayerArn": "arn:aws:lambda:us-east-1:123456789012:layer:scripts:3",
        },
    }
    event.update(extra)
    return event


class _Context:
    log_stream_name = "2026/11/20/[$LATEST]abc"


# ----------------------------------------------------------------- assets
def test_discovery_keeps_only_top_level_scripts(scripts_dir: Path) -> None:
    """Packaging files (_*.py), non-Python files and folders are not published."""
    assert [script.name for script in discover_scripts(scripts_dir)] == ["aggregate_sales.py"]


def test_discovery_fails_when_there_is_nothing_to_publish(tmp_path: Path) -> None:
    """An empty layer is an error, not a silent success that leaves the URI dangling."""
    with pytest.raises(NoScriptsFoundError, match="no job script"):
        discover_scripts(tmp_path)


def test_keys_are_content_addressed() -> None:
    """Same bytes, same key; one changed byte, another key; the name is kept at the end."""
    first = ScriptAsset("aggregate_sales.py", b"v1")
    again = ScriptAsset("aggregate_sales.py", b"v1")
    changed = ScriptAsset("aggregate_sales.py", b"v2")
    digest = hashlib.sha256(b"v1").hexdigest()[:16]
    assert first.key() == again.key() == f"emr/{digest}/aggregate_sales.py"
    assert changed.key() != first.key()
    assert first.attribute_name == "AggregateSalesScriptUri"
    assert first.uri("b", "scripts/") == f"s3://b/scripts/{digest}/aggregate_sales.py"


def test_publishing_uploads_each_script_and_is_idempotent(scripts_dir: Path, s3: Any) -> None:
    """The script lands at its key with its bytes; publishing again changes nothing."""
    scripts = discover_scripts(scripts_dir)
    uris = publish_scripts(s3, BUCKET, scripts)
    again = publish_scripts(s3, BUCKET, scripts)
    assert uris == again
    key = scripts[0].key()
    assert uris == {"AggregateSalesScriptUri": f"s3://{BUCKET}/{key}"}
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == b"print('aggregate')\n"
    assert stored["Metadata"]["sha256"] == scripts[0].sha256
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [key]


def test_a_changed_script_is_published_beside_the_old_one(scripts_dir: Path, s3: Any) -> None:
    """Old executions keep their script: a new version gets a new key, the old object stays."""
    old = publish_scripts(s3, BUCKET, discover_scripts(scripts_dir))
    (scripts_dir / "aggregate_sales.py").write_text("print('aggregate v2')\n")
    new = publish_scripts(s3, BUCKET, discover_scripts(scripts_dir))
    assert old != new
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert len(keys) == 2


# ---------------------------------------------------------------- handler
@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_publish_and_answer_success(
    request_type: str,
    scripts_dir: Path,
    s3: Any,
    response_url: FakeResponseUrl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Create/Update publish the scripts and PUT SUCCESS with the script URIs to the ResponseURL."""
    monkeypatch.setattr(app, "LAYER_ROOT", scripts_dir)
    extra = {"PhysicalResourceId": f"s3://{BUCKET}/emr/"} if request_type == "Update" else {}
    result = app.lambda_handler(_event(request_type, **extra), _Context())

    (request,) = response_url.requests
    assert request.full_url == RESPONSE_URL
    assert request.get_method() == "PUT"
    assert request.get_header("Content-type") == ""
    (body,) = response_url.bodies
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == f"s3://{BUCKET}/emr/"
    assert body["RequestId"] == "request-1"
    assert body["LogicalResourceId"] == "PipelineAssets"
    uri = body["Data"]["AggregateSalesScriptUri"]
    assert uri.startswith(f"s3://{BUCKET}/emr/") and uri.endswith("/aggregate_sales.py")
    s3.head_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))
    assert result["status"] == "SUCCESS"


def test_delete_keeps_the_scripts_and_answers_success(
    scripts_dir: Path, s3: Any, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delete removes nothing and answers SUCCESS with the same physical id."""
    monkeypatch.setattr(app, "LAYER_ROOT", scripts_dir)
    app.lambda_handler(_event("Create"), _Context())
    published = s3.list_objects_v2(Bucket=BUCKET)["KeyCount"]
    app.lambda_handler(_event("Delete", PhysicalResourceId=f"s3://{BUCKET}/emr/"), _Context())
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == published == 1
    assert response_url.bodies[-1]["Status"] == "SUCCESS"
    assert response_url.bodies[-1]["PhysicalResourceId"] == f"s3://{BUCKET}/emr/"


def test_delete_of_a_failed_create_touches_nothing(
    response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Even with no layer and no S3, a Delete is answered SUCCESS (so rollbacks finish)."""
    monkeypatch.setattr(app, "LAYER_ROOT", tmp_path / "missing")
    event = _event("Delete", PhysicalResourceId="PipelineAssets-create-failed")
    event["ResourceProperties"] = {}
    app.lambda_handler(event, _Context())
    (body,) = response_url.bodies
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "PipelineAssets-create-failed"


def test_a_missing_property_is_answered_failed(
    scripts_dir: Path, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ArtifactsBucket the Create fails, and CloudFormation is told why."""
    monkeypatch.setattr(app, "LAYER_ROOT", scripts_dir)
    event = _event("Create")
    del event["ResourceProperties"]["ArtifactsBucket"]
    app.lambda_handler(event, _Context())
    (body,) = response_url.bodies
    assert body["Status"] == "FAILED"
    assert "ArtifactsBucket" in body["Reason"]
    assert _Context.log_stream_name in body["Reason"]
    assert body["PhysicalResourceId"] == "PipelineAssets-create-failed"


def test_an_s3_failure_is_answered_failed_keeping_the_physical_id(
    scripts_dir: Path, s3: Any, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Update whose upload fails (no such bucket) answers FAILED with the old physical id."""
    monkeypatch.setattr(app, "LAYER_ROOT", scripts_dir)
    event = _event("Update", PhysicalResourceId=f"s3://{BUCKET}/emr/")
    event["ResourceProperties"]["ArtifactsBucket"] = "bucket-that-does-not-exist"
    app.lambda_handler(event, _Context())
    (body,) = response_url.bodies
    assert body["Status"] == "FAILED"
    assert "NoSuchBucket" in body["Reason"]
    assert body["PhysicalResourceId"] == f"s3://{BUCKET}/emr/"


def test_an_empty_layer_is_answered_failed(
    s3: Any, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A layer without scripts fails the deploy instead of publishing nothing."""
    monkeypatch.setattr(app, "LAYER_ROOT", tmp_path)
    app.lambda_handler(_event("Create"), _Context())
    assert response_url.bodies[0]["Status"] == "FAILED"
    assert "NoScriptsFoundError" in response_url.bodies[0]["Reason"]


# ---------------------------------------------------------------- responder
def test_the_responder_retries_a_failed_put(monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient network error on the PUT is retried until CloudFormation has the answer."""
    fake = FakeResponseUrl(failures=SEND_ATTEMPTS - 1)
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    waits: list[float] = []
    send_response(_event("Create"), CustomResourceResponse("SUCCESS", "id"), sleep=waits.append)
    assert len(fake.requests) == SEND_ATTEMPTS
    assert len(waits) == SEND_ATTEMPTS - 1


def test_the_responder_raises_when_every_put_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the last attempt the error surfaces, so the invocation is marked failed."""
    monkeypatch.setattr(urllib.request, "urlopen", FakeResponseUrl(failures=SEND_ATTEMPTS))
    with pytest.raises(urllib.error.URLError):
        send_response(
            _event("Create"), CustomResourceResponse("FAILED", "id"), sleep=lambda _: None
        )


def test_long_reasons_are_cut_to_fit_the_response_limit() -> None:
    """The response body stays under CloudFormation's 4 KiB limit however long the error."""
    body = CustomResourceResponse("FAILED", "id", reason="x" * 10_000).body(_event("Create"))
    assert len(body) < 4096


# ------------------------------------------------------------ local parity
def test_the_local_definition_names_the_uris_the_custom_resource_publishes(
    s3: Any, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stepline.definition's script URIs are what the deployed resource returns for emr_jobs/."""
    deployed = load_deployed_stack("dev")
    artifacts = deployed.resources["ArtifactsBucket"]
    s3.create_bucket(Bucket=artifacts)
    monkeypatch.setattr(app, "LAYER_ROOT", PROJECT_ROOT / "emr_jobs")
    event = _event("Create")
    event["ResourceProperties"]["ArtifactsBucket"] = artifacts
    app.lambda_handler(event, _Context())
    (body,) = response_url.bodies
    publish = deployed.machine("SalesPublish").substitutions
    assert set(body["Data"]) == {"AggregateSalesScriptUri", "SalesLakeScriptUri"}
    for attribute, uri in body["Data"].items():
        assert uri == publish[attribute], attribute
        s3.head_object(Bucket=artifacts, Key=uri.removeprefix(f"s3://{artifacts}/"))
    assert body["PhysicalResourceId"] == deployed.resources["PipelineAssets"]


def test_the_lake_layout_module_reaches_both_spark_jobs() -> None:
    """sales_lake.py's URI is the Glue job's --extra-py-files and the publish's --py-files."""
    deployed = load_deployed_stack("dev")
    uri = deployed.machine("SalesPublish").substitutions["SalesLakeScriptUri"]
    assert uri.endswith("/sales_lake.py")
    glue = deployed.glue_job_for_name(deployed.resources["CleanSalesJob"])
    assert glue.default_arguments["--extra-py-files"] == uri
    step = deployed.machine("SalesPublish").definition["States"]["Aggregate the day's sales"]
    args = step["Arguments"]["Step"]["HadoopJarStep"]["Args"]
    assert f"'--py-files', '{uri}'" in args
    script = deployed.machine("SalesPublish").substitutions["AggregateSalesScriptUri"]
    assert args.index(f"'{uri}'") < args.index(f"'{script}'")  # spark-submit options first


def test_the_validator_packages_the_glue_job_imports_are_the_ones_published(
    s3: Any, response_url: FakeResponseUrl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With both layers at /opt, the handler publishes the zip the job's --extra-py-files names."""
    deployed = load_deployed_stack("dev")
    artifacts = deployed.resources["ArtifactsBucket"]
    s3.create_bucket(Bucket=artifacts)
    opt = tmp_path / "opt"  # what Lambda extracts the two layers into
    shutil.copytree(PROJECT_ROOT / "emr_jobs", opt, ignore=shutil.ignore_patterns("__pycache__"))
    for package in VALIDATOR_PACKAGES:
        shutil.copytree(
            PROJECT_ROOT / "functions" / package,
            opt / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    monkeypatch.setattr(app, "LAYER_ROOT", opt)
    event = _event("Create")
    event["ResourceProperties"]["ArtifactsBucket"] = artifacts
    event["ResourceProperties"]["ValidatorPackagesLayerArn"] = "arn:aws:lambda:::layer:v:1"
    app.lambda_handler(event, _Context())
    (body,) = response_url.bodies
    assert body["Status"] == "SUCCESS", body
    uri = body["Data"]["ValidatorPackagesScriptUri"]
    job = deployed.glue_job_for_name(deployed.resources["ValidateSalesFileJob"])
    assert job.default_arguments["--extra-py-files"] == uri
    published = s3.get_object(Bucket=artifacts, Key=uri.removeprefix(f"s3://{artifacts}/"))
    assert published["ContentType"] == "application/zip"
    assert published["Body"].read() == package_archive(PROJECT_ROOT / "functions").content
    # The EMR scripts are published as before, beside it.
    assert set(body["Data"]) == {
        "AggregateSalesScriptUri",
        "SalesLakeScriptUri",
        "ValidatorPackagesScriptUri",
    }
