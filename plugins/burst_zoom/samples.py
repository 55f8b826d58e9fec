"""Training and benchmark samples: clean images -> sensor bursts -> network inputs and targets.

One sample is a random crop of a clean image (flipped or transposed at random), turned into a
burst of 1 to ``max_frames`` frames by :func:`burstlib.synth.sensor.sensor_burst` (random
sub-pixel shifts and small rotations, box sampling, the recipe's noise at a random level,
sometimes a patch moving on its own), with the true transforms perturbed a little as a
registration stage would get them. Its input is what :func:`burst_zoom.features.network_input`
builds at inference; its target is the clean crop minus the bicubic base (the residual the
network predicts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from burstlib.images import load_images
from burstlib.synth.sensor import SensorBurst, sensor_burst

from .features import network_input

def load_luma_images(folders: list[Path]) -> list[np.ndarray]:
    """Every image of ``folders`` as float32 Y in [0, 1] (BT.601 of its gamma-encoded RGB)."""
    return load_images(folders, "y")


@dataclasses.dataclass(frozen=True)
class SampleOptions:
    """How training bursts are made."""

    scale: int = 4
    patch: int = 32  # LR side of the network input
    max_frames: int = 8
    single_frame_share: float = 0.15  # samples with one frame: the single-image fallback
    noise: tuple[float, float] = (1e-4, 3e-3)  # shot coefficient range (log-uniform)
    shift: float = 2.0
    rotation: float = 0.5
    moving_patch_share: float = 0.2
    registration_error: float = 0.03  # LR px, added to the true translations
    # Single clean frames downscaled by antialiased bicubic: the published single-image
    # protocol's degradation, so the one-frame fallback is also measured fairly there.
    bicubic_share: float = 0.1
    # Back-projection iterations of the classical estimate among the inputs (0: none); a
    # model's inputs, so its card carries it to inference.
    classical_iterations: int = 0
    # Wider degradations, each drawn per sample (all off by default): bursts made elsewhere
    # are cleaner, noisier, stored in 8 bits or JPEG'd, or softer than the sensor model's.
    clean_share: float = 0.0  # no noise at all
    gaussian_share: float = 0.0  # plain Gaussian noise on the stored values, not shot + read
    gaussian_sigma: tuple[float, float] = (2e-4, 0.05)  # its sigma range (log-uniform)
    quantize_share: float = 0.0  # frames stored in 8 bits (after the noise)
    jpeg_share: float = 0.0  # of those, JPEG-compressed instead (quality uniform in the range)
    jpeg_quality: tuple[int, int] = (70, 98)
    # Gaussian lens blur before the pixel aperture, sigma U(0, blur) LR px; the truth is the
    # blurred scene (what the lens delivers at the zoomed grid): softer frames, no deblurring.
    blur: float = 0.0


def make_sample(image: np.ndarray, options: SampleOptions, rng: np.random.Generator,
                frames: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input h x w x C, residual target H x W, bicubic base H x W) from one clean image."""
    s = options.scale
    margin = int(np.ceil(options.shift + 2)) + 1
    side = (options.patch + 2 * margin) * s
    if min(image.shape[:2]) < side:
        image = cv2.resize(image, None, fx=side / min(image.shape[:2]) + 0.01,
                           fy=side / min(image.shape[:2]) + 0.01, interpolation=cv2.INTER_AREA)
    y = int(rng.integers(0, image.shape[0] - side + 1))
    x = int(rng.integers(0, image.shape[1] - side + 1))
    crop = _augment(image[y:y + side, x:x + side], rng)
    if frames is None and rng.random() < options.bicubic_share:
        clean = np.ascontiguousarray(crop[margin * s:-margin * s, margin * s:-margin * s])
        low = bicubic_downscale(clean, s)
        features, base = network_input([low], [np.eye(3)], s,
                                       classical_iterations=options.classical_iterations)
        return features, clean - base, base
    if frames is None:
        frames = 1 if rng.random() < options.single_frame_share else int(
            rng.integers(2, options.max_frames + 1))
    shot = float(np.exp(rng.uniform(*np.log(options.noise))))
    sigma = 0.0
    if options.clean_share and rng.random() < options.clean_share:
        shot = 0.0
    elif options.gaussian_share and rng.random() < options.gaussian_share:
        shot, sigma = 0.0, float(np.exp(rng.uniform(*np.log(options.gaussian_sigma))))
    scene = np.ascontiguousarray(crop)
    if options.blur:  # the lens: part of the scene the network zooms, not undone by it
        blur = rng.uniform(0, options.blur) * s
        scene = cv2.GaussianBlur(scene, (0, 0), blur) if blur > 0.05 else scene
    burst = sensor_burst(scene, s, frames, rng, shift=options.shift,
                         rotation=options.rotation, noise=shot,
                         moving_patch=rng.random() < options.moving_patch_share)
    frames_out = [frame + rng.normal(0, sigma, frame.shape).astype(np.float32)
                  for frame in burst.frames] if sigma else burst.frames
    stored = _stored(frames_out, options, rng)
    features, base = network_input(stored, _as_estimated(burst, options, rng), s,
                                   classical_iterations=options.classical_iterations)
    return features, burst.clean - base, base


def _stored(frames: list[np.ndarray], options: SampleOptions,
            rng: np.random.Generator) -> list[np.ndarray]:
    """The frames as files would keep them: as they are, or (``quantize_share``) in 8 bits,
    some of those (``jpeg_share``) JPEG-compressed at one quality for the burst."""
    if not options.quantize_share or rng.random() >= options.quantize_share:
        return frames
    quality = int(rng.integers(options.jpeg_quality[0], options.jpeg_quality[1] + 1)) \
        if options.jpeg_share and rng.random() < options.jpeg_share else None
    out = []
    for frame in frames:
        eight = np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)
        if quality is not None:
            eight = cv2.imdecode(cv2.imencode(".jpg", eight, [cv2.IMWRITE_JPEG_QUALITY,
                                                              quality])[1], cv2.IMREAD_GRAYSCALE)
        out.append(eight.astype(np.float32) / 255)
    return out


def bicubic_downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic downscaling (Pillow; MATLAB's imresize is within 0.1-0.3 dB)."""
    h, w = image.shape
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize(
        (w // scale, h // scale), Image.Resampling.BICUBIC)
    return np.asarray(resized, np.float32)


def _as_estimated(burst: SensorBurst, options: SampleOptions,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """The true transforms with a registration-sized error (not on the reference)."""
    out = [burst.transforms[0]]
    for transform in burst.transforms[1:]:
        noisy = transform.copy()
        noisy[:2, 2] += rng.normal(0, options.registration_error, 2)
        out.append(noisy)
    return out


def _augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    if rng.random() < 0.5:
        patch = patch.T
    return patch
