"""HDR+'s merge (Hasinoff et al. 2016, section 5): pairwise Wiener shrinkage of overlapping
tiles in the frequency domain.

Each frame, already on the reference grid, is cut into 16x16 tiles overlapping by half and
windowed with a raised cosine whose shifted copies sum to one. Per tile and per frequency the
frame's spectrum is pulled towards the reference's by A = |D|^2 / (|D|^2 + c sigma^2) with D the
difference of the two spectra: where they differ by what noise explains A is small and the
frame counts almost fully; where they differ more (motion, a registration or resampling error,
aliasing the frame cannot reproduce at the reference's sampling phase) A -> 1 and that frequency
comes from the reference. Deciding per frequency, not per pixel, keeps the low frequencies of a
frame whose fine detail is unusable, which a per-pixel weight cannot.
"""

from __future__ import annotations

import numpy as np

from .fourier import hann_window

TILE = 16
STEP = TILE // 2


WINDOW = hann_window(TILE)  # HDR+'s: copies shifted by half a tile sum to exactly 1
WINDOW_ENERGY = float((WINDOW ** 2).sum())  # noise power per frequency bin of a windowed tile


def _padded(plane: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The plane reflected by half a tile on every side (so every pixel lies under two tiles
    per axis) and up to a multiple of the step."""
    height, width = plane.shape
    bottom = STEP + (-height) % STEP
    right = STEP + (-width) % STEP
    return np.pad(plane, ((STEP, bottom), (STEP, right)), mode="reflect"), (height, width)


def _tiles(padded: np.ndarray) -> np.ndarray:
    """Windowed overlapping tiles, shaped (rows, columns, TILE, TILE)."""
    view = np.lib.stride_tricks.sliding_window_view(padded, (TILE, TILE))[::STEP, ::STEP]
    return view * WINDOW


def _overlap_add(tiles: np.ndarray, padded_shape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Sum the tiles back into the plane (the windows already sum to one)."""
    rows, cols = tiles.shape[:2]
    blocks = np.zeros((rows + 1, cols + 1, STEP, STEP), np.float32)
    for a in (0, 1):
        for b in (0, 1):
            blocks[a:a + rows, b:b + cols] += tiles[:, :, a * STEP:(a + 1) * STEP,
                                                    b * STEP:(b + 1) * STEP]
    image = blocks.transpose(0, 2, 1, 3).reshape(padded_shape)
    return image[STEP:STEP + shape[0], STEP:STEP + shape[1]]


class TileMerger:
    """Accumulates frames of one plane against its reference, tile by tile, in frequency.

    ``variance`` is the per-pixel noise variance of the reference plane; ``strength`` is c in
    A = |D|^2 / (|D|^2 + c * 2 sigma^2): larger keeps more of each frame (more denoising, more
    risk of ghosts), smaller falls back to the reference sooner.
    """

    def __init__(self, reference: np.ndarray, variance: np.ndarray, strength: float) -> None:
        padded, self.shape = _padded(reference.astype(np.float32))
        self.padded_shape = padded.shape
        self.reference = np.fft.rfft2(_tiles(padded))
        tile_variance = _tiles(_padded(variance.astype(np.float32))[0]).sum(axis=(2, 3)) / WINDOW.sum()
        # D is the difference of two noisy tiles: twice the noise, spread over the window.
        self.noise = (strength * 2 * WINDOW_ENERGY * tile_variance)[..., None, None]
        self.total = self.reference.copy()
        self.count = 1
        self.agreement: list[float] = []

    def add(self, plane: np.ndarray) -> None:
        """One more frame of the plane, on the reference grid (reference where it has none)."""
        spectrum = np.fft.rfft2(_tiles(_padded(plane.astype(np.float32))[0]))
        difference = self.reference - spectrum
        power = difference.real ** 2 + difference.imag ** 2
        shrink = power / (power + self.noise)
        self.total += spectrum + shrink * difference
        self.count += 1
        self.agreement.append(1.0 - float(shrink.mean()))

    def result(self) -> np.ndarray:
        """The merged plane."""
        tiles = np.fft.irfft2(self.total / self.count, s=(TILE, TILE)).astype(np.float32)
        return _overlap_add(tiles, self.padded_shape, self.shape)
