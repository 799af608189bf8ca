"""A local Stepline session: moto S3/SNS, the folder-backed lake, and the engine.

``LocalSession`` is what ``stepline replay``, ``stepline demo`` and the pytest
plugin build on::

    with LocalSession(stage="dev") as session:
        event = session.land_file(Path("sales.csv"), "sales/date=2026-11-20/store=s1/sales.csv")
        run = session.replay(event)               # local mode: real code on stand-ins
        run.result.status, run.notifications      # SNS messages the run published

It resolves the deployed definition for the stage (``template.yaml`` +
``samconfig.toml``), creates the stage's buckets and topic in moto, restores
the buckets from the session folder (so runs see earlier runs' data), captures
every message published to the topic through an SQS subscription, and saves
the buckets back to the folder on exit.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepline.local.credentials import use_fake_credentials
from stepline.local.lake import LocalLake

DEFAULT_WORKDIR = Path(".stepline/local")
MOCK_STATE_MACHINE_NAME = "SalesPipeline"
_REGION = "us-east-1"
#: Keeps a terminal readable: handlers log warnings only (their EMF metrics lines,
#: printed to stdout, are captured by LocalServices instead of shown).
QUIET_LAMBDA_ENVIRONMENT = {"POWERTOOLS_LOG_LEVEL": "WARNING"}


@dataclass
class LocalRun:
    """One execution replayed locally: the engine result and what it published."""

    event: dict[str, Any]
    result: Any
    notifications: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return bool(self.result.status == "SUCCEEDED")


def _parse_notification(sqs_body: str) -> dict[str, Any]:
    """An SNS envelope from the capture queue -> ``{subject, message, attributes}``."""
    envelope = json.loads(sqs_body)
    message: Any = envelope.get("Message", "")
    with contextlib.suppress(TypeError, ValueError):
        message = json.loads(message)
    attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
    return {"subject": envelope.get("Subject"), "message": message, "attributes": attributes}


class LocalSession:
    """Context manager owning one in-process AWS stand-in for a stage."""

    def __init__(
        self,
        stage: str = "dev",
        *,
        workdir: Path = DEFAULT_WORKDIR,
        mock_config: dict[str, Any] | None = None,
        test_case: str | None = None,
        virtual_time: bool = True,
        local_tasks: bool = True,
        lambda_logs: bool = True,
    ) -> None:
        """``lambda_logs=False`` quietens Powertools logs and metrics of in-process handlers."""
        self.stage = stage
        self.workdir = Path(workdir) / stage
        self.mock_config = mock_config
        self.test_case = test_case
        self.virtual_time = virtual_time
        self.local_tasks = local_tasks
        self.lambda_logs = lambda_logs
        self._moto: Any = None
        self.deployed: Any = None
        self.lake: LocalLake | None = None
        self.services: Any = None
        self._queue_url: str | None = None
        self._clients: dict[str, Any] = {}

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> LocalSession:
        from moto import mock_aws

        from stepline.definition import load_deployed_definition

        use_fake_credentials(_REGION)
        self.deployed = load_deployed_definition(self.stage, region=_REGION)
        self._moto = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            }
        )
        self._moto.start()
        try:
            self._provision()
        except BaseException:
            self._moto.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.lake is not None:
                for bucket in self.buckets:
                    self.lake.save_bucket(bucket)
        finally:
            self._moto.stop()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=_REGION)
        return self._clients[service]

    @property
    def raw_bucket(self) -> str:
        return str(self.deployed.resources["RawBucket"])

    @property
    def lake_bucket(self) -> str:
        return str(self.deployed.substitutions["DataLakeBucket"])

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.raw_bucket, self.lake_bucket)

    @property
    def topic_arn(self) -> str:
        return str(self.deployed.substitutions["NotificationTopicArn"])

    def _provision(self) -> None:
        s3 = self.client("s3")
        self.lake = LocalLake(self.workdir / "s3", s3)
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket)
            self.lake.restore_bucket(bucket)
        sns, sqs = self.client("sns"), self.client("sqs")
        topic_arn = sns.create_topic(Name=self.topic_arn.rsplit(":", 1)[-1])["TopicArn"]
        if topic_arn != self.topic_arn:
            raise RuntimeError(
                f"moto topic {topic_arn} differs from the definition's {self.topic_arn}"
            )
        self._queue_url = sqs.create_queue(QueueName="stepline-local-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        if self.local_tasks:
            from stepline.local.services import LocalServices

            quiet = {} if self.lambda_logs else QUIET_LAMBDA_ENVIRONMENT
            self.services = LocalServices(
                self.deployed,
                self.lake,
                warehouse_path=self.workdir / "warehouse.duckdb",
                environment_overrides=quiet,
                capture_stdout=not self.lambda_logs,
            )

    # -- landing files and replaying events -------------------------------------------

    def land_file(self, path: Path, key: str) -> dict[str, Any]:
        """Upload a local file to the raw bucket at ``key``; return its Object Created event."""
        from stepline.sample_data import object_created_event

        assert self.lake is not None, "use LocalSession as a context manager"
        uri = f"s3://{self.raw_bucket}/{key}"
        # Streamed file to file and then to moto: a landed file may be gigabytes.
        target = self.lake.path_for(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        self.lake.push(uri)
        head = self.client("s3").head_object(Bucket=self.raw_bucket, Key=key)
        return object_created_event(
            bucket=self.raw_bucket,
            key=key,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            version_id=head.get("VersionId"),
        )

    def has_object(self, event: dict[str, Any]) -> bool:
        """Whether the object an Object Created event names exists in local S3."""
        detail = event.get("detail", {})
        bucket, key = detail.get("bucket", {}).get("name"), detail.get("object", {}).get("key")
        if bucket not in self.buckets or not key:
            return False
        try:
            self.client("s3").head_object(Bucket=bucket, Key=key)
        except self.client("s3").exceptions.ClientError:
            return False
        return True

    def drain_notifications(self) -> list[dict[str, Any]]:
        """Every message published to the topic since the last drain, in order."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                found.append(_parse_notification(message["Body"]))
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def replay(self, event: dict[str, Any], *, execution_name: str | None = None) -> LocalRun:
        """Run the deployed definition on one arrival event; capture what it published."""
        from stepline.local.engine import run_state_machine

        self.drain_notifications()
        result = run_state_machine(
            self.deployed.definition,
            event,
            mock_config=self.mock_config,
            test_case=self.test_case,
            state_machine_name=MOCK_STATE_MACHINE_NAME,
            task_handler=self.services,
            virtual_time=self.virtual_time,
            execution_name=execution_name or _execution_name(event),
        )
        return LocalRun(event=event, result=result, notifications=self.drain_notifications())


def _execution_name(event: dict[str, Any]) -> str:
    """A readable name, unique per replay (at most 80 characters, no ``/``).

    Replays of the same event are distinct executions locally, as an engineer's
    reruns are; deduplicating redelivered events is the trigger's job.
    """
    detail = event.get("detail", {})
    key = detail.get("object", {}).get("key", "event")
    parts = [p.split("=", 1)[-1] for p in key.split("/")[1:]]
    readable = "".join(c if c.isalnum() or c in "-_" else "-" for c in "-".join(parts))[:60]
    return f"{readable}-{uuid.uuid4().hex[:12]}"
