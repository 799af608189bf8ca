"""The sales pipeline's paths, with every Task answered by tests/mocks/sales_pipeline.mock.json.

Each scenario runs the definition exactly as deployed for the dev stage and
asserts the states visited, the final status and the notification sent.
"""

from __future__ import annotations

import pytest

EVENT = "events/object_created_store_001.json"

V = "Validate the sales file"
ACCEPTED = "Was the file accepted?"
ROWS = "Are there rows to load?"
CLEAN = "Clean the sales file"
COUNTS = "Read the clean-step counts"
AGGREGATE = "Aggregate the day's sales"
LOAD = "Load the day into Redshift"
WAIT = "Wait for the load"
CHECK = "Check the load"
FINISHED = "Is the load finished?"
COUNT_POLL = "Count the poll"
REPORT = "Build the daily report"
NOTIFY_OK = "Notify that the run succeeded"
NOTIFY_FAILED = "Notify that the run failed"
RUN_FAILED = "Run failed"

HEAD = [V, ACCEPTED, ROWS, CLEAN, COUNTS, AGGREGATE, LOAD, WAIT, CHECK, FINISHED]
HAPPY_PATH = [*HEAD, REPORT, NOTIFY_OK, "Day loaded"]


def only_sent(run):
    sent = run.sent_notifications
    assert len(sent) == 1, f"expected one notification, got {sent}"
    return sent[0].message


def test_happy_path(stepline):
    """A valid file goes through every step and one success notification carries the counts."""
    run = stepline.mock_run("HappyPath", EVENT)
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    message = only_sent(run)
    assert message["outcome"] == "SUCCEEDED"
    assert (message["run_date"], message["store_id"]) == ("2026-11-20", "store_001")
    assert (message["rows_in"], message["rows_rejected"], message["rows_deduplicated"]) == (
        1000,
        0,
        3,
    )
    assert message["rows_loaded"] == 997
    assert message["report_uri"].startswith("s3://stepline-sales-dev-lake-")
    assert message["console"].endswith(message["execution"])
    # The Redshift wait is virtual: 15 s of simulated time, so the duration reflects it.
    assert message["duration_seconds"] >= 15


def test_no_data_path(stepline):
    """A header-only file notifies 'no data' and succeeds without starting Glue."""
    run = stepline.mock_run("NoData", EVENT)
    run.assert_status("SUCCEEDED")
    run.assert_path(V, ACCEPTED, ROWS, "Notify that there was no data", "Nothing to load")
    assert only_sent(run)["outcome"] == "NO_DATA"


def test_file_rejected(stepline):
    """A rejected file is notified with its reason and the run fails as Stepline.FileRejected."""
    run = stepline.mock_run("FileRejected", EVENT)
    run.assert_status("FAILED", error="Stepline.FileRejected")
    run.assert_path(V, ACCEPTED, "Notify that the file was rejected", "File rejected")
    message = only_sent(run)
    assert message["outcome"] == "FILE_REJECTED"
    assert "above MaxRejectRatio" in message["reason"]
    run.assert_not_visited(CLEAN, NOTIFY_FAILED)


def test_row_rejects_under_the_ratio_continue(stepline):
    """Rejected rows under MaxRejectRatio do not stop the run; the notification counts them."""
    run = stepline.mock_run("RowRejectsUnderRatio", EVENT)
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    message = only_sent(run)
    assert (message["rows_in"], message["rows_rejected"], message["rows_loaded"]) == (1000, 8, 992)
    assert message["rejects_uri"].endswith("sales.rejects.csv")


def test_glue_throttled_then_succeeds(stepline):
    """A Glue ConcurrentRunsExceeded is retried with backoff and the run then succeeds."""
    run = stepline.mock_run("GlueThrottledThenSucceeds", EVENT)
    run.assert_status("SUCCEEDED")
    run.assert_path(*HAPPY_PATH)
    assert run.retries(CLEAN) == 1
    assert only_sent(run)["outcome"] == "SUCCEEDED"


def _assert_failed_at(run, state, error):
    run.assert_status("FAILED", error=error)
    assert run.visited[-2:] == [NOTIFY_FAILED, RUN_FAILED]
    message = only_sent(run)
    assert message["outcome"] == "FAILED"
    assert message["failed_state"] == state
    assert message["error"] == error
    assert message["console"].endswith(message["execution"])
    assert state in run.cause


def test_glue_fails_for_good(stepline):
    """A Glue job that fails is not retried (it would fail again) and is notified with its cause."""
    run = stepline.mock_run("GlueFailsForGood", EVENT)
    run.assert_path(V, ACCEPTED, ROWS, CLEAN, NOTIFY_FAILED, RUN_FAILED)
    assert run.retries(CLEAN) == 0
    _assert_failed_at(run, CLEAN, "States.TaskFailed")
    assert "Path does not exist" in only_sent(run)["cause"]


def test_emr_step_fails(stepline):
    """A failed EMR step routes to the failure notification naming the aggregation state."""
    run = stepline.mock_run("EmrStepFails", EVENT)
    run.assert_path(V, ACCEPTED, ROWS, CLEAN, COUNTS, AGGREGATE, NOTIFY_FAILED, RUN_FAILED)
    _assert_failed_at(run, AGGREGATE, "States.TaskFailed")


def test_redshift_statement_failed(stepline):
    """A Redshift statement that ends FAILED is reported with Redshift's error text."""
    run = stepline.mock_run("RedshiftStatementFailed", EVENT)
    run.assert_path(*HEAD, "Describe the load failure", NOTIFY_FAILED, RUN_FAILED)
    _assert_failed_at(run, CHECK, "Stepline.RedshiftStatementFAILED")
    assert "permission denied" in only_sent(run)["cause"]


def test_redshift_still_running_then_finished(stepline):
    """The bounded poll loop waits through three STARTED answers, then reports on FINISHED."""
    run = stepline.mock_run("RedshiftRunsThenFinished", EVENT)
    run.assert_status("SUCCEEDED")
    loop = [WAIT, CHECK, FINISHED, COUNT_POLL]
    run.assert_path(*HEAD[:-3], *loop * 3, WAIT, CHECK, FINISHED, REPORT, NOTIFY_OK, "Day loaded")
    assert run.visited.count(CHECK) == 4
    assert only_sent(run)["duration_seconds"] >= 60


def test_athena_fails(stepline):
    """A failed Athena report query is notified as a failure of the report state."""
    run = stepline.mock_run("AthenaFails", EVENT)
    run.assert_path(*HEAD, REPORT, NOTIFY_FAILED, RUN_FAILED)
    _assert_failed_at(run, REPORT, "States.TaskFailed")


def test_failure_notification_itself_fails(stepline):
    """When SNS is down the run still fails with the original error, after bounded SNS retries."""
    run = stepline.mock_run("FailureNotificationFails", EVENT)
    run.assert_status("FAILED", error="States.TaskFailed")
    run.assert_path(V, ACCEPTED, ROWS, CLEAN, NOTIFY_FAILED, RUN_FAILED)
    assert run.sent_notifications == []
    attempted = run.notifications
    assert [n.message["outcome"] for n in attempted] == ["FAILED"]
    assert not attempted[0].sent
    # AuthorizationError is not transient: the publish is not retried.
    assert run.retries(NOTIFY_FAILED) == 0


@pytest.mark.parametrize("case", ["HappyPath", "GlueFailsForGood"])
def test_runs_do_not_leak_state(stepline, case):
    """Invocation counters and variables start afresh in every execution."""
    first = stepline.mock_run(case, EVENT)
    second = stepline.mock_run(case, EVENT)
    assert first.visited == second.visited
    assert first.status == second.status
