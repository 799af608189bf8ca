"""Every machine's paths, with every Task answered by tests/mocks/sales_pipeline.mock.json.

Each scenario runs a machine's definition exactly as deployed for the dev stage and
asserts the states visited, the final status, the notification sent and the run-ledger
writes the execution scheduled (the DynamoDB UpdateItem parameters, conditions included).
One test per test case of the MockConfigFile: test_every_test_case_has_a_scenario fails
when a case is added without one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from stepline.definition import PROJECT_ROOT, DeployedStack, load_deployed_stack
from stepline.ops.ledger import RunLedger
from stepline.testing import ExecutionView

EVENT = "events/object_created_store_001.json"
MOCK_CONFIG = json.loads((PROJECT_ROOT / "tests/mocks/sales_pipeline.mock.json").read_text())
DAY = "2026-11-20"
STORE_KEY = {"pk": {"S": f"DATE#{DAY}"}, "sk": {"S": "STORE#store_001"}}
PUBLISH_KEY = {"pk": {"S": f"DATE#{DAY}"}, "sk": {"S": "PUBLISH"}}
PUBLISHER = f"{DAY}_publish_1_abcd1234"  # the publish execution's name: its lease owner
LAKE = "s3://stepline-sales-dev-lake-123456789012-us-east-1"


@functools.cache
def dev() -> DeployedStack:
    return load_deployed_stack("dev")


@functools.cache
def arrival_input() -> dict[str, Any]:
    """What the starter gives the arrival for EVENT (its name is the arrival's name)."""
    from stepline.local.session import arrival_for_event

    return arrival_for_event(dev(), json.loads((PROJECT_ROOT / EVENT).read_text()))[1]


def arrival_name() -> str:
    return str(arrival_input()["arrival"]["name"])


# ------------------------------------------------------------------ scenarios
# (machine mock name, test case) -> the test that runs it.
SCENARIOS: dict[tuple[str, str], str] = {}


def scenario(machine: str, case: str, **options: Any) -> Any:
    """Mark a test as the scenario of one test case; the ``run`` fixture runs it."""

    def register(test: Any) -> Any:
        SCENARIOS[(machine, case)] = test.__name__
        return pytest.mark.parametrize(
            "run", [(machine, case, options)], indirect=True, ids=[case]
        )(test)

    return register


def _status_change(machine: str, status: str, name: str, input: dict[str, Any]) -> dict[str, Any]:
    arn = dev().machine(machine).arn
    execution = f"{arn.replace(':stateMachine:', ':execution:')}:{name}"
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "time": "2026-11-21T03:00:00Z",
        "detail": {
            "executionArn": execution,
            "stateMachineArn": arn,
            "name": name,
            "status": status,
            "startDate": 1795740312000,
            "stopDate": 1795750000000,
            "input": json.dumps(input),
        },
    }


def _input(machine: str, options: dict[str, Any]) -> Any:
    if "input" in options:
        given = options.pop("input")
        return given() if callable(given) else given
    return {
        "SalesArrivalStarter": EVENT,
        "SalesArrival": EVENT,  # the plugin turns the S3 event into the starter's arrival input
        "SalesPublishRequest": {"run_date": DAY, "requested_by": "2026-11-20_store_001_x"},
        "SalesPublish": {"run_date": DAY},
    }[machine]


DEFAULT_EXECUTION_NAMES = {"SalesArrival": arrival_name, "SalesPublish": lambda: PUBLISHER}


@pytest.fixture
def run(stepline: Any, request: pytest.FixtureRequest) -> ExecutionView:
    """The @scenario's execution (dev definition, the case's mocked responses)."""
    machine, case, given = request.param
    options = dict(given)
    payload = _input(machine, options)
    if machine in DEFAULT_EXECUTION_NAMES:
        options.setdefault("execution_name", DEFAULT_EXECUTION_NAMES[machine]())
    return stepline.mock_run(case, payload, machine=machine, **options)


# ---------------------------------------------------------------- helpers
def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def scheduled(run: ExecutionView, state: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(state, parameters) of every Task call the execution scheduled, retries included."""
    calls: list[tuple[str, dict[str, Any]]] = []
    current = ""
    for event in run.history:
        if event["type"].endswith("StateEntered"):
            current = _details(event)["name"]
        elif event["type"] == "TaskScheduled" and state in (None, current):
            calls.append((current, json.loads(_details(event)["parameters"])))
    return calls


def _plain(value: dict[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    return None if kind == "NULL" else inner


@dataclass(frozen=True)
class LedgerWrite:
    """One DynamoDB UpdateItem the execution scheduled on the run ledger."""

    state: str
    key: dict[str, Any]
    update: str
    condition: str | None
    values: dict[str, Any]  # attribute values as plain strings (None for NULL)
    raw_values: dict[str, Any]


def ledger_writes(run: ExecutionView) -> list[LedgerWrite]:
    """The ledger UpdateItem calls, in order, one per state entry (retries not repeated)."""
    writes: list[LedgerWrite] = []
    seen: set[int] = set()
    entry = 0
    for event in run.history:
        if event["type"].endswith("StateEntered"):
            entry += 1
            current = _details(event)["name"]
        details = _details(event)
        if (
            event["type"] == "TaskScheduled"
            and (details["resourceType"], details["resource"]) == ("dynamodb", "updateItem")
            and entry not in seen
        ):
            seen.add(entry)
            parameters = json.loads(details["parameters"])
            assert parameters["TableName"] == dev().resources["RunLedgerTable"]
            values = parameters.get("ExpressionAttributeValues", {})
            writes.append(
                LedgerWrite(
                    state=current,
                    key=parameters["Key"],
                    update=parameters["UpdateExpression"],
                    condition=parameters.get("ConditionExpression"),
                    values={name: _plain(value) for name, value in values.items()},
                    raw_values=values,
                )
            )
    return writes


def only_sent(run: ExecutionView) -> dict[str, Any]:
    sent = run.sent_notifications
    assert len(sent) == 1, f"expected one notification, got {sent}"
    assert sent[0].topic_arn == dev().resources["NotificationTopic"]
    message: dict[str, Any] = sent[0].message
    assert message["stage"] == "dev"
    # Subscribers filter on these attributes: they must agree with the message.
    assert sent[0].attributes["outcome"] == message["outcome"]
    assert sent[0].attributes["classification"] == message["classification"]
    assert sent[0].attributes["stage"] == "dev"
    assert sent[0].attributes["store"] == message.get("store_id", "ALL")
    assert message["console"].endswith(message["execution"])
    return message


def entered_at(run: ExecutionView, state: str) -> dt.datetime:
    (stamp,) = [
        e["timestamp"]
        for e in run.history
        if e["type"].endswith("StateEntered") and _details(e)["name"] == state
    ]
    return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


# ============================================================== arrival
READ = "Read the arrival"
CLAIM = "Claim the store-day"
ROUTE = "Which validator fits the file?"
V = "Validate the sales file"
ACCEPTED = "Was the file accepted?"
CLEAN = "Clean the sales file"
COUNTS = "Read the clean-step counts"
RECORD_CLEANED = "Record the cleaned store-day"
DEFERRED = "Does this arrival request the publish?"
REQUEST = "Request the day's publish"
WHICH = "Which outcome is it?"
NOTIFY_ACCEPTED = "Notify that the file was accepted"
RECORD_REJECTION = "Record the rejection"
RECORD_NO_DATA = "Record that there was no data"
HELD_ROWS = "Did the store-day hold rows before?"
NOTIFY_REJECTED = "Notify that the file was rejected"
NOTIFY_NO_DATA = "Notify that there was no data"
NEWER = "A newer file owns the store-day"
RECORD_FAILURE = "Record the failure"
NOTIFY_FAILED = "Notify that the run failed"
RUN_FAILED = "Run failed"

CLEANED = [READ, CLAIM, ROUTE, V, ACCEPTED, CLEAN, COUNTS, RECORD_CLEANED]
HAPPY_PATH = [*CLEANED, DEFERRED, REQUEST, WHICH, NOTIFY_ACCEPTED, "Store-day cleaned"]
CLAIM_CONDITION = (
    "attribute_not_exists(execution_name) OR execution_name = :run OR arrival_order <= :order"
)


def assert_claimed(write: LedgerWrite) -> None:
    """The arrival claimed its store-day unless a later-arrived file owns it."""
    arrival = arrival_input()["arrival"]
    assert (write.state, write.key, write.condition) == (CLAIM, STORE_KEY, CLAIM_CONDITION)
    assert write.values[":run"] == arrival_name()
    assert write.values[":order"] == arrival["order"]
    assert write.values[":running"] == "RUNNING"
    assert write.values[":key"] == arrival["key"]
    assert write.values[":version"] is None  # the event's object has no version id
    assert "REMOVE ended_at, reason, failed_state" in write.update


def assert_owned_write(write: LedgerWrite, state: str, status: str) -> None:
    """An outcome is written only while this execution still owns the store-day."""
    assert (write.state, write.key) == (state, STORE_KEY)
    assert write.condition == "execution_name = :run"
    assert write.values[":run"] == arrival_name()
    status_value = write.values.get(":status", write.values.get(":failed"))
    assert status_value == status


def assert_accepted(message: dict[str, Any], **counts: Any) -> None:
    arrival = arrival_input()["arrival"]
    assert (message["outcome"], message["classification"]) == ("ACCEPTED", "OK")
    assert (message["run_date"], message["store_id"]) == (DAY, "store_001")
    assert message["source_uri"] == f"s3://{arrival['bucket']}/{arrival['key']}"
    for name, value in counts.items():
        assert message[name] == value, name


def assert_publish_requested(run: ExecutionView) -> None:
    ((_, parameters),) = scheduled(run, REQUEST)
    assert parameters["StateMachineArn"] == dev().machine("SalesPublishRequest").arn
    assert parameters["Input"]["run_date"] == DAY
    assert parameters["Input"]["requested_by"] == arrival_name()


@scenario("SalesArrival", "HappyPath")
def test_arrival_happy_path(run):
    """A valid file is claimed, cleaned, recorded as the store-day's data and published."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    message = only_sent(run)
    assert_accepted(
        message, rows_in=1000, rows_rejected=0, rows_deduplicated=3, rows_out=997, publish="STARTED"
    )
    assert run.sent_notifications[0].subject == (
        "Stepline sales 2026-11-20 store_001: file accepted, 997 rows cleaned"
    )
    # A person goes from the message to the Glue run that cleaned the file.
    assert message["glue_run_id"] == "jr_0123"
    assert message["glue_run"] == (
        "https://us-east-1.console.aws.amazon.com/gluestudio/home?region=us-east-1"
        "#/job/stepline-sales-dev-clean-sales/run/jr_0123"
    )
    claim, recorded = ledger_writes(run)
    assert_claimed(claim)
    assert_owned_write(recorded, RECORD_CLEANED, "SUCCEEDED")
    assert "data_run = :run" in recorded.update and recorded.update.endswith("REMOVE reason")
    assert recorded.values[":rows_out"] == "997"
    assert recorded.values[":prefix"] == (
        f"{LAKE}/clean/sales/sale_date={DAY}/store_id=store_001/run={arrival_name()}/"
    )
    assert_publish_requested(run)
    ((_, clean),) = scheduled(run, CLEAN)
    assert clean["Arguments"]["--run_id"] == arrival_name()
    assert run.output["outcome"] == "SUCCEEDED"
    assert run.output["publish"]["execution"] == PUBLISHER


@scenario("SalesArrival", "RowRejectsUnderRatio")
def test_row_rejects_under_the_ratio_continue(run):
    """Rejected rows under MaxRejectRatio do not stop the file; ledger and notice count them."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    message = only_sent(run)
    assert_accepted(message, rows_in=1000, rows_rejected=5, rows_out=997)
    assert message["rejects_uri"].endswith("/sales.rejects.csv")
    _, recorded = ledger_writes(run)
    assert recorded.values[":rows_rejected"] == "5"
    assert recorded.values[":rejects"] == message["rejects_uri"]


@scenario("SalesArrival", "ValidationThrottledThenSucceeds")
def test_validation_throttled_then_succeeds(run):
    """A throttled Lambda invoke is retried once, then the file goes on as usual."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    assert run.retries(V) == 1
    assert_accepted(only_sent(run), publish="STARTED")
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_CLEANED]


@scenario("SalesArrival", "NoData")
def test_no_data_path(run):
    """A header-only file is recorded and notified as NO_DATA, without Glue or a publish."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        READ,
        CLAIM,
        ROUTE,
        V,
        ACCEPTED,
        RECORD_NO_DATA,
        HELD_ROWS,
        WHICH,
        NOTIFY_NO_DATA,
        "Nothing to load",
    )
    message = only_sent(run)
    assert (message["outcome"], message["classification"]) == ("NO_DATA", "NO_DATA")
    assert message["publish"] == "NOT_NEEDED"
    claim, recorded = ledger_writes(run)
    assert_claimed(claim)
    assert_owned_write(recorded, RECORD_NO_DATA, "NO_DATA")
    assert recorded.update.endswith("REMOVE data_run, clean_prefix, data_rows")
    assert recorded.values[":reason"] == "the file holds a header and no rows"
    assert scheduled(run, CLEAN) == [] and scheduled(run, REQUEST) == []


@scenario("SalesArrival", "NoDataReplacesRows")
def test_an_empty_file_replacing_rows_republishes_the_day(run):
    """An empty latest file removes the store-day's rows, so the day is published again."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        READ, CLAIM, ROUTE, V, ACCEPTED, RECORD_NO_DATA, HELD_ROWS, DEFERRED, REQUEST, WHICH,
        NOTIFY_NO_DATA, "Nothing to load",
    )  # fmt: skip
    assert only_sent(run)["publish"] == "STARTED"
    _, recorded = ledger_writes(run)
    assert "REMOVE data_run" in recorded.update
    assert_publish_requested(run)


@scenario("SalesArrival", "FileRejected")
def test_file_rejected(run):
    """A rejected file is an outcome: recorded without data, notified as bad data, succeeds."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        READ, CLAIM, ROUTE, V, ACCEPTED, RECORD_REJECTION, HELD_ROWS, WHICH, NOTIFY_REJECTED,
        "File rejected",
    )  # fmt: skip
    message = only_sent(run)
    assert (message["outcome"], message["classification"]) == ("REJECTED", "BAD_DATA")
    assert message["reason"] == "missing column(s): unit_price"
    assert message["publish"] == "NOT_NEEDED"
    claim, recorded = ledger_writes(run)
    assert_claimed(claim)
    assert_owned_write(recorded, RECORD_REJECTION, "REJECTED")
    assert recorded.update.endswith("REMOVE data_run, clean_prefix, data_rows")
    assert recorded.values[":reason"] == "missing column(s): unit_price"
    assert run.output["outcome"] == "REJECTED"
    run.assert_not_visited(CLEAN, NOTIFY_FAILED)


@scenario("SalesArrival", "RejectedReplacesRows")
def test_a_rejected_file_replacing_rows_republishes_the_day(run):
    """A rejected latest file takes the store-day's earlier rows out of the day."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        READ, CLAIM, ROUTE, V, ACCEPTED, RECORD_REJECTION, HELD_ROWS, DEFERRED, REQUEST, WHICH,
        NOTIFY_REJECTED, "File rejected",
    )  # fmt: skip
    message = only_sent(run)
    assert (message["outcome"], message["publish"]) == ("REJECTED", "STARTED")
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_REJECTION]
    assert_publish_requested(run)


@scenario("SalesArrival", "SupersededAtClaim")
def test_a_file_older_than_the_store_days_owner_does_nothing(run):
    """When a later-arrived file owns the store-day, the arrival stops at its claim, silently."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ, CLAIM, NEWER)
    assert run.output["outcome"] == "SUPERSEDED"
    assert run.notifications == []
    (claim,) = ledger_writes(run)
    assert_claimed(claim)


@scenario("SalesArrival", "SupersededAfterCleaning")
def test_a_file_superseded_while_cleaning_is_never_published(run):
    """A newer claim made during cleaning wins: no data recorded, no publish, no notification."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*CLEANED, NEWER)
    assert run.output["outcome"] == "SUPERSEDED"
    assert run.notifications == []
    assert scheduled(run, REQUEST) == []
    _, recorded = ledger_writes(run)
    assert_owned_write(recorded, RECORD_CLEANED, "SUCCEEDED")  # attempted, refused


@scenario("SalesArrival", "GlueThrottledThenSucceeds")
def test_glue_throttled_then_succeeds(run):
    """A Glue ConcurrentRunsExceeded is retried with backoff and the file then goes on."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    assert run.retries(CLEAN) == 1
    assert_accepted(only_sent(run), rows_out=997)


def assert_arrival_failed_at(run: ExecutionView, state: str, error: str) -> dict[str, Any]:
    run.assert_status("FAILED", error=error)
    assert run.visited[-3:] == [RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED]
    message = only_sent(run)
    assert (message["outcome"], message["classification"]) == ("FAILED", "INFRASTRUCTURE")
    assert (message["failed_state"], message["error"]) == (state, error)
    assert state in run.cause
    failure = ledger_writes(run)[-1]
    assert_owned_write(failure, RECORD_FAILURE, "FAILED")
    assert failure.values[":state"] == state
    assert failure.values[":reason"].startswith(f"{error}: ")
    return message


@scenario("SalesArrival", "GlueFailsForGood")
def test_glue_fails_for_good(run):
    """A failed Glue job is not retried (it would fail again); recorded and notified with cause."""
    run.assert_path(
        READ, CLAIM, ROUTE, V, ACCEPTED, CLEAN, RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED
    )
    assert run.retries(CLEAN) == 0
    message = assert_arrival_failed_at(run, CLEAN, "States.TaskFailed")
    assert "ContractBreachError" in message["cause"]
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_FAILURE]


# The stack's thresholds (template defaults): above them a file goes to the Glue job.
LAMBDA_MAX_BYTES = 8_000_000_000
LAMBDA_MAX_GZIP_BYTES = 800_000_000
GLUE_V = "Validate the sales file on Glue"
GLUE_RESULT = "Read the Glue validation result"
ON_GLUE = [READ, CLAIM, ROUTE, GLUE_V, GLUE_RESULT, ACCEPTED, CLEAN, COUNTS, RECORD_CLEANED]


def _sized_event(size: int, *, gzip: bool = False) -> dict[str, Any]:
    """EVENT with another stored size (and a .csv.gz key when ``gzip``)."""
    event = json.loads((PROJECT_ROOT / EVENT).read_text())
    event["detail"]["object"]["size"] = size
    if gzip:
        event["detail"]["object"]["key"] = event["detail"]["object"]["key"] + ".gz"
    return event


def _big_file_input() -> dict[str, Any]:
    from stepline.local.session import arrival_for_event

    return arrival_for_event(dev(), _sized_event(LAMBDA_MAX_BYTES + 1))[1]


def test_the_thresholds_are_the_template_defaults() -> None:
    """The sizes these scenarios route by are the ones the dev stack substitutes."""
    substitutions = dev().machine("SalesArrival").substitutions
    assert substitutions["LambdaValidationMaxBytes"] == str(LAMBDA_MAX_BYTES)
    assert substitutions["LambdaValidationMaxGzipBytes"] == str(LAMBDA_MAX_GZIP_BYTES)


@scenario("SalesArrival", "BigFileOnGlue", input=_big_file_input)
def test_a_file_too_big_for_the_lambda_is_validated_on_glue(run):
    """Above the Lambda's limit the Glue job validates; its result document drives the rest."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*ON_GLUE, DEFERRED, REQUEST, WHICH, NOTIFY_ACCEPTED, "Store-day cleaned")
    assert_accepted(only_sent(run), rows_in=1000, rows_out=997, publish="STARTED")
    ((_, job),) = scheduled(run, GLUE_V)
    assert job["JobName"] == dev().resources["ValidateSalesFileJob"]
    name = arrival_name()
    result_key = f"validated/_results/run={name}.json"
    assert job["Arguments"]["--run_id"] == name
    assert job["Arguments"]["--result_uri"] == f"{LAKE}/{result_key}"
    # The job gets the S3 event itself, as the Lambda does.
    sent = json.loads(job["Arguments"]["--sales_event"])
    assert sent["detail"]["object"]["size"] == LAMBDA_MAX_BYTES + 1
    ((_, read),) = scheduled(run, GLUE_RESULT)
    assert (read["Bucket"], read["Key"]) == (LAKE.removeprefix("s3://"), result_key)
    # The clean job reads the prefix the result document names, as after the Lambda.
    ((_, clean),) = scheduled(run, CLEAN)
    expected = MOCK_CONFIG["MockedResponses"]["ValidateAccepted"]["0"]["Return"]["Payload"]
    assert clean["Arguments"]["--validated_prefix"] == expected["validated_prefix"]


@scenario("SalesArrival", "BigFileFailsOnGlue", input=_big_file_input)
def test_a_failed_glue_validation_is_recorded_and_notified(run):
    """A failed validation job run is not retried (it would fail again), recorded FAILED."""
    run.assert_path(READ, CLAIM, ROUTE, GLUE_V, RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED)
    assert run.retries(GLUE_V) == 0
    message = assert_arrival_failed_at(run, GLUE_V, "States.TaskFailed")
    assert "SourceObjectError" in message["cause"]


@pytest.mark.parametrize(
    ("size", "gzip", "route"),
    [
        (3738, False, V),
        (LAMBDA_MAX_BYTES, False, V),  # exactly the limit: still the Lambda
        (LAMBDA_MAX_BYTES + 1, False, GLUE_V),
        (LAMBDA_MAX_GZIP_BYTES + 1, False, V),  # a plain file is not held to the gzip limit
        (LAMBDA_MAX_GZIP_BYTES, True, V),  # exactly the gzip limit: still the Lambda
        (LAMBDA_MAX_GZIP_BYTES + 1, True, GLUE_V),
        (LAMBDA_MAX_BYTES + 1, True, GLUE_V),
    ],
    ids=[
        "small",
        "plain-at-limit",
        "plain-over-limit",
        "plain-at-gzip-limit",
        "gzip-at-limit",
        "gzip-over-limit",
        "gzip-huge",
    ],
)
def test_the_stored_size_and_compression_choose_the_validator(
    stepline: Any, size: int, gzip: bool, route: str
) -> None:
    """Up to its limit (inclusive) the Lambda validates; above, the Glue job; .csv.gz by its own."""
    from stepline.local.session import arrival_for_event

    payload = arrival_for_event(dev(), _sized_event(size, gzip=gzip))[1]
    run = stepline.mock_run("BigFileOnGlue", payload, machine="SalesArrival")
    run.assert_status("SUCCEEDED")
    other = GLUE_V if route == V else V
    assert route in run.visited and other not in run.visited
    assert (GLUE_RESULT in run.visited) == (route == GLUE_V)
    assert run.visited[run.visited.index(route) - 1] == ROUTE


@scenario("SalesArrival", "PublishRequestFails")
def test_publish_request_fails(run):
    """A publish request that failed fails the arrival (the day would stay stale) and says so."""
    run.assert_path(*CLEANED, DEFERRED, REQUEST, RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED)
    message = assert_arrival_failed_at(run, REQUEST, "States.TaskFailed")
    assert "DynamoDB.InternalServerErrorException" in message["cause"]
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_CLEANED, RECORD_FAILURE]


@scenario("SalesArrival", "LedgerDownAtClaim")
def test_the_ledger_down_at_the_claim_is_still_notified(run):
    """DynamoDB errors are retried six times; when the ledger stays down the failure is notified."""
    run.assert_status("FAILED", error="DynamoDB.InternalServerErrorException")
    run.assert_path(READ, CLAIM, RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED)
    assert run.retries(CLAIM) == 6
    assert run.retries(RECORD_FAILURE) == 6
    message = only_sent(run)
    assert (message["outcome"], message["failed_state"]) == ("FAILED", CLAIM)
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_FAILURE]


@scenario("SalesArrival", "FailureNotificationFails")
def test_failure_notification_itself_fails(run):
    """When SNS stays down the run still fails with the original error, after bounded retries."""
    run.assert_status("FAILED", error="States.TaskFailed")
    run.assert_path(
        READ, CLAIM, ROUTE, V, ACCEPTED, CLEAN, RECORD_FAILURE, NOTIFY_FAILED, RUN_FAILED
    )
    assert run.sent_notifications == []
    attempted = run.notifications
    assert [n.message["outcome"] for n in attempted] == ["FAILED"]
    assert not attempted[0].sent
    assert run.retries(NOTIFY_FAILED) == 5  # SNS.InternalErrorException is transient
    assert [w.state for w in ledger_writes(run)] == [CLAIM, RECORD_FAILURE]


# ============================================================== publish
READ_PUBLISH = "Read the publish request"
TAKE = "Take the date for this pass"
LIST = "List the day's store-days"
MANIFEST = "Write the publish manifest"
AGGREGATE = "Aggregate the day's sales"
SUMMARY = "Read the day's summary"
LOAD = "Load the day into Redshift"
WAIT = "Wait for the load"
CHECK = "Check the load"
FINISHED = "Is the load finished?"
COUNT_POLL = "Count the poll"
WAIT_AGAIN = "Wait before loading again"
CANCEL = "Cancel the load"
RECHECK = "Check the load after the cancel"
FINISHED_AFTER_ALL = "Did the load finish before the cancel?"
REPORT = "Build the daily report"
KEEP_REPORT = "Keep the day's latest report"
RECORD = "Record the publish"
PRUNE = "Remove the superseded generations"
RELEASE = "Release the date unless more arrived"
MANY = "Were there many passes?"
HAND = "Hand the date over"
START_NEXT = "Start the next publish"
NOTIFY_PUBLISHED = "Notify that the day was published"
RELEASE_FAILED = "Release the date after the failure"
NOTIFY_PUBLISH_FAILED = "Notify that the publish failed"
PUBLISH_FAILED = "Publish failed"

LOADED = [TAKE, LIST, MANIFEST, AGGREGATE, SUMMARY, LOAD, WAIT, CHECK, FINISHED]
PASS = [*LOADED, REPORT, KEEP_REPORT, RECORD, PRUNE, RELEASE]
PUBLISHED = [READ_PUBLISH, *PASS, NOTIFY_PUBLISHED, "Day published"]


def assert_pass_taken(write: LedgerWrite) -> None:
    """A pass covers every request counted so far, only while this execution holds the lease."""
    assert (write.state, write.key, write.condition) == (TAKE, PUBLISH_KEY, "lease_owner = :me")
    assert write.update.startswith("SET covered = requested, ")
    assert write.values[":me"] == PUBLISHER


def assert_released(write: LedgerWrite, covered: int) -> None:
    """The date is released only if no request came in since the pass read the count."""
    assert (write.state, write.key) == (RELEASE, PUBLISH_KEY)
    assert write.condition == "lease_owner = :me AND requested = :covered"
    assert write.update == "SET publish_status = :idle REMOVE lease_owner, lease_expires"
    assert (write.values[":me"], write.values[":covered"]) == (PUBLISHER, str(covered))


def assert_published_day(message: dict[str, Any], passes: int) -> None:
    assert (message["outcome"], message["classification"]) == ("DAY_PUBLISHED", "OK")
    assert message["run_date"] == DAY
    assert message["stores_included"] == ["store_001"]
    assert message["totals"] == {"revenue": "1234.50", "units": 40, "orders": 12, "returns": 1}
    assert message["rejected"] == ["store_002"]
    # dev expects the demo's four stores; the mocked ledger holds store_001 and store_002.
    assert message["expected_stores"] == ["store_001", "store_002", "store_003", "store_004"]
    assert message["missing"] == ["store_003", "store_004"]
    assert (message["failed"], message["running"]) == ([], [])
    assert message["passes"] == passes
    # The day's latest report at its one key; the Athena run's own file beside it.
    assert message["report_uri"] == f"{LAKE}/reports/latest/daily_sales/date={DAY}.csv"
    assert message["report_run_uri"] == f"{LAKE}/reports/daily_sales/date={DAY}/q-0123.csv"
    generation = f"{LAKE}/curated/daily_sales/sale_date={DAY}/publish={PUBLISHER}-c{passes}/"
    assert message["curated_uri"] == generation
    # ... and to the Athena query and EMR step of the pass that published.
    console = "https://us-east-1.console.aws.amazon.com"
    assert (message["athena_query_id"], message["emr_step_id"]) == ("q-0123", "s-0123")
    assert message["athena_query"] == (
        f"{console}/athena/home?region=us-east-1#/query-editor/history/q-0123"
    )
    assert message["emr_cluster"].startswith(
        f"{console}/emr/home?region=us-east-1#/clusterDetails/"
    )


def assert_failure_released(run: ExecutionView, state: str, error: str) -> dict[str, Any]:
    run.assert_status("FAILED", error=error)
    assert run.visited[-3:] == [RELEASE_FAILED, NOTIFY_PUBLISH_FAILED, PUBLISH_FAILED]
    message = only_sent(run)
    assert (message["outcome"], message["classification"]) == ("PUBLISH_FAILED", "INFRASTRUCTURE")
    assert (message["run_date"], message["failed_state"], message["error"]) == (DAY, state, error)
    take, released = ledger_writes(run)
    assert_pass_taken(take)
    # Its own lease, or the one it handed to a successor that never started.
    assert (released.state, released.condition) == (
        RELEASE_FAILED,
        "lease_owner = :me OR lease_owner = :successor",
    )
    assert released.raw_values[":successor"] == released.raw_values[":me"]  # no hand-over here
    assert released.update == (
        "SET publish_status = :failed, last_failure = :failure REMOVE lease_owner, lease_expires"
    )
    failure = released.raw_values[":failure"]["M"]
    assert (failure["state"]["S"], failure["error"]["S"]) == (state, error)
    return message


@scenario("SalesPublish", "HappyPath")
def test_publish_happy_path(run):
    """One pass lists the store-days, aggregates the included ones, loads, reports, releases."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*PUBLISHED)
    assert_published_day(only_sent(run), passes=1)
    take, recorded, released = ledger_writes(run)
    assert_pass_taken(take)
    assert (recorded.state, recorded.condition) == (RECORD, "lease_owner = :me")
    assert recorded.values[":covered"] == "1"
    assert recorded.values[":publish"] == f"{PUBLISHER}-c1"
    assert_released(released, covered=1)
    ((_, manifest),) = scheduled(run, MANIFEST)
    assert manifest["Key"] == f"curated/_manifests/date={DAY}/{PUBLISHER}-c1.json"
    assert json.loads(manifest["Body"])["store_days"] == [
        {
            "store_id": "store_001",
            "run": "2026-11-20_store_001_000000000000",
            "clean_uri": f"{LAKE}/clean/sales/sale_date={DAY}/store_id=store_001/"
            "run=2026-11-20_store_001_000000000000/",
        }
    ]  # the rejected store_002 holds no data and is not aggregated
    ((_, query),) = scheduled(run, LIST)
    assert query["ConsistentRead"] is True
    assert run.output == {
        "outcome": "PUBLISHED",
        "run_date": DAY,
        "publish": f"{PUBLISHER}-c1",
        "passes": 1,
        "totals": {"revenue": "1234.50", "units": 40, "orders": 12, "returns": 1},
        "stores_included": ["store_001"],
        "report_uri": f"{LAKE}/reports/latest/daily_sales/date={DAY}.csv",
    }
    # The latest report is a copy of this pass's Athena result, at the date's one key.
    ((_, copy),) = scheduled(run, KEEP_REPORT)
    assert copy["Key"] == f"reports/latest/daily_sales/date={DAY}.csv"
    assert copy["CopySource"] == f"{LAKE[5:]}/reports/daily_sales/date={DAY}/q-0123.csv"
    # The ledger points readers at the pass's curated generation and the latest report.
    assert recorded.values[":curated"] == (
        f"{LAKE}/curated/daily_sales/sale_date={DAY}/publish={PUBLISHER}-c1/"
    )
    assert recorded.values[":report"] == f"{LAKE}/reports/latest/daily_sales/date={DAY}.csv"
    # Then the superseded generations go: the pass just recorded and the one before it
    # (from the record's ALL_OLD; none in this mock) are named to the prune.
    ((_, record),) = scheduled(run, RECORD)
    assert record["ReturnValues"] == "ALL_OLD"
    ((_, prune),) = scheduled(run, PRUNE)
    assert (prune["Payload"]["run_date"], prune["Payload"]["publish"]) == (DAY, f"{PUBLISHER}-c1")
    assert prune["Payload"].get("previous_publish") is None
    assert only_sent(run)["expiry"]["status"] == "PRUNED"


@scenario("SalesPublish", "PruneFailsAfterTheDayIsRecorded")
def test_a_failed_prune_is_a_warning_of_a_published_day(run):
    """The day is recorded before the prune: its failure is notified, the publish succeeds."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*PUBLISHED)
    assert run.retries(PRUNE) == 0  # ClientError is not a Lambda service error
    message = only_sent(run)
    assert_published_day(message, passes=1)
    assert message["expiry"]["status"] == "FAILED"
    assert message["expiry"]["error"] == "ClientError"
    assert "DeleteObjects" in message["expiry"]["cause"]
    _, _, released = ledger_writes(run)
    assert_released(released, covered=1)


@scenario("SalesPublish", "RedshiftRunsThenFinished")
def test_redshift_still_running_then_finished(run):
    """The bounded poll loop waits through two STARTED answers, then reports on FINISHED."""
    run.assert_status("SUCCEEDED")
    loop = [WAIT, CHECK, FINISHED, COUNT_POLL]
    run.assert_path(
        READ_PUBLISH, *LOADED[:-3], *loop * 2, WAIT, CHECK, FINISHED, *PASS[-5:],
        NOTIFY_PUBLISHED, "Day published",
    )  # fmt: skip
    assert [p["Id"] for _, p in scheduled(run, CHECK)] == ["stmt-0001"] * 3
    assert_published_day(only_sent(run), passes=1)
    assert [w.state for w in ledger_writes(run)] == [TAKE, RECORD, RELEASE]


@scenario("SalesPublish", "RedshiftSerializationConflictIsRetried")
def test_a_serialization_conflict_loads_the_day_again(run):
    """A serializable-isolation conflict is waited out and the same batch is sent again."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        READ_PUBLISH, *LOADED, WAIT_AGAIN, LOAD, WAIT, CHECK, FINISHED, *PASS[-5:],
        NOTIFY_PUBLISHED, "Day published",
    )  # fmt: skip
    first, second = (p for _, p in scheduled(run, LOAD))
    assert first == second
    assert_published_day(only_sent(run), passes=1)


@scenario("SalesPublish", "RedshiftStatementFailed")
def test_redshift_statement_failed(run):
    """A load that ends FAILED releases the date and is notified with Redshift's error text."""
    run.assert_path(READ_PUBLISH, *LOADED, RELEASE_FAILED, NOTIFY_PUBLISH_FAILED, PUBLISH_FAILED)
    message = assert_failure_released(run, CHECK, "Stepline.RedshiftStatementFAILED")
    assert 'relation "sales.daily_sales" does not exist' in message["cause"]


@scenario("SalesPublish", "RedshiftCannotAssumeTheCopyRole")
def test_redshifts_error_naming_the_copy_role_is_notified_without_it(run):
    """Redshift's text for a role it cannot assume holds the role ARN: notified without it."""
    run.assert_path(READ_PUBLISH, *LOADED, RELEASE_FAILED, NOTIFY_PUBLISH_FAILED, PUBLISH_FAILED)
    message = assert_failure_released(run, CHECK, "Stepline.RedshiftStatementFAILED")
    assert message["cause"].endswith(
        "is not authorized to assume IAM Role <the COPY role>, error while loading from "
        "'<the COPY role>'"
    )
    assert_no_sql_or_role([json.dumps(message), run.cause or "", json.dumps(run.output)])


@scenario("SalesPublish", "RedshiftLoadTimesOut")
def test_a_load_that_never_finishes_is_cancelled_after_sixty_polls(run):
    """After 60 polls the statement is cancelled, the date released and the timeout notified."""
    assert run.visited.count(CHECK) == 61
    assert run.visited[-6:] == [
        CANCEL, RECHECK, FINISHED_AFTER_ALL, RELEASE_FAILED, NOTIFY_PUBLISH_FAILED, PUBLISH_FAILED,
    ]  # fmt: skip
    ((_, cancel),) = scheduled(run, CANCEL)
    assert cancel == {"Id": "stmt-0001"}
    # One more read after the cancel: ABORTED, so the day is the timeout it was.
    assert [p for _, p in scheduled(run, RECHECK)] == [{"Id": "stmt-0001"}]
    message = assert_failure_released(run, CHECK, "Stepline.RedshiftLoadTimeout")
    assert "still running after 60 polls; it was cancelled" in message["cause"]
    run.assert_not_visited(REPORT, KEEP_REPORT, RECORD)


@scenario("SalesPublish", "RedshiftLoadFinishesBeforeTheCancel")
def test_a_load_that_finishes_between_the_last_poll_and_the_cancel_is_published(run):
    """The cancel of a statement that just committed is refused; the re-read finds it FINISHED."""
    run.assert_status("SUCCEEDED")
    polls = [WAIT, CHECK, FINISHED, COUNT_POLL] * 60
    run.assert_path(
        READ_PUBLISH, *LOADED[:-3], *polls, WAIT, CHECK, FINISHED, CANCEL, RECHECK,
        FINISHED_AFTER_ALL, *PASS[-5:], NOTIFY_PUBLISHED, "Day published",
    )  # fmt: skip
    assert run.retries(CANCEL) == 0  # ValidationException is an answer, not a fault
    assert_published_day(only_sent(run), passes=1)
    assert [w.state for w in ledger_writes(run)] == [TAKE, RECORD, RELEASE]


@scenario("SalesPublish", "EmrStepFails")
def test_emr_step_fails(run):
    """A failed EMR step releases the date and is notified naming the aggregation state."""
    run.assert_path(
        READ_PUBLISH, TAKE, LIST, MANIFEST, AGGREGATE, RELEASE_FAILED, NOTIFY_PUBLISH_FAILED,
        PUBLISH_FAILED,
    )  # fmt: skip
    message = assert_failure_released(run, AGGREGATE, "States.TaskFailed")
    assert "Spark error" in message["cause"]


@scenario("SalesPublish", "AthenaFails")
def test_athena_fails(run):
    """A failed Athena report query releases the date and is notified as the report's failure."""
    run.assert_path(
        READ_PUBLISH, *LOADED, REPORT, RELEASE_FAILED, NOTIFY_PUBLISH_FAILED, PUBLISH_FAILED
    )
    message = assert_failure_released(run, REPORT, "States.TaskFailed")
    assert "TABLE_NOT_FOUND" in message["cause"]


@scenario("SalesPublish", "MoreArrivedDuringThePass")
def test_a_request_during_the_pass_causes_another_pass(run):
    """When the release finds more requests than the pass covered, a second pass runs."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_PUBLISH, *PASS, MANY, *PASS, NOTIFY_PUBLISHED, "Day published")
    assert_published_day(only_sent(run), passes=2)
    writes = ledger_writes(run)
    assert [w.state for w in writes] == [TAKE, RECORD, RELEASE] * 2
    assert_released(writes[2], covered=1)  # refused: a request came in
    assert_released(writes[5], covered=2)
    assert writes[4].values[":publish"] == f"{PUBLISHER}-c2"
    # Each pass prunes with the pass it recorded and the one the ledger held before.
    assert [
        (p["Payload"]["publish"], p["Payload"]["previous_publish"])
        for _, p in scheduled(run, PRUNE)
    ] == [
        (f"{PUBLISHER}-c1", f"{DAY}_publish_0_9999aaaa-c0"),
        (f"{PUBLISHER}-c2", f"{PUBLISHER}-c1"),
    ]


@scenario("SalesPublish", "LeaseLostBeforeStart")
def test_a_publish_without_the_lease_does_nothing(run):
    """A publish whose lease was taken over stops before touching anything, silently."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_PUBLISH, TAKE, "Another publish owns the date")
    assert run.output == {"outcome": "SUPERSEDED", "run_date": DAY}
    assert run.notifications == []
    (take,) = ledger_writes(run)
    assert_pass_taken(take)


@scenario("SalesPublish", "HandsOverAfterTwentyPasses")
def test_twenty_passes_hand_the_date_to_a_fresh_execution_with_a_fresh_lease(run):
    """After 20 passes the lease goes to a new execution, renewed for it, which is started."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_PUBLISH, *[*PASS, MANY] * 20, HAND, START_NEXT)
    assert run.notifications == []
    writes = ledger_writes(run)
    assert [w.state for w in writes] == [TAKE, RECORD, RELEASE] * 20 + [HAND]
    hand = writes[-1]
    assert (hand.condition, hand.values[":me"]) == ("lease_owner = :me", PUBLISHER)
    assert hand.update == "SET lease_owner = :next, lease_expires = :expires"
    assert hand.values[":next"].startswith(f"{DAY}_publish_20_")
    lease = int(dev().machine("SalesPublish").substitutions["PublishLeaseSeconds"])
    assert int(hand.values[":expires"]) == int(entered_at(run, HAND).timestamp()) + lease
    ((_, start),) = scheduled(run, START_NEXT)
    successor = f"{DAY}_publish_20_cccc2222"  # the lease owner the hand-over returned
    assert start == {
        "StateMachineArn": dev().machine("SalesPublish").arn,
        "Name": successor,
        "Input": {"run_date": DAY},
    }
    assert run.output == {"outcome": "HANDED_OVER", "run_date": DAY, "successor": successor}


FULLY_MOCKED_PUBLISH_CASES = sorted(
    case
    for case, states in MOCK_CONFIG["StateMachines"]["SalesPublish"]["TestCases"].items()
    if TAKE in states  # the others leave the ledger to a local session
)


def assert_no_sql_or_role(texts: list[str]) -> None:
    role = dev().machine("SalesPublish").substitutions["RedshiftCopyRoleArn"]
    for text in texts:
        for secret in (role, "IAM_ROLE", "COPY daily_sales_stage", "DELETE FROM", "INSERT INTO"):
            assert secret not in text, f"{secret!r} leaked into {text[:200]!r}"


@pytest.mark.parametrize("case", FULLY_MOCKED_PUBLISH_CASES)
def test_no_publish_notification_carries_sql_or_the_copy_role(stepline, case):
    """The described statement holds the SQL and COPY role; no notice or failure cause does."""
    run = stepline.mock_run(case, {"run_date": DAY}, machine="SalesPublish")
    texts = [json.dumps([n.subject, n.message]) for n in run.notifications]
    assert_no_sql_or_role([*texts, run.cause or "", json.dumps(run.output)])
    # The check is live: the mocked descriptions the run read do hold both.
    described = [
        _details(e)["output"]
        for e in run.history
        if e["type"] == "TaskSucceeded" and _details(e).get("resource") == "describeStatement"
    ]
    assert all("IAM_ROLE" in d and "stepline-dev-redshift-copy" in d for d in described)


# ======================================================== publish request
READ_REQUEST = "Read the request"
COUNT = "Count the request"
RUNNING = "Is a publish running?"
TAKE_DATE = "Take the date"
START_PUBLISH = "Start the publish"
RELEASE_UNUSED = "Release the date it could not use"
QUEUED = "Queued behind the running publish"


def assert_counted(write: LedgerWrite) -> None:
    """Every request is counted first, unconditionally, on the date's publish record."""
    assert (write.state, write.key, write.condition) == (COUNT, PUBLISH_KEY, None)
    assert write.update.endswith("ADD requested :one")
    assert (write.values[":one"], write.values[":by"]) == ("1", "2026-11-20_store_001_x")


def assert_lease_taken(write: LedgerWrite) -> str:
    """The lease is taken only if free or expired, for PublishLeaseSeconds from now."""
    assert (write.state, write.key) == (TAKE_DATE, PUBLISH_KEY)
    # "<=": the same second the request's Choice counts as expired (else nothing starts).
    assert write.condition == "attribute_not_exists(lease_owner) OR lease_expires <= :now"
    lease = int(dev().machine("SalesPublishRequest").substitutions["PublishLeaseSeconds"])
    assert int(write.values[":expires"]) == int(write.values[":now"]) + lease
    assert write.values[":name"].startswith(f"{DAY}_publish_3_")
    return str(write.values[":name"])


@scenario("SalesPublishRequest", "StartsThePublish")
def test_a_request_for_a_free_date_starts_its_publish(run):
    """Counted, the lease taken, the publish started under the lease owner's name."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_REQUEST, COUNT, RUNNING, TAKE_DATE, START_PUBLISH, "Publish started")
    counted, taken = ledger_writes(run)
    assert_counted(counted)
    assert_lease_taken(taken)
    ((_, start),) = scheduled(run, START_PUBLISH)
    assert start == {
        "StateMachineArn": dev().machine("SalesPublish").arn,
        "Name": f"{DAY}_publish_3_bbbb1111",
        "Input": {"run_date": DAY},
    }
    assert run.output["publish"] == "STARTED" and run.output["requested"] == 3
    assert run.notifications == []


@scenario("SalesPublishRequest", "QueuedBehindARunningPublish")
def test_a_request_while_a_publish_runs_is_only_counted(run):
    """A live lease means the running publish will see the count: nothing else is done."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_REQUEST, COUNT, RUNNING, QUEUED)
    (counted,) = ledger_writes(run)
    assert_counted(counted)
    assert run.output == {
        "publish": "QUEUED",
        "run_date": DAY,
        "requested": 3,
        "running": f"{DAY}_publish_2_aaaa0000",
    }


@scenario("SalesPublishRequest", "TakesOverAnExpiredLease")
def test_an_expired_lease_is_taken_over(run):
    """A lease whose time is up belonged to a dead publish: the request takes the date."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_REQUEST, COUNT, RUNNING, TAKE_DATE, START_PUBLISH, "Publish started")
    _, taken = ledger_writes(run)
    assert_lease_taken(taken)
    assert run.output["publish"] == "STARTED"


@scenario("SalesPublishRequest", "LosesTheRaceForTheLease")
def test_a_request_that_loses_the_lease_race_is_queued(run):
    """When another request took the date a moment before, this one is queued, not failed."""
    run.assert_status("SUCCEEDED")
    run.assert_path(READ_REQUEST, COUNT, RUNNING, TAKE_DATE, QUEUED)
    assert [w.state for w in ledger_writes(run)] == [COUNT, TAKE_DATE]
    assert run.output["publish"] == "QUEUED"
    assert scheduled(run, START_PUBLISH) == []


@scenario("SalesPublishRequest", "PublishCannotStart")
def test_a_publish_that_cannot_start_gives_the_date_back(run):
    """After bounded retries the lease it took for nothing is released, then the request fails."""
    run.assert_status("FAILED", error="StepFunctions.ExecutionLimitExceededException")
    run.assert_path(
        READ_REQUEST, COUNT, RUNNING, TAKE_DATE, START_PUBLISH, RELEASE_UNUSED,
        "The request failed",
    )  # fmt: skip
    assert run.retries(START_PUBLISH) == 5
    _, taken, released = ledger_writes(run)
    assert_lease_taken(taken)
    assert (released.state, released.condition) == (RELEASE_UNUSED, "lease_owner = :name")
    assert released.update == "REMOVE lease_owner, lease_expires"
    assert released.values[":name"] == f"{DAY}_publish_3_bbbb1111"
    assert f"The publish of {DAY} could not be requested" in run.cause


# ========================================================= arrival starter
FOLDER_MARKER = "Is it a folder marker?"
NAME_ARRIVAL = "Name the arrival"
START_ARRIVAL = "Start the arrival"
COUNT_DUPLICATE = "Count the duplicate delivery"


def assert_arrival_started_as_named(run: ExecutionView) -> None:
    ((_, start),) = scheduled(run, START_ARRIVAL)
    assert start["StateMachineArn"] == dev().machine("SalesArrival").arn
    assert start["Name"] == arrival_name()
    assert start["Input"]["arrival"] == arrival_input()["arrival"]
    # The event keeps the key URL-encoded, as S3 sent it; the arrival carries it decoded.
    encoded = start["Input"]["event"]["detail"]["object"]["key"]
    assert "%3D" in encoded and unquote_plus(encoded) == arrival_input()["arrival"]["key"]


@scenario("SalesArrivalStarter", "StartsTheArrival")
def test_the_starter_names_and_starts_one_arrival(run):
    """The arrival is started under the name derived from the object (date, store, hash)."""
    run.assert_status("SUCCEEDED")
    run.assert_path(FOLDER_MARKER, NAME_ARRIVAL, START_ARRIVAL)
    assert_arrival_started_as_named(run)
    assert arrival_name().startswith(f"{DAY}_store_001_")
    assert run.output["outcome"] == "STARTED"
    assert ledger_writes(run) == [] and run.notifications == []


@scenario("SalesArrivalStarter", "DuplicateDelivery")
def test_a_duplicate_delivery_is_counted_not_failed(run):
    """ExecutionAlreadyExists means the object version already has its arrival: count it."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        FOLDER_MARKER, NAME_ARRIVAL, START_ARRIVAL, COUNT_DUPLICATE, "Duplicate delivery"
    )
    assert run.retries(START_ARRIVAL) == 0
    ((_, metric),) = scheduled(run, COUNT_DUPLICATE)
    assert metric["Namespace"] == "Stepline"
    assert metric["MetricData"][0]["MetricName"] == "DuplicateDeliveries"
    assert metric["MetricData"][0]["Dimensions"] == [{"Name": "stage", "Value": "dev"}]
    assert run.output == {"outcome": "DUPLICATE", "execution": arrival_name()}


@scenario("SalesArrivalStarter", "DuplicateDeliveryCountLost")
def test_a_lost_duplicate_count_does_not_fail_the_delivery(run):
    """A throttled PutMetricData is retried, then given up: still a harmless duplicate."""
    run.assert_status("SUCCEEDED")
    run.assert_path(
        FOLDER_MARKER, NAME_ARRIVAL, START_ARRIVAL, COUNT_DUPLICATE, "Duplicate delivery"
    )
    assert run.retries(COUNT_DUPLICATE) == 3
    assert run.output == {
        "outcome": "DUPLICATE",
        "execution": arrival_name(),
        "metric_error": "CloudWatch.ThrottlingException",
    }


# ================================================================ recovery
WHICH_RUN = "Which run ended?"
RECORD_DIED = "Record the arrival that died"
NOTIFY_DIED = "Notify that an arrival died"
RELEASE_HELD = "Release the date the publish held"
DIED_OR_FAILED = "Did the publish die, or fail?"
REQUEST_AGAIN = "Request the day's publish again"
NOTHING = "Nothing to recover"
DEAD_PUBLISH = f"{DAY}_publish_2_aaaa0000"


def dead_arrival(status: str = "ABORTED") -> dict[str, Any]:
    return _status_change("SalesArrival", status, arrival_name(), arrival_input())


def dead_publish(status: str) -> dict[str, Any]:
    return _status_change("SalesPublish", status, DEAD_PUBLISH, {"run_date": DAY})


def assert_dead_arrival_recorded(write: LedgerWrite) -> None:
    """Only a store-day the dead arrival still owns and left RUNNING is marked FAILED."""
    assert (write.state, write.key) == (RECORD_DIED, STORE_KEY)
    assert write.condition == "execution_name = :dead AND #status = :running"
    assert (write.values[":dead"], write.values[":failed"]) == (arrival_name(), "FAILED")
    assert write.values[":state"] == "execution ABORTED"
    stopped = dt.datetime.fromtimestamp(dead_arrival()["detail"]["stopDate"] / 1000, dt.UTC)
    assert write.values[":at"] == stopped.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # not "now"


@scenario("SalesRecovery", "ArrivalAborted", input=lambda: dead_arrival())
def test_an_aborted_arrival_is_recorded_failed_and_notified(run):
    """The store-day it left RUNNING is marked FAILED, and the death is notified."""
    run.assert_status("SUCCEEDED")
    run.assert_path(WHICH_RUN, RECORD_DIED, NOTIFY_DIED, "Recovered")
    (write,) = ledger_writes(run)
    assert_dead_arrival_recorded(write)
    message = only_sent(run)
    assert (message["outcome"], message["classification"]) == ("FAILED", "INFRASTRUCTURE")
    assert (message["run_date"], message["store_id"], message["error"]) == (
        DAY,
        "store_001",
        "States.ABORTED",
    )
    assert message["execution"] == dead_arrival()["detail"]["executionArn"]


@scenario("SalesRecovery", "ArrivalAlreadyRecorded", input=lambda: dead_arrival("FAILED"))
def test_an_arrival_that_recorded_its_outcome_is_left_alone(run):
    """If the dead arrival's record is not RUNNING (or a newer file owns it), nothing changes."""
    run.assert_status("SUCCEEDED")
    run.assert_path(WHICH_RUN, RECORD_DIED, NOTHING)
    (write,) = ledger_writes(run)
    assert write.condition == "execution_name = :dead AND #status = :running"
    assert run.notifications == []


@scenario("SalesRecovery", "PublishAborted", input=lambda: dead_publish("ABORTED"))
def test_an_aborted_publish_frees_the_date_and_requests_it_again(run):
    """The dead publish's lease is released at once and the day is requested again."""
    run.assert_status("SUCCEEDED")
    run.assert_path(WHICH_RUN, RELEASE_HELD, DIED_OR_FAILED, REQUEST_AGAIN, "Recovered")
    (write,) = ledger_writes(run)
    assert (write.key, write.condition) == (PUBLISH_KEY, "lease_owner = :dead")
    assert write.values[":dead"] == DEAD_PUBLISH
    assert write.update.endswith("REMOVE lease_owner, lease_expires")
    assert write.raw_values[":failure"]["M"]["error"] == {"S": "States.ABORTED"}
    ((_, request),) = scheduled(run, REQUEST_AGAIN)
    assert request == {
        "StateMachineArn": dev().machine("SalesPublishRequest").arn,
        "Input": {"run_date": DAY, "requested_by": f"recovery of {DEAD_PUBLISH}"},
    }


@scenario("SalesRecovery", "PublishFailedAndReleasedItself", input=lambda: dead_publish("FAILED"))
def test_a_failed_publish_that_released_the_date_needs_nothing(run):
    """A publish that failed after releasing its lease leaves recovery nothing to do."""
    run.assert_status("SUCCEEDED")
    run.assert_path(WHICH_RUN, RELEASE_HELD, NOTHING)
    (write,) = ledger_writes(run)
    assert write.condition == "lease_owner = :dead"
    assert scheduled(run, REQUEST_AGAIN) == []


# ============================================== partly mocked, in a local session
SPARK_AND_WAREHOUSE = "SparkAndWarehouseMocked"
SCENARIOS[("SalesArrival", SPARK_AND_WAREHOUSE)] = "test_spark_and_warehouse_mocked_day"
SCENARIOS[("SalesPublish", SPARK_AND_WAREHOUSE)] = "test_spark_and_warehouse_mocked_day"


@pytest.mark.slow
def test_spark_and_warehouse_mocked_day(stepline, tmp_path: Path):
    """With only Glue, EMR, Redshift and Athena mocked, a landed file is validated, recorded,
    and its day published under the lease, in the local session's real ledger."""
    from stepline.sample_data import write_sales_csv

    csv = tmp_path / "sales.csv"
    write_sales_csv(csv, DAY, "store_001", 50, seed=1)
    with stepline.local_session(
        workdir=tmp_path / "local",
        mock_config=MOCK_CONFIG,
        test_case=SPARK_AND_WAREHOUSE,
        lambda_logs=False,
    ) as session:
        landed = session.land_file(csv, f"sales/date={DAY}/store=store_001/sales.csv")
        run = session.replay(landed)
        assert run.result.status == "SUCCEEDED", (run.result.error, run.result.cause)
        assert [(e.machine.mock_name, e.status) for e in run.executions] == [
            ("SalesArrival", "SUCCEEDED"),
            ("SalesPublishRequest", "SUCCEEDED"),
            ("SalesPublish", "SUCCEEDED"),
        ]
        outcomes = [
            (n["message"]["outcome"], n["message"]["classification"]) for n in run.notifications
        ]
        assert outcomes == [("ACCEPTED", "OK"), ("DAY_PUBLISHED", "OK")]
        assert_no_sql_or_role([json.dumps(n) for n in run.notifications])
        store_day = RunLedger(session).store_day(DAY, "store_001")
        assert store_day is not None and store_day["status"] == "SUCCEEDED"
        assert store_day["rows_in"] == 50  # validated for real; Glue's counts are mocked
        assert store_day["data_run"] == store_day["execution_name"]
        record = RunLedger(session).publish_record(DAY)
        assert record is not None
        assert (record["requested"], record["covered"], record["published_covered"]) == (1, 1, 1)
        assert record["publish_status"] == "SUCCEEDED"
        assert "lease_owner" not in record and "lease_expires" not in record


# ================================================================== coverage
def test_every_test_case_has_a_scenario():
    """Each test case of every machine in the MockConfigFile is run by a test of this file."""
    cases = {
        (machine, case)
        for machine, entry in MOCK_CONFIG["StateMachines"].items()
        for case in entry["TestCases"]
    }
    assert cases - set(SCENARIOS) == set(), "test cases no scenario runs"
    assert set(SCENARIOS) - cases == set(), "scenarios for test cases the file lacks"
    module = globals()
    assert all(callable(module.get(test)) for test in SCENARIOS.values())


def test_every_deployed_machine_has_test_cases():
    """The MockConfigFile has an entry, with test cases, for each machine of the stack."""
    machines = MOCK_CONFIG["StateMachines"]
    assert set(machines) == {m.mock_name for m in dev().machines.values()}
    assert all(entry["TestCases"] for entry in machines.values())


@pytest.mark.parametrize("case", ["HappyPath", "GlueFailsForGood"])
def test_runs_do_not_leak_state(stepline, case):
    """Invocation counters and variables start afresh in every execution."""
    first = stepline.mock_run(case, EVENT, machine="SalesArrival")
    second = stepline.mock_run(case, EVENT, machine="SalesArrival")
    assert first.visited == second.visited
    assert first.status == second.status


def _folder_marker_event() -> dict[str, Any]:
    event = json.loads(Path(EVENT).read_text())
    event["detail"]["object"]["key"] = "sales/date%3D2026-11-20/"
    event["detail"]["object"]["size"] = 0
    return event


@scenario("SalesArrivalStarter", "IgnoresAFolderMarker", input=_folder_marker_event)
def test_a_folder_marker_is_counted_not_started(run):
    """A console 'folder' (a key ending in '/') starts no arrival; IgnoredObjects counts it."""
    run.assert_status("SUCCEEDED")
    run.assert_path(FOLDER_MARKER, "Count the ignored object", "Ignored")
    ((_, metric),) = scheduled(run, "Count the ignored object")
    assert metric["MetricData"][0]["MetricName"] == "IgnoredObjects"
    assert metric["MetricData"][0]["Dimensions"] == [{"Name": "stage", "Value": "dev"}]
    assert run.output["outcome"] == "IGNORED"
    assert scheduled(run, START_ARRIVAL) == []


# ========================================================= deadline check
READ_DAY = "Read the day in the ledger"


@scenario("SalesDeadlineCheck", "AllIsWell", input={"run_date": DAY})
def test_the_deadline_check_is_silent_when_the_day_is_complete(run):
    """Every expected store succeeded and the day is published: no message is sent."""
    run.assert_status("SUCCEEDED")
    run.assert_path("Which day is due?", READ_DAY, "Is anything wrong?", "All is well")
    assert run.notifications == []
    assert run.output["alert_sent"] is False
    assert run.output["publish"] == "PUBLISHED"
    assert run.output["missing"] == run.output["failed"] == run.output["rejected"] == []
    ((_, query),) = scheduled(run, READ_DAY)
    assert query["ExpressionAttributeValues"] == {":pk": {"S": f"DATE#{DAY}"}}
    assert query["ConsistentRead"] is True


@scenario(
    "SalesDeadlineCheck",
    "StoresMissingRejectedAndFailed",
    input={"scheduled_time": "2026-11-21T05:00:00Z"},
)
def test_the_deadline_check_alerts_once_on_what_is_not_in(run):
    """From the schedule's time it checks the day before, and names each store's problem once."""
    run.assert_status("SUCCEEDED")
    run.assert_path("Which day is due?", READ_DAY, "Is anything wrong?", "Send the deadline alert")
    message = only_sent(run)
    assert message["outcome"] == "DEADLINE_MISSED"
    assert message["run_date"] == DAY
    assert message["expected_stores"] == ["store_001", "store_002", "store_003", "store_004"]
    assert (message["missing"], message["rejected"], message["failed"]) == (
        ["store_004"],
        ["store_002"],
        ["store_003"],
    )
    assert message["classification"] == "INFRASTRUCTURE"  # a failed run needs an engineer
    [note] = run.sent_notifications
    assert "1 missing, 1 rejected, 1 failed" in note.subject
    assert run.output["alert_sent"] is True


@scenario(
    "SalesArrival",
    "BackfillDefersThePublish",
    input=lambda: {**arrival_input(), "defer_publish": True},
)
def test_a_backfill_arrival_leaves_the_publish_to_the_backfill(run):
    """With defer_publish the arrival records its store-day but requests no publish."""
    run.assert_status("SUCCEEDED")
    run.assert_path(*CLEANED, DEFERRED, WHICH, NOTIFY_ACCEPTED, "Store-day cleaned")
    assert scheduled(run, REQUEST) == []
    assert only_sent(run)["publish"] == "DEFERRED"
    assert run.output["publish"] == {"publish": "DEFERRED"}
