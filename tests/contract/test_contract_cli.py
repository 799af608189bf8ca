"""``stepline validate`` and ``stepline generate``, called through their own sub-parsers."""

from __future__ import annotations

import argparse
import json

import pytest

from stepline.commands import generate, validate

KEY = "sales/date=2026-11-20/store=store_001/sales.csv"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stepline")
    subparsers = parser.add_subparsers(dest="command", required=True)
    validate.register(subparsers)
    generate.register(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


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
    """--json prints accepted, rows, rejected_rows and reasons with line/column/reason."""
    assert run(["validate", str(generated), "--key", KEY, "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert {"accepted", "rows", "rejected_rows", "reasons"} <= verdict.keys()
    assert verdict["accepted"] is True
    assert (verdict["rows"], verdict["rejected_rows"]) == (500, 5)
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


def test_generate_refuses_more_special_rows_than_rows(tmp_path, capsys) -> None:
    """Asking for more duplicates and bad rows than rows is an error (exit 2), not a crash."""
    code = run(["generate", "--date", "2026-11-20", "--store", "s9", "--rows", "10",
                "--bad-rows", "10", "--out", str(tmp_path / "x.csv")])
    assert code == 2
    assert "must be smaller than rows" in capsys.readouterr().err
