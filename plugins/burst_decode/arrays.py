"""Pixel helpers other plugins share: normalised values and a luminance proxy per frame."""

from __future__ import annotations

import cv2
import numpy as np

from burstcli.model import Frame, RawInfo


def cfa_site_indices(raw: RawInfo, shape: tuple[int, int]) -> np.ndarray:
    """The colour index (into ``raw.color_desc``) of every pixel of a mosaic of ``shape``."""
    pattern = np.asarray(raw.cfa_pattern)
    reps = (-(-shape[0] // pattern.shape[0]), -(-shape[1] // pattern.shape[1]))
    return np.tile(pattern, reps)[:shape[0], :shape[1]]


def normalized(frame: Frame) -> np.ndarray:
    """float32 pixels with 0 = black and 1 = white, the same shape as ``frame.pixels``.

    RAW: (x - black[site]) / (white - black[site]), per CFA site; 8/16-bit images: x / max.
    """
    pixels = frame.pixels
    if pixels is None:
        raise ValueError(f"{frame.path}: not decoded")
    if frame.layout in ("cfa", "linear_raw") and frame.raw is not None:
        return normalize_raw(pixels, frame.raw, frame.layout)
    if pixels.dtype.kind in "ui":
        return pixels.astype(np.float32) * np.float32(1.0 / np.iinfo(pixels.dtype).max)
    return pixels.astype(np.float32, copy=False)


def normalize_raw(pixels: np.ndarray, raw: RawInfo, layout: str) -> np.ndarray:
    """RAW sensor numbers -> float32 with 0 = black, 1 = white (per CFA site for a mosaic).

    Float input is taken as already normalised (what merging stages produce)."""
    if pixels.dtype.kind == "f":
        return pixels.astype(np.float32, copy=False)
    mosaic = layout == "cfa"
    black = np.asarray(raw.black_level, np.float32)
    if not mosaic or np.ptp(black) == 0:  # one level for all: no per-site lookup needed
        level = float(black.mean())
        scale = np.float32(1.0 / max(raw.white_level - level, 1.0))
        return (pixels.astype(np.float32) - np.float32(level)) * scale
    sites = black[cfa_site_indices(raw, pixels.shape)]
    return (pixels.astype(np.float32) - sites) / np.maximum(raw.white_level - sites, 1.0)


def grey_proxy(frame: Frame) -> np.ndarray:
    """A float32 2-D luminance proxy in the units of :func:`normalized`.

    A mosaic becomes the mean of each 2x2 cell (half resolution: every cell holds one full
    pattern, so the CFA phase never matters); colour becomes the mean of its channels.
    """
    values = normalized(frame)
    if frame.layout == "cfa":
        h, w = values.shape[0] // 2 * 2, values.shape[1] // 2 * 2
        return cv2.resize(values[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    if values.ndim == 3:
        return values.mean(axis=2, dtype=np.float32)
    return values
