"""Read the EXIF a burst needs from a file's header, without decoding its pixels."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import exifread
import rawpy
import tifffile

from burstcli.model import ExifInfo

# exifread logs a warning for every odd tag of every RAW file: not the user's concern.
logging.getLogger("exifread").setLevel(logging.ERROR)

#: exifread names a tag "EXIF X" in the Exif sub-IFD and "Image X" in IFD0 (where DNG writers
#: without an Exif IFD, ours included, put them): accept both.
PREFIXES = ("EXIF", "Image")
NOISE_PROFILE_TAG = 51041


def read_tags(path: Path) -> dict[str, Any]:
    """All tags exifread finds (empty when the file has none or is not TIFF/JPEG based)."""
    try:
        with open(path, "rb") as handle:
            return exifread.process_file(handle, details=False)
    except Exception:  # exifread raises many kinds on odd files; no EXIF is the answer
        return {}


def _tag(tags: dict[str, Any], name: str) -> Any:
    for prefix in PREFIXES:
        if f"{prefix} {name}" in tags:
            return tags[f"{prefix} {name}"]
    return None


def _number(tag: Any) -> float | None:
    if tag is None or not getattr(tag, "values", None):
        return None
    value = tag.values[0]
    try:
        return float(value.num) / float(value.den) if hasattr(value, "den") else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _text(tag: Any) -> str | None:
    text = str(tag).strip() if tag is not None else ""
    return text or None


def capture_time(tags: dict[str, Any]) -> _dt.datetime | None:
    """DateTimeOriginal plus SubSecTimeOriginal (falling back to DateTime)."""
    stamp = _text(_tag(tags, "DateTimeOriginal")) or _text(_tag(tags, "DateTime"))
    if not stamp:
        return None
    try:
        time = _dt.datetime.strptime(stamp[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    subsec = _text(_tag(tags, "SubSecTimeOriginal")) or _text(_tag(tags, "SubSecTime"))
    if subsec and subsec.isdigit():
        time += _dt.timedelta(seconds=float(f"0.{subsec}"))
    return time


def exif_from_tags(tags: dict[str, Any]) -> ExifInfo:
    """The fields of :class:`ExifInfo` that the tags hold."""
    return ExifInfo(
        capture_time=capture_time(tags),
        exposure_time=_number(_tag(tags, "ExposureTime")),
        iso=(_number(_tag(tags, "ISOSpeedRatings"))
             or _number(_tag(tags, "PhotographicSensitivity"))),
        f_number=_number(_tag(tags, "FNumber")),
        focal_length=_number(_tag(tags, "FocalLength")),
        make=_text(_tag(tags, "Make")),
        model=_text(_tag(tags, "Model")),
        lens=_text(_tag(tags, "LensModel")),
        orientation=int(_number(_tag(tags, "Orientation")) or 0) or None,
    )


def noise_profile(path: Path, tags: dict[str, Any]) -> tuple[tuple[float, float], ...] | None:
    """DNG NoiseProfile (tag 51041): (S, O) pairs, one per plane or one for all.

    exifread reports the tag as "Image Tag 0xC761" when it is in IFD0, where Adobe's DNG SDK
    reads it (and burst's ``-f dng`` writes it); when it is missing there, tifffile reads it
    from IFD0's SubIFDs, beside the RAW image, where some phones' DNGs put it.
    """
    tag = tags.get("Image Tag 0xC761") or tags.get("Image NoiseProfile")
    values = _flat_floats(tag.values) if tag is not None else None
    if values is None and path.suffix.lower() == ".dng":
        values = _tifffile_noise_profile(path)
    if not values or len(values) % 2:
        return None
    return tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))


def _flat_floats(values: Any) -> list[float] | None:
    try:
        return [float(v[0] if isinstance(v, (tuple, list)) else v) for v in values]
    except (TypeError, ValueError, IndexError):
        return None


def _tifffile_noise_profile(path: Path) -> list[float] | None:
    try:
        with tifffile.TiffFile(path) as tif:
            first = tif.pages.first
            for page in (first, *(first.pages or ())):  # IFD0, then the RAW image's IFD
                tag = page.tags.get(NOISE_PROFILE_TAG)
                if tag is not None:
                    return _flat_floats(tag.value)
            return None
    except Exception:  # a damaged file: the decode itself reports it
        return None


def with_libraw_exif(exif: ExifInfo, other: Any) -> ExifInfo:
    """Fill exposure, ISO, aperture, focal length and time from LibRaw's ``other``
    (rawpy's ``ImageOther``) for formats whose maker notes exifread cannot parse."""
    stamp = other.timestamp
    time = stamp if isinstance(stamp, _dt.datetime) and stamp.year > 1970 else None
    return dataclasses.replace(
        exif,
        exposure_time=exif.exposure_time or (float(other.shutter_speed) or None),
        iso=exif.iso or (float(other.iso_speed) or None),
        f_number=exif.f_number or (float(other.aperture) or None),
        focal_length=exif.focal_length or (float(other.focal_length) or None),
        capture_time=exif.capture_time or time,
    )


def read_exif(path: Path, raw_extensions: frozenset[str]) -> ExifInfo | None:
    """The header EXIF of ``path``; for a RAW file whose maker notes exifread cannot parse,
    LibRaw's header reading (``open_file``, no unpacking: ~14 ms on the Kodak KDC) fills the
    gaps. Never raises: None when nothing is found."""
    try:
        tags = read_tags(path)
        exif = exif_from_tags(tags) if tags else ExifInfo()
        if path.suffix.lower() in raw_extensions and _lacks_basics(exif):
            exif = _with_libraw_header(path, exif)
        return None if exif == ExifInfo() else exif
    except Exception:  # the hook must never raise: the decode stage reports bad files
        return None


def _lacks_basics(exif: ExifInfo) -> bool:
    return exif.capture_time is None or exif.iso is None or exif.exposure_time is None


def _with_libraw_header(path: Path, exif: ExifInfo) -> ExifInfo:
    raw = rawpy.RawPy()
    try:
        raw.open_file(str(path))  # parses the header only; unpack() would decode the pixels
        return with_libraw_exif(exif, raw.other)
    except rawpy.LibRawError:
        return exif
    finally:
        raw.close()


def merge(known: ExifInfo, found: ExifInfo) -> ExifInfo:
    """``known`` (what the collector read) with the fields it lacks taken from ``found``."""
    fields = {name: getattr(known, name) if getattr(known, name) not in (None, {}) else
              getattr(found, name) for name in ExifInfo.__dataclass_fields__}
    return ExifInfo(**fields)
