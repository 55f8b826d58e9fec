"""001's frequency-domain blur degree: a Welch power spectrum and two band amplitudes."""

from __future__ import annotations

import numpy as np

from burstlib.arrays import channel_mean

TINY = 1e-12


def tile_origins(length: int, size: int, count: int | None) -> np.ndarray:
    """Tile starts along one axis: every half tile, or ``count`` of them spread evenly."""
    if length <= size:
        return np.zeros(1, int)
    every_half = np.arange(0, length - size + 1, size // 2)
    if count is None or count >= len(every_half):
        return every_half
    return np.linspace(0, length - size, max(count, 1)).round().astype(int)


def tiles(grey: np.ndarray, size: int, most: int) -> np.ndarray:
    """Hann-ready tiles (n, size, size) overlapping by half, thinned to about ``most`` at most.

    Half-overlapping Hann windows weigh every pixel about alike: with gaps between tiles a
    frame's content sliding a few pixels (hand shake) moves detail in and out of view and
    changes the score more than blur does (measured: 90 % right without overlap, 100 % with)."""
    size = min(size, grey.shape[0], grey.shape[1])
    rows, cols = tile_origins(grey.shape[0], size, None), tile_origins(grey.shape[1], size, None)
    if len(rows) * len(cols) > most:  # keep the aspect, spread the tiles over the whole frame
        shrink = (most / (len(rows) * len(cols))) ** 0.5
        rows = tile_origins(grey.shape[0], size, int(len(rows) * shrink))
        cols = tile_origins(grey.shape[1], size, int(len(cols) * shrink))
    views = np.lib.stride_tricks.sliding_window_view(grey, (size, size))
    return views[rows[:, None], cols[None, :]].reshape(-1, size, size)


def radial_frequency(size: int) -> np.ndarray:
    """|f| in cycles per pixel for each bin of an rfft2 of a size x size tile."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return np.sqrt(fy * fy + fx * fx)


def welch_power(grey: np.ndarray, size: int, most: int) -> tuple[np.ndarray, float]:
    """The tile-averaged power spectrum of the Hann-windowed, mean-removed tiles, and the flat
    floor one unit of white-noise variance puts in every bin (the window's energy)."""
    patches = tiles(np.asarray(grey, np.float32), size, most)
    size = patches.shape[1]
    hann = np.hanning(size).astype(np.float32)
    window = np.outer(hann, hann)
    patches = (patches - patches.mean(axis=(1, 2), keepdims=True)) * window
    power = np.mean(np.abs(np.fft.rfft2(patches)) ** 2, axis=0)
    return power, float(np.sum(window * window))


def frequency_sharpness(grey: np.ndarray, noise_var: float, *, low: tuple[float, float],
                        high: tuple[float, float], tile: int, most_tiles: int) -> float:
    """Avg(A_high) / Avg(A_low): 001 eq. (1) taken on log amplitudes, stored as its exponent.

    A = sqrt(noise-free power) per bin; a band's average is over the bins whose radial
    frequency lies in [edge0, edge1) cycles per proxy pixel."""
    power, floor = welch_power(grey, tile, most_tiles)
    clean = np.sqrt(np.maximum(power - noise_var * floor, 0.0))
    radius = radial_frequency(power.shape[0])
    a_high = clean[(radius >= high[0]) & (radius < high[1])].mean()
    a_low = clean[(radius >= low[0]) & (radius < low[1])].mean()
    return max(float(a_high), TINY) / max(float(a_low), TINY)


#: 001 eq. 1's default bands (cycles per pixel), as ``score.frequency`` uses them.
LOW_BAND, HIGH_BAND = (0.02, 0.08), (0.25, 0.5)


def picture_sharpness(grey: np.ndarray, noise_var: float | None = None) -> float:
    """001 eq. 1 (high- over low-band amplitude) of a gamma-encoded grey picture with the
    default bands, its noise variance ``noise_var`` measured from the picture itself when
    not given (a picture a network or a merge made no longer has the file's noise). Sharp
    photographs measure about 0.06-0.11, the same after a 4 px shake about 0.03-0.07: a
    threshold on it tells sharp from shaken only roughly, scenes differ that much."""
    if noise_var is None:
        from burstlib.noise import noise_variance_estimate  # noise imports nothing from here
        noise_var = noise_variance_estimate(grey)
    return frequency_sharpness(grey, noise_var, low=LOW_BAND, high=HIGH_BAND, tile=64,
                               most_tiles=256)


def encoded_sharpness(values: np.ndarray) -> float:
    """:func:`picture_sharpness` of a gamma-encoded image (H x W, or H x W x C: its channel
    mean, the luminance proxy every stage measures)."""
    return picture_sharpness(values if values.ndim == 2 else channel_mean(values))
