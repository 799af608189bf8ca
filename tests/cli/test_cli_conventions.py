"""The exit-status conventions of every command where argparse or the OS get in the way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stepline.cli import main
from stepline.commands.demo import DEFAULT_DEMO_DIR

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


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["generate", "--date", "2026-11-20", "--store", "s1", "--rows", "1", "--out", "{dir}"],
         "{dir} is a folder: give a file's path"),
        (["cost", "--keep", "{file}"], "{file} is a file (or under one): give a folder's path"),
    ],
    ids=["generate-out-folder", "cost-keep-file"],
)  # fmt: skip
def test_a_folder_for_a_file_or_a_file_for_a_folder_is_one_line_and_exit_2(
    capsys, tmp_path, argv, said
):
    """`generate --out DIR` and `cost --keep FILE` once ended in an OSError traceback, exit 1."""
    a_file = tmp_path / "a.txt"
    a_file.write_text("x")
    names = {"dir": str(tmp_path), "file": str(a_file)}
    code = main([part.format(**names) for part in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert said.format(**names) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["backfill", "--from", "2026-11-20", "--to", "2026-11-20", "--dry-run"],
        ["rerun", "--date", "2026-11-20"],
        ["check-deadline", "--date", "2026-11-20"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_command_that_reads_refuses_an_absent_local_environment(capsys, tmp_path, argv):
    """A mistyped --local once made an empty environment there and reported on it.

    check-deadline sent an alert for every store, rerun said nothing failed and
    backfill found nothing to do, each with a folder left behind; status alone refused.
    """
    where = tmp_path / "typo"
    code = main([*argv, "--local", str(where)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"no local environment at {where / 'dev'}" in err
    assert len(err.strip().splitlines()) == 1
    assert not where.exists()
    # After `make demo`, a bare `stepline status` lands here: say where the demo's world is.
    assert f"--local {DEFAULT_DEMO_DIR / 'local'}" in err


def test_version_prints_the_installed_version_and_exits_0(capsys):
    """`stepline --version` was an error (a COMMAND is required), exit 2."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"stepline {version('stepline')}\n"


def test_building_the_parser_does_not_read_the_version():
    """The version is read for --version only: importlib.metadata took ~20 ms of every start."""
    import subprocess
    import sys

    probe = (
        "import sys; from stepline.cli import build_parser; build_parser('validate');"
        " print('importlib.metadata' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
