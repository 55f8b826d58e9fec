"""Blur as cameras make it, for training and measuring deblurring: hand-shake trajectories,
defocus, frame averaging, and the sharp/blurry pairs made from them in linear light.

The trajectories follow Boracchi and Foi ("Modeling the performance of image restoration from
motion blur", IEEE TIP 2012): a random walk of the sensor with inertia, a pull back towards the
start and rare abrupt jerks; the exposure records only its first part (a fraction from tiny to
full), so one trajectory gives blurs from nearly none to long curved streaks. The kernel is the
trajectory rasterised with bilinear weights (sub-pixel paths keep their length).

A pair (:func:`blur_pair`) is made the way a camera makes it: the scene in linear light, bright
enough at times to exceed the sensor's range, blurred, clipped at the white level, given shot
and read noise, then taken through a gamma; its truth is the same scene, unblurred and
noise-free, clipped and taken through the same gamma.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from burstlib.colour import srgb_decode, srgb_encode

from . import motion

#: Exposure fractions of a trajectory (Boracchi and Foi use 1/25 ... 1).
FRACTIONS = (0.04, 0.1, 0.2, 0.5, 1.0)


def shake_trajectory(rng: np.random.Generator, length: float, samples: int = 1000,
                     anxiety: float | None = None) -> np.ndarray:
    """A camera-shake path (complex, ``samples`` points, pixels) of total length ``length``."""
    anxiety = rng.uniform(0.0, 0.01) if anxiety is None else anxiety
    centripetal = 0.7 * rng.uniform()
    gaussian = 10 * rng.uniform()
    big_shakes = 0.2 * rng.uniform()
    step = length / (samples - 1)
    v = np.exp(1j * rng.uniform(0, 2 * np.pi)) * step
    x = np.zeros(samples, complex)
    for t in range(samples - 1):
        jerk = 0j
        if rng.uniform() < big_shakes * anxiety:
            jerk = 2 * v * np.exp(1j * (np.pi + rng.uniform(-0.5, 0.5)))
        dv = jerk + anxiety * (gaussian * complex(rng.normal(), rng.normal())
                               - centripetal * x[t]) * step
        v = v + dv
        v = v / max(abs(v), 1e-12) * step
        x[t + 1] = x[t] + v
    return x


def trajectory_kernel(path: np.ndarray, fraction: float = 1.0) -> np.ndarray:
    """The blur kernel (float32, odd square, sums to 1, centred on its centroid) of the first
    ``fraction`` of ``path`` (complex, pixels), rasterised as the synthetic bursts' shake is."""
    part = path[: max(2, int(round(len(path) * fraction)))]
    part = part - part.mean()
    return motion.trajectory_kernel(np.stack([part.real, part.imag], axis=1))


def disk_kernel(radius: float) -> np.ndarray:
    """Defocus: a uniform disk of ``radius`` pixels (anti-aliased by 4x supersampling)."""
    size = 2 * int(np.ceil(radius)) + 1
    fine = 4 * size
    yy, xx = np.mgrid[:fine, :fine]
    centre = (fine - 1) / 2
    inside = ((xx - centre) ** 2 + (yy - centre) ** 2 <= (4 * max(radius, 0.25)) ** 2)
    kernel = inside.reshape(size, 4, size, 4).mean(axis=(1, 3))
    return (kernel / kernel.sum()).astype(np.float32)


def averaging_kernel(rng: np.random.Generator, copies: int, spread: float) -> np.ndarray:
    """Frame averaging: ``copies`` equal deltas at random sub-pixel offsets within ``spread``."""
    offsets = rng.uniform(-spread, spread, (copies, 2)) @ np.array([1, 1j])
    return trajectory_kernel(np.repeat(offsets, 50), 1.0)


def combined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The kernel of blurring by ``a`` then by ``b``."""
    pad = b.shape[0] // 2
    out = cv2.filter2D(np.pad(a, pad), -1, b[::-1, ::-1], borderType=cv2.BORDER_CONSTANT)
    return (out / out.sum()).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class BlurRecipe:
    """Ranges a pair is drawn from. ``sharp_share`` of pairs get no blur at all (a deblur
    network must leave a sharp frame alone); lengths and radii in pixels of the frame."""

    sharp_share: float = 0.15
    length: tuple[float, float] = (2.0, 30.0)
    defocus_share: float = 0.25
    defocus: tuple[float, float] = (0.5, 2.5)
    averaging_share: float = 0.1
    shot: tuple[float, float] = (1e-4, 1e-2)   # log-uniform, as the synthetic-burst recipe
    brightness: tuple[float, float] = (0.6, 1.6)


def random_kernel(rng: np.random.Generator, recipe: BlurRecipe) -> np.ndarray:
    """One blur drawn from ``recipe`` (a 1x1 ones kernel for a sharp frame)."""
    if rng.uniform() < recipe.sharp_share:
        return np.ones((1, 1), np.float32)
    kernel = trajectory_kernel(shake_trajectory(rng, rng.uniform(*recipe.length)),
                               FRACTIONS[rng.integers(len(FRACTIONS))])
    if rng.uniform() < recipe.defocus_share:
        kernel = combined(kernel, disk_kernel(rng.uniform(*recipe.defocus)))
    if rng.uniform() < recipe.averaging_share:
        kernel = combined(kernel, averaging_kernel(rng, int(rng.integers(2, 5)), 2.0))
    return kernel


def noise_pair(rng: np.random.Generator, shot_range: tuple[float, float]) -> tuple[float, float]:
    """(shot, read) variances as the synthetic-burst recipe draws them (FACTS.md)."""
    shot = float(np.exp(rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))))
    read = float(np.exp(2.18 * np.log(shot) + 1.20 + rng.normal(0, 0.26)))
    return shot, read


@dataclasses.dataclass(frozen=True)
class BlurPair:
    """A blurry, noisy frame and its truth (both sRGB-encoded float32), how it was made."""

    blurry: np.ndarray
    sharp: np.ndarray
    kernel: np.ndarray
    shot: float
    read: float


def blur_pair(srgb: np.ndarray, rng: np.random.Generator, recipe: BlurRecipe = BlurRecipe(),
              kernel: np.ndarray | None = None,
              noise: tuple[float, float] | None = None) -> BlurPair:
    """A training or test pair from a clean sRGB image (float [0, 1], H x W or H x W x 3).

    The kernel and the (shot, read) noise are drawn from ``recipe`` unless given."""
    scene = srgb_decode(srgb) * np.float32(rng.uniform(*recipe.brightness))
    kernel = random_kernel(rng, recipe) if kernel is None else kernel
    shot, read = noise_pair(rng, recipe.shot) if noise is None else noise
    blurred = cv2.filter2D(scene, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT)
    clipped = np.clip(blurred, 0.0, 1.0)
    noisy = clipped + rng.normal(size=clipped.shape).astype(np.float32) * np.sqrt(
        clipped * shot + read).astype(np.float32)
    return BlurPair(srgb_encode(noisy), srgb_encode(scene), kernel, shot, read)
