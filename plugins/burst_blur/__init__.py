"""Blur scoring stages: 001's frequency-domain blur degree, 000's Laplacian, and Tenengrad.

Each writes one score per frame (``frame.scores[name]``, higher = sharper) and a note with its
parameters and the noise variance it assumed per frame. Scores are computed on a luminance
proxy (a RAW mosaic's 2x2 cells averaged: half resolution, CFA-phase free), divided by
brightness and corrected for noise, so neither a brighter nor a noisier frame wins by that alone.
Every score is an amplitude ratio, so score / best score is a relative sharpness ``select`` can
threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from burstcli import Burst, hookimpl, param, stage
from burstcli.errors import ConfigError
from burstlib import spectrum
from burstlib.arrays import grey_proxy
from burstlib.noise import NoiseMode, noise_variances

from . import measures

NOISE_HELP = ("noise correction: profile (the file's noise profile), estimate (measured per "
              "frame in its flattest blocks), auto (profile where every frame has one, else "
              "estimate), none")
CROP_HELP = "fraction of the frame's height and width, centred, that is scored (1: all)"
NYQUIST_CORNER = 0.5 * 2 ** 0.5  # the highest radial frequency a 2-D spectrum holds


def score_burst(burst: Burst, name: str, params: FrequencyParams | GradientParams,
                measure: Callable[[np.ndarray, float], float]) -> Burst:
    """Apply ``measure(grey, noise_var)`` to every frame's (cropped) proxy as score ``name``."""
    greys = [measures.centre_crop(grey_proxy(frame), params.crop) for frame in burst.frames]
    variances, source = noise_variances(burst.frames, greys, params.noise)
    frames = [f.with_score(name, measure(g, v)) for f, g, v in zip(burst.frames, greys, variances)]
    note = {**dataclasses.asdict(params), "noise_source": source,
            "noise_variance": [float(f"{v:.4g}") for v in variances],
            "scores": [float(f"{f.scores[name]:.5g}") for f in frames]}
    return burst.with_frames(frames).with_note(f"score.{name}", note)


@dataclasses.dataclass(frozen=True)
class FrequencyParams:
    low_band: tuple[float, float] = param(
        (0.02, 0.08), "low band [from, to), cycles per proxy pixel (Nyquist 0.5): the scene's "
                      "broad structure, which shake leaves alone", above=0, high=NYQUIST_CORNER)
    high_band: tuple[float, float] = param(
        (0.25, 0.5), "high band [from, to), cycles per proxy pixel: where a pixel or two of "
                     "shake removes most detail", above=0, high=NYQUIST_CORNER)
    tile: int = param(64, "Welch tile size in proxy pixels (tiles overlap by half; a frame "
                          "smaller than a tile is one tile)", low=16)
    max_tiles: int = param(256, "at most about this many tiles, spread over the frame "
                                "(bounds the cost on big frames)", low=1)
    crop: float = param(1.0, CROP_HELP, above=0, high=1)
    noise: NoiseMode = param("auto", NOISE_HELP)

    def __post_init__(self) -> None:
        # Each value's own range is declared above; what is left is the bands' order.
        low, high = self.low_band, self.high_band
        if not low[0] < low[1] <= high[0] < high[1]:
            raise ConfigError(f"need low_band[0] < low_band[1] <= high_band[0] < high_band[1], "
                              f"got {low} and {high}", key="score.frequency.low_band/high_band")


@stage("score.frequency", FrequencyParams, needs=("pixels",), provides=("scores",))
def frequency(burst: Burst, params: FrequencyParams) -> Burst:
    """Blur degree in the frequency domain (001 eq. 1), as a sharpness: high over low band.

    001 (claims 2-3, eq. 1) takes Diff = Avg(A_high) - Avg(A_low) of the Fourier amplitudes of a
    frame as its blur degree. Here:

    * transform: 2-D FFT of the luminance proxy, Welch-averaged: Hann-windowed tiles of
      ``tile`` pixels overlapping by half (the window stops tile edges leaking into the high
      band; the overlap weighs every pixel about alike, so a frame shifted by hand shake
      scores the same), at most ``max_tiles`` of them spread over the frame;
    * noise: the flat floor white noise puts in every power bin (its variance x the window's
      energy) is subtracted before amplitudes A = sqrt(power) are taken, so noise never passes
      for detail;
    * bands: ``low_band`` (default 0.02-0.08 cycles per proxy pixel) and ``high_band``
      (default 0.25-0.5), as radial frequency. The high band sits at the top of the
      spectrum because natural scenes put most energy low: a band reaching down to 0.2 is
      dominated by its lowest bins, where shake of a pixel costs little (on synthetic bursts
      whose sharpest frame's PSF is only 0.29 px RMS narrower: 95 % right with 0.2-0.45, 100 %
      with 0.25-0.5);
    * normalisation: Diff is taken on log amplitudes, log Avg(A_high) - log Avg(A_low), and
      stored as exp(Diff) = Avg(A_high) / Avg(A_low): a brighter exposure scales both bands
      alike and cancels. Higher = sharper (001's blur degree is the opposite order).

    Writes ``scores["frequency"]`` per frame and ``notes["score.frequency"]`` (parameters,
    noise source and variance per frame, scores).
    """
    def measure(grey: np.ndarray, noise_var: float) -> float:
        return spectrum.frequency_sharpness(grey, noise_var, low=params.low_band,
                                            high=params.high_band, tile=params.tile,
                                            most_tiles=params.max_tiles)
    return score_burst(burst, "frequency", params, measure)


@dataclasses.dataclass(frozen=True)
class GradientParams:
    crop: float = param(1.0, CROP_HELP, above=0, high=1)
    noise: NoiseMode = param("auto", NOISE_HELP)


@stage("score.laplacian", GradientParams, needs=("pixels",), provides=("scores",))
def laplacian(burst: Burst, params: GradientParams) -> Burst:
    """Laplacian gradient (000 [0055], claim 8): the RMS of the 4-neighbour Laplacian.

    The Laplacian's variance less the noise's share (20 x the noise variance: the kernel's
    energy), square-rooted and divided by the mean brightness: detail amplitude per unit level,
    so exposure does not count and score ratios are amplitude ratios. Higher = sharper.
    Writes ``scores["laplacian"]`` and ``notes["score.laplacian"]``.
    """
    return score_burst(burst, "laplacian", params, measures.laplacian_sharpness)


@stage("score.tenengrad", GradientParams, needs=("pixels",), provides=("scores",))
def tenengrad(burst: Burst, params: GradientParams) -> Burst:
    """Tenengrad: the RMS Sobel gradient magnitude.

    The mean squared Sobel magnitude less the noise's share (24 x the noise variance),
    square-rooted and divided by the mean brightness. Higher = sharper.
    Writes ``scores["tenengrad"]`` and ``notes["score.tenengrad"]``.
    """
    return score_burst(burst, "tenengrad", params, measures.tenengrad_sharpness)


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The three scoring stages."""
    for spec in (frequency, laplacian, tenengrad):
        register(spec)
