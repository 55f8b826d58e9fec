"""Read the EXIF a burst needs from a file's header, without decoding its pixels."""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import exifread

from burstcli.model import ExifInfo

# exifread logs a warning for every odd tag of every RAW file: not the user's concern.
logging.getLogger("exifread").setLevel(logging.ERROR)

#: exifread names a tag "EXIF X" in the Exif sub-IFD and "Image X" in IFD0 (where DNG writers
#: without an Exif IFD, ours included, put them): accept both.
PREFIXES = ("EXIF", "Image")


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
        iso=_number(_tag(tags, "ISOSpeedRatings")) or _number(_tag(tags, "PhotographicSensitivity")),
        f_number=_number(_tag(tags, "FNumber")),
        focal_length=_number(_tag(tags, "FocalLength")),
        make=_text(_tag(tags, "Make")),
        model=_text(_tag(tags, "Model")),
        lens=_text(_tag(tags, "LensModel")),
        orientation=int(_number(_tag(tags, "Orientation")) or 0) or None,
    )


def noise_profile(tags: dict[str, Any]) -> tuple[tuple[float, float], ...] | None:
    """DNG NoiseProfile (tag 51041): (S, O) pairs, one per plane or one for all."""
    tag = tags.get("Image Tag 0xC761") or tags.get("Image NoiseProfile")
    if tag is None:
        return None
    values = [float(v[0] if isinstance(v, tuple) else v) for v in tag.values]
    if len(values) < 2 or len(values) % 2:
        return None
    return tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))


def merge(found: ExifInfo, known: ExifInfo) -> ExifInfo:
    """``found`` with any field it lacks taken from ``known``."""
    fields = {name: getattr(found, name) if getattr(found, name) not in (None, {}) else
              getattr(known, name) for name in ExifInfo.__dataclass_fields__}
    return ExifInfo(**fields)
