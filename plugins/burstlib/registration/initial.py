"""Starting translations for a registration: tile votes and phase-correlation peaks.

They work where SIFT finds too few features (a 48 px window) and cost little. The caller
adds the identity (and, when none explains the frame, a feature homography), refines them
all a little and keeps the one that explains most of the frame: a moving object yields a
peak of its own, and must not win just because it is textured.
"""

from __future__ import annotations

import cv2
import numpy as np

PEAKS = 3  # phase-correlation peaks tried: the scene's, a moving object's, a repeat's
PEAK_SHARE = 0.25  # a further peak must be at least this high, relative to the first
PEAK_GAP = 3  # px between peaks (a peak's own sub-pixel spread is ~1 px)
TILE_SIDE = 24  # px: tiles that vote are at least this large (a phase correlation needs room)
VOTE_RADIUS = 1.0  # px: votes this close agree
LOW_PASS = 0.2  # cycles/px: Gaussian roll-off of the whitened spectrum (noise lives above)


def phase_peaks(reference: np.ndarray, moving: np.ndarray, count: int = PEAKS
                ) -> list[tuple[np.ndarray, float]]:
    """Translations t (x, y) with moving(x + t) ~ reference(x), strongest first, with their
    heights: the peaks of the whitened cross-power spectrum of the Hann-windowed images,
    low-passed (noise lives in the high frequencies whitening would amplify)."""
    h, w = reference.shape
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    a = np.fft.rfft2((reference - reference.mean()) * window)
    b = np.fft.rfft2((moving - moving.mean()) * window)
    cross = b * np.conj(a)
    cross /= np.abs(cross) + 1e-3 * float(np.abs(cross).max() + 1e-20)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    cross *= np.exp(-(fx * fx + fy * fy) / (2 * LOW_PASS ** 2))
    surface = np.fft.fftshift(np.fft.irfft2(cross, s=(h, w)))
    return _peaks(surface, count)


def _peaks(surface: np.ndarray, count: int) -> list[tuple[np.ndarray, float]]:
    """The highest local maxima of a correlation surface (centre = zero shift), sub-pixel
    by a parabola through each peak and its neighbours."""
    h, w = surface.shape
    work = surface.copy()
    found: list[tuple[np.ndarray, float]] = []
    for _ in range(count):
        row, col = np.unravel_index(int(np.argmax(work)), work.shape)
        height = float(surface[row, col])
        if found and height < PEAK_SHARE * found[0][1]:
            break
        dx = _vertex(surface[row, (col - 1) % w], height, surface[row, (col + 1) % w])
        dy = _vertex(surface[(row - 1) % h, col], height, surface[(row + 1) % h, col])
        found.append((np.array([col + dx - w // 2, row + dy - h // 2], np.float64), height))
        rows = slice(max(0, row - PEAK_GAP), row + PEAK_GAP + 1)
        work[rows, max(0, col - PEAK_GAP):col + PEAK_GAP + 1] = -np.inf
    return found


def _vertex(left: float, centre: float, right: float) -> float:
    denominator = left - 2 * centre + right
    if denominator >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / denominator, -0.5, 0.5))


def tile_votes(reference: np.ndarray, moving: np.ndarray, count: int = 2
               ) -> list[np.ndarray]:
    """Translations most tiles agree on, most supported first: every tile of a grid
    (TILE_SIDE px or more, up to 4 x 4) phase-correlates on its own and votes once, so the
    scene, which covers most of the frame, outvotes a moving object however textured (a
    whole-frame phase correlation weighs every frequency by whatever dominates it there,
    and a high-contrast object can leave the scene no peak at all)."""
    h, w = reference.shape
    rows, columns = (int(np.clip(n // TILE_SIDE, 2, 4)) for n in (h, w))
    shifts = []
    for r in range(rows):
        for c in range(columns):
            cut = np.s_[r * h // rows:(r + 1) * h // rows, c * w // columns:(c + 1) * w // columns]
            shifts.append(phase_peaks(reference[cut], moving[cut], count=1)[0][0])
    return _modes(np.array(shifts), count)


def _modes(shifts: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` translations with the most votes within VOTE_RADIUS (at least 2), each
    the median of its voters."""
    out: list[np.ndarray] = []
    left = shifts
    while len(out) < count and len(left) >= 2:
        near = np.linalg.norm(left[:, None] - left[None], axis=2) <= VOTE_RADIUS
        support = near.sum(axis=1)
        best = int(np.argmax(support))
        if support[best] < 2:
            break
        out.append(np.median(left[near[best]], axis=0))
        left = left[~near[best]]
    return out


def translation(t: np.ndarray) -> np.ndarray:
    """The warp of a translation."""
    return np.array([[1, 0, t[0]], [0, 1, t[1]], [0, 0, 1.0]])
