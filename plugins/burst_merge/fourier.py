"""Fourier burst accumulation (Delbracio & Sapiro 2015), tiled and noise-aware.

Hand shake blurs each frame along its own path, so each spatial frequency survives best in some
frame. FBA averages the registered frames' Fourier transforms with weights |F_k|^p / sum_j
|F_j|^p: the frame that kept a frequency dominates it, and where the frames agree it is a plain
mean. As published, the weights see the noise as signal: where every frame is noise (the high
frequencies of a dim frame), |F_k| is largest in whichever frame's noise happens to be, so
FBA picks noise and averages nothing. Here the expected noise power N is taken out first:
with S_k = max(|F_k|^2 - N, 0) (smoothed over nearby frequencies), the weights are
((S_k + N) / (max_j S_j + N))^(p/2): a frequency that holds signal goes to the frames that kept
it, one that holds only noise is averaged over all frames. Blur and noise vary across a frame
(rotation, brightness), so the accumulation runs on overlapping windowed tiles.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Accumulation:
    """How the spectra are weighed.

    ``power``: p of the weights (0: the plain mean); ``smoothing``: the Gaussian smoothing of
    the power spectra, as a fraction of the transform's side (steadies the weights);
    ``tile``: side of the tiles (0: the whole image at once, as published; otherwise an even
    side of at least MIN_TILE, see :func:`tile_side`); ``noise_aware``: take the expected
    noise power out of each frame's before weighing.
    """

    power: float
    smoothing: float
    tile: int
    noise_aware: bool


def accumulate(planes: np.ndarray, noise: np.ndarray,
               how: Accumulation) -> tuple[np.ndarray, np.ndarray]:
    """Fourier burst accumulation of registered frames ``planes`` (k x C x H x W float32,
    the reference first) whose per-sample noise variance, averaged over the channels, is
    ``noise`` (H x W, the reference's). The weights are computed from the channels' mean
    power (every colour plane gets the same weights, so colours do not shift) and apply to
    every channel.

    Returns the result (C x H x W float32) and, per pixel (H x W), the share of a frame's
    noise variance left in it: independent frames' noise weighed by w_k at a frequency
    leaves sum_k w_k^2 of it there (1/k for the mean), averaged over the frequencies."""
    how = dataclasses.replace(how, tile=tile_side(how.tile))
    if how.tile == 0:
        merged, left = _accumulate_tile(planes, float(np.sum(noise, dtype=np.float64)), how)
        return merged, np.full(planes.shape[2:], left, np.float32)
    return _tiled(planes, noise, how)


#: The smallest tile: below it a tile holds too few frequencies to weigh.
MIN_TILE = 8


def tile_side(tile: int) -> int:
    """A requested tile side made usable: 0 stays 0 (the whole image); others are rounded
    up to an even side (half-side steps must tile exactly) of at least MIN_TILE."""
    return 0 if tile <= 0 else max(MIN_TILE, tile + tile % 2)


def hann_window(side: int) -> np.ndarray:
    """A side x side raised-cosine window whose copies at half-side steps sum to 1 (``side``
    even: the steps must be whole pixels)."""
    ramp = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(side) + 0.5) / side)
    return np.outer(ramp, ramp).astype(np.float32)


def _tiled(planes: np.ndarray, variance: np.ndarray,
           how: Accumulation) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping tiles at half-tile steps, each windowed, accumulated and added back: the
    windows sum to 1, so the tiles rebuild the image where nothing changes. ``planes``:
    k x C x H x W."""
    height, width = planes.shape[2:]
    side = how.tile
    step = side // 2
    pad = ((step, step + (-height) % step), (step, step + (-width) % step))
    # The burst is never padded whole (a copy of every frame): each row of tiles reads its
    # band through mirrored indices, as np.pad's "symmetric" would lay it out.
    rows_at = _mirrored(np.arange(-pad[0][0], height + pad[0][1]), height)
    columns_at = _mirrored(np.arange(-pad[1][0], width + pad[1][1]), width)
    padded_shape = (planes.shape[1], rows_at.size, columns_at.size)
    variance = np.pad(variance, pad, mode="symmetric")
    window = hann_window(side)
    # The expected noise power of each tile (sum of window^2 x variance), for all at once.
    noise_power = cv2.filter2D(variance.astype(np.float32), -1, window * window,
                               anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    out = np.zeros(padded_shape, np.float32)
    left = np.zeros(padded_shape[1:], np.float32)

    def row(y: int) -> tuple[np.ndarray, np.ndarray]:
        """One row of tiles, added up (rows overlap: the caller adds them in turn)."""
        band = planes[:, :, rows_at[y:y + side]][:, :, :, columns_at]
        strip = np.zeros((padded_shape[0], side, padded_shape[2]), np.float32)
        shares = np.zeros((side, padded_shape[2]), np.float32)
        for x in range(0, padded_shape[2] - side + 1, step):
            tile = band[:, :, :, x:x + side] * window
            merged, share = _accumulate_tile(tile, float(noise_power[y, x]), how)
            strip[:, :, x:x + side] += merged
            shares[:, x:x + side] += share * window
        return strip, shares

    # OpenCV's DFT and NumPy's loops release the GIL: rows of tiles run on every core this
    # process may use.
    with ThreadPoolExecutor(max_workers=_usable_cores()) as pool:
        starts = range(0, padded_shape[1] - side + 1, step)
        for y, (strip, shares) in zip(starts, pool.map(row, starts)):
            out[:, y:y + side] += strip
            left[y:y + side] += shares
    rows, columns = slice(step, step + height), slice(step, step + width)
    return out[:, rows, columns], left[rows, columns]


def _mirrored(index: np.ndarray, size: int) -> np.ndarray:
    """Indices beyond [0, size) reflected back in, edge sample repeated (np.pad's
    "symmetric", however far beyond)."""
    folded = np.mod(index, 2 * size)
    return np.where(folded >= size, 2 * size - 1 - folded, folded)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def _accumulate_tile(tile: np.ndarray, noise_power: float,
                     how: Accumulation) -> tuple[np.ndarray, float]:
    """One (windowed) tile's accumulation, k x C x T x T -> C x T x T, and the share of a
    frame's noise variance it leaves. (OpenCV's DFT: ten times NumPy's on small tiles.)"""
    count, channels, height, width = tile.shape
    if how.power == 0 or count == 1:
        return tile.mean(axis=0), 1.0 / count
    spectra = _spectra(tile)
    power = (spectra.real ** 2 + spectra.imag ** 2).mean(axis=1)
    power = _smoothed(power, how.smoothing * max(height, width))
    if how.noise_aware:
        signal = np.maximum(power - noise_power, 0.0)
        floor = max(noise_power, 1e-20)
        relative = (signal + floor) / (signal.max(axis=0, keepdims=True) + floor)
    else:  # as published: the magnitudes themselves, relative to the strongest frame (a
        # frequency no frame holds, in a flat or black tile, gets every frame equally)
        relative = (power + 1e-30) / (power.max(axis=0, keepdims=True) + 1e-30)
    weights = relative ** np.float32(how.power / 2)  # relative powers: |F|^p = power^(p/2)
    weights /= weights.sum(axis=0, keepdims=True)
    merged = (weights[:, None] * spectra).sum(axis=0)
    left = float(np.mean(np.sum(weights * weights, axis=0)))
    return np.stack([_inverse(merged[c]) for c in range(channels)]), left


def _spectra(planes: np.ndarray) -> np.ndarray:
    """The full complex DFT (complex64) of every real plane of ``planes`` (... x T x T),
    written in place into one array."""
    out = np.empty((*planes.shape, 2), np.float32)
    for index in np.ndindex(planes.shape[:-2]):
        cv2.dft(np.ascontiguousarray(planes[index]), dst=out[index],
                flags=cv2.DFT_COMPLEX_OUTPUT)
    return out.view(np.complex64)[..., 0]


def _inverse(spectrum: np.ndarray) -> np.ndarray:
    """The real plane of a conjugate-symmetric spectrum."""
    packed = np.ascontiguousarray(spectrum).view(np.float32).reshape(*spectrum.shape, 2)
    return cv2.dft(packed, flags=cv2.DFT_INVERSE | cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)


#: Box-filter passes standing in for the Gaussian smoothing of the spectra (three boxes are
#: within a few per cent of it, at a cost that does not grow with its width).
BOX_PASSES = 3


def _smoothed(power: np.ndarray, sigma: float) -> np.ndarray:
    """Each of k power spectra (k x T x T, zero frequency at [0, 0]) smoothed over about
    ``sigma`` frequency bins (BOX_PASSES boxes of the same variance as that Gaussian),
    wrapping around as a spectrum does; all k at once, as the channels of one image."""
    width = int(round(np.sqrt(12 * sigma * sigma / BOX_PASSES + 1)))
    width += 1 - width % 2  # odd: centred
    if width < 3:
        return power
    reach = BOX_PASSES * (width // 2)
    channels = np.ascontiguousarray(power.transpose(1, 2, 0))
    smooth = np.pad(channels, ((reach, reach), (reach, reach), (0, 0)), mode="wrap")
    for _ in range(BOX_PASSES):
        smooth = cv2.blur(smooth, (width, width), borderType=cv2.BORDER_REFLECT)
    smooth = smooth[reach:-reach, reach:-reach]
    return smooth.reshape(*smooth.shape[:2], -1).transpose(2, 0, 1)
