"""Per-frame camera motion: hand-held sub-pixel drift, small rotations and camera shake.

Transforms are affine maps from a frame's pixel positions (x = column, y = row) to the
reference frame's, in frame pixels; the reference frame's is the identity.

Camera shake is a point-spread function drawn as a random-walk trajectory. How blurred a frame
is is measured by its PSF's RMS radius (``spread``): a blur measure's response to a small blur
goes with the PSF's second moment, whatever its shape (a curled trajectory blurs less than a
straight one of the same length).
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

#: The recipe's translation, U(-24, 24) pixels at 4x, expressed in frame pixels.
MAX_SHIFT = 6.0
#: RMS radius of a straight streak per pixel of its length (uniform on a segment: 1/sqrt(12)).
STREAK_SPREAD = 1.0 / math.sqrt(12.0)
TRAJECTORY_POINTS = 64


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


@dataclasses.dataclass(frozen=True)
class Shake:
    """One frame's camera shake: trajectory length and PSF RMS radius in frame pixels, and the
    PSF itself at scene (HR) resolution, centred (it blurs without shifting)."""

    length: float
    spread: float
    kernel: np.ndarray


def shake_plan(rng: np.random.Generator, frames: int, max_length: float, margin: float,
               zoom: int = 1) -> list[Shake]:
    """Shake per frame, lengths U(0, max_length) frame pixels, with a known sharpest frame.

    The sharpest frame is the one whose PSF has the smallest RMS radius; every other frame's
    trajectory is lengthened until its RMS radius is at least ``margin / sqrt(12)`` larger (what
    a straight streak ``margin`` pixels long adds), so the sharpest is not a coin toss.
    """
    shapes = [_unit_trajectory(rng) for _ in range(frames)]
    shakes = [_shake(shape, float(length), zoom)
              for shape, length in zip(shapes, rng.uniform(0.0, max_length, frames))]
    sharpest = int(np.argmin([s.spread for s in shakes]))
    floor = shakes[sharpest].spread + margin * STREAK_SPREAD
    return [s if i == sharpest else _lengthened(shapes[i], s, floor, zoom)
            for i, s in enumerate(shakes)]


def _unit_trajectory(rng: np.random.Generator) -> np.ndarray:
    """A hand-shake path of total length 1: a random walk whose heading drifts."""
    turns = np.cumsum(rng.normal(0, 0.35, TRAJECTORY_POINTS)) + rng.uniform(0, 2 * math.pi)
    steps = np.stack([np.cos(turns), np.sin(turns)], axis=1)
    path = np.cumsum(steps, axis=0) / TRAJECTORY_POINTS
    return path - path.mean(axis=0)  # centred: blur must not shift the image


def _shake(shape: np.ndarray, length: float, zoom: int) -> Shake:
    kernel = trajectory_kernel(shape * (length * zoom))
    return Shake(length, kernel_spread(kernel) / zoom, kernel)


def _lengthened(shape: np.ndarray, shake: Shake, floor: float, zoom: int) -> Shake:
    """The same trajectory, longer until its spread reaches ``floor`` (spread grows about
    linearly with length; the loop absorbs the pixel grid's wobble)."""
    for _ in range(50):
        if shake.spread >= floor:
            break
        length = max(shake.length * max(floor / max(shake.spread, 1e-6), 1.02), 0.25)
        shake = _shake(shape, length, zoom)
    return shake


def trajectory_kernel(path: np.ndarray) -> np.ndarray:
    """Splat a centred trajectory (N x 2, pixels) onto an odd-sized grid with bilinear weights:
    the PSF, normalised, its centroid exactly on the centre pixel."""
    reach = float(np.abs(path).max()) if len(path) else 0.0
    size = 2 * int(math.ceil(reach)) + 3
    kernel = np.zeros((size, size), np.float64)
    points = path + size // 2
    corner = np.floor(points).astype(int)
    frac = points - corner
    for dy in (0, 1):
        for dx in (0, 1):
            weight = np.abs(1 - dx - frac[:, 0]) * np.abs(1 - dy - frac[:, 1])
            np.add.at(kernel, (corner[:, 1] + dy, corner[:, 0] + dx), weight)
    return (kernel / kernel.sum()).astype(np.float32)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve (not correlate) ``image`` with ``kernel``, reflecting at the borders; the image
    itself when the kernel is a delta."""
    centre = kernel.shape[0] // 2
    if np.count_nonzero(kernel) == 1 and kernel[centre, centre] > 0:
        return image
    return cv2.filter2D(image, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT)


def kernel_spread(kernel: np.ndarray) -> float:
    """RMS radius of the PSF in pixels (0 for a delta): a blur measure independent of shape."""
    y, x = np.mgrid[:kernel.shape[0], :kernel.shape[1]]
    cy, cx = (kernel * y).sum(), (kernel * x).sum()
    return float(np.sqrt((kernel * ((y - cy) ** 2 + (x - cx) ** 2)).sum()))
