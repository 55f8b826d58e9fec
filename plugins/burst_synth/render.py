"""Render one frame: the linear scene seen through a frame's motion, blur, sampling and noise."""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Bayer sites of each colour for the supported 2x2 patterns: (row, column) offsets.
CFA_OFFSETS = {
    "RGGB": {0: [(0, 0)], 1: [(0, 1), (1, 0)], 2: [(1, 1)]},
    "BGGR": {2: [(0, 0)], 1: [(0, 1), (1, 0)], 0: [(1, 1)]},
    "GRBG": {1: [(0, 0), (1, 1)], 0: [(0, 1)], 2: [(1, 0)]},
    "GBRG": {1: [(0, 0), (1, 1)], 2: [(0, 1)], 0: [(1, 0)]},
}


def sample_frame(scene: np.ndarray, transform: np.ndarray, *, zoom: int, margin: float,
                 width: int, height: int) -> np.ndarray:
    """Sample the HR ``scene`` at the frame's pixel positions, bilinear, with NO anti-alias
    filter: frame pixel p sits at scene position zoom * (transform @ p) + margin. The aliasing
    this leaves is the signal multi-frame super-resolution recovers."""
    to_scene = np.diag([zoom, zoom, 1.0]) @ transform
    to_scene[:2, 2] += margin
    return cv2.warpAffine(scene, to_scene[:2], (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def mosaic(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """Keep one colour per pixel, as a Bayer sensor does."""
    out = np.empty(rgb.shape[:2], rgb.dtype)
    for colour, sites in CFA_OFFSETS[cfa].items():
        for dy, dx in sites:
            out[dy::2, dx::2] = rgb[dy::2, dx::2, colour]
    return out


def noise_levels(rng: np.random.Generator, noise: str | float) -> tuple[float, float]:
    """(shot, read) with variance = shot * x + read for x in [0, 1].

    "recipe": log(shot) ~ U(log 1e-4, log 0.012) and log(read) = 2.18 log(shot) + 1.20 +
    N(0, 0.26), as published; "low"/"high" take the lower/upper part of that range; "none" is
    noiseless; a number is the shot coefficient itself (read follows it, without the jitter).
    """
    ranges = {"low": (1e-4, 1e-3), "recipe": (1e-4, 0.012), "high": (4e-3, 0.012)}
    if noise == "none":
        return 0.0, 0.0
    if isinstance(noise, (int, float)) or _is_number(noise):
        shot = float(noise)
        return shot, math.exp(2.18 * math.log(shot) + 1.20)
    if noise not in ranges:
        raise ValueError(f"noise must be none, low, recipe, high or a number, not {noise!r}")
    low, high = ranges[noise]
    shot = math.exp(rng.uniform(math.log(low), math.log(high)))
    return shot, math.exp(2.18 * math.log(shot) + 1.20 + rng.normal(0, 0.26))


def _is_number(text: object) -> bool:
    try:
        float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def add_noise(clean: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian noise, the usual model of shot + read noise."""
    if shot == 0 and read == 0:
        return clean
    sigma = np.sqrt(np.maximum(clean, 0.0) * shot + read).astype(np.float32)
    return clean + sigma * rng.standard_normal(clean.shape, dtype=np.float32)


def quantise(values: np.ndarray, black: int, white: int) -> np.ndarray:
    """[0, 1] above black -> sensor numbers (clipped at 0 and at the white level)."""
    numbers = np.round(black + values * (white - black))
    return np.clip(numbers, 0, white).astype(np.uint16)
