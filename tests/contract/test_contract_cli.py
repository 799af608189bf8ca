"""``stepline validate`` and ``stepline generate``, called through their own sub-parsers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stepline.cli import main
from stepline.commands import validate
from stepline.definition import load_deployed_stack

KEY = "sales/date=2026-11-20/store=store_001/sales.csv"


def run(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def generated(tmp_path):
    """A 500-row generated file with 5 bad rows (exactly 1%)."""
    path = tmp_path / "day.csv"
    assert run(["generate", "--date", "2026-11-20", "--store", "store_001", "--rows", "500",
                "--bad-rows", "5", "--duplicates", "3", "--seed", "11", "--out", str(path)]) == 0
    return path


def test_validate_exits_0_for_an_accepted_file(generated, capsys) -> None:
    """An accepted file (even with rejected rows) exits 0 and says ACCEPTED."""
    assert run(["validate", str(generated), "--key", KEY]) == 0
    out = capsys.readouterr().out
    assert "ACCEPTED: 500 rows, 495 good, 5 rejected" in out


def test_validate_exits_1_for_a_rejected_file(generated, capsys) -> None:
    """A file over the reject ratio exits 1 and prints the reason."""
    assert run(["validate", str(generated), "--key", KEY, "--max-reject-ratio", "0.001"]) == 1
    assert "too many rejected rows: 5 of 500" in capsys.readouterr().out


def test_validate_json_has_the_documented_shape(generated, capsys) -> None:
    """--json prints exactly the documented keys; reasons have line/column/reason."""
    assert run(["validate", str(generated), "--key", KEY, "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert list(verdict) == [
        "accepted", "rows", "good_rows", "rejected_rows", "lines", "counts_complete",
        "max_reject_ratio", "rejection_reason", "reasons", "reasons_truncated",
    ]
    assert verdict["accepted"] is True and verdict["counts_complete"] is True
    assert (verdict["rows"], verdict["rejected_rows"], verdict["lines"]) == (500, 5, 501)
    assert verdict["max_reject_ratio"] == 0.01
    assert all(set(reason) == {"line", "column", "reason"} for reason in verdict["reasons"])
    assert all(isinstance(reason["line"], int) for reason in verdict["reasons"])
    assert verdict["reasons_truncated"] is False


def test_validate_rejects_a_key_breaking_the_pattern(generated, capsys) -> None:
    """A --key that breaks the pattern is a rejection (exit 1) with the pattern in the reason."""
    bad_key = "sales/date=2026-02-30/store=store_001/sales.csv"
    assert run(["validate", str(generated), "--key", bad_key, "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["reasons"][0]["reason"].startswith("key does not match")


def test_validate_json_caps_reasons_and_says_so(tmp_path, capsys) -> None:
    """More than 1000 reasons are cut to 1000 and reasons_truncated is true."""
    path = tmp_path / "bad.csv"
    run(["generate", "--date", "2026-11-20", "--store", "store_001", "--rows", "1200",
         "--bad-rows", "1100", "--out", str(path)])
    capsys.readouterr()
    assert run(["validate", str(path), "--key", KEY, "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert len(verdict["reasons"]) == 1000
    assert verdict["reasons_truncated"] is True


def test_generate_is_deterministic_with_a_seed(tmp_path) -> None:
    """The same seed gives the same bytes; another seed gives other bytes."""
    paths = [tmp_path / name for name in ("a.csv.gz", "b.csv.gz", "c.csv.gz")]
    for path, seed in zip(paths, ("7", "7", "8"), strict=True):
        run(["generate", "--date", "2026-11-20", "--store", "s9", "--rows", "300", "--gzip",
             "--seed", seed, "--out", str(path)])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_generated_gzip_file_validates_with_the_expected_row_count(tmp_path, capsys) -> None:
    """A generated .csv.gz validates as accepted with every row good."""
    path = tmp_path / "day.csv.gz"
    run(["generate", "--date", "2026-11-20", "--store", "s9", "--rows", "2000", "--gzip",
         "--duplicates", "20", "--out", str(path)])
    assert "upload it as: sales/date=2026-11-20/store=s9/day.csv.gz" in capsys.readouterr().out
    key = "sales/date=2026-11-20/store=s9/day.csv.gz"
    assert run(["validate", str(path), "--key", key, "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert (verdict["rows"], verdict["good_rows"], verdict["rejected_rows"]) == (2000, 2000, 0)


@pytest.mark.parametrize(
    ("name", "gzip", "said"),
    [("x.csv", ["--gzip"], "ends in .csv: name it .csv.gz"), ("x.csv.gz", [], "add --gzip")],
)
def test_generate_refuses_a_name_that_contradicts_gzip(tmp_path, capsys, name, gzip, said):
    """`--gzip --out x.csv` once wrote gzip bytes under .csv (and the reverse plain text
    under .csv.gz): a file the contract rejects by its name once uploaded as named."""
    code = run(["generate", "--date", "2026-11-20", "--store", "s9", "--rows", "10", *gzip,
                "--out", str(tmp_path / name)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / name).exists()


def test_generate_refuses_more_special_rows_than_rows(tmp_path, capsys) -> None:
    """Asking for more duplicates and bad rows than rows is an error (exit 2), not a crash."""
    code = run(["generate", "--date", "2026-11-20", "--store", "s9", "--rows", "10",
                "--bad-rows", "10", "--out", str(tmp_path / "x.csv")])
    assert code == 2
    assert "must be smaller than rows" in capsys.readouterr().err


def _file_with_bad_share(tmp_path, rows: int, bad: int):
    path = tmp_path / "share.csv"
    assert run(["generate", "--date", "2026-11-20", "--store", "store_001", "--rows", str(rows),
                "--bad-rows", str(bad), "--seed", "3", "--out", str(path)]) == 0
    return path


def test_validate_stage_uses_that_stages_max_reject_ratio(tmp_path, capsys) -> None:
    """4% bad rows pass dev (MaxRejectRatio 0.05 in samconfig.toml) and fail prod (0.01)."""
    path = _file_with_bad_share(tmp_path, 100, 4)
    capsys.readouterr()
    assert run(["validate", str(path), "--key", KEY, "--stage", "dev", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_reject_ratio"] == 0.05
    assert run(["validate", str(path), "--key", KEY, "--stage", "prod"]) == 1
    out = capsys.readouterr().out
    assert "MaxRejectRatio 0.01 of stage prod" in out
    assert "too many rejected rows: 4 of 100 (4.00%) is more than MaxRejectRatio 0.01" in out


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_stage_ratio_is_the_stages_max_reject_ratio_parameter(stage: str) -> None:
    """The ratio read from the stage's Lambda environment is samconfig's MaxRejectRatio."""
    deployed = load_deployed_stack(stage)
    assert validate.stage_max_reject_ratio(stage) == float(deployed.parameters["MaxRejectRatio"])


def test_unknown_stage_is_a_usage_error_on_one_line(generated, capsys) -> None:
    """--stage naming no samconfig environment exits 2 with one line on stderr, no traceback."""
    assert run(["validate", str(generated), "--key", KEY, "--stage", "qa"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "stepline validate: error: --stage qa: samconfig.toml has no [qa.*] environment; "
        "it has: default, dev, prod, staging (name a stage of samconfig.toml, or use "
        "--max-reject-ratio)\n"
    )


def test_debug_adds_the_traceback_to_a_usage_error(generated, capsys) -> None:
    """--debug shows where an environment error came from, still exiting 2."""
    assert run(["validate", str(generated), "--key", KEY, "--stage", "qa", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("stepline validate: error: --stage qa:")


@pytest.mark.parametrize(
    "key", [KEY, "x.csv", "sales/date=2026-13-01/store=s/a.csv"], ids=["good", "outside", "bad"]
)
def test_missing_file_is_a_usage_error_on_one_line(tmp_path, capsys, key) -> None:
    """A path that does not exist exits 2 and says so on one line.

    Whatever the key: a key outside sales/ or breaking the pattern once gave
    "REJECTED", exit 1, for a file that is not there.
    """
    missing = tmp_path / "nope.csv"
    assert run(["validate", str(missing), "--key", key]) == 2
    assert capsys.readouterr().err == (
        f"stepline validate: error: cannot read {missing}: No such file or directory "
        "(check the path)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "x.csv"], "the following arguments are required: --key"),
        (["validate", "x.csv", "--key", KEY, "--stage", "dev", "--max-reject-ratio", "0.1"],
         "argument --max-reject-ratio: not allowed with argument --stage"),
        (["validate", "x.csv", "--key", KEY, "--max-reject-ratio", "2"],
         "argument --max-reject-ratio: '2' is not between 0 and 1"),
    ],
    ids=["no-key", "stage-and-ratio", "ratio-out-of-range"],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], message: str, capsys) -> None:
    """Argument errors exit 2 with one stderr line naming the problem and pointing to --help."""
    with pytest.raises(SystemExit) as exited:
        run(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"stepline validate: error: {message} (see stepline validate --help)\n"
    )


def test_file_rejected_as_a_whole_prints_no_counts(tmp_path, capsys) -> None:
    """A file with an unterminated quote says its rows were not counted, not '990 rows'."""
    path = tmp_path / "open.csv"
    path.write_text("order_id,store_id,sold_at,sku,category,quantity,unit_price\n"
                    'o-1,store_001,2026-11-20T10:00:00Z,GRO-1,"Grocery,1,2.50\n')
    assert run(["validate", str(path), "--key", KEY]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  REJECTED: the file breaks the contract as a whole (rows not counted)"
    assert out[2].startswith("  reason: unterminated quote: the quoted value that opens at line 2")


def test_installed_command_exits_2_without_a_traceback(tmp_path) -> None:
    """The real `stepline` script reports an environment problem in one line, exit status 2."""
    stepline = Path(sys.executable).with_name("stepline")
    missing = tmp_path / "nope.csv"
    result = subprocess.run(
        [str(stepline), "validate", str(missing), "--key", KEY],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_validate_engines_give_the_same_verdict(generated, capsys) -> None:
    """--engine reference (the row-by-row reference) prints what the default columnar one does."""
    assert run(["validate", str(generated), "--key", KEY, "--json"]) == 0
    columnar = json.loads(capsys.readouterr().out)
    assert run(["validate", str(generated), "--key", KEY, "--json", "--engine", "reference"]) == 0
    assert json.loads(capsys.readouterr().out) == columnar
    assert columnar["rejected_rows"] == 5


def test_validate_uses_the_columnar_engine_by_default(generated, monkeypatch, capsys) -> None:
    """Without --engine, the columnar validator judges the file (not the reference)."""
    from sales_contract import columnar

    calls: list[object] = []
    real = columnar.validate_sales_object

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(columnar, "validate_sales_object", spy)
    assert run(["validate", str(generated), "--key", KEY]) == 0
    assert len(calls) == 1


def test_validate_imports_no_other_command(generated) -> None:
    """`stepline validate` imports only its own command module (a fast start).

    Modules whose name starts with ``_`` are the commands' shared helpers, not commands.
    """
    code = (
        "import sys; from stepline.cli import main; "
        f"main(['validate', {str(generated)!r}, '--key', {KEY!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith('stepline.commands.')"
        " and not m.startswith('stepline.commands._')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "['stepline.commands.validate']"
