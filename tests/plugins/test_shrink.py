"""The merge's spatial shrinkage of the noise it leaves."""

from __future__ import annotations

import cv2
import numpy as np

from burst_merge.shrink import shrink_residual_noise


def photo_like(size: int = 192, seed: int = 0) -> np.ndarray:
    """Smoothed noise at several scales plus hard-edged rectangles, in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size), np.float32)
    for sigma in (2.0, 6.0, 18.0):
        layer = cv2.GaussianBlur(rng.normal(size=(size, size)).astype(np.float32), (0, 0), sigma)
        image += 0.05 * layer / layer.std()
    for _ in range(5):
        x, y = rng.integers(0, size - 40, 2)
        image[y:y + 30, x:x + 40] += float(rng.uniform(-0.2, 0.2))
    return np.clip(image + 0.5, 0.1, 0.9)


def rms(a: np.ndarray, b: np.ndarray) -> float:
    inner = np.s_[8:-8, 8:-8]
    return float(np.sqrt(np.mean((a[inner] - b[inner]) ** 2)))


def test_known_noise_is_taken_out_and_detail_kept():
    clean = photo_like()
    sigma = 0.02
    noisy = clean + np.random.default_rng(1).normal(0, sigma, clean.shape).astype(np.float32)
    variance = np.full(clean.shape, sigma ** 2, np.float32)
    shrunk = shrink_residual_noise(noisy, variance)
    assert rms(shrunk, clean) < 0.6 * rms(noisy, clean)  # at least 4.4 dB


def test_without_noise_nothing_is_smoothed():
    clean = photo_like(seed=2)
    tiny = np.full(clean.shape, 1e-12, np.float32)
    assert rms(shrink_residual_noise(clean, tiny), clean) < 1e-4
    assert shrink_residual_noise(clean, tiny, strength=0) is clean


def test_colour_planes_each_by_their_own_noise():
    clean = np.stack([photo_like(seed=s) for s in (3, 4, 5)], axis=2)
    rng = np.random.default_rng(6)
    sigmas = np.array([0.0, 0.01, 0.03], np.float32)
    noisy = clean + rng.normal(size=clean.shape).astype(np.float32) * sigmas
    variance = np.broadcast_to(sigmas ** 2 + 1e-12, clean.shape).astype(np.float32)
    shrunk = shrink_residual_noise(noisy, variance)
    assert rms(shrunk[..., 0], clean[..., 0]) < 1e-4  # the clean plane is left alone
    for c in (1, 2):
        assert rms(shrunk[..., c], clean[..., c]) < 0.8 * rms(noisy[..., c], clean[..., c])


def test_bands_give_the_whole_image_result(monkeypatch):
    """Band by band (with their margins of context) is the whole image's result, value for
    value, wherever the bands fall: the margins cover every filter's reach."""
    from burst_merge import shrink

    clean = np.stack([photo_like(seed=s) for s in (7, 8, 9)], axis=2)
    noisy = clean + np.random.default_rng(10).normal(0, 0.02, clean.shape).astype(np.float32)
    variance = np.full(clean.shape, 0.02 ** 2, np.float32)
    whole = shrink._shrink_planes(noisy, variance, 1.0)
    frames = np.random.default_rng(11).uniform(1, 8, clean.shape[:2]).astype(np.float32)
    divided = shrink._shrink_planes(noisy, variance / frames[..., None], 1.0)
    for band_rows in (1, 17, 64):  # 1: the smallest band (BAND_MARGIN rows)
        monkeypatch.setattr(shrink, "BAND_PIXELS", band_rows * noisy.shape[1] * 3)
        assert np.array_equal(shrink.shrink_residual_noise(noisy, variance), whole)
        assert np.array_equal(shrink.shrink_residual_noise(noisy, variance, frames=frames),
                              divided)


def test_memory_stays_bounded_on_a_large_image():
    """An 8 MP RGB image (96 MB) is shrunk with less than 100 MB beyond its result, and the
    same bound holds at any size (the whole image at once: 490 MB, 5 times the image).
    (tracemalloc sees numpy's and OpenCV's arrays)."""
    import tracemalloc

    image = np.full((4000, 2000, 3), 0.5, np.float32)
    image[::7] = 0.6  # some detail, so that nothing is skipped
    variance = np.full(image.shape[:2], 1e-4, np.float32)
    tracemalloc.start()
    try:
        out = shrink_residual_noise(image, variance)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == image.shape
    assert peak - out.nbytes < 100 * 2 ** 20
