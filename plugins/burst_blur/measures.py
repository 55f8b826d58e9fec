"""Gradient sharpness measures on a luminance proxy, corrected for noise and exposure.

Each returns a positive number, higher = sharper, in units of *detail amplitude per unit
brightness*: the RMS of the noise-free filter response divided by the mean level. So a brighter
exposure of the same scene scores the same, and the ratio of two frames' scores is the ratio of
their fine-detail amplitudes (what ``select`` calls relative sharpness). The noise's share is
subtracted first: for a linear filter k, white noise of variance s2 adds s2 * sum(k**2) to the
mean squared response.
"""

from __future__ import annotations

import cv2
import numpy as np


TINY = 1e-12
LAPLACIAN_ENERGY = 20.0  # sum of squares of the 4-neighbour Laplacian [0 1 0; 1 -4 1; 0 1 0]
SOBEL_ENERGY = 12.0  # sum of squares of one 3x3 Sobel kernel [1 0 -1; 2 0 -2; 1 0 -1]


def brightness(grey: np.ndarray) -> float:
    """Mean level above black (never zero)."""
    return max(float(grey.mean()), 1e-6)


def centre_crop(grey: np.ndarray, fraction: float) -> np.ndarray:
    """The centred ``fraction`` of the image's height and width (a view; 1 keeps all)."""
    if fraction >= 1.0:
        return grey
    h, w = grey.shape
    ch, cw = max(8, round(h * fraction)), max(8, round(w * fraction))
    top, left = (h - min(ch, h)) // 2, (w - min(cw, w)) // 2
    return grey[top:top + ch, left:left + cw]


def amplitude(energy: float, noise_energy: float, grey: np.ndarray) -> float:
    """sqrt(energy - noise's share) over brightness: the noise-free RMS response per unit level."""
    return float(np.sqrt(max(energy - noise_energy, TINY))) / brightness(grey)


def laplacian_sharpness(grey: np.ndarray, noise_var: float) -> float:
    """RMS of the 4-neighbour Laplacian (000 [0055]'s gradient) without noise, over brightness."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return amplitude(float(lap.var()), LAPLACIAN_ENERGY * noise_var, grey)


def tenengrad_sharpness(grey: np.ndarray, noise_var: float) -> float:
    """Tenengrad: RMS Sobel gradient magnitude without noise, over brightness."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    energy = float(np.mean(gx * gx)) + float(np.mean(gy * gy))
    return amplitude(energy, 2 * SOBEL_ENERGY * noise_var, grey)
