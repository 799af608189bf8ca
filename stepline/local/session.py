"""A persisted local environment: one stage's AWS, on this machine, between commands.

``LocalSession`` is what ``stepline land``, ``replay``, ``demo`` and the pytest
plugin build on::

    with LocalSession(stage="dev", workdir=Path(".stepline/local")) as env:
        event = env.land_file(Path("day.csv"), "incoming/day.csv")
        env.deliver(event, times=2)          # EventBridge delivers at least once
        env.wait()                           # every execution it caused has ended
        env.notifications                    # what SNS published

It resolves the deployed stack for the stage (``template.yaml`` +
``samconfig.toml``), creates its buckets, topics and DynamoDB tables in moto,
and runs its state machines on :class:`~stepline.local.stepfunctions.LocalStepFunctions`
(executions side by side), its EventBridge rules on
:class:`~stepline.local.events.LocalEventBridge` and its Tasks on
:class:`~stepline.local.services.LocalServices`.

It knows no pipeline: everything it creates is what the template declares,
the jobs run through the project's bindings (:mod:`stepline.local.bindings`).

Everything persists under ``<workdir>/<stage>/``: the buckets (``s3/``, with
the landing bucket's version ids), the DynamoDB tables (``ledger.json``), the
warehouse (``warehouse.duckdb``), every execution with its history
(``executions/``) and every notification (``notifications.jsonl``), so
separate commands see one world, as on AWS. A lock file makes a second
command on the same environment refuse with :class:`LocalEnvironmentBusy`
instead of corrupting it.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepline.local.credentials import use_fake_credentials
from stepline.local.lake import LocalLake

DEFAULT_WORKDIR = Path(".stepline/local")
_REGION = "us-east-1"
#: Keeps a terminal readable: handlers log warnings only (their EMF metrics lines,
#: printed to stdout, are captured by LocalServices instead of shown).
QUIET_LAMBDA_ENVIRONMENT = {"POWERTOOLS_LOG_LEVEL": "WARNING"}


class LocalEnvironmentBusy(RuntimeError):
    """Another command holds this local environment."""


@dataclass
class LocalRun:
    """One replayed arrival: the engine result, what it published, what it caused."""

    event: dict[str, Any]
    result: Any
    notifications: list[dict[str, Any]] = field(default_factory=list)
    executions: list[Any] = field(default_factory=list)

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
    """Context manager owning one persisted local environment of a stage."""

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
        project_root: Path | None = None,
    ) -> None:
        """``lambda_logs=False`` quietens Powertools logs and metrics of in-process handlers."""
        self.stage = stage
        self.workdir = Path(workdir) / stage
        self.mock_config = mock_config
        self.test_case = test_case
        self.virtual_time = virtual_time
        self.local_tasks = local_tasks
        self.lambda_logs = lambda_logs
        self.project_root = project_root
        self.deployed: Any = None
        self.lake: LocalLake | None = None
        self.services: Any = None
        self.stepfunctions: Any = None
        self.events: Any = None
        self.notifications: list[dict[str, Any]] = []
        self._moto: Any = None
        self._exit_stack = contextlib.ExitStack()
        self._queue_url: str | None = None
        self._clients: dict[str, Any] = {}
        self._restored_notifications = 0

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> LocalSession:
        try:
            self._open()
        except BaseException:
            self._exit_stack.close()
            raise
        return self

    def _open(self) -> None:
        from filelock import FileLock, Timeout
        from moto import mock_aws

        from stepline.definition import load_deployed_stack
        from stepline.local.moto_serial import serialised_moto
        from stepline.local.moto_stream import streamed_get_object
        from stepline.malloc import return_large_buffers

        self.workdir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.workdir / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise LocalEnvironmentBusy(
                f"another stepline command is using the local environment {self.workdir}; "
                "wait for it to finish, or use another --local folder"
            ) from None
        self._exit_stack.callback(lock.release)
        use_fake_credentials(_REGION)
        self.deployed = load_deployed_stack(
            self.stage, region=_REGION, project_root=self.project_root
        )
        self._moto = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            }
        )
        self._moto.start()
        self._exit_stack.callback(self._moto.stop)
        self._exit_stack.enter_context(serialised_moto())
        self._exit_stack.enter_context(streamed_get_object())
        return_large_buffers()
        self._provision()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._shut_down()
        finally:
            self._exit_stack.close()

    def _shut_down(self) -> None:
        if self.stepfunctions is not None:
            # Executions cannot outlive the process: stop what still runs (its
            # recovery then runs, as on AWS) and let everything settle.
            for execution in self.stepfunctions.executions():
                if execution.running:
                    self.stepfunctions.stop_execution(
                        execution.arn,
                        error="Stepline.LocalSessionEnded",
                        cause="The local command ended while the execution was running.",
                    )
            # Stopped first, so an execution paused by a test ends ABORTED, not FAILED.
            self.stepfunctions.hooks.abort_all()
            with contextlib.suppress(TimeoutError):
                self.stepfunctions.wait_idle(timeout=120)
            self.drain_notifications()
        if self.lake is not None and self.deployed is not None:
            self._save()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=_REGION)
        return self._clients[service]

    # -- names ------------------------------------------------------------------------

    def _of_type(self, resource_type: str) -> list[str]:
        """The physical names of the stack's resources of one type, in template order."""
        types = self.deployed.resource_types
        return [str(self.deployed.resources[i]) for i, t in types.items() if t == resource_type]

    @property
    def buckets(self) -> tuple[str, ...]:
        return tuple(self._of_type("AWS::S3::Bucket"))

    @property
    def landing_buckets(self) -> tuple[str, ...]:
        """The buckets whose Object Created events a rule of the stack listens to."""
        return landing_buckets(self.deployed)

    @property
    def raw_bucket(self) -> str:
        """Where :meth:`land_file` puts files: the (first) bucket a rule listens to."""
        if not self.landing_buckets:
            raise LookupError("no EventBridge rule of the stack listens to an S3 bucket")
        return self.landing_buckets[0]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._of_type("AWS::SNS::Topic"))

    # -- provisioning and persistence -------------------------------------------------

    def _provision(self) -> None:
        from stepline.local.events import LocalEventBridge
        from stepline.local.stepfunctions import LocalExecution, LocalStepFunctions

        s3 = self.client("s3")
        self.lake = LocalLake(self.workdir / "s3", s3)
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket)
        # Versions matter where events carry them (the landing buckets'); the other
        # buckets' would only cost memory locally.
        for bucket in self.landing_buckets:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for bucket in self.buckets:
            self.lake.restore_bucket(bucket)
        self._provision_tables()
        self._restore_ledger()
        sns, sqs = self.client("sns"), self.client("sqs")
        self._queue_url = sqs.create_queue(QueueName="stepline-local-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for expected in self.topics:
            topic_arn = sns.create_topic(Name=expected.rsplit(":", 1)[-1])["TopicArn"]
            if topic_arn != expected:
                raise RuntimeError(f"moto topic {topic_arn} differs from the stack's {expected}")
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        notifications = self.workdir / "notifications.jsonl"
        if notifications.exists():
            self.notifications = [
                json.loads(line) for line in notifications.read_text().splitlines() if line
            ]
        self._restored_notifications = len(self.notifications)
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
        self.stepfunctions = LocalStepFunctions(
            self.deployed,
            task_handler=self.services,
            virtual_time=self.virtual_time,
            mock_config=self.mock_config,
            test_case=self.test_case,
        )
        self.events = LocalEventBridge(self.deployed, self.stepfunctions)
        self.stepfunctions.on_status_change = self.events.on_status_change
        self.stepfunctions.adopt(
            LocalExecution(
                arn=record["arn"],
                name=record["name"],
                machine=self.deployed.machine(record["machine"]),
                input=record["input"],
                start_date=record["start_date"],
                status=record["status"],
                stop_date=record.get("stop_date"),
                output=record.get("output"),
                error=record.get("error"),
                cause=record.get("cause"),
                parent=record.get("parent"),
            )
            for record in self._execution_index()
        )

    def _provision_tables(self) -> None:
        """Create the stack's DynamoDB tables in moto, as the template declares them."""
        from stepline.definition import TemplateResolver, load_template

        template = load_template(self.deployed.project_root / "template.yaml")
        resolver = TemplateResolver(
            template,
            self.deployed.parameters,
            stack_name=self.deployed.stack_name,
            region=_REGION,
            project_root=self.deployed.project_root,
        )
        dynamodb = self.client("dynamodb")
        for logical_id, resource in template["Resources"].items():
            if resource.get("Type") != "AWS::DynamoDB::Table":
                continue
            properties = resolver.resolve(resource["Properties"])
            dynamodb.create_table(
                TableName=self.deployed.resources[logical_id],
                KeySchema=properties["KeySchema"],
                AttributeDefinitions=properties["AttributeDefinitions"],
                BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
                **(
                    {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
                    if properties.get("GlobalSecondaryIndexes")
                    else {}
                ),
            )

    def _tables(self) -> list[str]:
        return self._of_type("AWS::DynamoDB::Table")

    def _restore_ledger(self) -> None:
        path = self.workdir / "ledger.json"
        if not path.exists():
            return
        dynamodb = self.client("dynamodb")
        for table, items in json.loads(path.read_text()).items():
            for start in range(0, len(items), 25):
                dynamodb.batch_write_item(
                    RequestItems={
                        table: [
                            {"PutRequest": {"Item": item}} for item in items[start : start + 25]
                        ]
                    }
                )

    def _execution_index(self) -> list[dict[str, Any]]:
        path = self.workdir / "executions" / "index.json"
        return list(json.loads(path.read_text())) if path.exists() else []

    def _save(self) -> None:
        assert self.lake is not None
        for bucket in self.buckets:
            self.lake.save_bucket(bucket)
        dynamodb = self.client("dynamodb")
        ledger: dict[str, list[dict[str, Any]]] = {}
        for table in self._tables():
            paginator = dynamodb.get_paginator("scan")
            ledger[table] = [
                item for page in paginator.paginate(TableName=table) for item in page["Items"]
            ]
        _write_atomically(self.workdir / "ledger.json", json.dumps(ledger, indent=1))
        if self.stepfunctions is not None:
            folder = self.workdir / "executions"
            folder.mkdir(exist_ok=True)
            index = []
            for execution in self.stepfunctions.executions():
                index.append(
                    {
                        "arn": execution.arn,
                        "name": execution.name,
                        "machine": execution.machine.logical_id,
                        "input": execution.input,
                        "start_date": execution.start_date,
                        "status": execution.status,
                        "stop_date": execution.stop_date,
                        "output": execution.output,
                        "error": execution.error,
                        "cause": execution.cause,
                        "parent": execution.parent,
                    }
                )
                if execution.result is not None:
                    history = folder / execution.machine.mock_name / f"{execution.name}.json"
                    history.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomically(history, json.dumps(execution.result.history))
            _write_atomically(folder / "index.json", json.dumps(index, indent=1))
        new = self.notifications[self._restored_notifications :]
        if new:
            with (self.workdir / "notifications.jsonl").open("a") as out:
                for note in new:
                    out.write(json.dumps(note) + "\n")
            self._restored_notifications = len(self.notifications)

    # -- landing files and delivering events -------------------------------------------

    def land_file(self, path: Path, key: str) -> dict[str, Any]:
        """Upload a local file to the raw bucket at ``key``; return its Object Created event.

        The event carries the key URL-encoded, as S3 sends it to EventBridge.
        """
        from stepline.sample_data import object_created_event

        assert self.lake is not None, "use LocalSession as a context manager"
        uri = f"s3://{self.raw_bucket}/{key}"
        # A landed file may be gigabytes: copied once, never held in memory.
        etag, version_id = self.lake.land(uri, path)
        head = self.client("s3").head_object(Bucket=self.raw_bucket, Key=key)
        return object_created_event(
            bucket=self.raw_bucket,
            key=key,
            size=head["ContentLength"],
            etag=etag,
            version_id=version_id,
            time=self.stepfunctions.clock.now(),
            # S3's sequencer grows with each change of a key: a later upload sorts later.
            sequencer=f"{time.time_ns():020X}",
        )

    def has_object(self, event: dict[str, Any]) -> bool:
        """Whether the object an Object Created event names exists in local S3."""
        from urllib.parse import unquote_plus

        detail = event.get("detail", {})
        bucket, key = detail.get("bucket", {}).get("name"), detail.get("object", {}).get("key")
        if bucket not in self.buckets or not key:
            return False
        try:
            self.client("s3").head_object(Bucket=bucket, Key=unquote_plus(key))
        except self.client("s3").exceptions.ClientError:
            return False
        return True

    def deliver(self, event: dict[str, Any], *, times: int = 1) -> list[Any]:
        """Put an event on the local bus ``times`` times (at least once, as EventBridge does)."""
        deliveries = []
        for _ in range(times):
            deliveries.extend(self.events.put_event(event))
        return deliveries

    def wait(self, timeout: float = 3600) -> list[dict[str, Any]]:
        """Wait until no execution runs; return the notifications published meanwhile."""
        self.stepfunctions.wait_idle(timeout=timeout)
        return self.drain_notifications()

    def drain_notifications(self) -> list[dict[str, Any]]:
        """Every message published to the topic since the last drain, in order."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                found.append(_parse_notification(message["Body"]))
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.notifications.extend(found)
        return found

    def arrival_of(self, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The arrival execution name and input the starter would give this event."""
        return arrival_for_event(self.deployed, event)

    def replay(self, event: dict[str, Any], *, execution_name: str | None = None) -> LocalRun:
        """Run one arrival of this event as a fresh execution (an engineer's rerun), to its end.

        Unlike :meth:`deliver`, a replay is never a duplicate: its name is the
        starter's plus a unique suffix. Everything it causes (the date's
        publish) runs to its end too.
        """
        self.drain_notifications()
        before = {execution.arn for execution in self.stepfunctions.executions()}
        arrival = started_by_event(self.deployed, event)
        execution = self.stepfunctions.start_execution(
            arrival.machine.logical_id,
            arrival.input,
            name=execution_name or f"{arrival.name[:60]}-replay-{uuid.uuid4().hex[:8]}",
        )
        notifications = self.wait()
        caused = [e for e in self.stepfunctions.executions() if e.arn not in before]
        if execution.result is None:
            raise RuntimeError(f"{execution.name} ended without a result: {execution.cause}")
        return LocalRun(
            event=event, result=execution.result, notifications=notifications, executions=caused
        )


@dataclass(frozen=True)
class StartedByEvent:
    """The execution the stack's starter would start for an event: machine, name, input."""

    machine: Any
    name: str
    input: dict[str, Any]


def landing_buckets(stack: Any) -> tuple[str, ...]:
    """The buckets named in the stack's rules on ``aws.s3`` events, in rule order."""
    found: list[str] = []
    for rule in stack.rules.values():
        pattern = rule.pattern
        if "aws.s3" not in (pattern.get("source") or []):
            continue
        for name in pattern.get("detail", {}).get("bucket", {}).get("name", []):
            if isinstance(name, str) and name not in found:
                found.append(name)
    return tuple(found)


def started_by_event(stack: Any, event: dict[str, Any]) -> StartedByEvent:
    """What the starter an event reaches starts for it, without starting anything.

    The starter is the state machine a rule of the stack sends the event to;
    its own definition runs (its naming is the one source of the name), with
    its StartExecution answered by a capture.
    """
    from stepline.local.engine import TaskInvocation, run_state_machine
    from stepline.local.events import matching_rules

    starters = [
        target.arn
        for rule in matching_rules(stack, event)
        for target in rule.targets
        if ":stateMachine:" in target.arn
    ]
    if len(starters) != 1:
        raise ValueError(
            f"{len(starters)} state machine targets of the stack's rules match this event; "
            "expected one starter"
        )
    captured: dict[str, Any] = {}

    def capture(invocation: TaskInvocation) -> Any:
        if invocation.service == "stepfunctions":
            captured.update(invocation.parameters)
            return {"ExecutionArn": "captured", "StartDate": "1970-01-01T00:00:00.000Z"}
        return {}

    starter = stack.machine(starters[0])
    result = run_state_machine(starter.definition, event, task_handler=capture)
    if "Name" not in captured:
        raise ValueError(
            f"the starter {starter.mock_name} started nothing for this event: "
            f"{result.error}: {result.cause}"
        )
    started_input = captured["Input"]
    if isinstance(started_input, str):
        started_input = json.loads(started_input)
    return StartedByEvent(
        machine=stack.machine(str(captured["StateMachineArn"])),
        name=str(captured["Name"]),
        input=started_input,
    )


def arrival_for_event(stack: Any, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and input of the execution the stack's starter would start for an event."""
    started = started_by_event(stack, event)
    return started.name, started.input


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename, so an interrupted command never leaves half a file behind."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
