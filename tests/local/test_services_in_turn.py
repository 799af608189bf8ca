"""Local services shared by executions running side by side in threads.

On AWS the EMR step writes the curated zone in S3 directly; locally it writes
the lake folder and then pushes it to moto S3, and the report query and the
Redshift COPY mirror the zone from S3 first (deleting local files S3 no longer
has). Two dates published at once must not lose one date's new files to the
other date's mirror, and must share one warehouse.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from emr_jobs import aggregate_sales, sales_lake
from stepline.local import spark as local_spark_module
from stepline.local import warehouse as local_warehouse
from stepline.local.engine import TaskInvocation
from stepline.local.session import LocalSession

DAY_A, DAY_B = "2026-11-20", "2026-11-21"


def _invocation(service: str, action: str, parameters: dict[str, Any]) -> TaskInvocation:
    return TaskInvocation(
        state_name=f"{service} {action}",
        resource=f"arn:aws:states:::{service}:{action}",
        service=service,
        action=action,
        integration="sync",
        sdk=False,
        parameters=parameters,
        invocation_index=0,
        retry_count=0,
        context={},
    )


def _emr_step(lake: str, day: str) -> TaskInvocation:
    manifest = f"s3://{lake}/{sales_lake.MANIFESTS_ROOT}date={day}/p1-c1.json"
    args = ["spark-submit", "s3://assets/aggregate_sales.py", "--manifest", manifest]
    args += ["--lake-root", f"s3://{lake}/"]
    step = {"Name": "aggregate", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args}}
    return _invocation("emr", "addStep", {"ClusterId": "j-LOCAL", "Step": step})


class _ReportOnly:
    """LocalAthena without DuckDB: the test is about the zone's mirror, not the query."""

    def start_query_execution(self, query: str, **_: Any) -> dict[str, Any]:
        return {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {"State": "SUCCEEDED"}}}


def test_a_report_waits_for_another_dates_step_to_push_its_curated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced: date A's step has written locally, not pushed, when date B's report mirrors."""
    written, go = threading.Event(), threading.Event()

    def aggregate(spark: Any, manifest: str, lake_root: str, **_: Any) -> None:
        day = Path(lake_root) / sales_lake.curated_generation_key(DAY_A, "p1-c1")
        day.mkdir(parents=True)
        (day / "part-00000.parquet").write_bytes(b"PAR1 day A PAR1")
        written.set()
        assert go.wait(30), "the test never let the step finish"

    monkeypatch.setattr(aggregate_sales, "run", aggregate)
    monkeypatch.setattr(local_spark_module, "local_spark", lambda: None)
    monkeypatch.setattr(local_warehouse, "LocalAthena", _ReportOnly)

    with LocalSession("dev", workdir=tmp_path, lambda_logs=False) as session:
        lake = session.deployed.resources["DataLakeBucket"]
        s3 = session.client("s3")
        manifest = {"run_date": DAY_A, "publish": "p1-c1", "store_days": []}
        s3.put_object(
            Bucket=lake,
            Key=f"{sales_lake.MANIFESTS_ROOT}date={DAY_A}/p1-c1.json",
            Body=json.dumps(manifest).encode(),
        )
        services = session.services
        errors: list[BaseException] = []

        def run(invocation: TaskInvocation) -> None:
            try:
                services(invocation)
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

        step = threading.Thread(target=run, args=(_emr_step(lake, DAY_A),))
        step.start()
        assert written.wait(30)
        report = _invocation(
            "athena",
            "startQueryExecution",
            {
                "QueryString": f"SELECT * FROM daily_sales WHERE sale_date = DATE '{DAY_B}'",
                "ResultConfiguration": {
                    "OutputLocation": f"s3://{lake}/{sales_lake.REPORTS_ROOT}date={DAY_B}/"
                },
            },
        )
        reader = threading.Thread(target=run, args=(report,))
        reader.start()
        # Taking turns, the report cannot have run while the step holds the zone;
        # without them it runs (and deletes the unpushed file) well within this.
        reader.join(timeout=1.0)
        report_ran_in_between = not reader.is_alive()
        go.set()
        step.join()
        reader.join()
        assert errors == []
        assert not report_ran_in_between
        generation = sales_lake.curated_generation_key(DAY_A, "p1-c1")
        pushed = s3.list_objects_v2(Bucket=lake, Prefix=generation)
        assert [o["Key"] for o in pushed.get("Contents", [])] == [
            generation + "part-00000.parquet"
        ]


def test_executions_side_by_side_share_one_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced: a second execution asks for the warehouse while the first one is making it."""
    made: list[Any] = []
    second: list[Any] = []
    real = local_warehouse.LocalWarehouse

    with LocalSession("dev", workdir=tmp_path, lambda_logs=False) as session:
        services = session.services
        asker = threading.Thread(target=lambda: second.append(services.warehouse))

        class Slow(real):  # type: ignore[misc, valid-type]
            def __init__(self, path: Path) -> None:
                made.append(self)
                if len(made) == 1:
                    asker.start()
                    # Guarded, the other execution waits for this one; unguarded it
                    # makes its own warehouse well within this.
                    asker.join(timeout=1.0)
                super().__init__(path)

        monkeypatch.setattr(local_warehouse, "LocalWarehouse", Slow)
        first = services.warehouse
        asker.join()
        assert len(made) == 1
        assert second == [first]
