"""``stepline replay`` in mock mode: the arrival of an event, exit codes, JSON and the trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.cli import main

EVENT = "events/object_created_store_001.json"
MOCKS = "tests/mocks/sales_pipeline.mock.json"


def replay(capsys, *args):
    code = main(["replay", EVENT, "--mode", "mock", "--mock-config", MOCKS, *args])
    return code, capsys.readouterr()


def test_mock_replay_json_summary_for_a_successful_run(capsys):
    """--json prints status, path and notifications; exit 0 when the execution succeeds."""
    code, out = replay(capsys, "--test-case", "HappyPath", "--json")
    summary = json.loads(out.out)
    assert code == 0
    assert summary["status"] == "SUCCEEDED"
    assert summary["states"][:4] == [
        "Read the arrival",
        "Claim the store-day",
        "Which validator fits the file?",
        "Validate the sales file",
    ]
    assert summary["states"][-1] == "Store-day cleaned"
    assert summary["output"]["outcome"] == "SUCCEEDED"
    assert [n["message"]["outcome"] for n in summary["notifications"]] == ["ACCEPTED"]


def test_a_rejected_file_is_an_outcome_and_exits_0(capsys):
    """Bad data succeeds with the rejection in its output (only outages exit 1)."""
    code, out = replay(capsys, "--test-case", "FileRejected", "--json")
    summary = json.loads(out.out)
    assert code == 0
    assert summary["output"]["outcome"] == "REJECTED"
    assert summary["output"]["rejection_reason"] == "missing column(s): unit_price"


def test_mock_replay_exits_non_zero_when_the_run_fails(capsys):
    """A failed execution exits 1 and the trace names the failed state and error."""
    code, out = replay(capsys, "--test-case", "GlueFailsForGood")
    assert code == 1
    assert "Clean the sales file" in out.out
    assert "States.TaskFailed" in out.out


def test_trace_shows_retries_and_io_on_demand(capsys):
    """The trace marks the retried Glue state; --show-io adds each state's input and output."""
    code, out = replay(capsys, "--test-case", "GlueThrottledThenSucceeds", "--show-io")
    assert code == 0
    clean_line = next(line for line in out.out.splitlines() if "Clean the sales file" in line)
    assert "retries=1" in clean_line
    io_lines = [line.strip() for line in out.out.splitlines() if line.startswith("    ")]
    assert any(line.startswith("in:") for line in io_lines)
    assert any(line.startswith("out:") for line in io_lines)


def test_html_report_is_written_on_request(capsys, tmp_path):
    """--html writes the run report page with the state graph."""
    page = tmp_path / "run.html"
    code, _ = replay(capsys, "--test-case", "HappyPath", "--html", str(page))
    assert code == 0
    html = page.read_text()
    assert "<svg" in html and "Request the day&#x27;s publish" in html


@pytest.mark.parametrize(
    "args",
    [
        ["--test-case", "HappyPath", "--mock-config"],  # flag without a value: argparse exits 2
    ],
)
def test_usage_errors_exit_2(args):
    """Malformed command lines are usage errors (exit 2), not run failures."""
    with pytest.raises(SystemExit) as exc:
        main(["replay", EVENT, "--mode", "mock", *args])
    assert exc.value.code == 2


def test_mock_mode_needs_a_test_case(capsys):
    """--mode mock without a mock config and test case explains what is missing."""
    code = main(["replay", EVENT, "--mode", "mock"])
    assert code == 2
    assert "needs --mock-config and --test-case" in capsys.readouterr().err


def test_local_replay_refuses_an_event_whose_object_is_missing(capsys, tmp_path):
    """Local mode explains how to land the file when the event's object is not in local S3."""
    code = main(["replay", EVENT, "--local", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--file PATH" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("event", "expected"),
    [("no/such/event.json", "no such EventBridge event file"), ("pyproject.toml", "is not JSON")],
)
def test_a_missing_or_malformed_event_file_is_one_line_and_exit_2(capsys, event, expected):
    """A wrong EVENT path or a file that is not JSON: one line saying so, exit 2."""
    code = main(
        ["replay", event, "--mode", "mock", "--mock-config", MOCKS, "--test-case", "HappyPath"]
    )
    err = capsys.readouterr().err
    assert code == 2 and expected in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", ["mock", "local"])
def test_an_unknown_test_case_is_one_line_and_exit_2(capsys, tmp_path, mode):
    """A --test-case the MockConfigFile lacks once ended in a MockConfigError traceback, exit 1."""
    code = main(
        ["replay", EVENT, "--mode", mode, "--mock-config", MOCKS, "--test-case", "NoSuchCase",
         "--local", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--test-case NoSuchCase" in err and "HappyPath" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_folder_for_the_event_or_the_mocks_is_one_line_and_exit_2(capsys, tmp_path):
    """A folder given as EVENT or --mock-config once ended in an IsADirectoryError traceback."""
    for argv in (
        ["replay", str(tmp_path), "--mode", "mock", "--mock-config", MOCKS],
        ["replay", EVENT, "--mode", "mock", "--mock-config", str(tmp_path)],
    ):
        code = main([*argv, "--test-case", "HappyPath"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert f"{tmp_path} is a folder" in err and len(err.strip().splitlines()) == 1


def test_endpoint_mode_selects_the_endpoints_own_test_case(capsys, monkeypatch):
    """--endpoint-url with --test-case alone runs the deployed definition, named for the mocks."""
    import stepline.local.endpoint as endpoint
    from stepline.local import run_state_machine

    seen = {}

    def fake_endpoint(definition, event, *, endpoint_url, test_case, name):
        seen.update(url=endpoint_url, test_case=test_case, name=name, start=definition["StartAt"])
        mocks = json.loads(Path(MOCKS).read_text())
        return run_state_machine(
            definition, event, mock_config=mocks, test_case=test_case, state_machine_name=name
        )

    monkeypatch.setattr(endpoint, "run_via_endpoint", fake_endpoint)
    code = main(
        [
            "replay",
            EVENT,
            "--endpoint-url",
            "http://localhost:8083",
            "--test-case",
            "HappyPath",
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert seen == {
        "url": "http://localhost:8083",
        "test_case": "HappyPath",
        "name": "SalesArrival",
        "start": "Read the arrival",
    }


def test_endpoint_mode_refuses_a_local_mock_config(capsys):
    """A MockConfigFile cannot be sent to an endpoint, so passing one is a usage error."""
    code = main(
        [
            "replay",
            EVENT,
            "--endpoint-url",
            "http://localhost:8083",
            "--mock-config",
            MOCKS,
            "--test-case",
            "HappyPath",
        ]
    )
    assert code == 2
    assert "the endpoint has its own" in capsys.readouterr().err


def test_a_second_replay_process_on_one_environment_exits_2_and_changes_nothing(tmp_path):
    """While another process holds the environment's lock, replay refuses in one line."""
    import subprocess
    import sys

    from filelock import FileLock

    folder = tmp_path / "local"
    (folder / "dev").mkdir(parents=True)
    with FileLock(str(folder / "dev" / ".lock")):  # the first command, in this process
        before = sorted(p.name for p in (folder / "dev").iterdir())
        completed = subprocess.run(
            [sys.executable, "-m", "stepline.cli", "replay", EVENT, "--local", str(folder),
             "--file", "events/samples/good.csv"],
            capture_output=True, text=True, timeout=300, check=False,
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        after = sorted(p.name for p in (folder / "dev").iterdir())
    assert completed.returncode == 2, completed.stderr
    (line,) = completed.stderr.splitlines()
    assert "another stepline command is using the local environment" in line
    assert "Traceback" not in completed.stderr
    assert after == before  # nothing landed, nothing saved


def _changed_event(tmp_path, change):
    event = json.loads(Path(EVENT).read_text())
    change(event)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def _deleted(event):
    event["detail-type"] = "Object Deleted"
    event["detail"]["deletion-type"] = "Permanently Deleted"


def _other_bucket(event):
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"


def _folder_marker(event):
    event["detail"]["object"]["key"] = "sales/date%3D2026-11-20/store%3Dstore_001/"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_deleted, "the event is of type 'Object Deleted': the arrival rule matches only"),
        (_other_bucket, "the event is for bucket 'someone-elses-bucket', not the raw bucket"),
        (_folder_marker, "'sales/date=2026-11-20/store=store_001/' is a folder marker"),
    ],
)
def test_an_event_aws_starts_no_arrival_for_is_refused_not_run(capsys, tmp_path, change, expected):
    """Deleted, other bucket, folder marker: AWS runs nothing, so replay runs nothing (exit 2)."""
    code = main(
        [
            "replay", _changed_event(tmp_path, change),
            "--mode", "mock", "--mock-config", MOCKS, "--test-case", "HappyPath",
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert expected in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


class _Terminal:
    """A stdout that says it is a terminal, and keeps what is printed."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "painted"), [(None, True), ("1", False), ("", True)])
def test_the_trace_is_coloured_on_a_terminal_unless_no_color_is_set(
    monkeypatch, no_color, painted
):
    """Colour only on a terminal, and never when NO_COLOR is set (to anything but empty)."""
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    code = main(["replay", EVENT, "--mode", "mock", "--mock-config", MOCKS,
                 "--test-case", "HappyPath"])
    assert code == 0
    assert "Validate the sales file" in terminal.text
    assert ("\033[" in terminal.text) is painted
