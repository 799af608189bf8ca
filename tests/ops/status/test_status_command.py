"""``stepline status`` on a local environment: JSON, text, colour, exit codes, usage errors.

The environment's ledger is status_ledger.week() written straight into its DynamoDB
table (every status and publish state, deterministically, without Spark).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from status_ledger import (
    EXPECTED,
    LEASE_HELD,
    POPUP,
    WEEK_CELLS,
    WEEK_STATES,
    LedgerOnlyTarget,
    publish_record,
    run_name,
    store_day,
)

import stepline.commands.status as status_command
from stepline.cli import main
from stepline.commands.status import date_bounds
from stepline.local.session import LocalSession
from stepline.ops.status import read_status
from stepline.ops.status_text import make_console, print_status, summary_line

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WEEK = ["--from", "2026-11-14", "--to", "2026-11-20"]
STORE_KEYS = {
    "status",
    "execution",
    "execution_arn",
    "reason",
    "failed_state",
    "rows_in",
    "rows_rejected",
    "rows_out",
    "data_run",
    "published",
    "ended_at",
    "object_key",
}
DATE_KEYS = {
    "date",
    "publish",
    "publish_running",
    "reasons",
    "requested",
    "published_covered",
    "published_at",
    "published_execution",
    "publish_execution",
    "publishes",
    "stores",
}


def status(capsys, environment, *args):
    try:
        code = main(["status", "--local", str(environment), *args])
    except SystemExit as exited:  # argparse's own errors (bad option values)
        code = int(exited.code or 0)
    return code, capsys.readouterr()


class Tty(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_json_by_default_is_the_week_to_yesterday_with_every_state(
    capsys, monkeypatch, week_environment, expected_stores
):
    """No --from/--to: the 7 days up to yesterday (UTC); JSON has the documented keys and states."""
    monkeypatch.setattr(status_command, "utc_today", lambda: dt.date(2026, 11, 21))
    code, out = status(capsys, week_environment, "--json")
    assert code == 1, out.err
    result = json.loads(out.out)
    assert set(result) == {
        "stage",
        "from",
        "to",
        "expected_stores",
        "stores",
        "settled",
        "summary",
        "dates",
    }
    assert (result["from"], result["to"]) == ("2026-11-14", "2026-11-20")
    assert result["expected_stores"] == list(EXPECTED)
    assert result["stores"] == [*EXPECTED, POPUP]
    assert result["settled"] is False
    assert {d["date"]: d["publish"] for d in result["dates"]} == WEEK_STATES
    assert {
        d["date"]: {store: cell["status"] for store, cell in d["stores"].items()}
        for d in result["dates"]
    } == WEEK_CELLS
    for day in result["dates"]:
        assert set(day) == DATE_KEYS
        for cell in day["stores"].values():
            assert set(cell) == STORE_KEYS
    assert result["summary"] == {
        "publish": {"published": 2, "partial": 1, "stale": 1, "pending": 1, "none": 2},
        "store_days": {
            "SUCCEEDED": 12,
            "NO_DATA": 2,
            "REJECTED": 1,
            "FAILED": 1,
            "RUNNING": 1,
            "MISSING": 5,
        },
        "publishes_running": 1,
    }
    stale = result["dates"][2]
    assert stale["stores"]["store_002"]["published"] is False
    assert stale["stores"]["store_002"]["data_run"] == run_name("2026-11-16", "store_002", "v2")
    failed = result["dates"][3]["stores"]["store_003"]
    assert failed["failed_state"] == "Clean the sales file"
    assert failed["execution"] == run_name("2026-11-17", "store_003")
    assert out.out == json.dumps(result, indent=2, sort_keys=True) + "\n"  # keys sorted


def test_text_has_the_grid_a_legend_and_the_summary_without_colour_in_a_pipe(
    capsys, week_environment, expected_stores
):
    """Not a terminal: plain text, no escape codes; a row per store, the publish row, a summary."""
    code, out = status(capsys, week_environment, *WEEK)
    assert code == 1
    assert "\x1b" not in out.out
    lines = out.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if line.lstrip().startswith("11-14"))
    assert header.split() == ["11-14", "11-15", "11-16", "11-17", "11-18", "11-19", "11-20"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("store_")}
    assert rows["store_002"] == ["ok", "ok", "ok*", "RUN", "empty", "ok", "MISS"]
    assert rows["store_003"] == ["ok", "MISS", "ok", "FAIL", "MISS", "ok", "MISS"]
    assert rows[POPUP] == ["-", "-", "-", "-", "-", "empty", "-"]
    publish = next(line for line in lines if line.startswith("publish "))
    assert publish.split()[1:] == ["pub", "PART", "STALE", "PEND", "none", "pub", "none"]
    assert any(line.startswith("Cells:") for line in lines)
    assert any(line.startswith("Publish:") for line in lines)
    text = " ".join(out.out.split())
    assert (
        "Summary: 2 days published, 1 partial, 1 stale, 1 pending, 2 with nothing to publish, "
        "1 publish running; 1 store-day failed, 1 rejected, 5 missing, 1 running "
        "(a person should look)."
    ) in text
    assert "2026-11-17 store_003 FAILED: in Clean the sales file: Glue.AWSGlueException" in text


def test_on_a_terminal_the_same_grid_is_coloured(monkeypatch, week_environment, expected_stores):
    """A TTY stdout gets rich's colour codes; without them every line is <= 80, even if wider."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the summary still wraps at 80
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = Tty()
    monkeypatch.setattr("sys.stdout", terminal)
    code = main(["status", "--local", str(week_environment), *WEEK])
    assert code == 1
    coloured = terminal.getvalue()
    assert "\x1b[" in coloured
    assert "\x1b[1;31m" in coloured  # FAIL and STALE in bold red
    plain = ANSI.sub("", coloured)
    assert all(len(line) <= 80 for line in plain.splitlines())
    assert "STALE" in plain and "Summary:" in plain


def test_a_week_of_ten_long_named_stores_fits_80_columns():
    """7 dates x 10 stores with ids up to 32 characters: every line of the output <= 80."""
    stores = [f"store-{region}-{n:04d}" for n, region in enumerate(["north", "south"] * 4, 1)]
    stores += ["flagship-downtown-megastore-0009", "airport_terminal_2_kiosk"]
    items = []
    statuses = ["SUCCEEDED", "REJECTED", "NO_DATA", "FAILED", "RUNNING", "SUCCEEDED"]
    for offset in range(7):
        date = (dt.date(2026, 11, 14) + dt.timedelta(days=offset)).isoformat()
        for position, store in enumerate(stores[:-1]):
            items.append(
                store_day(
                    date,
                    store,
                    statuses[(offset + position) % len(statuses)],
                    reason="a long reason that would not fit a terminal line " * 3,
                    failed_state="Clean the sales file",
                )
            )
        items.append(publish_record(date, requested=2, lease=LEASE_HELD if offset % 2 else None))
    target = LedgerOnlyTarget(items, expected=tuple(stores))
    grid = read_status(target, dt.date(2026, 11, 14), dt.date(2026, 11, 20))
    out = io.StringIO()
    print_status(make_console(out), grid, where="local environment " + "/very/long/path" * 9)
    lines = out.getvalue().splitlines()
    assert len(grid.stores) == 10
    assert sum(line.startswith(("store-", "flagship", "airport")) for line in lines) == 10
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "flagship-downtown-m..." in out.getvalue()  # a 32-character id is cut, marked
    assert "\x1b" not in out.getvalue()


def test_summary_of_a_settled_range():
    """All published and ok: the summary says so, and the grid is settled."""
    items = [store_day("2026-11-14", s, "SUCCEEDED") for s in EXPECTED]
    items.append(
        publish_record(
            "2026-11-14", requested=3, published=[(s, run_name("2026-11-14", s)) for s in EXPECTED]
        )
    )
    grid = read_status(LedgerOnlyTarget(items), dt.date(2026, 11, 14), dt.date(2026, 11, 14))
    assert grid.settled
    assert summary_line(grid) == (
        "Summary: 1 day published; every store-day succeeded or had no data (all settled)."
    )


@pytest.mark.parametrize(
    ("date", "code"),
    [("2026-11-14", 0), ("2026-11-19", 0), ("2026-11-15", 1), ("2026-11-18", 1)],
)
def test_exit_status_is_0_only_when_everything_shown_is_settled(
    capsys, week_environment, expected_stores, date, code
):
    """0: published (a popup store's empty file included); 1: partial, or missing/rejected."""
    assert status(capsys, week_environment, "--from", date, "--to", date)[0] == code


def test_store_options_limit_the_rows(capsys, week_environment, expected_stores):
    """--store S [S ...], repeatable: only those stores are shown, in order."""
    code, out = status(
        capsys,
        week_environment,
        *WEEK,
        "--json",
        "--store",
        "store_003",
        POPUP,
        "--store",
        "store_001",
    )
    result = json.loads(out.out)
    assert result["stores"] == ["store_001", "store_003", POPUP]
    assert set(result["dates"][1]["stores"]) == {"store_001", "store_003"}
    assert code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-32"], "'2026-11-32' is not a date (YYYY-MM-DD)"),
        (["--to", "20261120"], "'20261120' is not a date (YYYY-MM-DD)"),
        (["--from", "2026-11-20", "--to", "2026-11-19"], "--from 2026-11-20 is after --to"),
        (["--from", "2026-08-01", "--to", "2026-11-20"], "is 112 days; at most 93"),
        (["--store", "bad/store"], "'bad/store' is not a store id"),
        (["--stage", "qa"], "samconfig.toml has no [qa.*] environment"),
    ],
)
def test_usage_problems_are_one_line_and_exit_2(capsys, week_environment, args, message):
    """Bad dates, a reversed or too long range, a bad store id, an unknown stage: exit 2."""
    code, out = status(capsys, week_environment, *args)
    assert code == 2
    assert message in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert out.out == ""


def test_debug_adds_the_traceback(capsys, week_environment):
    """--debug: the same usage error, with its traceback."""
    code, out = status(
        capsys, week_environment, "--from", "2026-11-20", "--to", "2026-11-01", "--debug"
    )
    assert code == 2 and "Traceback" in out.err


def test_a_local_environment_that_does_not_exist_is_a_usage_error(capsys, tmp_path):
    """status only reads: a --local folder no command ever used is refused, not created empty."""
    code, out = status(capsys, tmp_path / "nowhere", *WEEK)
    assert code == 2
    assert "no local environment at" in out.err and "check --local" in out.err
    assert not (tmp_path / "nowhere").exists()


def test_a_busy_environment_is_refused_with_exit_2(capsys, tmp_path):
    """While another command holds the local environment, status refuses in one line."""
    with LocalSession("dev", workdir=tmp_path, lambda_logs=False, local_tasks=False):
        (tmp_path / "dev" / "ledger.json").write_text("{}")
        code, out = status(capsys, tmp_path, *WEEK)
    assert code == 2
    assert "another stepline command is using the local environment" in out.err


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, ("2026-11-14", "2026-11-20")),
        (None, "2026-11-10", ("2026-11-04", "2026-11-10")),
        ("2026-11-01", None, ("2026-11-01", "2026-11-20")),
        ("2026-11-21", None, ("2026-11-21", "2026-11-21")),
        ("2026-08-20", "2026-11-20", ("2026-08-20", "2026-11-20")),  # 93 days: the most
    ],
)
def test_date_bounds(start, end, expected):
    """Defaults: a week to yesterday; --to alone ends the week; --from alone runs to yesterday."""
    parse = lambda text: dt.date.fromisoformat(text) if text else None  # noqa: E731
    bounds = date_bounds(parse(start), parse(end), today=dt.date(2026, 11, 21))
    assert tuple(day.isoformat() for day in bounds) == expected
