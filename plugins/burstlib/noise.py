"""How much white noise a frame's luminance proxy holds: from the file's noise profile or measured.

Every scorer subtracts the noise's expected share from its statistic, so both sources give the
proxy's noise variance averaged over the scored image (the noise of a RAW file grows with the
signal: variance = S * x + O, so its average over the image is S * mean(x) + O).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from burstcli import Frame
from burstlib.arrays import noise_coefficients

NoiseMode = Literal["auto", "profile", "estimate", "none"]

BLOCK = 8  # blocks of 8 x 8 Haar details: 64 samples per block variance
BRIGHTNESS_GROUPS = 4
LOW_PERCENTILE = 5
#: The 5th percentile of the variance of 64 samples of unit white noise (chi-square with 63
#: degrees of freedom over 64, simulated): the flattest blocks' variance is this biased low.
LOW_PERCENTILE_BIAS = 0.713
MIN_BLOCKS = 64  # fewer blocks than this: the robust median of all details instead


def haar_details(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finest diagonal Haar detail (a - b - c + d) / 2 of every 2x2 cell and the cell's mean.

    For white noise the detail has the pixels' own (local mean) variance; a smooth scene puts
    almost nothing into it."""
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    a, b = grey[0:h:2, 0:w:2], grey[0:h:2, 1:w:2]
    c, d = grey[1:h:2, 0:w:2], grey[1:h:2, 1:w:2]
    return (a - b - c + d) * 0.5, (a + b + c + d) * 0.25


def block_view(values: np.ndarray) -> np.ndarray:
    """``values`` cut into BLOCK x BLOCK blocks: shape (blocks, BLOCK * BLOCK)."""
    by, bx = values.shape[0] // BLOCK, values.shape[1] // BLOCK
    blocks = values[:by * BLOCK, :bx * BLOCK].reshape(by, BLOCK, bx, BLOCK).swapaxes(1, 2)
    return blocks.reshape(by * bx, BLOCK * BLOCK)


def noise_variance_estimate(grey: np.ndarray) -> float:
    """The image-average white-noise variance of ``grey``, measured from the image alone.

    The diagonal Haar detail's variance in 8x8 blocks is the noise's where the scene is flat and
    more where it has fine texture. Blocks are put in four groups by brightness (RAW noise grows
    with the signal, and the flattest blocks are often the darkest: one low percentile over all
    blocks underestimates the average noise, by 20-60 % on synthetic bursts); in each group the
    5th percentile, corrected for that percentile's bias, is the group's noise; the average of
    the groups (equal in size) is the image's. Measured against the known noise of synthetic DNG
    bursts: median ratio 1.06, 10th-90th percentile 0.99-1.23."""
    return float(np.mean(noise_level_function(grey)[1]))


def noise_level_function(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The noise variance of ``grey`` as a function of brightness, measured from the image
    alone: (mean brightness, variance) of BRIGHTNESS_GROUPS equal groups of 8x8 blocks, in
    rising brightness (see :func:`noise_variance_estimate`). Small images (too few blocks) get
    one group: the robust median of all details."""
    detail, level = haar_details(np.asarray(grey, np.float32))
    if detail.shape[0] // BLOCK * (detail.shape[1] // BLOCK) < MIN_BLOCKS:
        variance = float((1.4826 * np.median(np.abs(detail))) ** 2)
        return np.array([float(level.mean())]), np.array([variance])
    variances = block_view(detail).var(axis=1)
    brightness = block_view(level).mean(axis=1)
    order = np.argsort(brightness, kind="stable")
    groups = np.array_split(order, BRIGHTNESS_GROUPS)
    levels = np.array([float(brightness[g].mean()) for g in groups])
    lows = np.array([np.percentile(variances[g], LOW_PERCENTILE) for g in groups])
    return levels, lows / LOW_PERCENTILE_BIAS


def proxy_channels(frame: Frame) -> int:
    """How many independent samples the luminance proxy averages per pixel (2x2 cell: 4)."""
    if frame.layout == "cfa":
        return 4
    return int(frame.pixels.shape[2]) if frame.pixels is not None and frame.pixels.ndim == 3 else 1


def profile_variance(frame: Frame, grey: np.ndarray) -> float | None:
    """The proxy's average noise variance from the file's noise profile, or None without one.

    Each plane's (S, O) pair is averaged (planes differ little); averaging n samples of
    independent noise divides the variance by n."""
    coefficients = noise_coefficients(frame)
    if coefficients is None:
        return None
    scale, offset = coefficients
    variance = scale * max(float(grey.mean()), 0.0) + offset
    return float(variance / proxy_channels(frame))


def noise_variances(frames: tuple[Frame, ...] | list[Frame], greys: list[np.ndarray],
                    mode: NoiseMode) -> tuple[list[float], str]:
    """Per-frame noise variance of the proxies as ``mode`` says, and where it came from.

    ``auto`` takes the profile when every frame has one, else the estimate. Each frame gets its
    own estimate (frames of one burst may differ in ISO, and a noisier frame must pay for its
    own noise); the brightness-grouped estimator is steady enough not to need pooling (on the
    reference-choice benchmark, per-frame and burst-median estimates both chose 100 % right)."""
    if mode == "none":
        return [0.0] * len(greys), "none"
    from_profile = [profile_variance(f, g) for f, g in zip(frames, greys)]
    if mode != "estimate" and all(v is not None for v in from_profile):
        return [float(v) for v in from_profile], "profile"  # type: ignore[arg-type]
    if mode == "profile":
        return [0.0 if v is None else float(v) for v in from_profile], "profile (missing: 0)"
    return [noise_variance_estimate(g) for g in greys], "estimate"
