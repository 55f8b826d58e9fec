"""Read one file's pixels and metadata: RAW through rawpy (LibRaw), the rest through
tifffile and imageio. Every failure becomes a :class:`BadFileError` with a plain reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import rawpy
import tifffile

from burstcli.errors import BadFileError
from burstcli.model import ExifInfo, Layout, RawInfo

from .exif import exif_from_tags, noise_profile, read_tags

#: Extensions LibRaw reads (lower case). ".raw" is included: several makers use it.
RAW_EXTENSIONS = frozenset(
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .rwl .pef .ptx .srw .kdc .dcr "
    ".k25 .dc2 .mos .mef .mrw .erf .3fr .fff .iiq .x3f .gpr .cap .bay .raw .rwz .mdc .ari .cs1 "
    ".nksc .sti .qtk .r3d".split())
TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp"}) | TIFF_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class Decoded:
    """What reading one file gives."""

    pixels: np.ndarray
    layout: Layout
    raw: RawInfo | None
    exif: ExifInfo


def read_file(path: Path) -> Decoded:
    """Decode ``path`` by its extension; raise BadFileError with the reason on failure."""
    if not path.is_file():
        raise BadFileError(path, "no such file")
    if path.stat().st_size == 0:
        raise BadFileError(path, "empty file")
    suffix = path.suffix.lower()
    if suffix in RAW_EXTENSIONS:
        return read_raw(path)
    return read_image(path)


def read_raw(path: Path) -> Decoded:
    """A RAW file through LibRaw: the visible sensor data and what is needed to develop it."""
    try:
        with rawpy.imread(str(path)) as raw:
            return _decoded_raw(path, raw)
    except rawpy.LibRawFileUnsupportedError:
        raise BadFileError(path, "not a RAW file LibRaw can read (wrong extension or "
                                 "unsupported camera)") from None
    except (rawpy.LibRawIOError, rawpy.LibRawDataError) as exc:
        raise BadFileError(path, f"truncated or corrupt RAW data (LibRaw: {exc})") from None
    except rawpy.LibRawError as exc:
        raise BadFileError(path, f"LibRaw cannot decode it: {exc}") from None


def _decoded_raw(path: Path, raw: rawpy.RawPy) -> Decoded:
    tags = read_tags(path)
    exif = exif_from_tags(tags)
    if exif.exposure_time is None or exif.iso is None:
        exif = _with_libraw_exif(exif, raw)
    if raw.raw_type == rawpy.RawType.Stack:  # LinearRaw DNG: already demosaicked
        pixels = np.array(raw.raw_image_visible, dtype=np.uint16)[..., :3]
        layout: Layout = "linear_raw"
        pattern: tuple[tuple[int, ...], ...] = ((0, 1), (1, 2))
    else:
        pixels = np.array(raw.raw_image_visible, dtype=np.uint16)
        layout = "cfa"
        pattern = tuple(tuple(int(v) for v in row) for row in raw.raw_colors_visible[:2, :2])
    if pixels.size == 0:
        raise BadFileError(path, "RAW file holds no image data")
    return Decoded(pixels, layout, _raw_info(raw, pattern, noise_profile(tags)), exif)


def _raw_info(raw: rawpy.RawPy, pattern: tuple[tuple[int, ...], ...],
              profile: tuple[tuple[float, float], ...] | None) -> RawInfo:
    matrix = np.asarray(raw.color_matrix, dtype=np.float64)[:3, :3]
    if np.allclose(matrix, np.eye(3)):  # LibRaw's placeholder when it knows no matrix
        matrix = np.zeros((3, 3))
    return RawInfo(
        cfa_pattern=pattern,
        color_desc=raw.color_desc.decode("ascii", "replace"),
        black_level=tuple(float(v) for v in raw.black_level_per_channel),
        white_level=float(raw.white_level),
        white_balance=tuple(float(v) for v in raw.camera_whitebalance),
        color_matrix=None if not matrix.any() else tuple(tuple(float(v) for v in row) for row in matrix),
        noise_profile=profile,
    )


def _with_libraw_exif(exif: ExifInfo, raw: rawpy.RawPy) -> ExifInfo:
    """Fill exposure, ISO and time from LibRaw for formats exifread cannot parse."""
    other = raw.other
    time = other.timestamp if other.timestamp and other.timestamp.year > 1970 else None
    return dataclasses.replace(
        exif,
        exposure_time=exif.exposure_time or (other.shutter_speed or None),
        iso=exif.iso or (other.iso_speed or None),
        f_number=exif.f_number or (other.aperture or None),
        focal_length=exif.focal_length or (other.focal_length or None),
        capture_time=exif.capture_time or time,
    )


def read_image(path: Path) -> Decoded:
    """A PNG/JPEG/TIFF/BMP with its values unchanged (8-bit stays 8-bit, 16-bit stays 16)."""
    try:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            pixels = tifffile.imread(path)
        else:
            # The extension picks the plugin: no probing of every format imageio knows.
            pixels = iio.imread(path, extension=path.suffix.lower())
    except Exception as exc:  # imageio/Pillow/tifffile raise many kinds on a bad file
        raise BadFileError(path, f"cannot be read as {path.suffix.lstrip('.').upper()} "
                                 f"({_short(exc)})") from None
    return Decoded(*_as_layout(path, np.asarray(pixels)), None, exif_from_tags(read_tags(path)))


def _as_layout(path: Path, pixels: np.ndarray) -> tuple[np.ndarray, Layout]:
    if pixels.ndim == 2:
        return pixels, "gray"
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        # Alpha is dropped: bursts are photographs, and no stage merges transparency.
        return np.ascontiguousarray(pixels[..., :3]), "rgb"
    raise BadFileError(path, f"unsupported image shape {pixels.shape} (multi-page or volume?)")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
