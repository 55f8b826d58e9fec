"""Kernel regression: every frame's samples placed where they landed on the reference grid.

Interpolating each frame onto the reference grid first (``merge.mean``) fails on RAW bursts:
a colour plane holds a quarter of the samples, aliased, and resampling it invents detail.
Scattering all frames' samples into one accumulator instead (as handheld multi-frame
super-resolution does) uses every frame's sampling phase, so aliasing averages out rather
than adding up. The output grid may be finer than the sensor's (``scale``).
"""

from __future__ import annotations

import math

import numpy as np

from burstcli import Frame
from burstlib.arrays import cfa_site_indices, normalized, pixels_of

#: RawInfo colour letters -> output channel.
CHANNEL = {"R": 0, "G": 1, "B": 2}


def sample_channels(frame: Frame) -> np.ndarray | None:
    """Output channel of each sensor pixel for a mosaic (None: every pixel has all three)."""
    if frame.layout != "cfa" or frame.raw is None:
        return None
    letters = np.array([CHANNEL.get(c, 1) for c in frame.raw.color_desc])
    return letters[cfa_site_indices(frame.raw, pixels_of(frame).shape[:2])]


class Accumulator:
    """Sums of weight x value and of weight per output pixel and channel."""

    def __init__(self, height: int, width: int):
        self.shape = (height, width)
        self.values = np.zeros(height * width * 3, np.float64)
        self.weights = np.zeros(height * width * 3, np.float64)

    def add(self, frame: Frame, values: np.ndarray, positions: np.ndarray, confidence: np.ndarray,
            sigma: float) -> None:
        """Splat samples at output ``positions`` (2 x n, x then y) with Gaussian weights."""
        channels = sample_channels(frame)
        flat_values = values.reshape(-1, values.shape[2]) if values.ndim == 3 else values.reshape(-1, 1)
        chans = (np.arange(3)[None, :].repeat(flat_values.shape[0], 0) if channels is None
                 else channels.reshape(-1, 1))
        reach = max(1, math.ceil(2 * sigma))
        base = np.floor(positions).astype(np.int64)
        height, width = self.shape
        # The Gaussian is separable: per-axis weights once, multiplied per offset. Offsets are
        # accumulated a row at a time (one bincount per sum and row): bounded memory, and far
        # fewer full-size histograms than one per offset.
        along_x = {ox: np.exp(-(base[0] + ox - positions[0]) ** 2 / (2 * sigma * sigma))
                   for ox in range(-reach + 1, reach + 1)}
        for oy in range(-reach + 1, reach + 1):
            ty = base[1] + oy
            row_weight = np.exp(-(ty - positions[1]) ** 2 / (2 * sigma * sigma)) * confidence
            row_inside = (ty >= 0) & (ty < height)
            indices, weights, samples = [], [], []
            for ox in range(-reach + 1, reach + 1):
                tx = base[0] + ox
                inside = row_inside & (tx >= 0) & (tx < width)
                w = along_x[ox] * row_weight * inside
                pixel = np.where(inside, ty * width + tx, 0)
                for k in range(chans.shape[1]):
                    indices.append(pixel * 3 + chans[:, k])
                    weights.append(w)
                    samples.append(w * flat_values[:, k])
            index = np.concatenate(indices)
            self.weights += np.bincount(index, weights=np.concatenate(weights),
                                        minlength=self.weights.size)
            self.values += np.bincount(index, weights=np.concatenate(samples),
                                       minlength=self.values.size)

    def result(self, fallback: np.ndarray) -> np.ndarray:
        """Weighted means; where no sample landed, ``fallback`` (H x W x 3)."""
        covered = self.weights > 1e-8
        flat = np.where(covered, self.values / np.where(covered, self.weights, 1.0),
                        fallback.reshape(-1))
        return flat.reshape(*self.shape, 3).astype(np.float32)


def output_positions(transform: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Where each sensor pixel of a frame lands on the output grid (2 x n)."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float64)
    mapped = transform @ points
    ref = mapped[:2] / mapped[2]
    return scale * (ref + 0.5) - 0.5


def frame_values(frame: Frame, gain: float) -> np.ndarray:
    """Normalised values at the reference's exposure."""
    return normalized(frame) * np.float32(gain)
