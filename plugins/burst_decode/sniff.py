"""Tell what a file really is from its first bytes, to explain why it cannot be decoded.

Only used for error messages: "not a PNG file (it is a JPEG image)" helps a user far more
than a decoder's own complaint about a bad chunk header.
"""

from __future__ import annotations

from pathlib import Path

#: (leading bytes, offset, what they mean), first match wins.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"II*\x00", 0, "a TIFF-based file"),
    (b"MM\x00*", 0, "a TIFF-based file"),
    (b"II+\x00", 0, "a TIFF-based file"),  # BigTIFF
    (b"BM", 0, "a BMP image"),
    (b"GIF8", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypcrx", 4, "a Canon CR3 RAW file"),
    (b"FUJIFILM", 0, "a Fujifilm RAF RAW file"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
)

#: What each image extension's content must look like.
EXPECTED = {".png": "a PNG image", ".jpg": "a JPEG image", ".jpeg": "a JPEG image",
            ".bmp": "a BMP image", ".tif": "a TIFF-based file", ".tiff": "a TIFF-based file"}


def what_is(path: Path) -> str | None:
    """A short description of the file's real kind ("a PNG image", "text"), None if unknown."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    for magic, offset, kind in SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if head and _looks_like_text(head):
        return "text"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def mismatch(path: Path) -> str | None:
    """"not a PNG file (it is text)" when an image file's content contradicts its
    extension; None when it matches or cannot be told."""
    suffix = path.suffix.lower()
    expected, found = EXPECTED.get(suffix), what_is(path)
    if expected is None or found is None or found == expected:
        return None
    return f"not a {suffix.lstrip('.').upper()} file (it is {found})"
