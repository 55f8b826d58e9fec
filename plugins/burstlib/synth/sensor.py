"""Low-resolution bursts of a clean image through a sensor-like model, in memory.

The super-resolution benchmark, the tests and ``burst train`` all make their samples here, so
what a model is trained on is what it is measured on: each frame is the clean image moved by a
random sub-pixel affine (the recipe's shift and rotation, :func:`burstlib.synth.motion.random_affine`),
averaged over scale x scale boxes (the pixel aperture: sensor-like sampling, aliased, no
anti-alias filter beyond it), with the recipe's shot and read noise
(:func:`burstlib.synth.render.add_noise`), optionally with a textured patch that moves on its own.

Geometry: reference pixel p covers the clean pixels [s p, s p + s - 1]; each frame's
``transform`` maps its pixels to the reference's (x = column), as registration stages do.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .motion import random_affine
from .render import INTERPOLATION, add_noise, noise_levels


@dataclasses.dataclass(frozen=True)
class SensorBurst:
    """Frames (float32, [0, 1]-ish), their true transforms, the clean image cropped to the
    frames' footprint (scale x their size), and the noise (shot, read) used."""

    frames: list[np.ndarray]
    transforms: list[np.ndarray]
    clean: np.ndarray
    noise: tuple[float, float]


def hr_from_lr(scale: int) -> np.ndarray:
    """3x3: low-resolution pixel position -> clean (high-resolution) pixel position."""
    s = float(scale)
    return np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1]])


def sensor_burst(clean: np.ndarray, scale: int, frames: int, rng: np.random.Generator, *,
                 shift: float = 2.0, rotation: float = 0.5, noise: str | float = "low",
                 moving_patch: bool = False) -> SensorBurst:
    """A burst of ``frames`` low-resolution views of ``clean`` (H x W or H x W x C, float32).

    ``shift`` (LR pixels) and ``rotation`` (degrees) bound each frame's random motion (the
    first frame is the reference: identity); the frames cover the clean image minus a margin
    large enough for that motion. ``noise`` is a level name or a shot coefficient (see
    :func:`burstlib.synth.render.noise_levels`).
    """
    margin = int(np.ceil(shift + 2)) + 1
    height = clean.shape[0] // scale - 2 * margin
    width = clean.shape[1] // scale - 2 * margin
    if height < 4 or width < 4:
        raise ValueError(f"image of {clean.shape[1]}x{clean.shape[0]} too small for scale {scale}")
    to_hr = hr_from_lr(scale)
    offset = np.array([[1, 0, margin * scale], [0, 1, margin * scale], [0, 0, 1.0]])
    shot, read = noise_levels(rng, noise)
    patch = _patch(rng, clean, scale) if moving_patch else None
    out, transforms = [], []
    for index in range(frames):
        transform = np.eye(3) if index == 0 else random_affine(
            rng, width, height, shift=shift, rotation_deg=rotation)
        # frame HR pixel -> clean pixel: into LR, through the transform, back to HR, offset
        to_clean = offset @ to_hr @ transform @ np.linalg.inv(to_hr)
        scene = clean if patch is None else _with_patch(clean, patch, index, scale)
        seen = cv2.warpAffine(scene, to_clean[:2], (width * scale, height * scale),
                              flags=INTERPOLATION | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT)
        low = cv2.resize(seen, (width, height), interpolation=cv2.INTER_AREA)
        out.append(add_noise(low.astype(np.float32), shot, read, rng))
        transforms.append(transform)
    reference_view = clean[margin * scale:(margin + height) * scale,
                           margin * scale:(margin + width) * scale]
    if patch is not None:
        reference_view = _with_patch(clean, patch, 0, scale)[
            margin * scale:(margin + height) * scale, margin * scale:(margin + width) * scale]
    return SensorBurst(out, transforms, reference_view.astype(np.float32), (shot, read))


@dataclasses.dataclass(frozen=True)
class _Patch:
    texture: np.ndarray
    start: tuple[int, int]
    step: tuple[int, int]


def _patch(rng: np.random.Generator, clean: np.ndarray, scale: int) -> _Patch:
    """A square cut from elsewhere in the image that crosses the frame by a few LR pixels a
    frame (a moving object: nothing registration can align)."""
    side = max(8, min(clean.shape[:2]) // 5)
    y, x = (int(rng.integers(0, clean.shape[i] - side)) for i in (0, 1))
    texture = np.ascontiguousarray(clean[y:y + side, x:x + side][::-1])
    start = tuple(int(rng.integers(side, clean.shape[i] - 2 * side)) for i in (0, 1))
    step = tuple(int(v) for v in rng.integers(-3 * scale, 3 * scale + 1, 2))
    return _Patch(texture, start, step)  # type: ignore[arg-type]


def _with_patch(clean: np.ndarray, patch: _Patch, index: int, scale: int) -> np.ndarray:
    out = clean.copy()
    side = patch.texture.shape[0]
    y = int(np.clip(patch.start[0] + index * patch.step[0], 0, clean.shape[0] - side))
    x = int(np.clip(patch.start[1] + index * patch.step[1], 0, clean.shape[1] - side))
    out[y:y + side, x:x + side] = patch.texture
    return out
