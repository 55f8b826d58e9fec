"""What noise a merge leaves, taken out spatially where it is known: empirical Wiener
shrinkage of an undecimated (a trous) wavelet decomposition.

Averaging N frames divides the noise variance by N, no more: once the frames are at their
limit (10 log10 N), only the image's own structure can take out more. Each detail level of
the a trous decomposition (B3-spline, as in astronomy's multiscale denoising) keeps, per
pixel, the share of its local energy that noise does not explain, max(0, E - s^2) / E, with
s^2 the residual noise variance the merge knows pixel by pixel (the single-frame noise
divided by how many frames went into that pixel) carried through to that level. Where the
merge had no noise left to remove the factor is 1: nothing is smoothed for its own sake.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

#: The B3-spline smoothing kernel of the a trous transform.
B3 = np.array([1, 4, 6, 4, 1], np.float32) / 16
#: Detail levels: scales of 1-2, 2-4 and 4-8 pixels, where pixel noise lives.
LEVELS = 3
#: Side of the window over which a detail's local energy is measured.
ENERGY_WINDOW = 5


def _kernel(level: int) -> np.ndarray:
    """B3 with 2^level - 1 zeros between its taps (the 'holes' of a trous)."""
    step = 2 ** level
    kernel = np.zeros(4 * step + 1, np.float32)
    kernel[::step] = B3
    return kernel


def _details(plane: np.ndarray, levels: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(detail planes finest first, the coarse residue): their sum is ``plane``."""
    details, smooth = [], plane
    for level in range(levels):
        kernel = _kernel(level)
        coarser = cv2.sepFilter2D(smooth, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)
        details.append(smooth - coarser)
        smooth = coarser
    return details, smooth


@functools.lru_cache(maxsize=1)
def _noise_shares(levels: int = LEVELS) -> tuple[float, ...]:
    """The share of white noise's variance in each detail level (measured once)."""
    noise = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    details, _ = _details(noise, levels)
    return tuple(float(np.var(d[16:-16, 16:-16])) for d in details)


#: Rows of context a band needs on each side for its own rows to come out as from the whole
#: image: each decomposition reaches 2 + 4 + 8 rows, each local energy 2, and the second pass
#: decomposes the first's result (2 x 16 = 32).
BAND_MARGIN = 32
#: Pixels per band (its own rows; the margins come on top): the passes' dozen float32
#: temporaries stay a few hundred MB however large the frame (a 48 MP RGB image whole took
#: several GB).
BAND_PIXELS = 1 << 21


def shrink_residual_noise(image: np.ndarray, variance: np.ndarray, strength: float = 1.0,
                          frames: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H x W or H x W x C, float32) with the noise of per-pixel ``variance`` (same
    shape, or H x W for every channel; white noise assumed) shrunk away level by level;
    ``strength`` scales the noise taken for granted (0: ``image`` unchanged). ``frames`` (H x
    W), when given, divides ``variance`` first (a merge's single-frame noise over how many
    frames went into each pixel), band by band: no image-sized quotient is made.

    Two passes, as empirical Wiener filters do: the first keeps each detail's share
    max(E - s^2, 0) / E of its local energy E; the second takes the first's result as the
    pilot P and keeps P^2 / (P^2 + s^2) of the original details, where the pilot's energy is
    a far better guess of the signal's than E - s^2. Works in bands of rows with
    :data:`BAND_MARGIN` rows of context, so the result is the whole image's, in bounded
    memory."""
    if strength <= 0:
        return image
    planes = image[..., None] if image.ndim == 2 else image
    variances = variance[..., None] if variance.ndim == 2 else variance
    out = np.empty(planes.shape, np.float32)
    height = planes.shape[0]
    rows = max(BAND_MARGIN, BAND_PIXELS // max(planes.shape[1] * planes.shape[2], 1))
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        start, stop = max(top - BAND_MARGIN, 0), min(bottom + BAND_MARGIN, height)
        noise = variances[start:stop]
        if frames is not None:
            noise = noise / frames[start:stop, :, None]
        band = _shrink_planes(planes[start:stop], noise, strength)
        out[top:bottom] = band[top - start:top - start + bottom - top]
    return out[..., 0] if image.ndim == 2 else out


def _shrink_planes(planes: np.ndarray, variances: np.ndarray, strength: float) -> np.ndarray:
    """:func:`shrink_residual_noise` of H x W x C ``planes`` (variances H x W x C or x 1),
    whole, plane by plane."""
    out = np.empty(planes.shape, np.float32)
    for c in range(planes.shape[2]):
        plane = np.ascontiguousarray(planes[..., c], dtype=np.float32)
        noise = np.ascontiguousarray(variances[..., min(c, variances.shape[2] - 1)],
                                     dtype=np.float32) * np.float32(strength)
        details, smooth = _details(plane, LEVELS)
        pilot = _shrunk(details, smooth, noise)
        out[..., c] = _shrunk(details, smooth, noise, _details(pilot, LEVELS)[0])
    return out


def _local_energy(detail: np.ndarray) -> np.ndarray:
    return cv2.blur(cv2.multiply(detail, detail), (ENERGY_WINDOW, ENERGY_WINDOW),
                    borderType=cv2.BORDER_REFLECT)


def _kept(detail: np.ndarray, noise: np.ndarray, share: float,
          pilot: np.ndarray | None) -> np.ndarray:
    """The share of ``detail`` kept, in place (12 MP: no temporaries): max(E - s^2, 0) / E
    with E the detail's local energy (first pass), or P^2 / (P^2 + s^2) with P^2 the
    pilot's (second pass)."""
    if pilot is None:
        energy = _local_energy(detail)
        keep = cv2.scaleAdd(noise, -share, energy)
        np.maximum(keep, 0.0, out=keep)
        np.maximum(energy, 1e-20, out=energy)
        np.divide(keep, energy, out=keep)
        return keep
    energy = _local_energy(pilot)
    total = cv2.scaleAdd(noise, share, energy)
    np.maximum(total, 1e-20, out=total)
    np.divide(energy, total, out=energy)
    return energy


def _shrunk(details: list[np.ndarray], smooth: np.ndarray, noise: np.ndarray,
            pilots: list[np.ndarray] | None = None) -> np.ndarray:
    """The coarse residue plus every detail level times its kept share (with ``pilots``, the
    second pass's)."""
    result = smooth.copy()
    for level, (detail, share) in enumerate(zip(details, _noise_shares())):
        result += detail * _kept(detail, noise, share, pilots[level] if pilots else None)
    return result
