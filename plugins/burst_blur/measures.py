"""Sharpness measures on a luminance proxy, corrected for noise and exposure.

Every measure returns a positive number where higher means sharper, divided by the image's
brightness (squared for energies) so that a brighter exposure of the same scene scores the same,
and with the expected contribution of the noise subtracted so that a noisier frame does not look
sharper: for a linear filter k, white noise of variance s2 adds s2 * sum(k**2) to the filtered
image's variance (in the frequency domain: a flat floor s2 * sum(window**2) per bin).
"""

from __future__ import annotations

import cv2
import numpy as np

TINY = 1e-12
LAPLACIAN_ENERGY = 20.0  # sum of squares of the 4-neighbour Laplacian [0 1 0; 1 -4 1; 0 1 0]
SOBEL_ENERGY = 12.0  # sum of squares of one 3x3 Sobel kernel


BLOCK = 8
#: For pure noise, the 10th percentile of the variance of 64 samples is 0.78 x the variance
#: (chi-square with 63 degrees of freedom): divide it out.
LOW_PERCENTILE, LOW_PERCENTILE_BIAS = 10, 0.78


def noise_variance_estimate(grey: np.ndarray) -> float:
    """White-noise variance from the flattest parts of the image.

    The finest diagonal (Haar HH) detail d = (a - b - c + e) / 2 has the noise's variance;
    where the scene is flat it holds nothing else. Its variance in 8x8 blocks, at the 10th
    percentile (the flattest blocks) and corrected for that percentile's bias, estimates the
    noise without counting the fine texture of sharp frames as noise (a plain median would,
    and would then subtract real detail)."""
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    g = grey[:h, :w]
    detail = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) * 0.5
    by, bx = detail.shape[0] // BLOCK, detail.shape[1] // BLOCK
    if by * bx < 16:  # too small for block statistics: the robust median instead
        return float((1.4826 * np.median(np.abs(detail))) ** 2)
    blocks = detail[:by * BLOCK, :bx * BLOCK].reshape(by, BLOCK, bx, BLOCK)
    variances = blocks.var(axis=(1, 3))
    return float(np.percentile(variances, LOW_PERCENTILE) / LOW_PERCENTILE_BIAS)


def brightness(grey: np.ndarray) -> float:
    """Mean level above black (never zero)."""
    return max(float(grey.mean()), 1e-6)


def laplacian_sharpness(grey: np.ndarray, noise_var: float) -> float:
    """Variance of the Laplacian (000 [0055]) minus noise, over brightness squared."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    energy = float(lap.var()) - LAPLACIAN_ENERGY * noise_var
    return max(energy, TINY) / brightness(grey) ** 2


def tenengrad_sharpness(grey: np.ndarray, noise_var: float) -> float:
    """Mean squared Sobel gradient magnitude minus noise, over brightness squared."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    energy = float(np.mean(gx * gx + gy * gy)) - 2 * SOBEL_ENERGY * noise_var
    return max(energy, TINY) / brightness(grey) ** 2


def tiles(grey: np.ndarray, size: int, most: int) -> np.ndarray:
    """Up to ``most`` tiles of size x size spread evenly over the image: (n, size, size)."""
    size = min(size, grey.shape[0], grey.shape[1])
    side = max(1, int(most ** 0.5))
    rows = min(max(1, grey.shape[0] // size), side)
    cols = min(max(1, grey.shape[1] // size), side)
    ys = np.linspace(0, grey.shape[0] - size, rows).astype(int)
    xs = np.linspace(0, grey.shape[1] - size, cols).astype(int)
    return np.stack([grey[y:y + size, x:x + size] for y in ys for x in xs])


def radial_frequency(size: int) -> np.ndarray:
    """|f| in cycles per pixel for each bin of an rfft2 of a size x size tile."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return np.sqrt(fy * fy + fx * fx)


def frequency_sharpness(grey: np.ndarray, noise_var: float, *, low: tuple[float, float],
                        high: tuple[float, float], tile: int, most_tiles: int) -> float:
    """001 eq. (1) in brightness-invariant form: Avg(A_high) / Avg(A_low).

    The power spectrum is Welch-averaged over Hann-windowed tiles (windowing keeps tile edges
    from leaking into the high band; averaging steadies the estimate); the flat noise floor is
    subtracted per bin before taking amplitudes."""
    patches = tiles(grey, tile, most_tiles)
    size = patches.shape[1]
    window = np.outer(np.hanning(size), np.hanning(size)).astype(np.float32)
    patches = (patches - patches.mean(axis=(1, 2), keepdims=True)) * window
    power = np.mean(np.abs(np.fft.rfft2(patches)) ** 2, axis=0)
    clean = np.maximum(power - noise_var * float(np.sum(window * window)), 0.0)
    radius = radial_frequency(size)
    a_high = np.sqrt(clean[(radius >= high[0]) & (radius < high[1])]).mean()
    a_low = np.sqrt(clean[(radius >= low[0]) & (radius < low[1])]).mean()
    return max(float(a_high), TINY) / max(float(a_low), TINY)
