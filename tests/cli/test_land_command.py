"""``stepline land``: arguments, exit codes, the --json shape, on files that need no Spark.

A header-only file (no data) and a file with a broken header (rejected) run
the real starter, arrival, validation Lambda and run ledger, but no Glue or
EMR step, so these tests stay fast; tests/pipeline has the full day.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepline.cli import main
from stepline.local.session import LocalSession

SAMPLES = Path("events/samples")
KEY_004 = "sales/date=2026-11-20/store=store_004/sales.csv"
KEY_005 = "sales/date=2026-11-20/store=store_005/sales.csv"


def land(capsys, tmp_path, *args):
    code = main(["land", *args, "--local", str(tmp_path)])
    return code, capsys.readouterr()


def test_json_output_has_the_documented_shape(capsys, tmp_path):
    """--json: executions (name, machine, status, date, store), days, notifications."""
    code, out = land(
        capsys,
        tmp_path,
        str(SAMPLES / "header_only.csv"),
        "--key",
        KEY_004,
        str(SAMPLES / "bad_header.csv"),
        "--key",
        KEY_005,
        "--json",
    )
    assert code == 0, out.err
    result = json.loads(out.out)
    assert set(result) == {"executions", "days", "notifications"}
    arrivals = [e for e in result["executions"] if e["machine"] == "SalesArrival"]
    assert {(e["store"], e["status"]) for e in arrivals} == {
        ("store_004", "SUCCEEDED"),
        ("store_005", "SUCCEEDED"),
    }
    for execution in result["executions"]:
        assert set(execution) == {"name", "machine", "status", "date", "store"}
    [day] = result["days"]
    assert day["date"] == "2026-11-20" and day["publishes"] == 0
    assert day["stores"] == {
        "store_004": {"status": "NO_DATA"},
        "store_005": {"status": "REJECTED"},
    }
    outcomes = sorted(n["message"]["outcome"] for n in result["notifications"])
    assert outcomes == ["NO_DATA", "REJECTED"]
    assert all(set(n) == {"subject", "message"} for n in result["notifications"])


def test_times_delivers_each_event_again_without_a_second_arrival(capsys, tmp_path):
    """--times 3: three starter executions, one arrival; the text names every execution."""
    code, out = land(
        capsys, tmp_path, str(SAMPLES / "header_only.csv"), "--key", KEY_004, "--times", "3"
    )
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].startswith("Landed 1 file(s), each delivered 3 times")
    assert sum("SalesArrivalStarter" in line for line in lines) == 3
    assert sum(line.strip().startswith("SalesArrival ") for line in lines) == 1
    assert any("store_004" in line and "NO_DATA" in line for line in lines)


def test_a_second_land_sees_the_first_ones_world(capsys, tmp_path):
    """The local environment persists: the ledger of the first land is there for the second."""
    land(capsys, tmp_path, str(SAMPLES / "header_only.csv"), "--key", KEY_004)
    code, out = land(capsys, tmp_path, str(SAMPLES / "bad_header.csv"), "--key", KEY_005, "--json")
    assert code == 0
    [day] = json.loads(out.out)["days"]
    assert set(day["stores"]) == {"store_004", "store_005"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events/samples/header_only.csv"], "1 FILE(s) but 0 --key(s)"),
        (["nope.csv", "--key", KEY_004], "nope.csv: no such file"),
        # a folder was once reported as "no such file"
        (["events/samples", "--key", KEY_004], "events/samples is a folder"),
        (
            ["events/samples/header_only.csv", "--key", KEY_004, "--key", KEY_005],
            "1 FILE(s) but 2 --key(s)",
        ),
    ],
)
def test_usage_problems_are_one_line_and_exit_2(capsys, tmp_path, args, message):
    """A missing --key, a missing file, or extra keys: one line saying what to fix, exit 2."""
    code, out = land(capsys, tmp_path, *args)
    assert code == 2
    assert message in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_a_busy_environment_is_refused_with_exit_2(capsys, tmp_path):
    """While another command holds the local environment, land refuses in one line."""
    with LocalSession("dev", workdir=tmp_path, lambda_logs=False):
        code, out = land(capsys, tmp_path, str(SAMPLES / "header_only.csv"), "--key", KEY_004)
    assert code == 2
    assert "another stepline command is using the local environment" in out.err
