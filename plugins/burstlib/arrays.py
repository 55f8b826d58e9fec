"""Pixel helpers other plugins share: normalised values and a luminance proxy per frame.

All of them are vectorised for 12 MP frames: per-site work loops over the (2x2 or 6x6) CFA
pattern positions with strided views, never over pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from burstcli.model import Burst, Frame, RawInfo
from burstlib.spill import release


def cfa_site_indices(raw: RawInfo, shape: tuple[int, int]) -> np.ndarray:
    """The colour index (into ``raw.color_desc``) of every pixel of a mosaic of ``shape``.

    uint8 (a quarter of the memory of int64 on 12 MP): fine as a numpy index array.
    """
    pattern = np.asarray(raw.cfa_pattern, dtype=np.uint8)
    reps = (-(-shape[0] // pattern.shape[0]), -(-shape[1] // pattern.shape[1]))
    return np.tile(pattern, reps)[:shape[0], :shape[1]]


def pixels_of(frame: Frame) -> np.ndarray:
    """``frame.pixels`` of a decoded frame (what every stage after ``decode`` holds)."""
    if frame.pixels is None:
        raise ValueError(f"{frame.path}: not decoded")
    return frame.pixels


def normalized(frame: Frame) -> np.ndarray:
    """float32 pixels with 0 = black and 1 = white, the same shape as ``frame.pixels``.

    RAW (``cfa``/``linear_raw``): (x - black[site]) / (white - black[site]), per CFA site or
    per plane; 8/16-bit images: x / dtype max; float pixels (what merging stages produce)
    are taken as already normalised.
    """
    pixels = pixels_of(frame)
    if frame.layout in ("cfa", "linear_raw") and frame.raw is not None:
        values = normalize_raw(pixels, frame.raw, frame.layout)
    elif pixels.dtype.kind in "ui":
        values = _scaled(pixels, 0.0, 1.0 / np.iinfo(pixels.dtype).max)
    else:
        return pixels.astype(np.float32, copy=False)
    release(pixels)  # a frame kept in a file (burstlib.spill): its pages read, let go
    return values


def normalize_raw(pixels: np.ndarray, raw: RawInfo, layout: str) -> np.ndarray:
    """RAW sensor numbers -> float32 with 0 = black and 1 = white.

    A mosaic uses each CFA site's black level, a LinearRaw image each plane's; float input
    is taken as already normalised.
    """
    if pixels.dtype.kind == "f":
        return pixels.astype(np.float32, copy=False)
    black = np.asarray(raw.black_level, dtype=np.float64)
    if layout == "cfa" and np.ptp(black) > 0:
        return _per_site(pixels, raw, black)
    if layout == "linear_raw" and pixels.ndim == 3 and np.ptp(black[:pixels.shape[2]]) > 0:
        levels = black[:pixels.shape[2]]
        return ((pixels - levels) / np.maximum(raw.white_level - levels, 1.0)).astype(np.float32)
    level = float(black.mean())  # one level for all: a single fused pass
    return _scaled(pixels, level, 1.0 / max(raw.white_level - level, 1.0))


def _scaled(pixels: np.ndarray, offset: float, scale: float) -> np.ndarray:
    """(pixels - offset) * scale as float32 in one OpenCV pass (numpy needs three)."""
    flat = pixels.reshape(pixels.shape[0], -1)  # 2-D: OpenCV limits the channel count
    out = cv2.addWeighted(flat, scale, flat, 0.0, -offset * scale, dtype=cv2.CV_32F)
    return out.reshape(pixels.shape)


def _per_site(pixels: np.ndarray, raw: RawInfo, black: np.ndarray) -> np.ndarray:
    """(x - black[site]) / (white - black[site]) for a mosaic with per-site black levels.

    Each band of ``rows`` image rows (one pattern height) is viewed as a single row, so one
    broadcast row of gains and offsets covers every site: two vectorised passes.
    """
    height, width = pixels.shape
    rows = len(raw.cfa_pattern)
    level = black[cfa_site_indices(raw, (rows, width))].astype(np.float32)  # rows x W
    gain = (1.0 / np.maximum(raw.white_level - level, 1.0)).astype(np.float32)
    offset = level * gain
    out = np.empty(pixels.shape, dtype=np.float32)
    whole = height // rows * rows
    bands = pixels[:whole].reshape(whole // rows, rows * width)
    banded = out[:whole].reshape(bands.shape)
    np.multiply(bands, gain.reshape(1, -1), out=banded)
    banded -= offset.reshape(1, -1)
    tail = height - whole  # a last, incomplete pattern band
    out[whole:] = pixels[whole:] * gain[:tail] - offset[:tail]
    return out


def grey_proxy(frame: Frame) -> np.ndarray:
    """A float32 2-D luminance proxy in the units of :func:`normalized`.

    A mosaic becomes the mean of each 2x2 cell (half resolution: every cell holds one full
    Bayer pattern, so the CFA phase never matters); colour becomes the mean of its channels;
    grey is itself.
    """
    values = normalized(frame)
    if frame.layout == "cfa":
        h, w = values.shape[0] // 2 * 2, values.shape[1] // 2 * 2
        return cv2.resize(values[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    if values.ndim == 3:
        return channel_mean(values)
    return values


def channel_mean(values: np.ndarray) -> np.ndarray:
    """The mean over the last axis of an H x W x C float32 image (OpenCV: ~10x numpy's)."""
    channels = values.shape[2]
    if channels > 4:  # cv2.transform takes at most 4 channels
        return values.mean(axis=2, dtype=np.float32)
    weights = np.full((1, channels), 1.0 / channels, dtype=np.float32)
    return cv2.transform(np.ascontiguousarray(values), weights)


def noise_coefficients(frame: Frame) -> tuple[float, float] | None:
    """(S, O) of the file's noise profile (variance = S * x + O for x in [0, 1] above black),
    averaged over its planes (they differ little), or None when the file has none."""
    profile = frame.raw.noise_profile if frame.raw is not None else None
    if not profile:
        return None
    scale, offset = np.mean(np.asarray(profile, dtype=np.float64), axis=0)
    return float(scale), float(offset)


def per_pixel(plane: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A 2-D map (H x W) shaped to multiply ``like`` (H x W or H x W x C): one value for
    every channel."""
    return plane[..., None] if like.ndim == 3 else plane


def in_linear_light(burst: Burst) -> bool:
    """Whether the burst's developed frames (and an image merged from them) hold linear light:
    ``develop.frames`` developed RAW frames with ``output: linear`` and no ``develop.encode``
    has applied the sRGB curve since. Stages that work on gamma-encoded pictures (a network
    trained on them, a sharpness threshold calibrated on them) encode first."""
    note = burst.notes.get("develop.frames") or {}
    return (note.get("output") == "linear" and bool(note.get("developed"))
            and "develop.encode" not in burst.notes)
