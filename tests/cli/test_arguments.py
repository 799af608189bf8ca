"""Every command reads a day and a count the same way, with the same one-line error."""

from __future__ import annotations

import pytest

from stepline.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--from", "{day}"],
        ["backfill", "--from", "{day}", "--to", "2026-11-20", "--dry-run"],
        ["rerun", "--date", "{day}"],
        ["check-deadline", "--date", "{day}"],
        ["generate", "--date", "{day}", "--store", "s1", "--rows", "1"],
        ["demo", "--date", "{day}"],  # once a ValueError traceback, exit 1
    ],
    ids=lambda argv: argv[0],
)
@pytest.mark.parametrize("day", ["20261120", "2026-11-31", "yesterday"])
def test_a_bad_day_is_one_line_and_exit_2(capsys, tmp_path, argv, day) -> None:
    args = [part.format(day=day) for part in argv]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--local", str(tmp_path)] if argv[0] not in {"generate", "demo"} else args)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert f"'{day}' is not a date (YYYY-MM-DD)" in err[-1], err
    assert len(err) == 1
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["backfill", "--from", "2026-11-20", "--to", "2026-11-20", "--max-active"], "0"),
        (["land", "x.csv", "--key", "sales/x.csv", "--times"], "0"),
        (["land", "x.csv", "--key", "sales/x.csv", "--times"], "two"),
    ],
)
def test_a_bad_count_is_one_line_and_exit_2(capsys, tmp_path, argv, value) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, value, "--local", str(tmp_path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    wanted = "must be at least 1" if value == "0" else f"'{value}' is not a whole number"
    assert wanted in err[-1] and len(err) == 1, err
