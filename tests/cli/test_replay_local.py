"""``stepline replay`` in local mode on paths that need no Spark: the real Lambda on moto.

These run the deployed arrival with the real validation handler in-process,
the run ledger on moto's DynamoDB and moto's SNS; the notifications printed
are the ones moto delivered to the session's capture queue.
"""

from __future__ import annotations

import json
from pathlib import Path

from stepline.cli import main
from stepline.definition import load_deployed_stack


def replay(capsys, tmp_path, event, *args):
    code = main(["replay", f"events/{event}", "--local", str(tmp_path), *args])
    return code, capsys.readouterr()


def test_header_only_file_takes_the_no_data_path(capsys, tmp_path):
    """A header-only upload is validated for real and notified as 'no data'; exit 0."""
    code, out = replay(
        capsys,
        tmp_path,
        "object_created_store_004_header_only.json",
        "--file",
        "events/samples/header_only.csv",
    )
    assert code == 0, out.err
    assert "Notify that there was no data" in out.out
    assert "published: Stepline sales 2026-11-20 store_004: no rows in the file" in out.out


def test_bad_header_is_rejected_and_notified(capsys, tmp_path):
    """A file with an unknown column is rejected by the real validator: notified, exit 0."""
    code, out = replay(
        capsys,
        tmp_path,
        "object_created_store_005_bad_header.json",
        "--file",
        "events/samples/bad_header.csv",
        "--json",
    )
    summary = json.loads(out.out)
    assert code == 0
    assert summary["output"]["outcome"] == "REJECTED"
    [note] = summary["notifications"]
    assert note["sent"] and note["message"]["outcome"] == "REJECTED"
    assert note["message"]["classification"] == "BAD_DATA"
    assert "column" in note["message"]["reason"]


def test_one_task_can_be_mocked_in_a_local_run(capsys, tmp_path):
    """With a test case that mocks only Glue, validation runs for real and Glue's mock fails."""
    mocks = {
        "StateMachines": {
            "SalesArrival": {"TestCases": {"GlueDown": {"Clean the sales file": "GlueFails"}}}
        },
        "MockedResponses": {
            "GlueFails": {"0": {"Throw": {"Error": "States.TaskFailed", "Cause": "mocked outage"}}}
        },
    }
    config = tmp_path / "mocks.json"
    config.write_text(json.dumps(mocks))
    code, out = replay(
        capsys,
        tmp_path,
        "object_created_store_001.json",
        "--file",
        "events/samples/good.csv",
        "--mock-config",
        str(config),
        "--test-case",
        "GlueDown",
        "--json",
    )
    summary = json.loads(out.out)
    assert code == 1
    # The real handler validated the 40 sample rows before the mocked Glue failed.
    assert summary["states"][:6] == [
        "Read the arrival",
        "Claim the store-day",
        "Which validator fits the file?",
        "Validate the sales file",
        "Was the file accepted?",
        "Clean the sales file",
    ]
    [note] = summary["notifications"]
    assert note["message"]["failed_state"] == "Clean the sales file"
    assert note["message"]["cause"] == "mocked outage"
    assert summary["error"] == "States.TaskFailed"


def test_replays_see_what_earlier_replays_landed(capsys, tmp_path):
    """The local S3 folder persists: a second replay without --file finds the landed object."""
    event = "object_created_store_004_header_only.json"
    first, _ = replay(capsys, tmp_path, event, "--file", "events/samples/header_only.csv")
    second, out = replay(capsys, tmp_path, event)
    assert (first, second) == (0, 0), out.err


def test_quiet_sessions_keep_each_invocations_metrics(stepline, tmp_path):
    """Captured EMF output holds exactly each invocation's own counts, run after run."""
    from pathlib import Path

    with stepline.local_session(workdir=tmp_path, lambda_logs=False) as session:
        for sample in ("header_only.csv", "bad_header.csv"):
            key = f"sales/date=2026-11-20/store=store_004/{sample}"
            session.replay(session.land_file(Path("events/samples") / sample, key))
        session.wait()
        emf = [
            json.loads(line)
            for output in session.services.lambda_output
            for line in output.splitlines()
            if '"_aws"' in line
        ]
    assert [(m["Rows"], m["FilesRejected"]) for m in emf] == [([0.0], [0.0]), ([0.0], [1.0])]


def _event_with_key(tmp_path, key, **changes):
    event = json.loads(Path("events/object_created_store_004_header_only.json").read_text())
    event["detail"]["object"]["key"] = key
    event.update(changes)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def test_an_encoded_key_lands_and_is_validated_under_its_decoded_name(capsys, tmp_path):
    """S3 events carry keys URL-encoded (%3D, + for a space, %C3%A9): replay decodes them."""
    event = _event_with_key(
        tmp_path, "sales/date%3D2026-11-20/store%3Dstore_004/my+day+caf%C3%A9%2B1.csv"
    )
    code = main(
        [
            "replay", str(event), "--local", str(tmp_path / "env"),
            "--file", "events/samples/header_only.csv", "--json",
        ]
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["output"]["outcome"] == "NO_DATA", summary["output"]
    raw = load_deployed_stack("dev").outputs["RawBucketName"]
    store = tmp_path / "env" / "dev" / "s3" / raw / "sales" / "date=2026-11-20" / "store=store_004"
    assert [p.name for p in store.iterdir()] == ["my day café+1.csv"]


def test_a_folder_marker_with_file_is_refused_before_anything_lands(capsys, tmp_path):
    """A folder marker's event with --file used to crash copying onto a folder: now one line."""
    event = _event_with_key(tmp_path, "sales/date%3D2026-11-20/store%3Dstore_004/")
    code = main(
        [
            "replay", str(event), "--local", str(tmp_path / "env"),
            "--file", "events/samples/header_only.csv",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "is a folder marker" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "env").rglob("*.csv"))
