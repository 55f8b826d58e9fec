"""Write DNG files with tifffile that rawpy/LibRaw decode back exactly: Bayer (CFA) mosaics
and LinearRaw (three samples per pixel).

No camera is needed: tests, the demo and the synthetic bursts are real DNG files going through
the same RAW path as a camera's. The EXIF fields are written twice: in IFD0 (where exifread
reports them as "Image X") and in a real Exif sub-IFD ("EXIF X"; LibRaw reads the ISO only
there). DateTime (306) in IFD0 gives LibRaw its timestamp.

:func:`write_dng_with_preview` lays a file out as cameras and converters do, for results a
raw developer opens (``-f dng``): an 8-bit sRGB preview in IFD0 with the file's tags, the RAW
image in its SubIFD.
"""

from __future__ import annotations

import datetime as _dt
import struct
from fractions import Fraction
from pathlib import Path
from typing import TypedDict

import numpy as np
import tifffile

from . import exififd

CFA_COLOURS = {"R": 0, "G": 1, "B": 2}
# TIFF/DNG tag numbers (DNG specification 1.4).
MAKE, MODEL = 271, 272
DNG_VERSION, UNIQUE_MODEL = 50706, 50708
CFA_REPEAT, CFA_PATTERN, CFA_PLANE_COLOR, CFA_LAYOUT = 33421, 33422, 50710, 50711
BLACK_LEVEL, WHITE_LEVEL, COLOR_MATRIX1, ILLUMINANT1 = 50714, 50717, 50721, 50778
AS_SHOT_NEUTRAL, NOISE_PROFILE = 50728, 51041
EXPOSURE_TIME, ISO, DATETIME_ORIGINAL, SUBSEC_ORIGINAL = 33434, 34855, 36867, 37521
EXIF_VERSION = 36864
CFA, LINEAR_RAW = 32803, 34892  # PhotometricInterpretation
D65 = 21
ORIENTATION, DNG_BACKWARD_VERSION, BLACK_LEVEL_REPEAT_DIM = 274, 50707, 50713
BASELINE_EXPOSURE = 50730
SUB_IFDS = 330
PREVIEW, MAIN = 1, 0  # NewSubFileType: a reduced-resolution copy, the main (RAW) image
#: Strips of about this many bytes (tifffile writes one strip per image unless told).
STRIP_BYTES = 1 << 20

#: sRGB's D65 XYZ -> linear sRGB inverse, i.e. a camera whose "raw" is linear sRGB.
XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])


def srationals(values: np.ndarray, denominator: int = 10000) -> tuple[int, ...]:
    """(numerator, denominator) pairs, flattened as tifffile takes (S)RATIONAL arrays."""
    flat = np.round(np.asarray(values, dtype=np.float64).ravel() * denominator).astype(np.int64)
    return tuple(int(v) for pair in ((n, denominator) for n in flat) for v in pair)


def rational(value: float) -> tuple[int, int]:
    """A RATIONAL (numerator, denominator) within 1e-6 of ``value``."""
    fraction = Fraction(value).limit_denominator(1_000_000)
    return fraction.numerator, fraction.denominator


class _ExifFields(TypedDict, total=False):
    """The EXIF values to write (a key is missing when the caller gave no value)."""

    datetime: str
    subsec: str
    exposure: tuple[int, int]
    iso: int


def _exif_fields(exif: dict) -> _ExifFields:
    """The EXIF values to write, as text / numbers, from the caller's ``exif`` dict."""
    fields: _ExifFields = {}
    time = exif.get("capture_time")
    if isinstance(time, _dt.datetime):
        fields["datetime"] = time.strftime("%Y:%m:%d %H:%M:%S")
        fields["subsec"] = f"{time.microsecond // 1000:03d}"
    if exif.get("exposure_time"):
        fields["exposure"] = rational(float(exif["exposure_time"]))
    if exif.get("iso"):
        fields["iso"] = min(int(round(exif["iso"])), 65535)
    return fields


def _ifd0_exif_tags(fields: _ExifFields) -> list[tuple]:
    """EXIF tags in IFD0 as tifffile extratags (exifread names them "Image X")."""
    tags: list[tuple] = []
    if "datetime" in fields:
        tags.append((DATETIME_ORIGINAL, "s", 0, fields["datetime"], True))
        tags.append((SUBSEC_ORIGINAL, "s", 0, fields["subsec"], True))
    if "exposure" in fields:
        tags.append((EXPOSURE_TIME, "2I", 1, fields["exposure"], True))
    if "iso" in fields:
        tags.append((ISO, "H", 1, fields["iso"], True))
    return tags


def _exif_ifd_entries(fields: _ExifFields) -> list[exififd.Entry]:
    """The same fields for the Exif sub-IFD."""
    entries = [exififd.undefined_entry(EXIF_VERSION, b"0231")]
    if "datetime" in fields:
        entries.append(exififd.ascii_entry(DATETIME_ORIGINAL, str(fields["datetime"])))
        entries.append(exififd.ascii_entry(SUBSEC_ORIGINAL, str(fields["subsec"])))
    if "exposure" in fields:
        entries.append(exififd.rational_entry(EXPOSURE_TIME, *fields["exposure"]))
    if "iso" in fields:
        entries.append(exififd.short_entry(ISO, int(fields["iso"])))
    return entries


def _colour_tags(samples: int, black_level: int, white_level: int,
                 as_shot_neutral: tuple[float, float, float], color_matrix: np.ndarray | None,
                 noise_profile: tuple[float, float] | None) -> list[tuple]:
    """Levels, colour and noise tags shared by CFA and LinearRaw DNGs."""
    matrix = XYZ_TO_SRGB if color_matrix is None else np.asarray(color_matrix, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise ValueError("color_matrix must be 3x3 (XYZ -> camera)")
    tags = [
        (BLACK_LEVEL, "I", samples, (int(black_level),) * samples, True),
        (WHITE_LEVEL, "I", samples, (int(white_level),) * samples, True),
        (COLOR_MATRIX1, "2i", 9, srationals(matrix), True),
        (ILLUMINANT1, "H", 1, D65, True),
        (AS_SHOT_NEUTRAL, "2I", 3, srationals(np.asarray(as_shot_neutral), 1_000_000), True),
    ]
    if noise_profile is not None:
        tags.append((NOISE_PROFILE, "d", 2, tuple(float(v) for v in noise_profile), True))
    return tags


def _write(path: Path, pixels: np.ndarray, photometric: int, tags: list[tuple], exif: dict | None,
           make: str, model: str) -> None:
    """imwrite with the identity, EXIF and DNG-version tags, then the Exif sub-IFD."""
    fields = _exif_fields(exif or {})
    identity = [
        (MAKE, "s", 0, make, True),
        (MODEL, "s", 0, model, True),
        (DNG_VERSION, "B", 4, (1, 4, 0, 0), True),
        (UNIQUE_MODEL, "s", 0, f"{make} {model}", True),
        (exififd.PLACEHOLDER, "I", 1, 0, True),  # becomes the ExifIFD pointer
    ]
    tifffile.imwrite(path, pixels, photometric=photometric, software="burst synth", metadata=None,
                     byteorder="<", bigtiff=False, datetime=fields.get("datetime"),
                     extratags=identity + tags + _ifd0_exif_tags(fields))
    exififd.append_exif_ifd(path, _exif_ifd_entries(fields))


def write_dng(path: Path, mosaic: np.ndarray, *, cfa: str = "RGGB", black_level: int = 0,
              white_level: int = 65535, as_shot_neutral: tuple[float, float, float] = (1.0, 1.0, 1.0),
              color_matrix: np.ndarray | None = None, noise_profile: tuple[float, float] | None = None,
              exif: dict | None = None, make: str = "burst", model: str = "synthetic") -> None:
    """Write a 2-D uint16 ``mosaic`` as a Bayer DNG.

    ``cfa`` is the 2x2 pattern as letters (RGGB, BGGR, GRBG, GBRG); ``color_matrix`` is DNG's
    ColorMatrix1 (XYZ -> camera, D65), by default that of a camera whose raw space is linear
    sRGB; ``as_shot_neutral`` is the camera's response to white (LibRaw's
    ``camera_whitebalance`` is its inverse, green = 1); ``noise_profile`` is (S, O): variance =
    S * x + O for x in [0, 1] above black; ``exif`` may hold ``capture_time`` (datetime),
    ``exposure_time`` (s) and ``iso``.
    """
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError("write_dng takes a 2-D uint16 mosaic")
    if sorted(cfa.upper()) != ["B", "G", "G", "R"]:
        raise ValueError(f"cfa must be a 2x2 Bayer pattern such as RGGB, not {cfa!r}")
    pattern = bytes(CFA_COLOURS[c] for c in cfa.upper())
    cfa_tags = [
        (CFA_REPEAT, "H", 2, (2, 2), True),
        (CFA_PATTERN, "B", 4, pattern, True),
        (CFA_PLANE_COLOR, "B", 3, (0, 1, 2), True),
        (CFA_LAYOUT, "H", 1, 1, True),
    ]
    tags = cfa_tags + _colour_tags(1, black_level, white_level, as_shot_neutral, color_matrix,
                                   noise_profile)
    _write(path, mosaic, CFA, tags, exif, make, model)


def write_linear_dng(path: Path, rgb: np.ndarray, *, black_level: int = 0, white_level: int = 65535,
                     as_shot_neutral: tuple[float, float, float] = (1.0, 1.0, 1.0),
                     color_matrix: np.ndarray | None = None,
                     noise_profile: tuple[float, float] | None = None, exif: dict | None = None,
                     make: str = "burst", model: str = "synthetic") -> None:
    """Write an HxWx3 uint16 camera-RGB image as a LinearRaw DNG (photometric 34892), the shape
    Adobe's linear DNGs and merging tools write; rawpy reads it as ``raw_type`` Stack. The
    other arguments are those of :func:`write_dng`."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint16:
        raise ValueError("write_linear_dng takes an HxWx3 uint16 image")
    tags = _colour_tags(3, black_level, white_level, as_shot_neutral, color_matrix, noise_profile)
    _write(path, rgb, LINEAR_RAW, tags, exif, make, model)


def write_dng_with_preview(path: Path, raw: np.ndarray, photometric: int, *,
                           tags: list[tuple], raw_tags: list[tuple], preview: np.ndarray,
                           exif_entries: list[exififd.Entry], datetime: str | None = None,
                           software: str = "burst") -> None:
    """A DNG as raw developers expect one: IFD0 holds ``preview`` (uint8 H x W x 3 sRGB,
    NewSubFileType 1) and the file's ``tags`` (DNG version, camera, colour; tifffile extratags),
    its one SubIFD the RAW image (uint16 ``raw``, ``photometric`` CFA or LinearRaw, in strips)
    with ``raw_tags`` (CFA layout, levels, noise profile); ``exif_entries`` go to the Exif
    sub-IFD and ``datetime`` (EXIF format) to DateTime."""
    row_bytes = raw.shape[1] * raw.itemsize * (raw.shape[2] if raw.ndim == 3 else 1)
    with tifffile.TiffWriter(path, byteorder="<", bigtiff=False) as tif:
        tif.write(preview, photometric="rgb", subfiletype=PREVIEW, subifds=1, metadata=None,
                  software=software, datetime=datetime,
                  extratags=[*tags, (exififd.PLACEHOLDER, "I", 1, 0, True)])
        tif.write(raw, photometric=photometric, subfiletype=MAIN, metadata=None,
                  software=False, rowsperstrip=max(1, STRIP_BYTES // row_bytes),
                  extratags=raw_tags)
    _subifds_as_long(path)
    exififd.append_exif_ifd(path, exif_entries)


def _subifds_as_long(path: Path) -> None:
    """Retype IFD0's SubIFDs pointer from IFD (13, as tifffile writes it) to LONG, as DNG
    writers do: both are valid TIFF, but exiftool warns of "non-standard format" for IFD."""
    with tifffile.TiffFile(path) as tif:
        entry_at = tif.pages.first.tags[SUB_IFDS].offset
    with open(path, "r+b") as handle:
        handle.seek(entry_at + 2)  # the entry: tag (2 bytes), type (2), count (4), value (4)
        handle.write(struct.pack("<H", exififd.LONG))
