"""Lambda handler of the ``Custom::PipelineAssets`` resource in template.yaml.

Create and Update copy every script of the EmrJobScriptsLayer (mounted at ``/opt``)
to ``s3://<ArtifactsBucket>/<KeyPrefix>/<sha256 prefix>/<name>`` and return one
``<Name>ScriptUri`` attribute per script (``aggregate_sales.py`` ->
``AggregateSalesScriptUri``, read with ``!GetAtt PipelineAssets.AggregateSalesScriptUri``).
With a ``ValidatorPackagesLayerArn`` property (the layer of ``functions/``, also at
``/opt``), it also publishes the packages the Glue validation job imports as one zip,
``validator_packages.zip`` (``ValidatorPackagesScriptUri``).
Delete does nothing: published scripts are the history that past executions name.

Whatever happens (a bad property, S3 refusing, a bug here), CloudFormation gets an
answer, so a failure costs one rollback instead of an hour-long hang.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from publish_pipeline_assets.assets import (
    DEFAULT_KEY_PREFIX,
    PutsObjects,
    discover_scripts,
    package_archive,
    publish_scripts,
)
from publish_pipeline_assets.cfn_response import (
    FAILED,
    SUCCESS,
    CustomResourceResponse,
    send_response,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Lambda extracts layers under /opt; the layer's ContentUri is emr_jobs/ itself.
LAYER_ROOT = Path("/opt")


class InvalidPropertiesError(ValueError):
    """The custom resource's properties in the template are incomplete."""


@dataclass(frozen=True)
class PipelineAssetsProperties:
    """The ``Properties`` of ``Custom::PipelineAssets``.

    ``ScriptsLayerArn`` is not used to read anything: it is there so that a new layer
    version (a script change) changes the properties, which makes CloudFormation send
    an Update. ``ValidatorPackagesLayerArn`` likewise, and its presence asks for the
    validator's packages to be published too.
    """

    artifacts_bucket: str
    key_prefix: str = DEFAULT_KEY_PREFIX
    scripts_layer_arn: str = ""
    validator_packages_layer_arn: str = ""

    @classmethod
    def from_resource_properties(cls, properties: Mapping[str, Any]) -> PipelineAssetsProperties:
        bucket = str(properties.get("ArtifactsBucket") or "")
        if not bucket:
            raise InvalidPropertiesError("Custom::PipelineAssets needs an ArtifactsBucket property")
        return cls(
            artifacts_bucket=bucket,
            key_prefix=str(properties.get("KeyPrefix") or DEFAULT_KEY_PREFIX).strip("/"),
            scripts_layer_arn=str(properties.get("ScriptsLayerArn") or ""),
            validator_packages_layer_arn=str(properties.get("ValidatorPackagesLayerArn") or ""),
        )

    @property
    def physical_resource_id(self) -> str:
        # Stable across script changes, so an Update never looks like a replacement.
        return f"s3://{self.artifacts_bucket}/{self.key_prefix}/"


def handle_request(
    event: Mapping[str, Any], *, scripts_dir: Path, s3_client: PutsObjects | None
) -> CustomResourceResponse:
    """Carry out one CloudFormation request and say what to answer."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        return CustomResourceResponse(
            status=SUCCESS,
            physical_resource_id=event["PhysicalResourceId"],
            reason="Published scripts are kept: past executions refer to them.",
        )
    if request_type not in ("Create", "Update"):
        raise ValueError(f"unknown RequestType {request_type!r}")

    properties = PipelineAssetsProperties.from_resource_properties(
        event.get("ResourceProperties", {})
    )
    scripts = discover_scripts(scripts_dir)
    if properties.validator_packages_layer_arn:
        scripts.append(package_archive(scripts_dir))
    if s3_client is None:
        s3_client = _create_s3_client()
    uris = publish_scripts(s3_client, properties.artifacts_bucket, scripts, properties.key_prefix)
    logger.info("Published %d script(s): %s", len(uris), uris)
    return CustomResourceResponse(
        status=SUCCESS, physical_resource_id=properties.physical_resource_id, data=uris
    )


def failure_response(
    event: Mapping[str, Any], error: BaseException, log_stream_name: str
) -> CustomResourceResponse:
    """The FAILED answer for ``error``, keeping the resource's identity when it has one."""
    # A Create that failed has no physical id yet; CloudFormation then sends a Delete
    # for this placeholder, which handle_request answers without touching anything.
    physical_resource_id = event.get("PhysicalResourceId") or (
        f"{event.get('LogicalResourceId', 'PipelineAssets')}-create-failed"
    )
    return CustomResourceResponse(
        status=FAILED,
        physical_resource_id=physical_resource_id,
        reason=f"{type(error).__name__}: {error} (see CloudWatch log stream {log_stream_name})",
    )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        response = handle_request(event, scripts_dir=LAYER_ROOT, s3_client=None)
    except Exception as error:  # any failure must still reach CloudFormation
        logger.exception("PipelineAssets %s request failed", event.get("RequestType"))
        response = failure_response(event, error, getattr(context, "log_stream_name", "unknown"))
    send_response(event, response)
    return asdict(response)


def _create_s3_client() -> PutsObjects:
    # Imported here so that even a broken runtime import is caught and answered.
    import boto3

    return boto3.client("s3")
