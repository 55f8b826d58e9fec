"""Blur scoring stages: 001's frequency-domain blur degree, 000's Laplacian, and Tenengrad.

Each writes one score per frame (``frame.scores[name]``, higher = sharper) and a note with the
noise variance it assumed per frame. Scores are computed on a luminance proxy (a RAW mosaic's
2x2 cells averaged: half resolution, CFA-phase free), divided by brightness and corrected for
noise, so neither a brighter nor a noisier frame wins by that alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

import numpy as np

from burstcli import Burst, Frame, hookimpl, param, stage
from burst_decode.arrays import grey_proxy

from . import measures

NoiseMode = Literal["auto", "profile", "estimate", "none"]
NOISE_HELP = ("noise correction: profile (the file's noise profile), estimate (from the "
              "flattest blocks, burst median), auto (profile where present, else estimate), none")


def frame_noise_variance(frame: Frame, grey: np.ndarray) -> float | None:
    """The noise variance of the proxy from the file's noise profile, or None."""
    profile = frame.raw.noise_profile if frame.raw is not None else None
    if not profile:
        return None
    scale, offset = np.mean(np.asarray(profile, dtype=np.float64), axis=0)
    variance = scale * max(float(grey.mean()), 0.0) + offset
    return float(variance / 4.0 if frame.layout == "cfa" else variance)  # 2x2 mean: var / 4


def noise_variances(frames: tuple[Frame, ...], greys: list[np.ndarray], mode: NoiseMode) -> list[float]:
    """Per-frame noise variance of the proxies, as ``mode`` says.

    Estimates are pooled to the burst's median: frames of one burst share the sensor settings,
    and one frame's estimate is biased up by its own fine texture (a sharp frame has more)."""
    if mode == "none":
        return [0.0] * len(frames)
    from_profile = [frame_noise_variance(f, g) for f, g in zip(frames, greys)]
    if mode in ("auto", "profile") and all(v is not None for v in from_profile):
        return [float(v) for v in from_profile]  # type: ignore[arg-type]
    if mode == "profile":
        return [0.0 if v is None else float(v) for v in from_profile]
    pooled = float(np.median([measures.noise_variance_estimate(g) for g in greys]))
    return [pooled] * len(frames)


def score_burst(burst: Burst, name: str, noise: NoiseMode,
                measure: Callable[[np.ndarray, float], float]) -> Burst:
    """Apply ``measure(grey, noise_var)`` to every frame and store it as score ``name``."""
    greys = [grey_proxy(frame) for frame in burst.frames]
    variances = noise_variances(burst.frames, greys, noise)
    frames = [f.with_score(name, measure(g, v)) for f, g, v in zip(burst.frames, greys, variances)]
    return burst.with_frames(frames).with_note(
        f"score.{name}", {"noise": noise, "noise_variance": variances})


@dataclasses.dataclass(frozen=True)
class FrequencyParams:
    low_band: tuple[float, float] = param(
        (0.02, 0.08), "low band, cycles per proxy pixel (Nyquist = 0.5)")
    high_band: tuple[float, float] = param(
        (0.2, 0.45), "high band, cycles per proxy pixel: where shake blur shows first")
    tile: int = param(128, "Welch tile size in proxy pixels")
    max_tiles: int = param(64, "at most this many tiles, spread over the frame (bounds the cost)")
    noise: NoiseMode = param("auto", NOISE_HELP)


@stage("score.frequency", FrequencyParams)
def frequency(burst: Burst, params: FrequencyParams) -> Burst:
    """Blur degree in the frequency domain (001 eq. 1): high- minus low-frequency amplitude.

    001 defines Diff = Avg(A_high) - Avg(A_low) over the Fourier amplitudes. We take it on
    log-averages, Diff = log Avg(A_high) - log Avg(A_low), and store exp(Diff) =
    Avg(A_high) / Avg(A_low): the same ordering, but independent of exposure (a brighter frame
    scales both bands alike). Higher = sharper (001's blur degree is its negative).
    The spectrum is Welch-averaged over Hann-windowed tiles of the luminance proxy; the noise
    floor (white noise: flat) is subtracted per bin before amplitudes are taken, so noise does
    not pass for detail. Bands: ``low_band`` holds the scene's structure, which shake leaves
    alone; ``high_band`` sits where a pixel or two of shake removes most energy.
    """
    def measure(grey: np.ndarray, noise_var: float) -> float:
        return measures.frequency_sharpness(grey, noise_var, low=params.low_band,
                                            high=params.high_band, tile=params.tile,
                                            most_tiles=params.max_tiles)
    return score_burst(burst, "frequency", params.noise, measure)


@dataclasses.dataclass(frozen=True)
class GradientParams:
    noise: NoiseMode = param("auto", NOISE_HELP)


@stage("score.laplacian", GradientParams)
def laplacian(burst: Burst, params: GradientParams) -> Burst:
    """Laplacian gradient (000 [0055], claim 8): the variance of the 4-neighbour Laplacian.

    Divided by the squared brightness (exposure-invariant) after subtracting the noise's
    share, 20 x the noise variance. Higher = sharper.
    """
    return score_burst(burst, "laplacian", params.noise, measures.laplacian_sharpness)


@stage("score.tenengrad", GradientParams)
def tenengrad(burst: Burst, params: GradientParams) -> Burst:
    """Tenengrad: the mean squared Sobel gradient magnitude.

    Divided by the squared brightness after subtracting the noise's share, 24 x the noise
    variance. Higher = sharper.
    """
    return score_burst(burst, "tenengrad", params.noise, measures.tenengrad_sharpness)


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The three scoring stages."""
    for spec in (frequency, laplacian, tenengrad):
        register(spec)
