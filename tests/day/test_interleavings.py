"""The interleavings that broke the one-machine design, forced exactly, end in a correct day.

Each test pauses an execution at a Task (the hooks of the local Step Functions
service), lets other work happen meanwhile, releases it, and checks that the
warehouse and the report equal the sums computed independently from every
accepted file: the last publish of the date includes every store-day.
"""

from __future__ import annotations

import pytest
from day_support import RUN_DATE, arrive, executions, expected_day, report_day, warehouse_day

from stepline.ops.ledger import RunLedger

pytestmark = pytest.mark.spark

LOAD = "Load the day into Redshift"
CLEAN = "Clean the sales file"


def test_a_store_cleaned_while_a_publish_runs_is_published_by_another_pass(env, files):
    """Store B is cleaned between the publish's aggregation and load: a second pass includes it."""
    a, b = files.write("store_a"), files.write("store_b")
    gate = env.stepfunctions.hooks.pause("SalesPublish", LOAD)
    arrive(env, a, files.key("store_a"))
    publisher = gate.wait_reached()  # this pass aggregated store_a alone
    _, arrival_b = arrive(env, b, files.key("store_b"))
    arrival = env.stepfunctions.wait_for(arrival_b)
    assert arrival.output["publish"]["publish"] == "QUEUED"
    assert arrival.output["publish"]["running"] == publisher
    gate.release()
    env.wait()

    [publish] = executions(env, "SalesPublish")
    assert publish.status == "SUCCEEDED" and publish.output["passes"] == 2
    assert sorted(publish.output["stores_included"]) == ["store_a", "store_b"]
    expected = expected_day([a, b])
    assert warehouse_day(env) == expected
    assert report_day(env) == expected
    record = RunLedger(env).publish_record(RUN_DATE)
    assert record["requested"] == record["covered"] == record["published_covered"] == 2
    assert "lease_owner" not in record


def test_a_duplicate_delivery_during_and_after_the_run_starts_nothing(env, files):
    """Redelivered while the arrival runs (idempotent start) and after it ended (name taken)."""
    a = files.write("store_a")
    gate = env.stepfunctions.hooks.pause("SalesArrival", CLEAN)
    event, arrival_name = arrive(env, a, files.key("store_a"))
    gate.wait_reached()
    env.deliver(event)
    env.stepfunctions.wait_until(
        lambda all_: (
            sum(1 for e in all_ if e.machine.mock_name == "SalesArrivalStarter" and not e.running)
            == 2
        )
    )
    assert [e.name for e in executions(env, "SalesArrival")] == [arrival_name]
    gate.release()
    env.wait()
    env.deliver(event)
    env.wait()

    starters = executions(env, "SalesArrivalStarter")
    assert [s.output["outcome"] for s in starters] == ["STARTED", "STARTED", "DUPLICATE"]
    assert {s.output["execution"] for s in starters} == {arrival_name}
    assert [e.name for e in executions(env, "SalesArrival")] == [arrival_name]
    assert len(executions(env, "SalesPublish")) == 1
    assert warehouse_day(env) == expected_day([a])
    metrics = env.client("cloudwatch").list_metrics(
        Namespace="Stepline", MetricName="DuplicateDeliveries"
    )["Metrics"]
    assert metrics and metrics[0]["Dimensions"] == [{"Name": "stage", "Value": "dev"}]


def test_a_failed_publish_releases_the_date_and_the_next_arrival_publishes_all(env, files):
    """A Redshift error fails the publish (notified, released); store B's publish has A and B."""
    a, b = files.write("store_a"), files.write("store_b")
    env.stepfunctions.hooks.fail(
        "SalesPublish", LOAD, "RedshiftData.ValidationException", "syntax error at or near COPY"
    )
    arrive(env, a, files.key("store_a"))
    notes = env.wait()
    [failed] = executions(env, "SalesPublish")
    assert failed.status == "FAILED" and failed.error == "RedshiftData.ValidationException"
    record = RunLedger(env).publish_record(RUN_DATE)
    assert record["publish_status"] == "FAILED" and "lease_owner" not in record
    assert record["last_failure"]["state"] == LOAD
    [alert] = [n for n in notes if n["attributes"]["outcome"] == "PUBLISH_FAILED"]
    assert alert["message"]["classification"] == "INFRASTRUCTURE"
    assert RunLedger(env).store_day(RUN_DATE, "store_a")["status"] == "SUCCEEDED"

    arrive(env, b, files.key("store_b"))
    env.wait()
    published = [e for e in executions(env, "SalesPublish") if e.status == "SUCCEEDED"]
    assert len(published) == 1
    assert sorted(published[0].output["stores_included"]) == ["store_a", "store_b"]
    assert warehouse_day(env) == expected_day([a, b])


def test_a_publish_aborted_while_holding_the_date_does_not_block_it(env, files):
    """Aborted mid-publish, no Catch runs: recovery frees the lease and publishes the day again."""
    a = files.write("store_a")
    gate = env.stepfunctions.hooks.pause("SalesPublish", LOAD)
    arrive(env, a, files.key("store_a"))
    publisher = gate.wait_reached()
    assert RunLedger(env).publish_record(RUN_DATE)["lease_owner"] == publisher
    env.stepfunctions.stop_execution(publisher, error="Operator.Abort", cause="stopped by hand")
    gate.abort()
    env.wait()

    first, *rest = executions(env, "SalesPublish")
    assert first.name == publisher and first.status == "ABORTED"
    [recovery] = executions(env, "SalesRecovery")
    assert recovery.status == "SUCCEEDED"
    [again] = rest
    assert again.status == "SUCCEEDED" and again.output["stores_included"] == ["store_a"]
    assert "lease_owner" not in RunLedger(env).publish_record(RUN_DATE)
    assert warehouse_day(env) == expected_day([a])


def test_a_lease_left_by_a_dead_publish_expires_and_is_taken_over(env, files):
    """With no recovery, a lease past its expiry is taken by the next request (never blocks)."""
    a = files.write("store_a")
    env.client("dynamodb").put_item(
        TableName=RunLedger(env).table,
        Item={
            "pk": {"S": f"DATE#{RUN_DATE}"},
            "sk": {"S": "PUBLISH"},
            "requested": {"N": "4"},
            "lease_owner": {"S": f"{RUN_DATE}_publish_4_deaddead"},
            "lease_expires": {"N": "1000"},
        },
    )
    arrive(env, a, files.key("store_a"))
    env.wait()
    [publish] = executions(env, "SalesPublish")
    assert publish.status == "SUCCEEDED" and publish.name.startswith(f"{RUN_DATE}_publish_5_")
    assert warehouse_day(env) == expected_day([a])


def test_a_corrected_reupload_replaces_its_store_day_while_another_store_publishes(env, files):
    """Store A sends v2 of its file while store C's publish runs: the day ends with A v2, B, C."""
    a1, b, c = files.write("store_a"), files.write("store_b"), files.write("store_c")
    arrive(env, a1, files.key("store_a"))
    arrive(env, b, files.key("store_b"))
    env.wait()
    gate = env.stepfunctions.hooks.pause("SalesPublish", LOAD)
    arrive(env, c, files.key("store_c"))
    gate.wait_reached()
    a2 = files.write("store_a", version=2, rows=25, duplicates=0)
    _, corrected = arrive(env, a2, files.key("store_a"))
    env.stepfunctions.wait_for(corrected)
    gate.release()
    env.wait()

    assert RunLedger(env).store_day(RUN_DATE, "store_a")["data_run"] == corrected
    assert warehouse_day(env) == expected_day([a2, b, c])
    assert report_day(env) == expected_day([a2, b, c])


def test_an_older_arrival_finishing_late_never_overwrites_the_newer_file(env, files):
    """v1 is paused before cleaning while v2 completes: v1 ends superseded, the day holds v2."""
    a1 = files.write("store_a")
    gate = env.stepfunctions.hooks.pause("SalesArrival", CLEAN)
    _, first = arrive(env, a1, files.key("store_a"))
    gate.wait_reached()
    a2 = files.write("store_a", version=2, rows=30)
    _, second = arrive(env, a2, files.key("store_a"))
    env.stepfunctions.wait_for(second)
    gate.release()
    env.wait()

    assert env.stepfunctions.get(first).output["outcome"] == "SUPERSEDED"
    record = RunLedger(env).store_day(RUN_DATE, "store_a")
    assert record["execution_name"] == record["data_run"] == second
    assert warehouse_day(env) == expected_day([a2])


def test_arrivals_run_side_by_side(env, files):
    """Store B's arrival runs to its end while store A's is paused: executions overlap."""
    a, b = files.write("store_a"), files.write("store_b")
    gate = env.stepfunctions.hooks.pause("SalesArrival", CLEAN)
    _, first = arrive(env, a, files.key("store_a"))
    assert gate.wait_reached() == first
    _, second = arrive(env, b, files.key("store_b"))
    assert env.stepfunctions.wait_for(second).status == "SUCCEEDED"
    assert env.stepfunctions.get(first).running
    gate.release()
    env.wait()
    assert warehouse_day(env) == expected_day([a, b])
