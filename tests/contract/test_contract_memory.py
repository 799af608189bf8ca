"""Validation streams: memory stays bounded whatever the file size."""

from __future__ import annotations

import gzip
import tempfile
import tracemalloc

from sales_contract import parse_raw_key, validate_sales_stream

from stepline.sample_data import write_sales_csv


def test_validating_a_large_gzip_file_uses_bounded_memory(tmp_path) -> None:
    """Peak traced memory stays far below the file's size (nothing is held whole)."""
    path = tmp_path / "big.csv.gz"
    generated = write_sales_csv(path, "2026-11-20", "store_001", 50_000, seed=3, gzip=True)
    with gzip.open(path, "rb") as stream:
        uncompressed_size = sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))
    assert uncompressed_size > 4_000_000

    key = parse_raw_key("sales/date=2026-11-20/store=store_001/big.csv.gz")
    with (
        path.open("rb") as raw,
        tempfile.TemporaryFile() as good,
        tempfile.TemporaryFile() as rejects,
    ):
        tracemalloc.start()
        try:
            report = validate_sales_stream(raw, key, good_rows_out=good, rejects_out=rejects)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert report.accepted and report.rows == generated.rows
    # Buffers dominate (about 1 MB in practice) and do not grow with the file.
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a {uncompressed_size}-byte file"


def test_a_quote_left_open_early_in_a_large_file_uses_bounded_memory(tmp_path) -> None:
    """A quote opened at row 10 and never closed is not accumulated: memory stays bounded."""
    path = tmp_path / "open-quote.csv"
    write_sales_csv(path, "2026-11-20", "store_001", 50_000, seed=4)
    # No other quote in the file, so nothing closes the one opened below.
    data = path.read_bytes().replace(b'"Home, Garden & DIY"', b"Home Garden DIY")
    lines = data.split(b"\n", 11)
    lines[10] = lines[10].replace(b"2026-11-20T", b'"2026-11-20T', 1)
    path.write_bytes(b"\n".join(lines))
    assert path.stat().st_size > 4_000_000

    key = parse_raw_key("sales/date=2026-11-20/store=store_001/open-quote.csv")
    with path.open("rb") as raw, tempfile.TemporaryFile() as good:
        tracemalloc.start()
        try:
            report = validate_sales_stream(raw, key, good_rows_out=good)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert report.file_problems[0].line == 11
    assert report.rejection_reason.startswith("unterminated quote")
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"
