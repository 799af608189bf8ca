"""Hand-built execution histories of the sales pipeline, in GetExecutionHistory's shape.

:class:`HistoryBuilder` writes events the way Step Functions does: ids from 1,
``previousEventId`` chaining each event to the one it follows, inputs and
outputs as JSON strings, and a virtual clock advanced explicitly so durations
are exact (a 15 s Wait lasts 15 s here, whatever the test machine does).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2024, 3, 5, 6, 0, 0, tzinfo=UTC)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
GLUE_SYNC = "arn:aws:states:::glue:startJobRun.sync"
S3_GET = "arn:aws:states:::aws-sdk:s3:getObject"
EMR_SYNC = "arn:aws:states:::elasticmapreduce:addStep.sync"
REDSHIFT_BATCH = "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement"
REDSHIFT_DESCRIBE = "arn:aws:states:::aws-sdk:redshiftdata:describeStatement"
ATHENA_SYNC = "arn:aws:states:::athena:startQueryExecution.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"


def _resource_parts(resource: str) -> tuple[str, str]:
    """Split an integration ARN into the (resourceType, resource) pair the history uses."""
    service, _, action = resource.removeprefix("arn:aws:states:::").partition(":")
    return service, action


class HistoryBuilder:
    """Append events with a virtual clock; ``events`` is the finished history."""

    def __init__(self, *, start: datetime = T0, iso_timestamps: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.now = start
        self.iso_timestamps = iso_timestamps
        self.data: Any = None

    def tick(self, seconds: float) -> HistoryBuilder:
        self.now += timedelta(seconds=seconds)
        return self

    def event(
        self,
        event_type: str,
        details_key: str | None = None,
        *,
        previous: int | None = None,
        **details: Any,
    ) -> int:
        """Append one event; it follows the last one unless ``previous`` names another."""
        event_id = len(self.events) + 1
        event: dict[str, Any] = {
            "timestamp": self.now.isoformat().replace("+00:00", "Z")
            if self.iso_timestamps
            else self.now,
            "type": event_type,
            "id": event_id,
            "previousEventId": event_id - 1 if previous is None else previous,
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)
        return event_id

    def start(self, data: Any) -> HistoryBuilder:
        self.data = data
        self.event("ExecutionStarted", "executionStartedEventDetails", input=json.dumps(data))
        return self

    def enter(self, state_type: str, name: str, *, previous: int | None = None) -> None:
        self.event(
            f"{state_type}StateEntered",
            "stateEnteredEventDetails",
            previous=previous,
            name=name,
            input=json.dumps(self.data),
        )

    def exit(self, state_type: str, name: str, output: Any = None) -> None:
        if output is not None:
            self.data = output
        self.event(
            f"{state_type}StateExited",
            "stateExitedEventDetails",
            name=name,
            output=json.dumps(self.data),
        )

    def _attempt(self, resource_type: str, resource_name: str, seconds: float) -> None:
        """One try of a Task: scheduled, started, then ``seconds`` of work."""
        self.event(
            "TaskScheduled",
            "taskScheduledEventDetails",
            resourceType=resource_type,
            resource=resource_name,
            region="eu-west-1",
            parameters="{}",
        )
        self.event(
            "TaskStarted",
            "taskStartedEventDetails",
            resourceType=resource_type,
            resource=resource_name,
        )
        self.tick(seconds)

    def task(
        self,
        name: str,
        resource: str,
        *,
        previous: int | None = None,
        seconds: float = 1.0,
        output: Any = None,
        failures: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        retry_wait: float = 2.0,
        caught: tuple[str, str] | None = None,
        uncaught: tuple[str, str] | None = None,
    ) -> HistoryBuilder:
        """A Task state: each of ``failures`` is retried, then it succeeds, is caught or fails."""
        resource_type, resource_name = _resource_parts(resource)
        self.enter("Task", name, previous=previous)
        for attempt_error in [
            *failures,
            *([caught] if caught else []),
            *([uncaught] if uncaught else []),
        ]:
            self._attempt(resource_type, resource_name, seconds)
            error, cause = attempt_error
            self.event(
                "TaskFailed",
                "taskFailedEventDetails",
                resourceType=resource_type,
                resource=resource_name,
                error=error,
                cause=cause,
            )
            if attempt_error is uncaught:
                return self
            if attempt_error is caught:
                error_output = {"Error": error, "Cause": cause}
                self.exit("Task", name, {**self.data, "error": error_output})
                return self
            self.tick(retry_wait)
        self._attempt(resource_type, resource_name, seconds)
        self.event(
            "TaskSucceeded",
            "taskSucceededEventDetails",
            resourceType=resource_type,
            resource=resource_name,
            output=json.dumps({"ok": True}),
        )
        self.exit("Task", name, output)
        return self

    def choice(self, name: str) -> HistoryBuilder:
        self.enter("Choice", name)
        self.exit("Choice", name)
        return self

    def passes(self, name: str, output: Any = None) -> HistoryBuilder:
        self.enter("Pass", name)
        self.exit("Pass", name, output)
        return self

    def wait(self, name: str, seconds: float) -> HistoryBuilder:
        self.enter("Wait", name)
        self.tick(seconds)
        self.exit("Wait", name)
        return self

    def succeed_state(self, name: str) -> HistoryBuilder:
        self.enter("Succeed", name)
        self.exit("Succeed", name)
        return self

    def fail_state(self, name: str, error: str, cause: str) -> HistoryBuilder:
        self.enter("Fail", name)
        self.event("ExecutionFailed", "executionFailedEventDetails", error=error, cause=cause)
        return self

    def succeed_execution(self) -> list[dict[str, Any]]:
        self.event(
            "ExecutionSucceeded", "executionSucceededEventDetails", output=json.dumps(self.data)
        )
        return self.events


SALES_INPUT = {
    "detail": {
        "bucket": {"name": "stepline-raw"},
        "object": {"key": "sales/date=2024-03-04/store=S042.csv"},
    }
}

VALIDATION = {
    "accepted": True,
    "run_date": "2024-03-04",
    "store_id": "S042",
    "source_uri": "s3://stepline-raw/sales/date=2024-03-04/store=S042.csv",
    "rows": 1200,
    "good_rows": 1187,
    "rejected_rows": 13,
    "validated_prefix": "s3://stepline-lake/validated/sales/date=2024-03-04/store=S042/",
    "rejects_uri": "s3://stepline-lake/quarantine/rejects/date=2024-03-04/store=S042.csv",
    "rejection_reason": None,
}


def _through_aggregation(builder: HistoryBuilder, *, glue_retries: int) -> None:
    builder.task(
        "Validate the sales file",
        LAMBDA_INVOKE,
        seconds=1.2,
        output={**SALES_INPUT, "validation": VALIDATION},
    )
    builder.choice("Was the file accepted?")
    builder.choice("Are there rows to load?")
    builder.task(
        "Clean the sales file",
        GLUE_SYNC,
        seconds=42,
        failures=[
            (
                "Glue.ConcurrentRunsExceededException",
                "Concurrent runs exceeded for stepline-clean-sales",
            )
        ]
        * glue_retries,
        retry_wait=30,
        output={**builder.data, "clean": {"job_run_id": "jr_0001", "state": "SUCCEEDED"}},
    )
    builder.task(
        "Read the clean-step counts",
        S3_GET,
        seconds=0.3,
        output={
            **builder.data,
            "clean_counts": {"counts": {"rows_out": 1180, "duplicates_removed": 7}},
        },
    )


def happy_path_history(*, iso_timestamps: bool = False, polls: int = 3) -> list[dict[str, Any]]:
    """The sales pipeline loading a day: one Glue retry and ``polls`` rounds of the poll loop."""
    builder = HistoryBuilder(iso_timestamps=iso_timestamps).start(SALES_INPUT)
    _through_aggregation(builder, glue_retries=1)
    builder.task("Aggregate the day's sales", EMR_SYNC, seconds=95)
    builder.task(
        "Load the day into Redshift",
        REDSHIFT_BATCH,
        seconds=0.4,
        output={**builder.data, "load": {"statement_id": "stmt-1", "polls": 0}},
    )
    for poll in range(polls):
        builder.wait("Wait for the load", 15)
        finished = poll == polls - 1
        builder.task(
            "Check the load",
            REDSHIFT_DESCRIBE,
            seconds=0.2,
            output={
                **builder.data,
                "load": {
                    "statement_id": "stmt-1",
                    "polls": poll,
                    "describe": {"status": "FINISHED" if finished else "STARTED", "detail": {}},
                },
            },
        )
        builder.choice("Is the load finished?")
        if not finished:
            builder.passes(
                "Count the poll",
                {**builder.data, "load": {"statement_id": "stmt-1", "polls": poll + 1}},
            )
    builder.task(
        "Build the daily report",
        ATHENA_SYNC,
        seconds=6,
        output={
            **builder.data,
            "report": {
                "query_execution_id": "q-1",
                "output_uri": "s3://stepline-lake/reports/daily_sales/date=2024-03-04/q-1.csv",
            },
        },
    )
    builder.task("Notify that the run succeeded", SNS_PUBLISH, seconds=0.1)
    builder.succeed_state("Day loaded")
    return builder.succeed_execution()


SPARK_CAUSE = (
    "Step failed: stepline-aggregate-sales-2024-03-04 (s-2ABC): "
    "org.apache.spark.SparkException: Job aborted due to stage failure: "
    "Task 3 in stage 2.0 failed 4 times, most recent failure: "
    "java.lang.OutOfMemoryError: Java heap space " + "at org.apache.spark.executor " * 20
)


def failing_history() -> list[dict[str, Any]]:
    """The EMR step is retried once, then fails; the Catch notifies and the run fails."""
    builder = HistoryBuilder().start(SALES_INPUT)
    _through_aggregation(builder, glue_retries=0)
    builder.task(
        "Aggregate the day's sales",
        EMR_SYNC,
        seconds=60,
        failures=[("ElasticMapReduce.InternalServerException", "Internal error, try again")],
        retry_wait=15,
        caught=("States.TaskFailed", SPARK_CAUSE),
    )
    builder.task("Notify that the run failed", SNS_PUBLISH, seconds=0.1)
    builder.fail_state(
        "Run failed",
        "States.TaskFailed",
        f"Aggregate the day's sales: {SPARK_CAUSE}",
    )
    return builder.events


def uncaught_failure_history() -> list[dict[str, Any]]:
    """A task error that no Catch handles fails the execution inside the task."""
    builder = HistoryBuilder().start(SALES_INPUT)
    builder.task(
        "Validate the sales file",
        LAMBDA_INVOKE,
        seconds=0.5,
        uncaught=("Lambda.Unknown", "The function crashed"),
    )
    builder.event(
        "ExecutionFailed",
        "executionFailedEventDetails",
        error="Lambda.Unknown",
        cause="The function crashed",
    )
    return builder.events


def nested_history() -> list[dict[str, Any]]:
    """NESTED_DEFINITION run: a Map over two stores, then two Parallel branches.

    As in AWS, each branch's first state points (previousEventId) at the
    ParallelStateStarted event, not at the other branch's last event.
    """
    builder = HistoryBuilder().start({"stores": ["S1", "S2"]})
    builder.passes("List the stores")
    builder.enter("Map", "Process every store")
    builder.event("MapStateStarted", "mapStateStartedEventDetails", length=2)
    for index in range(2):
        builder.event(
            "MapIterationStarted",
            "mapIterationStartedEventDetails",
            name="Process every store",
            index=index,
        )
        builder.task("Check the store file", LAMBDA_INVOKE, output={"found": True})
        builder.choice("Is the file there?")
        builder.succeed_state("Store done")
        builder.event(
            "MapIterationSucceeded",
            "mapIterationSucceededEventDetails",
            name="Process every store",
            index=index,
        )
    builder.event("MapStateSucceeded")
    builder.exit("Map", "Process every store", {"stores": ["S1", "S2"]})
    builder.enter("Parallel", "Publish in parallel")
    started = builder.event("ParallelStateStarted")
    builder.task("Publish to SNS", SNS_PUBLISH, previous=started)
    builder.task("Write the audit row", "arn:aws:states:::dynamodb:putItem", previous=started)
    builder.passes("Audit written")
    builder.event("ParallelStateSucceeded")
    builder.exit("Parallel", "Publish in parallel", [{}, {}])
    builder.succeed_state("Done")
    return builder.succeed_execution()
