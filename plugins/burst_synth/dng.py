"""Write CFA (Bayer) DNG files with tifffile that rawpy/LibRaw decode back exactly.

No camera is needed: tests, the demo and the synthetic bursts are real DNG files going through
the same RAW path as a camera's. EXIF fields sit in IFD0 (tifffile cannot write an Exif
sub-IFD); LibRaw and exifread both read them there.
"""

from __future__ import annotations

import datetime as _dt
from fractions import Fraction
from pathlib import Path

import numpy as np
import tifffile

CFA_COLOURS = {"R": 0, "G": 1, "B": 2}
# TIFF/DNG tag numbers (DNG specification 1.4).
MAKE, MODEL = 271, 272
DNG_VERSION, UNIQUE_MODEL = 50706, 50708
CFA_REPEAT, CFA_PATTERN, CFA_PLANE_COLOR, CFA_LAYOUT = 33421, 33422, 50710, 50711
BLACK_LEVEL, WHITE_LEVEL, COLOR_MATRIX1, ILLUMINANT1 = 50714, 50717, 50721, 50778
AS_SHOT_NEUTRAL, NOISE_PROFILE = 50728, 51041
EXPOSURE_TIME, ISO, DATETIME_ORIGINAL, SUBSEC_ORIGINAL = 33434, 34855, 36867, 37521
D65 = 21

#: sRGB's D65 XYZ -> linear sRGB inverse, i.e. a camera whose "raw" is linear sRGB.
XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])


def _srational(values: np.ndarray, denominator: int = 10000) -> tuple[int, ...]:
    flat = np.round(np.asarray(values, dtype=np.float64).ravel() * denominator).astype(np.int64)
    return tuple(int(v) for pair in ((n, denominator) for n in flat) for v in pair)


def _rational(value: float) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(1_000_000)
    return fraction.numerator, fraction.denominator


def _exif_tags(exif: dict) -> list[tuple]:
    tags: list[tuple] = []
    time = exif.get("capture_time")
    if isinstance(time, _dt.datetime):
        tags.append((DATETIME_ORIGINAL, "s", 0, time.strftime("%Y:%m:%d %H:%M:%S"), True))
        tags.append((SUBSEC_ORIGINAL, "s", 0, f"{time.microsecond // 1000:03d}", True))
    if exif.get("exposure_time"):
        tags.append((EXPOSURE_TIME, "2I", 1, _rational(exif["exposure_time"]), True))
    if exif.get("iso"):
        tags.append((ISO, "H", 1, int(round(exif["iso"])), True))
    return tags


def write_dng(path: Path, mosaic: np.ndarray, *, cfa: str = "RGGB", black_level: int = 0,
              white_level: int = 65535, as_shot_neutral: tuple[float, float, float] = (1.0, 1.0, 1.0),
              color_matrix: np.ndarray | None = None, noise_profile: tuple[float, float] | None = None,
              exif: dict | None = None, make: str = "burst", model: str = "synthetic") -> None:
    """Write a 2-D uint16 ``mosaic`` as a Bayer DNG.

    ``cfa`` is the 2x2 pattern as letters (RGGB, BGGR, GRBG, GBRG); ``color_matrix`` is DNG's
    ColorMatrix1 (XYZ -> camera, D65), by default that of a camera whose raw space is linear
    sRGB; ``noise_profile`` is (S, O): variance = S * x + O for x in [0, 1] above black;
    ``exif`` may hold ``capture_time`` (datetime), ``exposure_time`` (s) and ``iso``.
    """
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError("write_dng takes a 2-D uint16 mosaic")
    pattern = bytes(CFA_COLOURS[c] for c in cfa.upper())
    matrix = XYZ_TO_SRGB if color_matrix is None else np.asarray(color_matrix, dtype=np.float64)
    tags = [
        (MAKE, "s", 0, make, True),
        (MODEL, "s", 0, model, True),
        (DNG_VERSION, "B", 4, (1, 4, 0, 0), True),
        (UNIQUE_MODEL, "s", 0, f"{make} {model}", True),
        (CFA_REPEAT, "H", 2, (2, 2), True),
        (CFA_PATTERN, "B", 4, pattern, True),
        (CFA_PLANE_COLOR, "B", 3, (0, 1, 2), True),
        (CFA_LAYOUT, "H", 1, 1, True),
        (BLACK_LEVEL, "I", 1, int(black_level), True),
        (WHITE_LEVEL, "I", 1, int(white_level), True),
        (COLOR_MATRIX1, "2i", 9, _srational(matrix), True),
        (ILLUMINANT1, "H", 1, D65, True),
        (AS_SHOT_NEUTRAL, "2I", 3, _srational(np.asarray(as_shot_neutral), 1_000_000), True),
        *_exif_tags(exif or {}),
    ]
    if noise_profile is not None:
        tags.append((NOISE_PROFILE, "d", 2, tuple(float(v) for v in noise_profile), True))
    tifffile.imwrite(path, mosaic, photometric=32803, software="burst synth", metadata=None,
                     extratags=tags)
