"""Just enough PNG decoding (stdlib zlib) to tell a rendered page from a blank one."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA


@dataclass
class Png:
    width: int
    height: int
    bit_depth: int
    color_type: int
    rows: list[bytes]
    """The first decoded rows, unfiltered: ``channels`` bytes per pixel."""

    @property
    def channels(self) -> int:
        return _CHANNELS[self.color_type]

    def colors(self) -> dict[tuple[int, ...], int]:
        """How many pixels of each RGB colour the decoded rows hold."""
        counts: dict[tuple[int, ...], int] = {}
        step = self.channels
        for row in self.rows:
            for i in range(0, len(row), step):
                color = tuple(row[i : i + 3]) if step >= 3 else (row[i],) * 3
                counts[color] = counts.get(color, 0) + 1
        return counts


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes, max_rows: int) -> Png:
    """Decode the header and the first ``max_rows`` rows of a non-interlaced 8-bit PNG.

    Decoding stops early because pure-Python unfiltering costs about a
    millisecond a row: the top of the page is enough to prove it rendered.
    """
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    position = 8
    header: tuple[int, ...] | None = None
    compressed: list[bytes] = []
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            compressed.append(chunk)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, bit_depth, color_type, _, _, interlace = header
    if bit_depth != 8 or interlace != 0 or color_type not in _CHANNELS:
        raise ValueError(f"unsupported PNG layout {header}")
    bpp = _CHANNELS[color_type]
    stride = width * bpp
    raw = zlib.decompressobj().decompress(b"".join(compressed), (stride + 1) * max_rows)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(min(height, max_rows, len(raw) // (stride + 1))):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + (left + previous[i]) // 2) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upper_left = previous[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, previous[i], upper_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return Png(width, height, bit_depth, color_type, rows)
