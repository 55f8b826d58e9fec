"""sRGB -> linear camera RGB, the published "unprocessing" recipe (Brooks et al. 2019).

Invert the tone curve and the gamma, apply a random camera colour matrix, and divide out random
white-balance and brightness gains (with highlight protection), so a clean photograph becomes
what a sensor would have recorded. The parameters are returned so the DNG can carry them.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from burstlib.dng import XYZ_TO_SRGB


@dataclasses.dataclass(frozen=True)
class CameraModel:
    """What unprocessing chose: ``rgb_to_cam`` (3x3, rows sum to 1), white-balance gains
    (red, blue) and the brightness gain."""

    rgb_to_cam: np.ndarray
    red_gain: float
    blue_gain: float
    brightness: float

    @property
    def xyz_to_cam(self) -> np.ndarray:
        """DNG ColorMatrix1: XYZ (D65) -> camera."""
        return self.rgb_to_cam @ XYZ_TO_SRGB

    @property
    def as_shot_neutral(self) -> tuple[float, float, float]:
        """The camera's response to white, as DNG's AsShotNeutral."""
        return (1.0 / self.red_gain, 1.0, 1.0 / self.blue_gain)


def random_camera(rng: np.random.Generator) -> CameraModel:
    """Gains as in the recipe: red U(1.9, 2.4), blue U(1.5, 1.9), brightness 1/N(0.8, 0.1)."""
    mix = np.eye(3) + rng.uniform(-0.25, 0.25, (3, 3)) * (1 - np.eye(3))
    mix = np.abs(mix)
    rgb_to_cam = mix / mix.sum(axis=1, keepdims=True)
    brightness = 1.0 / float(np.clip(rng.normal(0.8, 0.1), 0.5, 1.1))
    return CameraModel(rgb_to_cam, float(rng.uniform(1.9, 2.4)), float(rng.uniform(1.5, 1.9)),
                       brightness)


def inverse_tone_curve(srgb: np.ndarray) -> np.ndarray:
    """Invert the smoothstep tone curve: x = 0.5 - sin(asin(1 - 2y) / 3) (float32)."""
    y = np.clip(srgb, 0.0, 1.0).astype(np.float32, copy=False)
    y *= np.float32(-2.0)
    y += np.float32(1.0)
    np.arcsin(y, out=y)
    y *= np.float32(1.0 / 3.0)
    np.sin(y, out=y)
    return np.float32(0.5) - y


def unprocess(srgb: np.ndarray, camera: CameraModel) -> np.ndarray:
    """float32 HxWx3 sRGB in [0, 1] -> linear camera RGB in [0, 1] (before the mosaic)."""
    linear = cv2.pow(np.maximum(inverse_tone_curve(srgb), np.float32(1e-8)), 2.2)
    cam = cv2.transform(linear, camera.rgb_to_cam.astype(np.float32))
    gains = np.array([camera.red_gain, 1.0, camera.blue_gain]) * camera.brightness
    cam *= _safe_inverse_gains(cam, gains)
    return np.clip(cam, 0.0, 1.0, out=cam)


def _safe_inverse_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """1/gains, faded towards 1 in highlights so that bright colours do not clip to grey."""
    grey = cv2.transform(image, np.full((1, 3), 1 / 3, np.float32))[..., None]
    inflection = np.float32(0.9)
    mask = np.square(np.maximum(grey - inflection, np.float32(0.0)) / (1 - inflection))
    inverse = (1.0 / gains).astype(np.float32)
    return np.maximum(mask + (1.0 - mask) * inverse, inverse)
