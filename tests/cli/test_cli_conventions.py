"""The exit-status conventions of every command where argparse or the OS get in the way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stepline.cli import main

KEY = "sales/date=2026-11-20/store=store_004/header_only.csv"


def test_land_help_prints_the_usage_and_exits_0(capsys):
    """`stepline land --help` once failed with 'unrecognized arguments: --help', exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["land", "--help"])
    assert exc.value.code == 0
    assert "usage: stepline land FILE --key KEY" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["land", "--times", "2", "nope.csv", "--key", KEY],  # an option before the FILE
        ["land", "--json", "nope.csv", "--key", KEY],
        ["land", "nope.csv", "--key", KEY, "--debug"],  # --debug after the command
    ],
    ids=["times-first", "json-first", "debug-last"],
)
def test_land_takes_its_options_anywhere(capsys, argv):
    """Options before a FILE, or --debug after, reach land's own parser (here: the missing file)."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "nope.csv: no such file" in err and "unrecognized" not in err


def test_other_commands_still_refuse_unknown_options(capsys):
    """Parsing land's words as given must not let other commands ignore a wrong option."""
    with pytest.raises(SystemExit) as exc:
        main(["validate", "x.csv", "--key", KEY, "--bogus"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_a_reader_that_went_away_ends_quietly_with_141():
    """`stepline validate ... | head` once printed a BrokenPipeError traceback.

    The pipe's read end is closed before the command starts, so its very first
    write to stdout fails, deterministically.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "stepline.cli", "validate", "events/samples/header_only.csv",
             "--key", KEY, "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
