"""The validation Lambda against moto S3: outputs, idempotency, versions, the handler contract."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sales_contract import COLUMNS
from validate_sales_file import app
from validate_sales_file.errors import ERROR_DECISIONS
from validate_sales_file.models import ValidationRequest
from validate_sales_file.service import validate_event
from validate_sales_file.settings import SettingsError, ValidatorSettings, get_settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples"
LAKE = "stepline-sales-dev-lake-123456789012-us-east-1"
RAW = "stepline-sales-dev-raw-123456789012-us-east-1"
KEY = "sales/date=2026-11-20/store=store_002/sales.csv"
RUN = "2026-11-20_store_002_0123456789ab"
PARTITION = f"date=2026-11-20/store=store_002/run={RUN}/"
VALIDATED_KEY = f"validated/sales/{PARTITION}sales.csv.gz"
#: A clean .csv already in the validated form is copied as it is, under this key.
COPIED_KEY = f"validated/sales/{PARTITION}sales.csv"
REJECTS_KEY = f"quarantine/sales/{PARTITION}sales.rejects.csv"
REJECTION_KEY = f"quarantine/sales/{PARTITION}sales.rejection.json"

GOOD = (SAMPLES / "with_bad_rows.csv").read_bytes()  # 200 rows, 2 bad: accepted
BAD_HEADER = (
    (SAMPLES / "bad_header.csv").read_bytes().replace(b"store_005", b"store_002")
)
HEADER = ",".join(COLUMNS).encode() + b"\n"
CLEAN_ROW = b"o-1,store_002,2026-11-20T10:00:00Z,GRO-1,Grocery,1,2.50\n"


def validate(lake, event, run=RUN):
    return validate_event(event, settings=lake.settings, s3=lake.s3, run=run)


def test_accepted_file_writes_validated_gzip_and_rejects(lake) -> None:
    """An accepted file yields the validated gzip (canonical header) and a rejects file."""
    result = validate(lake, lake.land(KEY, GOOD))
    assert result.accepted
    assert (result.rows, result.good_rows, result.rejected_rows) == (200, 198, 2)
    assert result.validated_prefix == f"s3://{LAKE}/validated/sales/{PARTITION}"
    assert result.rejects_uri == f"s3://{LAKE}/{REJECTS_KEY}"
    assert lake.listing() == [REJECTS_KEY, VALIDATED_KEY]
    validated = gzip.decompress(lake.read(VALIDATED_KEY)).decode()
    assert validated.split("\n", 1)[0] == ",".join(COLUMNS)
    assert validated.count("\n") == 1 + 198
    rejects = lake.read(REJECTS_KEY).decode().splitlines()
    assert rejects[0] == "line,column,reason,record"
    assert len(rejects) == 3


def test_clean_file_writes_no_rejects(lake) -> None:
    """A file without bad rows writes only the validated copy; rejects_uri is null."""
    result = validate(lake, lake.land(KEY, HEADER + CLEAN_ROW))
    assert result.accepted and result.rejects_uri is None
    assert lake.listing() == [COPIED_KEY]


def test_a_retried_run_that_is_now_rejected_removes_its_own_validated_copy(lake) -> None:
    """Within one run id, a rejection records why and deletes what an earlier attempt wrote."""
    validate(lake, lake.land(KEY, GOOD))
    result = validate(lake, lake.land(KEY, BAD_HEADER))
    assert not result.accepted
    assert result.rejection_reason == "missing column(s): category; unknown column(s): colour"
    assert result.validated_prefix is None
    assert lake.listing() == [REJECTION_KEY]  # stale validated copy and rejects file removed
    record = json.loads(lake.read(REJECTION_KEY))
    assert record["source"]["bucket"] == RAW
    assert record["source"]["key"] == KEY
    assert record["source"]["version_id"] and record["source"]["etag"]
    assert record["source"]["size"] == len(BAD_HEADER)
    assert record["reason"] == result.rejection_reason
    assert [r["reason"] for r in record["reasons"]] == [
        "missing column(s): category",
        "unknown column(s): colour",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["validated_at"])


def test_an_accepted_retry_of_a_run_removes_its_own_rejection_record(lake) -> None:
    """Within one run id, an accepted attempt clears the rejection record of an earlier one."""
    validate(lake, lake.land(KEY, BAD_HEADER))
    validate(lake, lake.land(KEY, HEADER + CLEAN_ROW))
    assert lake.listing() == [COPIED_KEY]


def test_two_runs_of_one_store_day_never_touch_each_other(lake) -> None:
    """Another run (a corrected re-upload) writes beside the first run's outputs, never over."""
    validate(lake, lake.land(KEY, GOOD))
    first = {key: lake.read(key) for key in lake.listing()}
    other = "2026-11-20_store_002_ffffffffffff"
    result = validate(lake, lake.land(KEY, BAD_HEADER), run=other)
    assert not result.accepted
    assert {key: lake.read(key) for key in first} == first
    assert f"quarantine/sales/date=2026-11-20/store=store_002/run={other}/sales.rejection.json" in (
        lake.listing()
    )


@pytest.mark.parametrize("run", ["", "has space", "a/b", "x" * 81])
def test_a_run_id_that_cannot_be_a_key_segment_is_refused(lake, run: str) -> None:
    """The run id becomes a path segment: anything but 1-80 of [A-Za-z0-9_-] raises."""
    with pytest.raises(ValueError, match="run id"):
        validate(lake, lake.land(KEY, GOOD), run=run)


def test_too_many_bad_rows_rejects_but_keeps_the_rejects_file(lake) -> None:
    """Over MaxRejectRatio the file is rejected; its rejects file still explains each row."""
    data = HEADER + CLEAN_ROW + CLEAN_ROW.replace(b",1,2.50", b",0,2.50")
    result = validate(lake, lake.land(KEY, data))
    assert not result.accepted
    assert result.rejection_reason.startswith("too many rejected rows: 1 of 2")
    assert result.rejects_uri == f"s3://{LAKE}/{REJECTS_KEY}"
    assert lake.listing() == [REJECTION_KEY, REJECTS_KEY]


@pytest.mark.parametrize(
    ("key", "data"),
    [
        (KEY, GOOD),
        (KEY, BAD_HEADER),
        (KEY, b""),
        ("sales/date=2026-11-20/store=store_002/sales.csv.gz", b"not gzip"),
        ("sales/2026-11-20/store_002.csv", GOOD),
    ],
    ids=["accepted", "bad-header", "empty", "bad-gzip", "bad-key"],
)
def test_raw_object_is_never_modified(lake, key: str, data: bytes) -> None:
    """Whatever the outcome, the raw object keeps its bytes, ETag and version."""
    event = lake.land(key, data)
    before = lake.s3.head_object(Bucket=RAW, Key=key)
    validate(lake, event)
    after = lake.s3.head_object(Bucket=RAW, Key=key)
    assert (after["ETag"], after["VersionId"]) == (before["ETag"], before["VersionId"])
    assert lake.read(key, bucket=RAW) == data
    versions = lake.s3.list_object_versions(Bucket=RAW, Prefix=key)
    assert len(versions["Versions"]) == 1 and not versions.get("DeleteMarkers")


@pytest.mark.parametrize("data", [GOOD, BAD_HEADER], ids=["accepted", "rejected"])
def test_the_same_event_twice_gives_the_same_outputs(lake, data: bytes) -> None:
    """A duplicate delivery overwrites the same keys with the same content."""
    event = lake.land(KEY, data)
    first = validate(lake, event)
    snapshot = {key: lake.read(key) for key in lake.listing()}
    second = validate(lake, event)
    assert second == first
    assert lake.listing() == sorted(snapshot)
    for key, content in snapshot.items():
        if key.endswith(".json"):
            strip = lambda raw: {k: v for k, v in json.loads(raw).items() if k != "validated_at"}  # noqa: E731
            assert strip(lake.read(key)) == strip(content)
        else:
            assert lake.read(key) == content


def test_the_event_version_is_validated_not_the_latest(lake) -> None:
    """With a version id in the event, a later overwrite does not change what is validated."""
    first_event = lake.land(KEY, HEADER + CLEAN_ROW)
    lake.land(KEY, BAD_HEADER)  # overwritten before the first run got to it
    result = validate(lake, first_event)
    assert result.accepted and result.rows == 1


def test_key_breaking_the_pattern_is_recorded_under_unmatched_keys(lake) -> None:
    """A bad key is rejected with nulls for date/store and a record under unmatched_keys/."""
    result = validate(lake, lake.land("sales/2026-11-20/store_002.csv", GOOD))
    assert not result.accepted
    assert (result.run_date, result.store_id, result.validated_prefix) == (None, None, None)
    assert result.rejection_reason.startswith("key does not match sales/date=YYYY-MM-DD/")
    record_key = (
        f"quarantine/unmatched_keys/run={RUN}/sales%2F2026-11-20%2Fstore_002.csv.rejection.json"
    )
    assert lake.listing() == [record_key]
    assert json.loads(lake.read(record_key))["source"]["key"] == "sales/2026-11-20/store_002.csv"


def test_object_outside_sales_is_ignored(lake) -> None:
    """An object outside sales/ is not read and nothing is written."""
    result = validate(lake, lake.land("inventory/today.csv", GOOD))
    assert not result.accepted and result.rejection_reason.startswith("ignored:")
    assert lake.listing() == []


def test_url_encoded_key_in_the_event_is_decoded(lake) -> None:
    """Keys arrive URL-encoded (space as '+'); the object is still found."""
    key = "sales/date=2026-11-20/store=store_002/till 3.csv"
    result = validate(lake, lake.land(key, HEADER + CLEAN_ROW))
    assert result.accepted
    assert result.source_uri == f"s3://stepline-sales-dev-raw-123456789012-us-east-1/{key}"
    assert lake.listing() == [f"validated/sales/{PARTITION}till 3.csv"]


def test_missing_object_is_a_fault_not_a_rejection(lake) -> None:
    """An S3 error raises, so Step Functions' Retry/Catch handles it."""
    event = lake.land(KEY, GOOD)
    lake.s3.delete_object(Bucket=RAW, Key=KEY,
                          VersionId=event["detail"]["object"]["version-id"])
    with pytest.raises(ClientError):
        validate(lake, event)


def test_result_keys_are_exactly_what_the_state_machine_reads(lake) -> None:
    """Every $validation field the arrival ASL reads is in the result (plus rows and reasons)."""
    text = (ROOT / "statemachines" / "sales_arrival.asl.json").read_text()
    read = set(re.findall(r"\$validation\.([a-z_]+)", text))
    read |= set(re.findall(r"\$states\.input\.([a-z_]+)", _state(text, "Was the file accepted?")))
    assert read, "the arrival reads the validation result"
    for data in (GOOD, BAD_HEADER):
        payload = validate(lake, lake.land(KEY, data)).model_dump(mode="json")
        assert read <= set(payload)
    bad_key = validate(lake, lake.land("sales/x.csv", GOOD)).model_dump(mode="json")
    assert read <= set(bad_key)


def _state(asl_text: str, name: str) -> str:
    return json.dumps(json.loads(asl_text)["States"][name])


def test_handler_takes_the_arrival_request_and_scopes_outputs_by_its_run(lake, monkeypatch) -> None:
    """The arrival sends {event, run}; the run id names every output key."""
    monkeypatch.setenv("DATA_LAKE_BUCKET", LAKE)
    monkeypatch.setenv("MAX_REJECT_RATIO", "0.05")
    app.get_s3_client.cache_clear()
    try:
        payload = app.lambda_handler(
            {"event": lake.land(KEY, GOOD), "run": RUN}, _LambdaContext()
        )
    finally:
        app.get_s3_client.cache_clear()
    assert payload["validated_prefix"] == f"s3://{LAKE}/validated/sales/{PARTITION}"
    assert lake.listing() == [REJECTS_KEY, VALIDATED_KEY]


def test_handler_validates_with_settings_from_the_environment(lake, monkeypatch, capsys) -> None:
    """lambda_handler reads its settings from the environment, returns JSON, emits metrics."""
    monkeypatch.setenv("DATA_LAKE_BUCKET", LAKE)
    monkeypatch.setenv("MAX_REJECT_RATIO", "0.001")  # 2 bad rows in 200 is now too many
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "stepline-validate")
    app.get_s3_client.cache_clear()
    app.metrics.clear_metrics()  # metrics live per process: count this invocation only
    try:
        payload = app.lambda_handler(lake.land(KEY, GOOD), _LambdaContext())
    finally:
        app.get_s3_client.cache_clear()  # the lazily created client belongs to this moto
    assert payload["accepted"] is False
    assert payload["rejection_reason"].endswith("MaxRejectRatio 0.001")
    assert len(payload["reasons"]) <= 20
    json.dumps(payload)  # plain JSON, as Lambda returns it
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    metrics = {name: emf[-1][name] for name in ("Rows", "RejectedRows", "FilesRejected")}
    assert metrics == {"Rows": [200], "RejectedRows": [2], "FilesRejected": [1]}


def test_missing_setting_fails_loudly(monkeypatch) -> None:
    """A missing environment variable raises SettingsError naming it."""
    monkeypatch.delenv("DATA_LAKE_BUCKET", raising=False)
    monkeypatch.setenv("MAX_REJECT_RATIO", "0.01")
    with pytest.raises(SettingsError, match="DATA_LAKE_BUCKET"):
        get_settings()


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "lots"])
def test_malformed_ratio_fails_loudly(ratio: str) -> None:
    """MAX_REJECT_RATIO outside 0..1 or not a number is refused."""
    with pytest.raises(SettingsError, match="max_reject_ratio"):
        ValidatorSettings.from_environ({"DATA_LAKE_BUCKET": LAKE, "MAX_REJECT_RATIO": ratio})


@pytest.mark.parametrize(
    ("bucket", "ratio", "field"),
    [("ab", 0.01, "data_lake_bucket"), ("x" * 64, 0.01, "data_lake_bucket"),
     (LAKE, 1.01, "max_reject_ratio"), (LAKE, float("nan"), "max_reject_ratio")],
)
def test_settings_made_in_code_are_checked_too(bucket: str, ratio: float, field: str) -> None:
    """The bucket name is 3-63 characters and the ratio 0..1, however the settings are made."""
    with pytest.raises(ValueError, match=field):
        ValidatorSettings(data_lake_bucket=bucket, max_reject_ratio=ratio)


def test_the_arrival_request_and_a_bare_event_are_both_accepted() -> None:
    """{event, run} keeps its run; a bare EventBridge event is validated as run adhoc."""
    event = {"detail-type": "Object Created", "detail": {}}
    assert ValidationRequest.from_payload({"event": event, "run": RUN}).run == RUN
    bare = ValidationRequest.from_payload(event)
    assert (bare.event, bare.run) == (event, "adhoc")
    assert ValidationRequest.from_payload({"event": event}).run == "adhoc"


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "an", "object"],
        {"run": RUN},
        {"event": "s3://bucket/key", "run": RUN},
        {"event": {}, "run": RUN, "extra": 1},
        {"event": {}, "run": "a/b"},
        {"event": {}, "run": "r1\n"},
        {"event": {}, "run": 7},
    ],
    ids=["list", "no-event", "event-not-object", "extra-field", "bad-run", "run-newline",
         "run-not-string"],
)
def test_a_malformed_payload_fails_as_validation_error_which_the_arrival_catches(
    payload: object,
) -> None:
    """The handler raises ValidationError before touching S3; the arrival catches that name."""
    with pytest.raises(ValueError) as raised:
        app.lambda_handler(payload, _LambdaContext())  # type: ignore[arg-type]
    assert type(raised.value).__name__ == "ValidationError"
    assert ERROR_DECISIONS["ValidationError"][0] == "catch"


MANIFEST = json.loads((ROOT / "events" / "manifest.json").read_text())


@pytest.mark.parametrize("arrival", MANIFEST["arrivals"], ids=lambda a: a["event"])
def test_checked_in_events_give_the_documented_outcomes(lake, arrival) -> None:
    """Replaying each sample event on its uploaded sample gives the manifest's verdict."""
    data = (ROOT / "events" / arrival["upload"]).read_bytes()
    lake.s3.put_object(Bucket=RAW, Key=arrival["key"], Body=data)
    event = json.loads((ROOT / "events" / arrival["event"]).read_text())
    payload = validate(lake, event).model_dump(mode="json")
    assert {name: payload[name] for name in arrival["expected"]} == arrival["expected"]


class _LambdaContext:
    function_name = "validate-sales-file"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:validate-sales-file"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def test_returned_reasons_are_cut_so_the_result_stays_small(lake) -> None:
    """Reasons quote values; a 20,000-character one is cut in the result, kept in the rejects."""
    huge = "X" * 20_000
    rows = b"".join(CLEAN_ROW.replace(b"store_002", huge.encode(), 1) for _ in range(30))
    result = validate(lake, lake.land(KEY, HEADER + rows))
    assert not result.accepted and result.rejected_rows == 30
    payload = json.dumps(result.model_dump(mode="json"))
    assert len(payload) < 8 * 1024
    assert all(len(json.dumps(r.reason)) <= 240 for r in result.reasons)
    assert all(r.reason.endswith("...") for r in result.reasons if r.line is not None)
    rejects = lake.read(REJECTS_KEY).decode()
    assert f"store_id: '{huge}' differs from the key's store 'store_002'" in rejects
