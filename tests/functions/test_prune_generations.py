"""The expiry of superseded generations (prune_generations), on moto S3 and DynamoDB.

Each test lays out one date's generations as the arrivals and publishes write them,
with the run ledger as they record it, and checks which generations survive a prune:
the current and previous ones always, a run still cleaning always, the rest never.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from prune_generations import app
from prune_generations.service import (
    ABANDONED_AFTER,
    Listing,
    PruneRequest,
    list_day,
    plan,
    prune_day,
    read_ledger,
)

from emr_jobs import sales_lake
from stepline.definition import PROJECT_ROOT, load_template

DAY = "2026-11-20"
LAKE = "stepline-sales-dev-lake-123456789012-us-east-1"
TABLE = "stepline-sales-dev-run-ledger"
P1, P2, P3 = (f"{DAY}_publish_1_aaaa0000-c{n}" for n in (1, 2, 3))


def run(store: str, n: int) -> str:
    return f"{DAY}_{store}_{n:012d}"


@pytest.fixture(scope="module")
def _moto(fake_aws_credentials: None) -> Iterator[tuple[Any, Any]]:
    """One moto per module (starting it costs seconds on a busy machine)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=LAKE)
        s3.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        # The ledger's keys as the template declares them.
        ledger = load_template(PROJECT_ROOT / "template.yaml")["Resources"]["RunLedgerTable"]
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=ledger["Properties"]["KeySchema"],
            AttributeDefinitions=ledger["Properties"]["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        yield s3, dynamodb


@pytest.fixture
def aws(_moto: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """The module's moto, emptied after each test (every version, every item)."""
    yield _moto
    s3, dynamodb = _moto
    listed = s3.list_object_versions(Bucket=LAKE)
    doomed = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
    ]
    if doomed:
        s3.delete_objects(Bucket=LAKE, Delete={"Objects": doomed})
    for item in dynamodb.scan(TableName=TABLE)["Items"]:
        dynamodb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})


def cleaned(s3: Any, store: str, run_id: str, *, finished: bool = True, parts: int = 2) -> None:
    """An arrival's clean generation; its counts file only once the job has finished."""
    prefix = sales_lake.clean_run_key(DAY, store, run_id)
    for part in range(parts):
        s3.put_object(Bucket=LAKE, Key=f"{prefix}part-{part:05d}.parquet", Body=b"rows")
    if finished:
        s3.put_object(Bucket=LAKE, Key=sales_lake.clean_metrics_key(DAY, store, run_id), Body=b"{}")


def published(s3: Any, publish: str, store_days: dict[str, str]) -> None:
    """A publish pass's manifest and curated generation."""
    manifest = {
        "run_date": DAY,
        "publish": publish,
        "store_days": [
            {
                "store_id": store,
                "run": run_id,
                "clean_uri": f"s3://{LAKE}/{sales_lake.clean_run_key(DAY, store, run_id)}",
            }
            for store, run_id in store_days.items()
        ],
    }
    s3.put_object(
        Bucket=LAKE, Key=f"curated/_manifests/date={DAY}/{publish}.json", Body=json.dumps(manifest)
    )
    key = sales_lake.curated_generation_key(DAY, publish)
    s3.put_object(Bucket=LAKE, Key=f"{key}part-00000.parquet", Body=b"day")


def store_day(dynamodb: Any, store: str, *, data_run: str | None, claimant: str) -> None:
    item = {
        "pk": {"S": f"DATE#{DAY}"},
        "sk": {"S": f"STORE#{store}"},
        "execution_name": {"S": claimant},
        "status": {"S": "SUCCEEDED" if data_run == claimant else "RUNNING"},
    }
    if data_run:
        item["data_run"] = {"S": data_run}
    dynamodb.put_item(TableName=TABLE, Item=item)


def record_publish(dynamodb: Any, publish: str) -> None:
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": f"DATE#{DAY}"}, "sk": {"S": "PUBLISH"}, "published_pass": {"S": publish}},
    )


def generations(s3: Any) -> dict[str, set[str]]:
    """What is left of the date: clean store/run pairs and curated passes."""
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE)
        for o in page.get("Contents", [])
    ]
    clean = {
        k.split("/")[3].removeprefix("store_id=") + "/" + k.split("/")[4].removeprefix("run=")
        for k in keys
        if k.startswith("clean/sales/")
    }
    curated = {k.split("/")[3].removeprefix("publish=") for k in keys if k.startswith("curated/d")}
    return {"clean": clean, "curated": curated}


def prune(s3: Any, dynamodb: Any, publish: str, previous: str | None, **options: Any) -> Any:
    request = PruneRequest(run_date=DAY, publish=publish, previous_publish=previous)
    return prune_day(request, s3=s3, dynamodb=dynamodb, bucket=LAKE, table=TABLE, **options)


def three_uploads_and_three_publishes(s3: Any, dynamodb: Any) -> None:
    """store_a sent three files, each published; store_b one. P3 was just recorded."""
    for n, publish in enumerate((P1, P2, P3), start=1):
        cleaned(s3, "store_a", run("store_a", n))
        published(s3, publish, {"store_a": run("store_a", n), "store_b": run("store_b", 1)})
    cleaned(s3, "store_b", run("store_b", 1))
    store_day(dynamodb, "store_a", data_run=run("store_a", 3), claimant=run("store_a", 3))
    store_day(dynamodb, "store_b", data_run=run("store_b", 1), claimant=run("store_b", 1))
    record_publish(dynamodb, P3)


def test_only_the_current_and_previous_generations_stay(aws) -> None:
    """Curated: P3 (current) and P2 (previous). Clean: the current run and P2's."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    result = prune(s3, dynamodb, P3, P2)
    assert generations(s3) == {
        "clean": {f"store_a/{run('store_a', 3)}", f"store_a/{run('store_a', 2)}",
                  f"store_b/{run('store_b', 1)}"},
        "curated": {P3, P2},
    }  # fmt: skip
    assert (result.status, result.deleted_clean_generations) == ("PRUNED", 1)
    assert (result.deleted_curated_generations, result.deleted_objects) == (1, 3)
    # The counts files and manifests stay (an age rule and the audit record).
    assert s3.head_object(
        Bucket=LAKE, Key=sales_lake.clean_metrics_key(DAY, "store_a", run("store_a", 1))
    )
    assert s3.head_object(Bucket=LAKE, Key=f"curated/_manifests/date={DAY}/{P1}.json")


def test_a_second_prune_deletes_nothing_more(aws) -> None:
    """Idempotent: a retry, or the next pass with nothing new superseded, changes nothing."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    prune(s3, dynamodb, P3, P2)
    left = generations(s3)
    again = prune(s3, dynamodb, P3, P2)
    assert generations(s3) == left
    assert (again.status, again.deleted_objects) == ("PRUNED", 0)


def test_a_deleted_generation_is_a_delete_marker_the_versioned_bucket_can_undo(aws) -> None:
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    prune(s3, dynamodb, P3, P2)
    key = f"{sales_lake.curated_generation_key(DAY, P1)}part-00000.parquet"
    versions = s3.list_object_versions(Bucket=LAKE, Prefix=key)
    assert [m["IsLatest"] for m in versions["DeleteMarkers"]] == [True]
    assert len(versions["Versions"]) == 1  # the data, noncurrent until the lifecycle expires it


def test_a_run_still_cleaning_is_never_deleted(aws) -> None:
    """A file superseded while its clean job runs: no counts file yet, so it stays."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    # run 4 claimed, then run 5 claimed while run 4's job is still writing.
    cleaned(s3, "store_a", run("store_a", 4), finished=False)
    store_day(dynamodb, "store_a", data_run=run("store_a", 3), claimant=run("store_a", 5))
    result = prune(s3, dynamodb, P3, P2)
    assert f"store_a/{run('store_a', 4)}" in generations(s3)["clean"]
    assert result.kept_unfinished_runs == 1
    # Once it has finished (and been superseded) the next publish removes it.
    s3.put_object(
        Bucket=LAKE, Key=sales_lake.clean_metrics_key(DAY, "store_a", run("store_a", 4)), Body=b"{}"
    )
    prune(s3, dynamodb, P3, P2)
    assert f"store_a/{run('store_a', 4)}" not in generations(s3)["clean"]


def test_a_generation_whose_job_died_a_day_ago_goes(aws) -> None:
    """No counts file, but its newest object is older than any arrival can run: abandoned."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    cleaned(s3, "store_a", run("store_a", 4), finished=False)
    listing = list_day(s3, LAKE, DAY, max_pages=5)
    request = PruneRequest(run_date=DAY, publish=P3, previous_publish=P2)
    ledger = read_ledger(dynamodb, TABLE, DAY)
    newest = listing.newest[("store_a", run("store_a", 4))]
    soon, later = (newest + ABANDONED_AFTER - dt.timedelta(minutes=1), newest + ABANDONED_AFTER)
    assert plan(listing, ledger, request, set(), now=soon).kept_running == 1
    doomed = plan(listing, ledger, request, set(), now=later)
    assert doomed.kept_running == 0
    assert any(f"run={run('store_a', 4)}/" in key for key in doomed.delete)


def test_the_claimant_in_progress_is_never_deleted(aws) -> None:
    """The store-day's latest file, still cleaning: kept although no publish read it yet."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    cleaned(s3, "store_a", run("store_a", 4))  # finished, not yet recorded as the data
    store_day(dynamodb, "store_a", data_run=run("store_a", 3), claimant=run("store_a", 4))
    prune(s3, dynamodb, P3, P2)
    assert f"store_a/{run('store_a', 4)}" in generations(s3)["clean"]


def test_an_arrival_recorded_between_the_listing_and_the_delete_is_kept(aws) -> None:
    """The bad interleaving, forced: run 4's objects are listed, then it becomes the data.

    The ledger as it was before the listing names run 4 neither data nor claimant; run 4
    records itself right after the listing. The ledger is read after the listing, so
    run 4 stays; a prune that read the ledger first would have deleted it.
    """
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    cleaned(s3, "store_a", run("store_a", 4))
    # Before the listing the ledger still showed another claimant (a stale read would
    # say so): run 4 is neither data nor claimant there.
    store_day(dynamodb, "store_a", data_run=run("store_a", 3), claimant=run("store_a", 3))
    stale = read_ledger(dynamodb, TABLE, DAY)
    seen: list[Listing] = []

    def arrival_records_itself(listing: Listing) -> None:
        seen.append(listing)
        store_day(dynamodb, "store_a", data_run=run("store_a", 4), claimant=run("store_a", 4))

    prune(s3, dynamodb, P3, P2, after_listing=arrival_records_itself)
    left = generations(s3)["clean"]
    assert f"store_a/{run('store_a', 4)}" in left  # the store-day's data now
    # The check is live: deciding on the ledger as read before the listing deletes it.
    request = PruneRequest(run_date=DAY, publish=P3, previous_publish=P2)
    doomed = plan(seen[0], stale, request, aggregated=set()).delete
    assert any(f"run={run('store_a', 4)}/" in key for key in doomed)


def test_a_publish_recorded_between_the_listing_and_the_delete_is_kept(aws) -> None:
    """Whatever the ledger names as published when it is read stays, even if the caller
    did not know it (a newer pass than the one that called)."""
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    newer = f"{DAY}_publish_1_aaaa0000-c4"

    def a_newer_pass_records(listing: Listing) -> None:
        published(s3, newer, {"store_a": run("store_a", 3)})
        record_publish(dynamodb, newer)

    prune(s3, dynamodb, P2, P1, after_listing=a_newer_pass_records)
    assert {newer, P2, P1} <= generations(s3)["curated"]  # P3 goes: neither kept nor current
    assert P3 not in generations(s3)["curated"]


def test_a_bounded_listing_prunes_what_it_saw_and_says_so(aws) -> None:
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    result = prune(s3, dynamodb, P3, P2, max_pages=0)
    assert (result.status, result.listing_complete, result.deleted_objects) == ("PARTIAL", False, 0)


def test_keys_s3_refuses_to_delete_make_a_partial_result(aws, monkeypatch) -> None:
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    real = s3.delete_objects

    def refuse_first(**kwargs: Any) -> Any:
        answer = real(**kwargs)
        first = kwargs["Delete"]["Objects"][0]["Key"]
        return {**answer, "Errors": [{"Key": first, "Code": "AccessDenied", "Message": "no"}]}

    monkeypatch.setattr(s3, "delete_objects", refuse_first)
    result = prune(s3, dynamodb, P3, P2)
    assert result.status == "PARTIAL"
    assert result.errors[0].endswith("AccessDenied no")


def test_the_handler_reads_its_bucket_and_table_from_the_environment(aws, monkeypatch) -> None:
    s3, dynamodb = aws
    three_uploads_and_three_publishes(s3, dynamodb)
    monkeypatch.setenv("DATA_LAKE_BUCKET", LAKE)
    monkeypatch.setenv("RUN_LEDGER_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Stepline")
    app._clients.cache_clear()

    class Context:
        function_name = "stepline-sales-dev-prune-generations"
        memory_limit_in_mb = 256
        invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        aws_request_id = "req-1"

    with io.StringIO():
        answer = app.lambda_handler(
            {"run_date": DAY, "publish": P3, "previous_publish": P2}, Context()
        )
    app._clients.cache_clear()
    assert answer["status"] == "PRUNED"
    assert len(json.dumps(answer)) < 8192
    assert generations(s3)["curated"] == {P3, P2}


def test_a_malformed_request_is_refused() -> None:
    with pytest.raises(ValueError, match="run_date"):
        PruneRequest.from_payload({"run_date": "20-11-2026", "publish": P1})


def test_the_function_uses_the_lake_layouts_keys() -> None:
    """The Lambda ships without emr_jobs: its zone roots are the layout module's."""
    from prune_generations import service

    assert service.CLEAN_ROOT == sales_lake.CLEAN_ROOT
    assert service.CLEAN_METRICS_ROOT == sales_lake.CLEAN_METRICS_ROOT
    assert service.CURATED_ROOT == sales_lake.CURATED_ROOT
    assert service.MANIFESTS_ROOT == sales_lake.MANIFESTS_ROOT
    assert service._CLEAN_KEY.match(sales_lake.clean_run_key(DAY, "s1", run("s1", 1)))
    assert service._METRICS_KEY.fullmatch(sales_lake.clean_metrics_key(DAY, "s1", run("s1", 1)))
    assert service._CURATED_KEY.match(sales_lake.curated_generation_key(DAY, P1))
