"""Per-frame motion: hand-held sub-pixel drift, small rotations, camera shake, exposure jitter.

Transforms are affine maps from a frame's pixel positions (x = column, y = row) to the
reference frame's, in frame pixels; the reference frame's is the identity.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: The recipe's translation, U(-24, 24) pixels at 4x, expressed in frame pixels.
MAX_SHIFT = 6.0


def random_affine(rng: np.random.Generator, width: int, height: int, *, shift: float,
                  rotation_deg: float) -> np.ndarray:
    """A 3x3 frame -> reference map: rotation about the frame centre plus a translation."""
    angle = math.radians(float(rng.uniform(-rotation_deg, rotation_deg)))
    tx, ty = rng.uniform(-shift, shift, 2)
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = np.eye(3)
    matrix[:2, :2] = rot
    matrix[:2, 2] = centre - rot @ centre + np.array([tx, ty])
    return matrix


def shake_lengths(rng: np.random.Generator, frames: int, max_length: float,
                  margin: float) -> np.ndarray:
    """Shake length per frame, U(0, max_length), then every frame but the sharpest pushed to at
    least ``margin`` pixels more than it: the sharpest frame is known, not a coin toss."""
    lengths = rng.uniform(0.0, max_length, frames)
    sharpest = int(np.argmin(lengths))
    floor = lengths[sharpest] + margin
    others = np.arange(frames) != sharpest
    lengths[others] = np.maximum(lengths[others], floor)
    return lengths


def shake_kernel(rng: np.random.Generator, length: float) -> np.ndarray:
    """A camera-shake PSF: a random-walk trajectory of total ``length`` pixels, splatted with
    bilinear weights onto a grid; a delta for lengths under a tenth of a pixel."""
    size = int(math.ceil(length)) * 2 + 3
    kernel = np.zeros((size, size), np.float32)
    if length < 0.1:
        kernel[size // 2, size // 2] = 1.0
        return kernel
    steps = 64
    heading = rng.uniform(0, 2 * math.pi)
    turns = np.cumsum(rng.normal(0, 0.35, steps)) + heading
    path = np.cumsum(np.stack([np.cos(turns), np.sin(turns)], axis=1), axis=0)
    path *= length / max(np.abs(np.diff(path, axis=0)).sum() + 1e-9, 1e-9)
    path -= path.mean(axis=0)  # centred: blur must not shift the image
    for x, y in path + size // 2:
        _splat(kernel, x, y)
    return kernel / kernel.sum()


def _splat(kernel: np.ndarray, x: float, y: float) -> None:
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    fx, fy = x - x0, y - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            kernel[y0 + dy, x0 + dx] += wx * wy


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve (not correlate) each channel with ``kernel``, reflecting at the borders."""
    if kernel.shape == (1, 1) or np.count_nonzero(kernel) == 1 and kernel[kernel.shape[0] // 2,
                                                                         kernel.shape[1] // 2]:
        return image
    return cv2.filter2D(image, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT)


def kernel_spread(kernel: np.ndarray) -> float:
    """RMS radius of the PSF in pixels (0 for a delta): a blur measure independent of shape."""
    y, x = np.mgrid[:kernel.shape[0], :kernel.shape[1]]
    cy, cx = (kernel * y).sum(), (kernel * x).sum()
    return float(np.sqrt((kernel * ((y - cy) ** 2 + (x - cx) ** 2)).sum()))
