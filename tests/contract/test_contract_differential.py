"""The columnar validator against the row-by-row reference: any difference fails.

``sales_contract.columnar.validate_sales_object`` must give what
``sales_contract.validate_sales_stream`` (the reference) gives: the verdict, every
count, every reason with its line and column, the good rows and the rejects. Both
run here side by side on the whole contract corpus (tests/contract/corpus and the
large cases its generator builds), on variants of each file (CRLF, gzip, columns in
another order, needless quotes), with blocks small enough that block edges fall
everywhere, and on seeded random files full of what a fast path gets wrong
(quotes, commas, CRs, control and Unicode space characters, long values, numbers
at their limits).
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from pathlib import Path
from typing import Any

import pytest
from make_corpus import case_names, corpus_case
from sales_contract import COLUMNS, RawKeyError, parse_raw_key, validate_sales_stream
from sales_contract.columnar import validate_sales_object

CORPUS = Path(__file__).resolve().parent / "corpus"
NAMES = case_names()


def _run(engine: str, data: bytes, key: str, ratio: float, **options: Any) -> dict[str, Any]:
    raw_key = parse_raw_key(key)
    good, rejects = io.BytesIO(), io.BytesIO()
    if engine == "reference":
        report = validate_sales_stream(
            io.BytesIO(data), raw_key, max_reject_ratio=ratio, good_rows_out=good,
            rejects_out=rejects, max_reasons=10_000,
        )
    else:
        report = validate_sales_object(
            lambda: io.BytesIO(data), raw_key, max_reject_ratio=ratio, good_rows_out=good,
            rejects_out=rejects, max_reasons=10_000, **options,
        )
    outcome: dict[str, Any] = {
        "accepted": report.accepted,
        "rows": report.rows,
        "good_rows": report.good_rows,
        "rejected_rows": report.rejected_rows,
        "lines": report.lines,
        "counts_complete": report.counts_complete,
        "file_problems": [p.as_dict() for p in report.file_problems],
        "row_problems": [p.as_dict() for p in report.row_problems],
        "row_problem_count": report.row_problem_count,
    }
    # What a caller keeps: the good rows of an accepted file, the rejects of a file
    # judged row by row that has some. Deferred good rows left unchanged are the
    # file's own bytes, and none were written.
    if report.good_rows_unchanged:
        assert options.get("defer_good_rows") and good.getvalue() == b""
        outcome["unchanged"] = True
        if report.accepted:
            plain = gzip.decompress(data) if raw_key.compressed else data
            outcome["good"] = plain.decode("utf-8")
            # The clean job reads a copied .csv line by line (split over the cores):
            # a file left unchanged never holds a record over more than one line.
            records = list(csv.reader(io.StringIO(outcome["good"], newline="")))
            assert len(records) == plain.count(b"\n")
            assert not any("\n" in value or "\r" in value for r in records for value in r)
    elif report.accepted:
        outcome["good"] = gzip.decompress(good.getvalue()).decode("utf-8")
    if report.counts_complete and report.rejected_rows:
        outcome["rejects"] = rejects.getvalue().decode("utf-8")
    return outcome


def assert_same(data: bytes, key: str, ratio: float = 1.0, **options: Any) -> dict[str, Any]:
    """The columnar engine gives the reference's outcome, writing or deferring its good rows."""
    expected = _run("reference", data, key, ratio)
    actual = _run("columnar", data, key, ratio, **options)
    assert actual == expected
    deferred = _run("columnar", data, key, ratio, defer_good_rows=True, **options)
    unchanged = deferred.pop("unchanged", False)
    assert deferred == expected
    return {**expected, "unchanged": unchanged}


def is_valid_key(key: str) -> bool:
    try:
        parse_raw_key(key)
    except RawKeyError:
        return False
    return True


def _key(name: str, compressed: bool) -> str:
    stem = name.removesuffix(".gz").removesuffix(".csv")
    return f"sales/date=2026-11-20/store=store_001/{stem}.csv" + (".gz" if compressed else "")


def _plain(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return b""
    return data


@pytest.mark.parametrize("name", NAMES)
def test_corpus_case_gives_the_reference_verdict(name: str) -> None:
    """Each corpus file, as it is and with blocks of a few lines (block edges everywhere).

    A case about its key (which never reaches validation) is validated under a
    valid key: its bytes still make a file.
    """
    case, data = corpus_case(name)
    key = case["key"] if is_valid_key(case["key"]) else _key(name, name.endswith(".gz"))
    small = len(_plain(name, data)) < 64 * 1024
    for block_bytes in (None, 4096, *([256] if small else [])):
        options = {} if block_bytes is None else {"block_bytes": block_bytes}
        assert_same(data, key, case["max_reject_ratio"], **options)


@pytest.mark.parametrize("name", [n for n in NAMES if not n.endswith(".gz")])
def test_corpus_variants_give_the_reference_verdict(name: str) -> None:
    """CRLF line ends, gzip, and both together, of each plain corpus file."""
    case, data = corpus_case(name)
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    for variant in (crlf,):
        assert_same(variant, _key(name, False), case["max_reject_ratio"])
    for variant in (data, crlf):
        assert_same(gzip.compress(variant), _key(name, True), case["max_reject_ratio"])


# --------------------------------------------------------------- random files

_TRICKY = [
    '"', '""', ",", "\r", "\n", "\r\n", "\t", " ", "\x00", "\x1f", "\x7f", "\x85", "\xa0",
    "\u2003", "\u3000", "\ufeff", "é", "😀", "Z", "z", "+", "-", ".", ":", "T", "0", "9",
]


def _good_values(rng: random.Random) -> dict[str, str]:
    offset = rng.choice(
        ["Z", "+00:00", "+05:30", "-08:00", "+23:59", "-00:60", "+18:00", "-18:00", "+18:01",
         "-18:30", "+05:75"]
    )
    fraction = rng.choice(["", "", ".1", ".123456", ".1234567"])
    return {
        "order_id": rng.choice(["S1-0001", "o" * 64, "é" * 21, "a", "Ünïcode-1"]),
        "store_id": "store_001",
        "sold_at": f"2026-11-20T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
        f"{rng.randrange(60):02d}{fraction}{offset}",
        "sku": rng.choice(["GRO-00001", "s" * 256, "😀" * 64, "x", 'GRO-8"in']),
        "category": rng.choice(["Grocery", "Home, Garden & DIY", "Toys\tGames", "Épicerie"]),
        "quantity": rng.choice(["1", "-2", "12345678", "123456789", "2147483647", "-0", "007"]),
        "unit_price": rng.choice(["3.49", "0", "3.5", "12345678.99", "1234567890.99", "0.10"]),
    }


def _mutate(value: str, rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        position = rng.randrange(len(value) + 1)
        return value[:position] + rng.choice(_TRICKY) + value[position:]
    if kind == 1:
        return rng.choice(_TRICKY) + value
    if kind == 2:
        return value + rng.choice(_TRICKY)
    if kind == 3:
        return value[: rng.randrange(len(value) + 1)]
    if kind == 4:
        return value * rng.randrange(2, 40)
    return "".join(rng.choice(_TRICKY) for _ in range(rng.randrange(1, 4)))


def _random_file(seed: int, rows: int) -> bytes:
    rng = random.Random(seed)
    header = list(COLUMNS)
    if seed % 3 == 1:
        rng.shuffle(header)
    newline = "\r\n" if seed % 4 == 3 else "\n"
    quoting = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC][seed % 3]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    writer.writerow(header)
    for _ in range(rows):
        values = _good_values(rng)
        if rng.random() < 0.3:
            column = rng.choice(COLUMNS)
            values[column] = _mutate(values[column], rng)
        if rng.random() < 0.03:
            out.write(rng.choice(["", "\r", "\n", '"', ",,,", "x" * 65_600]) + newline)
            continue
        writer.writerow([values[name] for name in header])
    text = out.getvalue()
    if rng.random() < 0.2:  # raw damage: a stray character anywhere
        position = rng.randrange(len(text))
        text = text[:position] + rng.choice(_TRICKY) + text[position:]
    return text.encode("utf-8")


@pytest.mark.parametrize("seed", range(24))
def test_random_files_give_the_reference_verdict(seed: int) -> None:
    data = _random_file(seed, 300)
    key = "sales/date=2026-11-20/store=store_001/random.csv"
    assert_same(data, key)
    assert_same(data, key, block_bytes=700)
    assert_same(gzip.compress(data), key + ".gz")


def test_a_clean_file_in_the_validated_form_is_its_own_output(tmp_path: Path) -> None:
    """Deferred, a clean canonical file writes nothing (the caller copies it); other forms write."""
    from stepline.sample_data import write_sales_csv

    path = tmp_path / "day.csv"
    write_sales_csv(path, "2026-11-20", "store_001", 5_000, seed=6)
    data = path.read_bytes()
    key = "sales/date=2026-11-20/store=store_001/day.csv"
    assert assert_same(data, key, block_bytes=16 * 1024)["unchanged"]
    assert assert_same(gzip.compress(data), key + ".gz")["unchanged"]
    header, first, rest = data.split(b"\n", 2)
    changed = {
        "a CRLF line end": header + b"\n" + first + b"\r\n" + rest,
        "needless quotes": data + b'o-1,store_001,2026-11-20T10:00:00Z,"GRO-1",Grocery,1,2.50\n',
        "an empty last line": data + b"\n",
        "no last line feed": data[:-1],
        "a bad row at the end": data + b"x\n",
        "a quoted line break in a good row": data
        + b'o-1,store_001,2026-11-20T10:00:00Z,GRO-1,"Groc\nery",1,2.50\n',
        "a header in another form": header.replace(b"order_id", b'"order_id"') + b"\n"
        + first + b"\n" + rest,
    }
    for name, variant in changed.items():
        assert variant != data
        outcome = assert_same(variant, key, block_bytes=16 * 1024)
        assert not outcome["unchanged"], name
    # The quoted line break is a good row (so only its form stops the deferral).
    assert assert_same(changed["a quoted line break in a good row"], key)["good_rows"] == 5_001


def test_generated_sales_files_give_the_reference_verdict(tmp_path: Path) -> None:
    """write_sales_csv's files, with duplicates and bad rows, over several blocks."""
    from stepline.sample_data import write_sales_csv

    path = tmp_path / "day.csv"
    write_sales_csv(path, "2026-11-20", "store_001", 20_000, seed=5, duplicates=50, bad_rows=200)
    data = path.read_bytes()
    key = "sales/date=2026-11-20/store=store_001/day.csv"
    outcome = assert_same(data, key, 0.05, block_bytes=64 * 1024)
    assert outcome["rejected_rows"] == 200
    assert_same(gzip.compress(data), key + ".gz", 0.05, block_bytes=64 * 1024)


@pytest.mark.parametrize("damage", ["flipped", "truncated", "trailing", "crc"])
def test_a_broken_gzip_gives_the_reference_verdict(damage: str) -> None:
    """ISA-L (the columnar engine's gzip reader) meeting a broken stream leaves the verdict
    to the reference's zlib: a corrupted deflate block, a cut, trailing bytes, a bad CRC."""
    rng = random.Random(damage)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in range(20_000):
        writer.writerow([f"o-{row}", "store_001", "2026-11-20T10:00:00Z", f"S{rng.randrange(99)}",
                         "Grocery", str(rng.randrange(1, 9)), "2.50"])
    data = bytearray(gzip.compress(out.getvalue().encode()))
    if damage == "flipped":
        for at in range(len(data) // 2, len(data) // 2 + 16):
            data[at] ^= 0xFF
    elif damage == "truncated":
        del data[len(data) * 2 // 3 :]
    elif damage == "trailing":
        data += b"garbage"
    else:
        data[-8] ^= 0x01
    outcome = assert_same(bytes(data), "sales/date=2026-11-20/store=store_001/broken.csv.gz")
    assert outcome["accepted"] is False


@pytest.mark.parametrize("read_bytes", [1, 7, 1000])
def test_reads_of_any_size_give_the_reference_verdict(read_bytes: int, monkeypatch) -> None:
    """The read-ahead's reads are kept as they came: blocks and lines that span many
    reads (and a read that ends inside a quoted line break or a CRLF) are read right."""
    from sales_contract import columnar

    monkeypatch.setattr(columnar, "_READ_BYTES", read_bytes)
    key = "sales/date=2026-11-20/store=store_001/random.csv"
    for seed in range(3):
        data = _random_file(100 + seed, 120)
        assert_same(data, key)
        assert_same(data, key, block_bytes=700)
        assert_same(gzip.compress(data), key + ".gz", block_bytes=700)
