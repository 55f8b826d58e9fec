"""Image quality figures the benchmarks and training recipes print."""

from __future__ import annotations

import numpy as np


def psnr(estimate: np.ndarray, truth: np.ndarray, border: int = 0) -> float:
    """PSNR in dB (peak 1) of ``estimate`` clipped to [0, 1] against ``truth``, ``border``
    pixels left out on every side."""
    if border:
        cut = (slice(border, -border), slice(border, -border))
        estimate, truth = estimate[cut], truth[cut]
    error = float(np.mean((np.clip(estimate, 0, 1) - truth) ** 2))
    return float(10 * np.log10(1 / max(error, 1e-12)))
