"""The validation corpus through ``stepline validate``: verdict, counts, reasons, every line.

The corpus (tests/contract/corpus, written by make_corpus.py) holds a small file per rule
of docs/data-contract.md and per case of issue 8, with the verdict each must get. The
validation Lambda runs the same cases in tests/functions/test_validate_corpus.py.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import make_corpus
import pytest
from make_corpus import case_names, corpus_case

from stepline.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
NAMES = case_names()


def test_corpus_files_are_what_make_corpus_writes() -> None:
    """The committed corpus is byte for byte what make_corpus.py generates (re-run it if not)."""
    generated = make_corpus.build()
    on_disk = {
        path.relative_to(CORPUS).as_posix(): path.read_bytes()
        for path in [CORPUS / "manifest.json", *sorted((CORPUS / "files").iterdir())]
    }
    assert sorted(on_disk) == sorted(generated), "run tests/contract/corpus/make_corpus.py"
    drifted = [name for name, data in generated.items() if on_disk[name] != data]
    assert drifted == [], "run tests/contract/corpus/make_corpus.py"


def test_corpus_stays_small() -> None:
    """The committed corpus is a few hundred KB at most; big cases are built at run time."""
    sizes = {path.name: path.stat().st_size for path in (CORPUS / "files").iterdir()}
    assert sum(sizes.values()) < 512 * 1024
    assert max(sizes.values()) <= 256 * 1024


def test_corpus_covers_every_reason_kind() -> None:
    """Each documented problem kind appears in at least one case (a guard against gaps)."""
    reasons = [
        problem["reason"]
        for case in MANIFEST["cases"]
        for problem in case["expected"]["file_problems"] + case["expected"]["row_problems"]
    ]
    starts = [
        "the object is empty", "no header row", "missing column", "unknown column",
        "duplicated column", "not valid UTF-8", "not a valid gzip file: it does not start",
        "not a valid gzip file: it is truncated", "not a valid gzip file: bytes after",
        "not a valid gzip file: the compressed data is corrupt", "line 1 uses CR",
        "line 3 is longer than 1048576", "unterminated quote", "too many rejected rows",
        "key does not match", "empty line inside the data", "expected 7 fields",
        "the header line repeats", "record of", "order_id:", "store_id:", "sold_at:", "sku:",
        "category:", "quantity:", "unit_price:", "field 8:",
    ]
    assert [start for start in starts if not any(r.startswith(start) for r in reasons)] == []


@pytest.mark.parametrize("name", NAMES)
def test_stepline_validate_gives_the_corpus_verdict(name: str, tmp_path, capsys) -> None:
    """`stepline validate --json` gives each case's verdict, counts, reasons and exit status."""
    case, data = corpus_case(name)
    path = tmp_path / name
    path.write_bytes(data)
    argv = ["validate", str(path), "--key", case["key"], "--json",
            "--max-reject-ratio", str(case["max_reject_ratio"])]
    status = main(argv)
    verdict = json.loads(capsys.readouterr().out)
    expected = case["expected"]
    assert status == (0 if expected["accepted"] else 1)
    simple = ("accepted", "rows", "good_rows", "rejected_rows", "lines", "counts_complete",
              "rejection_reason")
    assert {key: verdict[key] for key in simple} == {key: expected[key] for key in simple}
    assert verdict["reasons"] == expected["file_problems"] + expected["row_problems"]
    assert verdict["reasons_truncated"] is False
    assert verdict["max_reject_ratio"] == case["max_reject_ratio"]


def _text(name: str, data: bytes) -> str:
    raw = gzip.decompress(data) if name.endswith(".gz") else data
    return raw.decode("utf-8").removeprefix("\ufeff")


def _physical_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _independent_record_count(text: str) -> int:
    """Records as Python's csv module reads them (lines cut at LF only), trailing empty ones off.

    A record csv refuses (a stray CR) still counts once: it is a record of the file.
    """
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # judge the records, not csv's own field limit
    try:
        reader = csv.reader(lines)
        records: list[list[str] | None] = []
        while True:
            try:
                records.append(next(reader))
            except StopIteration:
                break
            except csv.Error:
                records.append(None)
    finally:
        csv.field_size_limit(limit)
    while records and records[-1] == []:
        records.pop()
    return len(records)


@pytest.mark.parametrize("name", NAMES)
def test_every_physical_line_is_accounted_for(name: str) -> None:
    """good + rejected = rows, header + rows = an independent record count, lines = all lines.

    A file rejected as a whole accounts for its lines by being rejected: it reports no counts.
    """
    case, data = corpus_case(name)
    expected = case["expected"]
    assert expected["good_rows"] + expected["rejected_rows"] == expected["rows"]
    if not expected["counts_complete"]:
        assert not expected["accepted"] and expected["file_problems"]
        assert (expected["rows"], expected["lines"]) == (0, 0)
        return
    text = _text(name, data)
    assert expected["lines"] == case["physical_lines"] == _physical_lines(text)
    assert expected["rows"] + 1 == _independent_record_count(text)
    rejected_lines = {problem["line"] for problem in expected["row_problems"]}
    assert len(rejected_lines) == expected["rejected_rows"]


def _documented_reason_patterns() -> list[re.Pattern[str]]:
    """Every reason text on the contract page, `<...>` placeholders standing for any text."""
    page = (CORPUS.parents[2] / "docs" / "data-contract.md").read_text(encoding="utf-8")
    section = page[page.index("## Rejected rows and rejected files"):
                   page.index("## What validation writes")]
    patterns = []
    for code in re.findall(r"`([^`]+)`", section):
        parts = re.split(r"<[^>]+>", code)
        patterns.append(re.compile(".*?".join(re.escape(part) for part in parts)))
    return patterns


def test_every_corpus_reason_is_documented() -> None:
    """Each reason the corpus expects is written on docs/data-contract.md, word for word."""
    patterns = _documented_reason_patterns()
    reasons = {
        problem["reason"]
        for case in MANIFEST["cases"]
        for problem in case["expected"]["file_problems"] + case["expected"]["row_problems"]
    }
    undocumented = sorted(
        reason for reason in reasons if not any(p.fullmatch(reason) for p in patterns)
    )
    assert undocumented == []
