"""Append a real Exif sub-IFD to a little-endian TIFF/DNG that tifffile wrote.

tifffile writes IFD0 but no Exif sub-IFD (it refuses tag 34665), yet LibRaw reads the ISO only
from one (exifread, exiftool and photo editors look there first too). The writer puts a
placeholder LONG tag numbered :data:`PLACEHOLDER` (34666: no tag sits between it and 34665,
so IFD0 stays sorted once renumbered) in IFD0; :func:`append_exif_ifd` adds the IFD at the end
of the file and turns the placeholder into the ExifIFD pointer.
"""

from __future__ import annotations

import struct
from pathlib import Path

import tifffile

EXIF_IFD_POINTER = 34665
PLACEHOLDER = 34666
ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 2, 3, 4, 5, 7

#: An Exif entry: (tag, TIFF type, count, value bytes little-endian).
Entry = tuple[int, int, int, bytes]


def ascii_entry(tag: int, text: str) -> Entry:
    """A NUL-terminated ASCII tag."""
    data = text.encode("ascii") + b"\0"
    return tag, ASCII, len(data), data


def short_entry(tag: int, value: int) -> Entry:
    """One unsigned 16-bit value."""
    return tag, SHORT, 1, struct.pack("<H", value)


def rational_entry(tag: int, numerator: int, denominator: int) -> Entry:
    """One unsigned rational."""
    return tag, RATIONAL, 1, struct.pack("<II", numerator, denominator)


def undefined_entry(tag: int, data: bytes) -> Entry:
    """Raw bytes (e.g. ExifVersion b"0231")."""
    return tag, UNDEFINED, len(data), data


def _ifd_bytes(entries: list[Entry], start: int) -> bytes:
    """The IFD to be stored at file offset ``start``: entries sorted by tag, values longer than
    four bytes placed after it (word aligned), next-IFD offset 0."""
    entries = sorted(entries)
    table_size = 2 + 12 * len(entries) + 4
    table, extra = [struct.pack("<H", len(entries))], b""
    for tag, kind, count, data in entries:
        if len(data) <= 4:
            field = data.ljust(4, b"\0")
        else:
            field = struct.pack("<I", start + table_size + len(extra))
            extra += data + b"\0" * (len(data) % 2)
        table.append(struct.pack("<HHI", tag, kind, count) + field)
    return b"".join(table) + struct.pack("<I", 0) + extra


def append_exif_ifd(path: Path, entries: list[Entry]) -> None:
    """Write ``entries`` as the Exif sub-IFD of ``path``, whose IFD0 holds the
    :data:`PLACEHOLDER` tag (LONG, count 1)."""
    with tifffile.TiffFile(path) as tif:
        if tif.byteorder != "<" or tif.is_bigtiff:
            raise ValueError(f"{path}: expected a little-endian classic TIFF")
        entry_at = tif.pages.first.tags[PLACEHOLDER].offset
    with open(path, "r+b") as handle:
        start = handle.seek(0, 2)
        if start % 2:  # TIFF offsets are word aligned
            handle.write(b"\0")
            start += 1
        handle.write(_ifd_bytes(entries, start))
        handle.seek(entry_at)
        handle.write(struct.pack("<HHII", EXIF_IFD_POINTER, LONG, 1, start))
