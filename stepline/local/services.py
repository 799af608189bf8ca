"""Local mode: the real pipeline code on embedded stand-ins for AWS services.

``LocalServices`` is the ``task_handler`` the engine calls for every Task the
mock configuration does not answer:

* ``lambda:invoke`` runs the function's handler in-process, with the
  environment ``template.yaml`` gives it;
* ``glue:startJobRun.sync`` runs the Glue script on local PySpark;
* ``elasticmapreduce:addStep.sync`` reads the step's ``spark-submit``
  arguments from the definition and runs the EMR script on local PySpark;
* ``redshiftdata`` statements and the Athena report SQL run on DuckDB;
* everything else (``sns:publish``, ``s3:getObject``...) falls through to
  moto's in-process services.

Paths in ``s3://`` form are mapped onto a :class:`~stepline.local.lake.LocalLake`
folder for Spark and DuckDB; moto S3 is kept in step with it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shlex
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emr_jobs import sales_lake
from stepline.local.engine import NOT_HANDLED, TaskFailure, TaskInvocation
from stepline.local.lake import LocalLake

#: In-process handlers share os.environ and sys.stdout (each Lambda invocation has a
#: sandbox of its own on AWS), so one invocation runs at a time.
_LAMBDA_LOCK = threading.Lock()


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    timeout_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """Set a function's environment for the duration of one invocation."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update({k: str(v) for k, v in variables.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _no_op() -> Iterator[None]:
    yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _task_failed(payload: dict[str, Any]) -> TaskFailure:
    """A ``.sync`` job that ends FAILED surfaces in Step Functions as States.TaskFailed."""
    return TaskFailure("States.TaskFailed", json.dumps(payload, default=str))


class LocalServices:
    """The local-mode task handler. Build one per local session (it holds the warehouse)."""

    def __init__(
        self,
        deployed: Any,
        lake: LocalLake,
        *,
        warehouse_path: Path,
        environment_overrides: dict[str, str] | None = None,
        capture_stdout: bool = False,
    ) -> None:
        self.deployed = deployed
        # Applied on top of each function's template environment, e.g. to
        # quieten Powertools' INFO logs on a terminal.
        self.environment_overrides = dict(environment_overrides or {})
        # What handlers printed (EMF metrics, print debugging), as CloudWatch would keep it.
        self.capture_stdout = capture_stdout
        self.lambda_output: list[str] = []
        self.lake = lake
        self.warehouse_path = Path(warehouse_path)
        self._warehouse: Any = None
        self._athena: Any = None
        # Executions run side by side in threads. The warehouse is made once for
        # all of them (two would be two DuckDB writers on one file, each with its
        # own statement ids).
        self._services_lock = threading.Lock()
        # The local copy of the curated zone is rewritten by the EMR step before
        # it is pushed to S3, and mirrored from S3 (stale files deleted) by the
        # report query and the Redshift COPY: a mirror of the whole zone while
        # another date's step has written but not yet pushed would delete that
        # date's new files. On AWS the step writes S3 directly; here the steps
        # and readers of the curated zone take turns, each whole.
        self._curated_lock = threading.RLock()
        self._routes: dict[tuple[str, str], Callable[[TaskInvocation], Any]] = {
            ("lambda", "invoke"): self._invoke_lambda,
            ("glue", "startJobRun"): self._run_glue_job,
            ("emr", "addStep"): self._curated_in_turn(self._run_emr_step),
            ("redshift-data", "batchExecuteStatement"): self._curated_in_turn(self._redshift_batch),
            ("redshift-data", "describeStatement"): self._redshift_describe,
            ("athena", "startQueryExecution"): self._curated_in_turn(self._athena_query),
        }

    def _curated_in_turn(
        self, route: Callable[[TaskInvocation], Any]
    ) -> Callable[[TaskInvocation], Any]:
        """``route``, run whole while no other step or reader of the curated zone runs."""

        def in_turn(invocation: TaskInvocation) -> Any:
            with self._curated_lock:
                return route(invocation)

        return in_turn

    def __call__(self, invocation: TaskInvocation) -> Any:
        route = self._routes.get((invocation.service, invocation.action))
        if route is None:
            return NOT_HANDLED
        return route(invocation)

    # -- Lambda ---------------------------------------------------------------

    def _invoke_lambda(self, invocation: TaskInvocation) -> dict[str, Any]:
        params = invocation.parameters
        spec = self.deployed.function_for_arn(params["FunctionName"])
        module_name, _, function_name = spec.handler.rpartition(".")
        context = FakeLambdaContext(
            function_name=spec.name,
            invoked_function_arn=params["FunctionName"],
            timeout_ms=spec.timeout_seconds * 1000,
        )
        payload = params.get("Payload")
        if isinstance(payload, str):
            payload = json.loads(payload)
        with _LAMBDA_LOCK, _environment({**spec.environment, **self.environment_overrides}):
            handler = getattr(importlib.import_module(module_name), function_name)
            captured = io.StringIO()
            try:
                with contextlib.redirect_stdout(captured) if self.capture_stdout else _no_op():
                    result = handler(payload, context)
            except Exception as exc:  # a function error, as Lambda reports it
                cause = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
                raise TaskFailure(type(exc).__name__, json.dumps(cause)) from exc
            finally:
                self.lambda_output.append(captured.getvalue())
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}

    # -- Glue -----------------------------------------------------------------

    def _run_glue_job(self, invocation: TaskInvocation) -> dict[str, Any]:
        from glue_jobs import clean_sales
        from stepline.local.spark import local_spark

        params = invocation.parameters
        job = self.deployed.glue_job_for_name(params["JobName"])
        arguments = {k.lstrip("-"): v for k, v in params.get("Arguments", {}).items()}
        run_id = "jr_" + uuid.uuid4().hex
        started = _now()
        job_run: dict[str, Any] = {
            "Id": run_id,
            "JobName": params["JobName"],
            "Arguments": params.get("Arguments", {}),
            "StartedOn": started,
            "GlueVersion": "5.0",
        }
        if Path(job.script_path).stem != "clean_sales":
            raise TaskFailure(
                "States.Runtime", f"no local runner for Glue script {job.script_path}"
            )
        self.lake.pull(arguments["validated_prefix"])
        lake_root = sales_lake.as_prefix(arguments["lake_root"])
        try:
            clean_args = clean_sales.CleanArgs(
                run_date=arguments["run_date"],
                store_id=arguments["store_id"],
                run_id=arguments["run_id"],
                validated_prefix=self.lake.local_uri(arguments["validated_prefix"]),
                lake_root=self.lake.local_uri(lake_root),
            )
            clean_sales.run(local_spark(), clean_args, write_metrics=self._write_local_json)
        except Exception as exc:
            job_run.update(JobRunState="FAILED", ErrorMessage=f"{type(exc).__name__}: {exc}")
            raise _task_failed(job_run) from exc
        run_key = sales_lake.clean_run_key(
            arguments["run_date"], arguments["store_id"], arguments["run_id"]
        )
        self.lake.push(lake_root + run_key)
        self.lake.push(
            lake_root
            + sales_lake.clean_metrics_key(
                arguments["run_date"], arguments["store_id"], arguments["run_id"]
            )
        )
        job_run.update(JobRunState="SUCCEEDED", CompletedOn=_now())
        return job_run

    @staticmethod
    def _write_local_json(path: str, document: dict[str, Any]) -> None:
        """The Glue job's metrics writer for local paths (the lake pushes them to moto)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document))

    # -- EMR ------------------------------------------------------------------

    def _run_emr_step(self, invocation: TaskInvocation) -> dict[str, Any]:
        from emr_jobs import aggregate_sales
        from stepline.local.spark import local_spark

        step = invocation.parameters["Step"]
        args: list[str] = list(step["HadoopJarStep"]["Args"])
        scripts = [i for i, a in enumerate(args) if a.endswith("/aggregate_sales.py")]
        if not scripts:
            raise TaskFailure("States.Runtime", f"no local runner for EMR step {shlex.join(args)}")
        job_args = aggregate_sales.parse_args(args[scripts[0] + 1 :])
        step_id = "s-" + uuid.uuid4().hex[:13].upper()
        lake_root = sales_lake.as_prefix(job_args.lake_root)
        try:
            # The manifest names s3:// generations; Spark reads their local copies.
            self.lake.pull(job_args.manifest)
            manifest = sales_lake.Manifest.from_json(
                json.loads(self.lake.path_for(job_args.manifest).read_text())
            )
            for store_day in manifest.store_days:
                self.lake.pull(sales_lake.as_prefix(store_day.clean_uri))
            aggregate_sales.run(
                local_spark(),
                job_args.manifest,
                self.lake.local_uri(lake_root),
                read_text=lambda uri: self.lake.path_for(uri).read_text(),
                write_text=_write_local_text,
                resolve_uri=lambda uri: self.lake.local_uri(sales_lake.as_prefix(uri)),
            )
        except Exception as exc:
            raise _task_failed(
                {
                    "Step": {
                        "Id": step_id,
                        "Name": step.get("Name"),
                        "Status": {
                            "State": "FAILED",
                            "FailureDetails": {
                                "Reason": type(exc).__name__,
                                "Message": str(exc)[:500],
                            },
                        },
                    }
                }
            ) from exc
        self.lake.push(
            lake_root + sales_lake.curated_generation_key(manifest.run_date, manifest.publish)
        )
        self.lake.push(lake_root + sales_lake.summary_key(manifest.run_date, manifest.publish))
        return {"Step": {"Id": step_id, "Name": step.get("Name"), "Status": {"State": "COMPLETED"}}}

    # -- Redshift Data and Athena on DuckDB -------------------------------------

    @property
    def warehouse(self) -> Any:
        with self._services_lock:
            if self._warehouse is None:
                from stepline.local.warehouse import LocalWarehouse

                self._warehouse = LocalWarehouse(self.warehouse_path)
            return self._warehouse

    def _resolve_s3(self, uri: str) -> str:
        self.lake.pull(uri)
        return self.lake.local_uri(uri)

    def _redshift_batch(self, invocation: TaskInvocation) -> dict[str, Any]:
        params = invocation.parameters
        statement_id = self.warehouse.batch_execute(
            list(params["Sqls"]),
            resolve_s3=self._resolve_s3,
            statement_name=params.get("StatementName"),
        )
        target = {k: params[k] for k in ("WorkgroupName", "ClusterIdentifier") if k in params}
        return {
            "Id": statement_id,
            "CreatedAt": _now(),
            "Database": params.get("Database"),
            **target,
        }

    def _redshift_describe(self, invocation: TaskInvocation) -> dict[str, Any]:
        return dict(self.warehouse.describe_statement(invocation.parameters["Id"]))

    def _athena_query(self, invocation: TaskInvocation) -> dict[str, Any]:
        from stepline.local.warehouse import LocalAthena

        params = invocation.parameters
        if self._athena is None:
            self._athena = LocalAthena()
        output_uri = params["ResultConfiguration"]["OutputLocation"]
        database = self.deployed.resources["SalesCatalogDatabase"]
        curated = sales_lake.lake_uri(
            self.deployed.resources["DataLakeBucket"], sales_lake.CURATED_ROOT
        )
        self.lake.pull(curated)
        result = self._athena.start_query_execution(
            params["QueryString"],
            database_tables={f"{database}.daily_sales": self.lake.local_uri(curated)},
            output_dir=str(self.lake.path_for(output_uri)),
            output_uri=output_uri,
        )
        execution = result.get("QueryExecution", result)
        self.lake.push(output_uri)
        if execution["Status"]["State"] != "SUCCEEDED":
            raise _task_failed({"QueryExecution": execution})
        return {"QueryExecution": execution}


def _write_local_text(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


__all__ = ["FakeLambdaContext", "LocalServices"]
