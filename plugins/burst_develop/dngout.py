"""``-f dng``: a RAW burst's result as a DNG that raw developers open and treat as RAW.

What is stored is the result before developing, in the reference frame's camera space:

* while the chain's product is still the image ``develop`` made, what ``develop`` read: a
  mosaic (``sharpest``: the reference's own sensor numbers and levels; ``denoise-hdrplus``,
  ``fuse-*``: the merged mosaic) as a CFA DNG, or the planes ``zoom.classical`` made as
  LinearRaw;
* when the frames were developed one by one (``develop.frames``: ``denoise``, ``zoom2x``,
  ...) or a stage changed the developed image (``deblur-single``), the RGB product with its
  development undone (the sRGB curve, the camera-to-sRGB matrix, the as-shot white balance;
  ``Burst.development`` says which were applied) as LinearRaw;
* a chain that ends undeveloped (no develop stage), its product as it is.

Processed values become uint16 with black 0 and white 65535 (1 = the sensor's white,
clipped there as developing clips). The reference's colour tags go with them: a DNG
reference's matrices, calibration, profile and as-shot white are copied as they are, so a
reader makes of the result what it made of the reference (LibRaw: the same matrix and
multipliers our develop stage used); any other RAW gets ColorMatrix1 (D65) derived from the
matrix LibRaw gave it, rows scaled by its daylight balance so the as-shot neutral keeps its
meaning, and AsShotNeutral from its as-shot multipliers.

Merges and zooms bring every frame to the reference's exposure and 1 stays its white, so the
data keep the reference's scale and BaselineExposure is the reference's own (a DNG's tag; 0
otherwise): a raw developer's exposure starts where it did for the reference.

The noise profile is the reference's (variance = S x + O per plane, x the normalised value)
times the variance a merge leaves of one frame's, :func:`variance_factor`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rawpy
import tifffile

from burstcli import __version__
from burstcli.errors import StageError
from burstcli.model import Burst, ExifInfo, Layout, RawInfo
from burstlib import dng, exififd
from burstlib.arrays import normalize_raw
from burstlib.colour import SRGB_TO_XYZ, srgb_decode, srgb_encode
from burstlib.rawfiles import RAW_EXTENSIONS

from .balance import rgb_gains

#: What a burst that is not RAW is written with instead.
OTHER_FORMATS = "write them with -f tiff, png or jpeg"
#: The longer side of the preview in IFD0 (DNG's thumbnails are 256 px).
PREVIEW_SIDE = 256
WHITE = 65535
# EXIF tag numbers burstlib.dng does not name.
F_NUMBER, FOCAL_LENGTH, LENS_MODEL = 33437, 37386, 42036
#: IFD0 tags of a DNG reference that describe its camera space: copied as they are.
COPIED_TAGS = (
    50721, 50722,  # ColorMatrix1, 2
    50723, 50724,  # CameraCalibration1, 2
    50725, 50726,  # ReductionMatrix1, 2
    50727,  # AnalogBalance
    50728, 50729,  # AsShotNeutral, AsShotWhiteXY
    50731, 50732, 50734,  # BaselineNoise, BaselineSharpness, LinearResponseLimit
    50778, 50779,  # CalibrationIlluminant1, 2
    50931, 50932,  # CameraCalibrationSignature, ProfileCalibrationSignature
    50936, 50937, 50938, 50939, 50940, 50941, 50942,  # the camera profile: name, maps, curve
    50964, 50965,  # ForwardMatrix1, 2
    50981, 50982, 51107, 51108, 51110,  # look table, encodings, DefaultBlackRender
)


@dataclasses.dataclass(frozen=True)
class RawResult:
    """What a DNG stores: ``values`` in ``layout`` (``cfa`` or ``linear_raw``), and the RAW
    metadata they go with.

    ``values`` are either uint16 sensor numbers as decoded (``raw``'s levels apply) or
    float32 normalised camera values (0 = black, 1 = white)."""

    values: np.ndarray
    layout: Layout
    raw: RawInfo


def check_raw_files(files: Sequence[Path]) -> str | None:
    """Why a burst of ``files`` cannot be written as DNG: none of them is RAW."""
    if any(path.suffix.lower() in RAW_EXTENSIONS for path in files):
        return None
    kinds = sorted({path.suffix.lstrip(".").upper() or "?" for path in files})
    return (f"-f dng stores RAW data and these frames are {'/'.join(kinds)}, not RAW: "
            f"{OTHER_FORMATS}")


def write_dng(path: Path, image: np.ndarray, layout: Layout, exif: ExifInfo,
              burst: Burst | None = None) -> None:
    """The burst's result as a DNG (the module's docstring says what is stored)."""
    if burst is None:
        raise StageError("the DNG writer needs the burst (its RAW metadata)")
    result = raw_result(burst, image, layout)
    stored, black, white = _quantised(result)
    reference = burst.reference_frame.path
    found = dng_tags(reference)
    raw_tags = _layout_tags(result, black, white)
    # NoiseProfile goes in IFD0, beside BaselineExposure: Adobe's DNG SDK reads both only
    # there (dng_shared::Parse_ifd0), whatever the raw image's IFD holds.
    tags = [*_identity_tags(found, exif), *colour_tags(reference, found, result.raw),
            (dng.BASELINE_EXPOSURE, "2i", 1, _srational(_baseline_exposure(found)), True),
            *_noise_tag(result.raw, variance_factor(burst.notes))]
    when = exif.capture_time.strftime("%Y:%m:%d %H:%M:%S") if exif.capture_time else None
    dng.write_dng_with_preview(
        path, stored, dng.CFA if result.layout == "cfa" else dng.LINEAR_RAW, tags=tags,
        raw_tags=raw_tags, preview=preview(result), exif_entries=exif_entries(exif),
        datetime=when, software=f"burst {__version__}")


# --- what is stored ----------------------------------------------------------------------------


def raw_result(burst: Burst, image: np.ndarray, layout: Layout) -> RawResult:
    """The RAW data behind the product ``image`` (see the module's docstring)."""
    if layout in ("cfa", "linear_raw"):
        raw = burst.reference_frame.raw
        if raw is None:
            raise StageError("RAW pixels without RAW metadata: cannot write a DNG")
        return RawResult(image, layout, raw)
    development = burst.development
    if development is None:
        raise StageError("-f dng stores RAW data and this burst's frames are not RAW: "
                         f"{OTHER_FORMATS}")
    source = development.source
    # The image develop made, untouched since: what it developed is the result itself.
    if source is not None and development.result is image and \
            development.source_layout in ("cfa", "linear_raw"):
        return RawResult(source, development.source_layout, development.raw)
    if layout != "rgb" or image.ndim != 3 or image.shape[2] < 3:
        raise StageError(f"cannot store a {layout} {image.shape} image as RAW (DNG)")
    return RawResult(undeveloped(image, development.raw, white_balance=development.white_balance,
                                 color_matrix=development.color_matrix,
                                 curve=development.curve), "linear_raw", development.raw)


def undeveloped(rgb: np.ndarray, raw: RawInfo, *, white_balance: bool, color_matrix: bool,
                curve: str) -> np.ndarray:
    """Developed RGB back to normalised camera RGB (float32 H x W x 3, in [0, 1]): the
    inverse of ``develop`` after demosaicking (curve, matrix, white balance, in reverse)."""
    values: np.ndarray = np.ascontiguousarray(rgb[..., :3], dtype=np.float32)
    if curve == "srgb":
        values = srgb_decode(values)
    if color_matrix and raw.color_matrix is not None:
        inverse = np.linalg.inv(np.asarray(raw.color_matrix, np.float64)[:3, :3])
        values = cv2.transform(values, inverse.astype(np.float32))
    if white_balance:
        values = values / rgb_gains(raw).astype(np.float32)
    # What the matrix's clipping to sRGB's gamut and [0, 1] lost cannot come back: values
    # outside the sensor's range are clipped to it.
    return np.clip(values, 0.0, 1.0)


def _quantised(result: RawResult) -> tuple[np.ndarray, tuple[float, ...], float]:
    """uint16 values and the black levels (per colour index) and white level they have:
    decoded sensor numbers as they are, normalised values on 0..65535."""
    if result.values.dtype == np.uint16:
        return result.values, result.raw.black_level, result.raw.white_level
    scaled = np.clip(result.values, 0.0, 1.0) * np.float32(WHITE) + np.float32(0.5)
    return scaled.astype(np.uint16), (0.0,) * len(result.raw.black_level), float(WHITE)


# --- tags --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tag:
    """One tag of the reference as tifffile read it: enough to write it again as it was."""

    code: int
    dtype: int
    count: int
    value: Any

    def extratag(self) -> tuple:
        """The tag as tifffile's ``extratags`` take it."""
        if isinstance(self.value, str):
            return self.code, "s", 0, self.value, True
        return self.code, self.dtype, self.count, self.value, True


def dng_tags(reference: Path) -> dict[int, Tag]:
    """The IFD0 tags of ``reference`` when it is a DNG (by its DNGVersion), else none."""
    if reference.suffix.lower() != ".dng":
        return {}
    try:
        with tifffile.TiffFile(reference) as tif:
            tags = tif.pages.first.tags
            if dng.DNG_VERSION not in tags:
                return {}
            return {t.code: Tag(t.code, int(t.dtype), t.count, t.value) for t in tags.values()}
    except (OSError, ValueError, tifffile.TiffFileError):
        return {}


def _layout_tags(result: RawResult, black: tuple[float, ...], white: float) -> list[tuple]:
    """CFA layout (for a mosaic) and the black and white levels, for the RAW IFD."""
    raw = result.raw
    if result.layout == "linear_raw":
        planes = [int(round(black[i])) if i < len(black) else 0 for i in range(3)]
        return [(dng.BLACK_LEVEL, "I", 3, tuple(planes), True),
                (dng.WHITE_LEVEL, "I", 3, (int(white),) * 3, True)]
    pattern = np.asarray(raw.cfa_pattern)
    letters = [raw.color_desc[i] for i in pattern.ravel()]
    if any(c not in dng.CFA_COLOURS for c in letters):
        raise StageError(f"cannot store a {raw.cfa_string()} mosaic as DNG (R, G, B only)")
    rows, cols = pattern.shape
    sites = tuple(int(round(black[i])) for i in pattern.ravel())
    levels = ([(dng.BLACK_LEVEL, "I", 1, sites[:1], True)] if len(set(sites)) == 1 else
              [(dng.BLACK_LEVEL_REPEAT_DIM, "H", 2, (rows, cols), True),
               (dng.BLACK_LEVEL, "I", len(sites), sites, True)])
    return [(dng.CFA_REPEAT, "H", 2, (rows, cols), True),
            (dng.CFA_PATTERN, "B", len(letters), bytes(dng.CFA_COLOURS[c] for c in letters), True),
            (dng.CFA_PLANE_COLOR, "B", 3, (0, 1, 2), True),
            (dng.CFA_LAYOUT, "H", 1, 1, True), *levels,
            (dng.WHITE_LEVEL, "I", 1, (int(round(white)),), True)]


def _noise_tag(raw: RawInfo, factor: float) -> list[tuple]:
    """NoiseProfile: the reference's (S, O) pairs times ``factor`` (none without a profile)."""
    if not raw.noise_profile:
        return []
    pairs = np.asarray(raw.noise_profile, np.float64) * factor
    if len(pairs) != 3:  # DNG takes one pair for all planes or one per plane (R, G, B)
        pairs = pairs.mean(axis=0, keepdims=True)
    values = tuple(float(v) for v in pairs.ravel())
    return [(dng.NOISE_PROFILE, "d", len(values), values, True)]


def _identity_tags(found: Mapping[int, Tag], exif: ExifInfo) -> list[tuple]:
    """DNG version, camera make and model (UniqueCameraModel as the reference DNG has it,
    ``found``: raw developers find their profile for the camera by it), orientation."""
    make = exif.make or _text(found.get(dng.MAKE)) or "Unknown"
    model = exif.model or _text(found.get(dng.MODEL)) or "Unknown"
    unique = _text(found.get(dng.UNIQUE_MODEL)) or f"{make} {model}"
    tags: list[tuple] = [
        (dng.DNG_VERSION, "B", 4, (1, 4, 0, 0), True),
        (dng.DNG_BACKWARD_VERSION, "B", 4, (1, 3, 0, 0), True),  # NoiseProfile came in 1.3
        (dng.MAKE, "s", 0, make, True), (dng.MODEL, "s", 0, model, True),
        (dng.UNIQUE_MODEL, "s", 0, unique, True)]
    if exif.orientation:  # the data are stored as the sensor saw them: readers still turn
        tags.append((dng.ORIENTATION, "H", 1, int(exif.orientation), True))
    return tags


def colour_tags(reference: Path, found: Mapping[int, Tag], raw: RawInfo) -> list[tuple]:
    """The reference's camera space: its DNG colour tags (``found``) as they are, else
    derived from what LibRaw made of the file."""
    if dng.COLOR_MATRIX1 in found:
        return [found[code].extratag() for code in COPIED_TAGS if code in found]
    return _derived_colour_tags(reference, raw)


def _derived_colour_tags(reference: Path, raw: RawInfo) -> list[tuple]:
    """ColorMatrix1 (XYZ -> camera, D65) and AsShotNeutral for a RAW file without them.

    LibRaw turns a ColorMatrix C into camera -> sRGB as inv(rows_normalised(C @ SRGB_TO_XYZ)),
    so C = diag(d) @ inv(M) @ inv(SRGB_TO_XYZ) gives back exactly the matrix M it gave the
    reference, whatever d; d is the camera's response to D65 white (1 / LibRaw's daylight
    multipliers), which puts the as-shot neutral at the right colour temperature for readers
    that interpret it (Adobe's)."""
    # A camera LibRaw knows no matrix for was developed as if its RGB were linear sRGB.
    srgb_from_camera = (np.eye(3) if raw.color_matrix is None else
                        np.asarray(raw.color_matrix, np.float64)[:3, :3])
    matrix = np.diag(_daylight_response(reference)) @ np.linalg.inv(srgb_from_camera) \
        @ np.linalg.inv(SRGB_TO_XYZ)
    neutral = 1.0 / rgb_gains(raw)
    return [(dng.COLOR_MATRIX1, "2i", 9, dng.srationals(matrix, 1_000_000), True),
            (dng.ILLUMINANT1, "H", 1, dng.D65, True),
            (dng.AS_SHOT_NEUTRAL, "2I", 3, dng.srationals(neutral, 1_000_000), True)]


def _daylight_response(reference: Path) -> np.ndarray:
    """The camera's R, G, B response to D65 white relative to green (LibRaw's daylight
    multipliers inverted), or ones when LibRaw has none for the camera."""
    try:
        with rawpy.RawPy() as opened:
            opened.open_file(str(reference))  # the header only
            daylight = np.asarray(opened.daylight_whitebalance[:3], np.float64)
    except (rawpy.LibRawError, OSError, ValueError):
        return np.ones(3)
    if not np.all(daylight > 0):
        return np.ones(3)
    return daylight[1] / daylight


def _baseline_exposure(found: Mapping[int, Tag]) -> float:
    """The reference's BaselineExposure, 0 without one: the stored values keep its scale (a
    stage that rescaled them would add log2 of its factor here)."""
    tag = found.get(dng.BASELINE_EXPOSURE)
    if tag is None:
        return 0.0
    numerator, denominator = tag.value
    return numerator / denominator if denominator else 0.0


def _text(tag: Tag | None) -> str | None:
    """A text tag's value, None when it is missing or blank."""
    text = str(tag.value).strip() if tag is not None else ""
    return text or None


def _srational(value: float) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(10_000)
    return fraction.numerator, fraction.denominator


# --- the noise of the result -------------------------------------------------------------------


def variance_factor(notes: Mapping[str, Any]) -> float:
    """The noise variance the stage that made the product left, over one frame's.

    The result is a weighted mean of the frames (weights summing to 1, the reference's
    included), whose noise variance is the sum of the squared weights times one frame's. The
    weights are read from what the last merging stage recorded in its note:

    * ``mean_weight`` (merge.robust, merge.kernel): frame i counts ``w_i`` (its mean
      agreement with the reference), the reference 1; merge.robust's ``kept`` share s of
      the merge (its validation) then leaves ``reference + s (merge - reference)``;
    * ``agreement`` (merge.wiener): each frame is pulled towards the reference by its
      agreement a_i, so frame i weighs a_i / n and the reference (1 + sum(1 - a_i)) / n;
    * ``frames`` (merge.mean, merge.sequential, deblur.fourier): n frames, 1 / n each;
    * ``frames`` with ``scale`` (zoom.classical, zoom.network): the samples spread over
      scale^2 times as many pixels: n / scale^2 frames' worth per pixel, at least 1.

    No such note (one frame): 1. Each frame's per-pixel weight is taken as its recorded
    mean, and what resampling, demosaicking and a spatial denoiser (merge.robust's
    ``spatial``) take out besides is not counted: the profile is an upper bound there.
    """
    for note in reversed(list(notes.values())):
        factor = _merge_variance(note) if isinstance(note, Mapping) else None
        if factor is not None:
            return factor
    return 1.0


def _merge_variance(note: Mapping[str, Any]) -> float | None:
    """:func:`variance_factor` from one stage's note; None when it records no merge."""
    weights = _merge_weights(note)
    if weights is not None:
        return float(np.sum(np.square(weights)))
    frames = note.get("frames")
    if isinstance(frames, (list, tuple)) and frames:
        scale = float(note.get("scale") or 1)
        return 1.0 / max(1.0, len(frames) / scale ** 2)
    return None


def _merge_weights(note: Mapping[str, Any]) -> np.ndarray | None:
    """Each frame's weight in the result (the reference first), from a merge's note."""
    if isinstance(note.get("mean_weight"), Mapping):
        frames = np.array([1.0, *note["mean_weight"].values()], np.float64)
        kept = note["kept"].get("merge") if isinstance(note.get("kept"), Mapping) else None
        share = float(np.mean(kept)) if kept else 1.0
        weights = frames / frames.sum() * share
        weights[0] += 1.0 - share
        return weights
    if isinstance(note.get("agreement"), Mapping):
        taken = np.array(list(note["agreement"].values()), np.float64)
        count = 1 + len(taken)
        return np.array([(1.0 + np.sum(1.0 - taken)) / count, *(taken / count)])
    return None


# --- preview and EXIF --------------------------------------------------------------------------


def preview(result: RawResult) -> np.ndarray:
    """An 8-bit sRGB thumbnail (longer side at most :data:`PREVIEW_SIDE`) of the stored data
    developed plainly: a mosaic by pattern cells, as-shot white balance, the matrix, sRGB."""
    raw = result.raw
    values = normalize_raw(result.values, raw, result.layout)
    rgb = _cell_rgb(values, raw) if result.layout == "cfa" else values[..., :3]
    rgb = np.clip(rgb * rgb_gains(raw).astype(np.float32), 0.0, 1.0)
    if raw.color_matrix is not None:
        rgb = cv2.transform(np.ascontiguousarray(rgb, np.float32),
                            np.asarray(raw.color_matrix, np.float32)[:3, :3])
    height, width = rgb.shape[:2]
    factor = max(height, width) / PREVIEW_SIDE
    if factor > 1:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        rgb = cv2.resize(np.ascontiguousarray(rgb, np.float32), size,
                         interpolation=cv2.INTER_AREA)
    return (srgb_encode(rgb) * 255.0 + 0.5).astype(np.uint8)


def _cell_rgb(mosaic: np.ndarray, raw: RawInfo) -> np.ndarray:
    """One RGB pixel per pattern cell (2x2 Bayer, 6x6 X-Trans): each colour's mean there."""
    pattern = np.asarray(raw.cfa_pattern)
    rows, cols = pattern.shape
    height, width = mosaic.shape[0] // rows * rows, mosaic.shape[1] // cols * cols
    cells = mosaic[:height, :width].reshape(height // rows, rows, width // cols, cols)
    cells = cells.transpose(0, 2, 1, 3).reshape(height // rows, width // cols, rows * cols)
    letters = [raw.color_desc[i] for i in pattern.ravel()]
    return np.stack([cells[..., [k for k, c in enumerate(letters) if c == colour]].mean(axis=2)
                     for colour in "RGB"], axis=2).astype(np.float32)


def exif_entries(exif: ExifInfo) -> list[exififd.Entry]:
    """The Exif sub-IFD: what :class:`ExifInfo` holds of the reference's EXIF."""
    entries = [exififd.undefined_entry(dng.EXIF_VERSION, b"0231")]
    if exif.capture_time:
        entries += [exififd.ascii_entry(dng.DATETIME_ORIGINAL,
                                        exif.capture_time.strftime("%Y:%m:%d %H:%M:%S")),
                    exififd.ascii_entry(dng.SUBSEC_ORIGINAL, f"{exif.capture_time.microsecond:06d}")]
    for tag, value in ((dng.EXPOSURE_TIME, exif.exposure_time), (F_NUMBER, exif.f_number),
                       (FOCAL_LENGTH, exif.focal_length)):
        if value:
            entries.append(exififd.rational_entry(tag, *dng.rational(value)))
    if exif.iso:
        entries.append(exififd.short_entry(dng.ISO, min(int(round(exif.iso)), 65535)))
    if exif.lens:
        entries.append(exififd.ascii_entry(LENS_MODEL, exif.lens))
    return entries
