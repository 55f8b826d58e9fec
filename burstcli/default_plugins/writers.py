"""Built-in output formats: 16-bit TIFF and PNG, 8-bit JPEG, each with the reference's EXIF.

uint8 and uint16 images are written with the values they have (a chain that does not touch
pixels writes the chosen frame back exactly); float images hold [0, 1] and become 16-bit (8-bit
for JPEG). The core hands each writer a temporary path and renames it when the call returns;
the pixels and the EXIF are all these formats need of the burst.
"""

from __future__ import annotations

import datetime as _dt
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, TiffImagePlugin

from burstcli import __version__, hookimpl
from burstcli.errors import StageError
from burstcli.model import Burst, ExifInfo, Layout
from burstcli.writers import Writer

SOFTWARE = f"burst {__version__}"
EXIF_IFD = 0x8769
# EXIF tag numbers (EXIF 2.32).
TAG_MAKE, TAG_MODEL, TAG_ORIENTATION = 0x010F, 0x0110, 0x0112
TAG_SOFTWARE, TAG_DATETIME = 0x0131, 0x0132
TAG_EXPOSURE, TAG_FNUMBER, TAG_ISO = 0x829A, 0x829D, 0x8827
TAG_DATETIME_ORIGINAL, TAG_SUBSEC_ORIGINAL = 0x9003, 0x9291
TAG_FOCAL_LENGTH, TAG_LENS_MODEL = 0x920A, 0xA434


@hookimpl
def register_writers(register) -> None:  # type: ignore[no-untyped-def]
    """The built-in formats: tiff, png, jpeg."""
    register(Writer("tiff", ".tiff", write_tiff, "TIFF, 16-bit (8-bit input stays 8-bit)"))
    register(Writer("png", ".png", write_png, "PNG, 16-bit (8-bit input stays 8-bit)"))
    register(Writer("jpeg", ".jpg", write_jpeg, "JPEG, 8-bit, quality 95"))


def displayable(image: np.ndarray, layout: Layout, *, max_bits: int = 16) -> np.ndarray:
    """uint8/uint16 pixels to write; float [0, 1] becomes uint16 (uint8 when max_bits is 8)."""
    if layout in ("cfa", "linear_raw"):
        raise StageError("the chain ends with undeveloped RAW data: add the `develop` stage "
                         "to the preset (or write it as RAW: -f dng)")
    if layout == "yuv":
        raise StageError("the chain ends with YUV data: add the `colour.rgb` stage to the "
                         "preset")
    if image.dtype == np.uint8 or (image.dtype == np.uint16 and max_bits == 16):
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    peak = np.float32(255 if max_bits == 8 else 65535)
    out = np.empty(image.shape, np.uint8 if max_bits == 8 else np.uint16)
    # A few rows at a time: a zoomed 48 MP image is 576 MB of float32, and the whole image's
    # temporaries were four times that.
    for top in range(0, image.shape[0], WRITE_ROWS):
        band = np.nan_to_num(image[top:top + WRITE_ROWS].astype(np.float32))
        np.clip(band, 0.0, 1.0, out=band)
        band *= peak
        band += np.float32(0.5)
        out[top:top + WRITE_ROWS] = band  # truncation after + 0.5: rounding
    return out


WRITE_ROWS = 256  # rows of a float image converted to integers at a time


def write_tiff(path: Path, image: np.ndarray, layout: Layout, exif: ExifInfo,
               burst: Burst | None = None) -> None:
    """Uncompressed TIFF; EXIF fields go in the first IFD (tifffile writes no Exif sub-IFD)."""
    pixels = displayable(image, layout)
    photometric = "rgb" if pixels.ndim == 3 else "minisblack"
    tifffile.imwrite(path, pixels, photometric=photometric, software=SOFTWARE,
                     extratags=_tiff_exif_tags(exif))


def write_png(path: Path, image: np.ndarray, layout: Layout, exif: ExifInfo,
              burst: Burst | None = None) -> None:
    """PNG through OpenCV (16-bit colour, which Pillow cannot write) plus an eXIf chunk."""
    pixels = displayable(image, layout)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise StageError(f"{path.name}: PNG encoding failed")
    data = _with_png_chunk(encoded.tobytes(), b"eXIf", exif_bytes(exif)[len(b"Exif\0\0"):])
    path.write_bytes(data)


def write_jpeg(path: Path, image: np.ndarray, layout: Layout, exif: ExifInfo,
               burst: Burst | None = None) -> None:
    """8-bit JPEG (quality 95) with the EXIF block."""
    pixels = displayable(image, layout, max_bits=8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=95, exif=exif_bytes(exif))


def exif_bytes(exif: ExifInfo) -> bytes:
    """An APP1-style EXIF block (``Exif\\0\\0`` + TIFF structure) of the known fields."""
    block = Image.Exif()
    block[TAG_SOFTWARE] = SOFTWARE
    for tag, value in ((TAG_MAKE, exif.make), (TAG_MODEL, exif.model)):
        if value:
            block[tag] = value
    if exif.orientation:  # pixels are written as stored, so viewers must still rotate them
        block[TAG_ORIENTATION] = exif.orientation
    sub = block.get_ifd(EXIF_IFD)
    for tag, entry in _exif_ifd_values(exif).items():
        sub[tag] = entry
    if exif.capture_time:
        block[TAG_DATETIME] = _exif_time(exif.capture_time)
    return block.tobytes()


def _exif_ifd_values(exif: ExifInfo) -> dict[int, object]:
    values: dict[int, object] = {}
    if exif.capture_time:
        values[TAG_DATETIME_ORIGINAL] = _exif_time(exif.capture_time)
        values[TAG_SUBSEC_ORIGINAL] = f"{exif.capture_time.microsecond:06d}"
    if exif.exposure_time:
        values[TAG_EXPOSURE] = _rational(exif.exposure_time)
    if exif.f_number:
        values[TAG_FNUMBER] = _rational(exif.f_number)
    if exif.focal_length:
        values[TAG_FOCAL_LENGTH] = _rational(exif.focal_length)
    if exif.iso:
        values[TAG_ISO] = int(round(exif.iso))
    if exif.lens:
        values[TAG_LENS_MODEL] = exif.lens
    return values


def _tiff_exif_tags(exif: ExifInfo) -> list[tuple[int, str, int, object, bool]]:
    tags: list[tuple[int, str, int, object, bool]] = []
    for tag, value in ((TAG_MAKE, exif.make), (TAG_MODEL, exif.model)):
        if value:
            tags.append((tag, "s", 0, value, True))
    if exif.orientation:
        tags.append((TAG_ORIENTATION, "H", 1, exif.orientation, True))
    for tag, entry in _exif_ifd_values(exif).items():
        if isinstance(entry, str):
            tags.append((tag, "s", 0, entry, True))
        elif isinstance(entry, int):
            tags.append((tag, "H", 1, entry, True))
        else:
            fraction = entry.limit_rational(1_000_000)  # type: ignore[attr-defined]
            tags.append((tag, "2I", 1, (fraction[0], fraction[1]), True))
    if exif.capture_time:
        tags.append((TAG_DATETIME, "s", 0, _exif_time(exif.capture_time), True))
    return tags


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(value)


def _exif_time(time: _dt.datetime) -> str:
    return time.strftime("%Y:%m:%d %H:%M:%S")


def _with_png_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (eXIf must come before the image data)."""
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return png[:ihdr_end] + chunk + png[ihdr_end:]
