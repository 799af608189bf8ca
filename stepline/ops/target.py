"""Where an operations command acts: a deployed stage on AWS, or the persisted local environment.

``stepline status``, ``backfill``, ``rerun``, ``check-deadline`` and ``land``
read and act through an :class:`OpsTarget`, so one command line gives the
same answer for the same history wherever it points:

* :class:`LocalTarget` works on a :class:`~stepline.local.session.LocalSession`
  (``--local DIR``): the local run ledger, raw bucket and Step Functions;
* :class:`AwsTarget` works on the stage's stack (``--aws``, or ``--profile`` /
  ``--region`` as the AWS CLI takes them): its outputs and parameters are
  read from CloudFormation (the stack name comes from ``samconfig.toml``),
  then DynamoDB, S3 and Step Functions through boto3.

Both name things by the template's ``Outputs`` (``RunLedgerTableName``,
``RawBucketName``, ``ArrivalStateMachineArn``...), which the local stack
resolves exactly as CloudFormation would. A problem a person can fix (no
credentials, an unknown profile or stage, an unreachable endpoint, a stack
that is not deployed) is a :class:`~stepline.cli.UsageError` with one line
saying what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from stepline.cli import UsageError

#: The stack outputs naming each machine an operations command starts or reads.
MACHINE_OUTPUTS = {
    "SalesArrivalStarter": "ArrivalStarterStateMachineArn",
    "SalesArrival": "ArrivalStateMachineArn",
    "SalesPublishRequest": "PublishRequestStateMachineArn",
    "SalesPublish": "PublishStateMachineArn",
    "SalesRecovery": "RecoveryStateMachineArn",
    "SalesDeadlineCheck": "DeadlineCheckStateMachineArn",
}


@dataclass(frozen=True)
class RawObject:
    """The current version of one object in the raw bucket."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    last_modified: dt.datetime


@dataclass(frozen=True)
class Started:
    """What a StartExecution did: a new execution, or the name was already taken."""

    name: str
    arn: str
    existed: bool


class OpsTarget(Protocol):
    """The operations a command needs, on AWS or locally (see the module docstring)."""

    stage: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def kind(self) -> str: ...  # "aws" or "local"

    def ledger_items(self, run_date: str) -> list[dict[str, Any]]: ...

    def raw_objects(self, prefix: str) -> list[RawObject]: ...

    def start_execution(self, machine: str, input: Any, name: str | None = None) -> Started: ...

    def describe_execution(self, arn: str) -> dict[str, Any]: ...

    def execution_arn(self, machine: str, name: str) -> str: ...

    def execution_history(self, arn: str) -> list[dict[str, Any]]: ...

    def wait_for(self, arns: Sequence[str], timeout: float) -> None: ...

    def wait_any(self, arns: Sequence[str], timeout: float) -> list[str]: ...

    def console_url(self, arn: str) -> str: ...


def expected_stores(target: OpsTarget) -> list[str]:
    """The stage's ExpectedStores parameter as a list (empty when none are expected)."""
    return [
        store.strip()
        for store in target.parameters.get("ExpectedStores", "").split(",")
        if store.strip()
    ]


def machine_arn(target: OpsTarget, machine: str) -> str:
    """A machine's ARN from the stack outputs (machine by mock name, e.g. ``SalesArrival``)."""
    output = MACHINE_OUTPUTS.get(machine, machine)
    try:
        return target.outputs[output]
    except KeyError:
        raise UsageError(
            f"stage {target.stage} has no output {output}; is the stack deployed from this "
            "version of template.yaml?"
        ) from None


def console_execution_url(region: str, arn: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{arn}"
    )


def plain(value: Any) -> Any:
    """DynamoDB's Decimal numbers as int (or the Decimal when it has a fraction)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def query_date(dynamodb: Any, table: str, run_date: str) -> list[dict[str, Any]]:
    """Every ledger item of one date, as plain Python values (one strongly consistent query)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"DATE#{run_date}"}},
        ConsistentRead=True,
    )
    return [
        {key: plain(deserializer.deserialize(value)) for key, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]


def list_current_objects(s3: Any, bucket: str, prefix: str) -> list[RawObject]:
    """The current version of every object under ``prefix`` (delete markers skipped)."""
    found: list[RawObject] = []
    versioned = s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    if versioned:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for version in page.get("Versions", []):
                if version.get("IsLatest"):
                    found.append(
                        RawObject(
                            bucket=bucket,
                            key=version["Key"],
                            version_id=version.get("VersionId"),
                            etag=str(version["ETag"]).strip('"'),
                            size=int(version["Size"]),
                            last_modified=version["LastModified"],
                        )
                    )
    else:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found.append(
                    RawObject(
                        bucket=bucket,
                        key=obj["Key"],
                        version_id=None,
                        etag=str(obj["ETag"]).strip('"'),
                        size=int(obj["Size"]),
                        last_modified=obj["LastModified"],
                    )
                )
    return sorted(found, key=lambda obj: obj.key)


# ---------------------------------------------------------------------------- local


class LocalTarget:
    """The persisted local environment of a stage, opened for the command's duration."""

    kind = "local"

    def __init__(self, session: Any) -> None:
        self.session = session
        self.stage = session.stage
        self.outputs = dict(session.deployed.outputs)
        self.parameters = dict(session.deployed.parameters)
        self.region = session.deployed.region

    def ledger_items(self, run_date: str) -> list[dict[str, Any]]:
        return query_date(
            self.session.client("dynamodb"), self.outputs["RunLedgerTableName"], run_date
        )

    def raw_objects(self, prefix: str) -> list[RawObject]:
        return list_current_objects(
            self.session.client("s3"), self.outputs["RawBucketName"], prefix
        )

    def start_execution(self, machine: str, input: Any, name: str | None = None) -> Started:
        from stepline.local.stepfunctions import ExecutionAlreadyExists

        arn = machine_arn(self, machine)
        try:
            execution = self.session.stepfunctions.start_execution(arn, input, name=name)
        except ExecutionAlreadyExists as exists:
            return Started(name=name or "", arn=exists.arn, existed=True)
        return Started(name=execution.name, arn=execution.arn, existed=False)

    def describe_execution(self, arn: str) -> dict[str, Any]:
        return dict(self.session.stepfunctions.get(arn).describe())

    def execution_arn(self, machine: str, name: str) -> str:
        arn = machine_arn(self, machine)
        kind = ":express:" if self.session.deployed.machine(arn).express else ":execution:"
        return arn.replace(":stateMachine:", kind) + f":{name}"

    def execution_history(self, arn: str) -> list[dict[str, Any]]:
        execution = self.session.stepfunctions.get(arn)
        if execution.result is not None:
            return list(execution.result.history)
        path = (
            self.session.workdir
            / "executions"
            / execution.machine.mock_name
            / f"{execution.name}.json"
        )
        import json

        return list(json.loads(path.read_text())) if path.exists() else []

    def wait_for(self, arns: Sequence[str], timeout: float) -> None:
        wanted = set(arns)
        self.session.stepfunctions.wait_until(
            lambda executions: (
                all(not e.running for e in executions if e.arn in wanted)
                and wanted <= {e.arn for e in executions}
            ),
            timeout=timeout,
            what=f"{len(wanted)} execution(s) to end",
        )

    def wait_any(self, arns: Sequence[str], timeout: float) -> list[str]:
        """Block until one of these executions has ended; return those that have."""
        wanted = set(arns)

        def ended(executions: list[Any]) -> list[str]:
            return [e.arn for e in executions if e.arn in wanted and not e.running]

        self.session.stepfunctions.wait_until(
            lambda executions: bool(ended(executions)),
            timeout=timeout,
            what="an execution to end",
        )
        return ended(self.session.stepfunctions.executions())

    def console_url(self, arn: str) -> str:
        return console_execution_url(self.region, arn)


@contextlib.contextmanager
def open_local(local: Path, stage: str) -> Iterator[LocalTarget]:
    """The local environment ``local/<stage>`` as a target, for one command."""
    from stepline.local.session import LocalSession

    with LocalSession(stage, workdir=local, lambda_logs=False) as session:
        yield LocalTarget(session)


# ------------------------------------------------------------------------------ AWS


class AwsTarget:
    """A deployed stage: the stack's outputs from CloudFormation, then boto3 clients."""

    kind = "aws"

    def __init__(
        self,
        stage: str,
        *,
        profile: str | None = None,
        region: str | None = None,
        session_factory: Callable[..., Any] | None = None,
        project_root: Path | None = None,
        poll_seconds: float = 10.0,
    ) -> None:
        from stepline.definition import find_project_root, load_stage_config

        self.stage = stage
        self.poll_seconds = poll_seconds
        config = load_stage_config(project_root or find_project_root(), stage)
        self.stack_name = config.stack_name
        region = region or config.deploy_parameters.get("region")
        with aws_errors(f"stage {stage}"):
            if session_factory is None:
                import boto3

                session_factory = boto3.Session
            self._session = session_factory(profile_name=profile, region_name=region)
            self.region = str(self._session.region_name or "")
            if not self.region:
                raise UsageError("no AWS region: pass --region or set AWS_REGION")
            self._clients: dict[str, Any] = {}
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        [stack] = stacks["Stacks"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def ledger_items(self, run_date: str) -> list[dict[str, Any]]:
        with aws_errors("reading the run ledger"):
            return query_date(self.client("dynamodb"), self.outputs["RunLedgerTableName"], run_date)

    def raw_objects(self, prefix: str) -> list[RawObject]:
        with aws_errors("listing the raw bucket"):
            return list_current_objects(self.client("s3"), self.outputs["RawBucketName"], prefix)

    def start_execution(self, machine: str, input: Any, name: str | None = None) -> Started:
        import json

        arn = machine_arn(self, machine)
        sfn = self.client("stepfunctions")
        request: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(input)}
        if name:
            request["name"] = name
        with aws_errors(f"starting {machine}"):
            try:
                started = sfn.start_execution(**request)
            except sfn.exceptions.ExecutionAlreadyExists:
                return Started(
                    name=name or "", arn=self.execution_arn(machine, name or ""), existed=True
                )
        return Started(
            name=name or started["executionArn"].rsplit(":", 1)[-1],
            arn=started["executionArn"],
            existed=False,
        )

    def describe_execution(self, arn: str) -> dict[str, Any]:
        with aws_errors("describing an execution"):
            described = dict(self.client("stepfunctions").describe_execution(executionArn=arn))
        described.pop("ResponseMetadata", None)
        return described

    def execution_arn(self, machine: str, name: str) -> str:
        return machine_arn(self, machine).replace(":stateMachine:", ":execution:") + f":{name}"

    def execution_history(self, arn: str) -> list[dict[str, Any]]:
        with aws_errors("reading an execution history"):
            pages = (
                self.client("stepfunctions")
                .get_paginator("get_execution_history")
                .paginate(executionArn=arn)
            )
            return [event for page in pages for event in page["events"]]

    def wait_for(self, arns: Sequence[str], timeout: float) -> None:
        import time

        poll = self.poll_seconds
        deadline = time.monotonic() + timeout
        pending = list(arns)
        while pending:
            pending = [
                arn for arn in pending if self.describe_execution(arn)["status"] == "RUNNING"
            ]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} execution(s) still running after {timeout} s")
            if pending:
                time.sleep(poll)

    def wait_any(self, arns: Sequence[str], timeout: float) -> list[str]:
        import time

        poll = self.poll_seconds
        deadline = time.monotonic() + timeout
        while True:
            ended = [a for a in arns if self.describe_execution(a)["status"] != "RUNNING"]
            if ended:
                return ended
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(arns)} execution(s) still running after {timeout} s")
            time.sleep(poll)

    def console_url(self, arn: str) -> str:
        return console_execution_url(self.region, arn)


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn the AWS problems a person fixes into one-line usage errors."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    try:
        yield
    except NoCredentialsError:
        raise UsageError(
            f"{doing}: no AWS credentials found; pass --profile or configure the AWS CLI"
        ) from None
    except ProfileNotFound as missing:
        raise UsageError(
            f"{doing}: {missing}; check --profile (aws configure list-profiles)"
        ) from None
    except NoRegionError:
        raise UsageError(f"{doing}: no AWS region; pass --region or set AWS_REGION") from None
    except EndpointConnectionError as unreachable:
        raise UsageError(
            f"{doing}: cannot reach {unreachable.kwargs.get('endpoint_url', 'AWS')}; "
            "check --region and the network"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "ValidationError" and "does not exist" in message:
            raise UsageError(
                f"{doing}: {message}; deploy it with sam deploy --config-env <stage>, or check "
                "--region"
            ) from None
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException"):
            raise UsageError(f"{doing}: {message}; check the credentials' permissions") from None
        raise
