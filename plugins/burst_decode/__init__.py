"""The ``decode`` stage: RAW through rawpy (LibRaw), PNG/JPEG/TIFF/BMP through imageio/tifffile.

Also answers ``burst_image_extensions`` (which files are frames) and ``burst_read_exif``
(capture times for ordering and grouping, read from headers only).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from burstcli import Burst, ExifInfo, Frame, hookimpl, param, stage
from burstcli.errors import BadFileError
from burstcli.profiling import frame_timer
from burstlib.arrays import pixels_of
from burstlib.spill import is_spilled, spilled

from .exif import merge, read_exif
from .readers import IMAGE_EXTENSIONS, RAW_EXTENSIONS, read_file


@dataclasses.dataclass(frozen=True)
class DecodeParams:
    on_bad_frame: Literal["skip", "fail"] = param(
        "skip", "skip: drop an unreadable frame with a warning and go on with the others; "
                "fail: the whole burst fails")
    memory_mb: int = param(
        1024, "when the frames would take more than this many MB in all (the first frame's "
              "size times their number), they are kept in a temporary file, memory-mapped, not "
              "in memory (10 x 48 MP JPEG frames are 1.4 GB; see develop.frames' memory_mb); "
              "0: always in memory", low=0)


@stage("decode", DecodeParams, needs=(), provides=("pixels",))
def decode(burst: Burst, params: DecodeParams) -> Burst:
    """Read every frame's pixels and metadata.

    RAW files (DNG, CR2/CR3, NEF, ARW, RAF, ORF, RW2, KDC and every other format LibRaw reads)
    keep their visible sensor mosaic as uint16 (layout ``cfa``; a LinearRaw DNG gives
    ``linear_raw``) with black and white levels, CFA pattern, as-shot white balance, colour
    matrix, the DNG noise profile where present, and EXIF (exposure time, ISO, capture time).
    PNG, JPEG, TIFF and BMP keep their values and dtype exactly (alpha is dropped).

    A frame that cannot be read (empty, truncated, not what its extension says) is dropped
    with a one-line warning naming the file and the reason (``on_bad_frame: skip``); a frame
    whose size, layout or CFA pattern differs from the majority of the burst cannot be merged
    with it and is dropped the same way. The burst fails only when no frame is left (with the
    first bad file's reason). ``on_bad_frame: fail`` makes any such frame fail the burst.

    Writes each frame's ``pixels``, ``layout``, ``raw`` and ``exif`` (EXIF the collector already
    read is kept; decode only fills what it lacks) and ``notes["decode"]``: the ``skipped``
    files with their reasons, the burst's layout and shape.
    """
    decoded, skipped, timer = [], [], frame_timer()
    budget = params.memory_mb * 2 ** 20
    for frame in burst.frames:
        try:
            with timer.time(frame):
                decoded.append(_decode_frame(frame))
                if budget and pixels_of(decoded[0]).nbytes * len(burst.frames) > budget:
                    decoded[-1] = decoded[-1].replace(pixels=spilled(pixels_of(decoded[-1])))
        except BadFileError as exc:
            if params.on_bad_frame == "fail":
                raise
            skipped.append(exc)
    kept, mismatched = _consistent(decoded)
    if mismatched and params.on_bad_frame == "fail":
        raise mismatched[0]
    skipped += mismatched
    if not kept:
        raise skipped[0] if skipped else BadFileError(burst.source or Path("."), "no frames")
    out = burst.with_frames(kept)
    for error in skipped:
        out = out.with_warning(str(error))
    return out.with_note("decode", {"skipped": [{"path": str(e.path), "reason": e.reason}
                                                for e in skipped],
                                    "layout": kept[0].layout,
                                    "shape": list(pixels_of(kept[0]).shape),
                                    "kept_in_file": is_spilled(pixels_of(kept[0]))})


def _decode_frame(frame: Frame) -> Frame:
    decoded = read_file(frame.path)
    return frame.replace(pixels=decoded.pixels, layout=decoded.layout, raw=decoded.raw,
                         exif=merge(frame.exif, decoded.exif))


def _consistent(frames: list[Frame]) -> tuple[list[Frame], list[BadFileError]]:
    """Keep the frames of the most common (shape, layout, dtype); the rest cannot be merged."""
    if not frames:
        return [], []
    kinds = Counter(_kind(f) for f in frames)
    common = kinds.most_common(1)[0][0]
    kept = [f for f in frames if _kind(f) == common]
    dropped = [BadFileError(f.path, f"{_describe(_kind(f))} differs from the burst's "
                                    f"{_describe(common)}") for f in frames if _kind(f) != common]
    return kept, dropped


def _kind(frame: Frame) -> tuple:
    """What frames must share to be merged: size, layout, dtype and CFA pattern."""
    pattern = frame.raw.cfa_string() if frame.raw is not None and frame.layout == "cfa" else ""
    pixels = pixels_of(frame)
    return (pixels.shape, frame.layout, str(pixels.dtype), pattern)


def _describe(kind: tuple) -> str:
    shape, layout, dtype, pattern = kind
    return " ".join(filter(None, (f"{'x'.join(map(str, shape[1::-1]))}", pattern, layout, dtype)))


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The ``decode`` stage."""
    register(decode)


@hookimpl
def burst_image_extensions() -> Iterable[str]:
    """RAW formats LibRaw reads, and PNG/JPEG/TIFF/BMP."""
    return sorted(RAW_EXTENSIONS | IMAGE_EXTENSIONS)


@hookimpl
def burst_read_exif(path: Path) -> ExifInfo | None:
    """EXIF from the header (exifread), never decoding pixels; None when there is none."""
    return read_exif(Path(path), RAW_EXTENSIONS)
