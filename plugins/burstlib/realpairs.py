"""Real far/near capture pairs: photometric fit, native resolution, the City100 split.

A *registered pair* is a far capture (``low``) already resized onto the pixel grid of a near
capture of the same field of view (``high``), as City100 ships them (``NNNL.png`` on
``NNNH.png``'s grid). The far capture holds less detail than its grid suggests: its *native*
resolution is the near capture's divided by the *resolution ratio* (about 2.9 for City100's
iPhone X subset), which :func:`measure_ratio` measures from the pixels. :func:`native_pair`
then brings the far capture back to its native resolution and makes the matching target for
a zoom by a given scale; :func:`fit_gain_offset` / :func:`photometric_fit` absorb the
exposure and colour difference between the two captures (a gain and an offset per channel,
fitted robustly), and :func:`residual_shift` measures what misalignment remains.

Used by ``burst bench zoom --sets city100``, the far/near dataset builder and the trainer
(which must train on :data:`TRAIN` scenes only: :data:`HELD_OUT` is for judging).

Arrays are float (``float32`` in [0, 1] for images), (H, W) grey or (H, W, C).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from burstlib import colour

#: City100 scenes kept for judging (never trained on): the last 15 of the 50 we have.
HELD_OUT: tuple[str, ...] = tuple(f"{index:03d}" for index in range(36, 51))
#: City100 scenes the trainer may use.
TRAIN: tuple[str, ...] = tuple(f"{index:03d}" for index in range(1, 36))

Split = Literal["train", "held_out", "all"]

#: Residuals beyond this many robust sigmas (1.4826 x MAD) are left out of the fit.
OUTLIER_SIGMAS = 3.0
#: Candidate ratios of :func:`measure_ratio` (the grid is refined by a parabola).
RATIO_FACTORS: tuple[float, ...] = tuple(np.round(np.arange(1.5, 4.0 + 1e-9, 0.05), 4))
#: Share of each side kept by :func:`measure_ratio` (the centre: away from lens fall-off
#: and registration edges).
RATIO_CROP = 0.6
#: Neighbours over which :func:`measure_ratio` smooths its curve to find the peak, and the
#: half-width (in factor) of the parabola fitted around it.
RATIO_SMOOTHING = 5
RATIO_WINDOW = 0.4


def luma(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 Y (float32) of an RGB image (:func:`burstlib.colour.luma`); a grey
    image is returned as float32."""
    if image.ndim == 2:
        return image.astype(np.float32)
    return colour.luma(image[..., :3].astype(np.float32))


def fit_gain_offset(source: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                    iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(gain, offset) per channel such that ``target ~ gain * source + offset``.

    Least squares on the pixels of ``mask`` (boolean, H x W; all when None), then refitted
    ``iterations`` times without the pixels whose residual is beyond :data:`OUTLIER_SIGMAS`
    robust sigmas (1.4826 x the median absolute deviation): ghosts, specular glints and
    clipped highlights do not pull the fit. For (H, W, C) images both results are C-vectors;
    for grey (H, W) images they are 0-d arrays. Either broadcasts in
    :func:`apply_gain_offset`. A channel whose source is flat gets gain 1 and the mean
    difference as offset."""
    if source.shape != target.shape:
        raise ValueError(f"shapes differ: {source.shape} and {target.shape}")
    if source.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C) arrays, not {source.shape}")
    keep = np.ones(source.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if keep.shape != source.shape[:2]:
        raise ValueError(f"mask {keep.shape} does not match the images {source.shape[:2]}")
    sources = source[..., None] if source.ndim == 2 else source
    targets = target[..., None] if target.ndim == 2 else target
    fits = [_robust_line(sources[..., c][keep].astype(np.float64),
                         targets[..., c][keep].astype(np.float64), iterations)
            for c in range(sources.shape[2])]
    gain = np.array([g for g, _ in fits])
    offset = np.array([o for _, o in fits])
    if source.ndim == 2:
        return gain.reshape(()), offset.reshape(())
    return gain, offset


def _robust_line(x: np.ndarray, y: np.ndarray, iterations: int) -> tuple[float, float]:
    """``y ~ gain * x + offset`` by least squares, refitted without outliers."""
    if x.size < 2:
        raise ValueError("fit_gain_offset needs at least two pixels")
    inliers = np.ones(x.shape, bool)
    gain, offset = _line(x, y)
    for _ in range(max(0, iterations)):
        residual = y - (gain * x + offset)
        centre = np.median(residual)
        sigma = 1.4826 * float(np.median(np.abs(residual - centre)))
        if sigma <= 1e-12:
            break
        updated = np.abs(residual - centre) <= OUTLIER_SIGMAS * sigma
        if updated.sum() < 2 or np.array_equal(updated, inliers):
            break
        inliers = updated
        gain, offset = _line(x[inliers], y[inliers])
    return gain, offset


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares ``y ~ gain * x + offset`` (gain 1 for a flat ``x``)."""
    mean_x, mean_y = float(x.mean()), float(y.mean())
    variance = float(np.mean((x - mean_x) ** 2))
    if variance <= 1e-12:
        return 1.0, mean_y - mean_x
    gain = float(np.mean((x - mean_x) * (y - mean_y))) / variance
    return gain, mean_y - gain * mean_x


def apply_gain_offset(image: np.ndarray, gain: np.ndarray | float,
                      offset: np.ndarray | float) -> np.ndarray:
    """``gain * image + offset`` per channel (float32, not clipped)."""
    return np.asarray(image * np.asarray(gain, np.float32) + np.asarray(offset, np.float32),
                      np.float32)


def photometric_fit(source: np.ndarray, target: np.ndarray, sigma: float = 2.0,
                    border: int = 0, mask: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_gain_offset` of ``source`` to ``target`` on low frequencies only.

    Both are blurred (Gaussian, ``sigma`` px) first, so that detail one of them has and the
    other lacks (a sharper capture against a blurrier one, a zoom against its truth) does
    not bias the gain; ``border`` px on each side are left out. Apply the result to the
    unblurred image with :func:`apply_gain_offset`. ``mask`` (bool, optional) keeps only the
    pixels where both images hold the scene."""
    keep = np.zeros(source.shape[:2], bool)
    keep[border:source.shape[0] - border, border:source.shape[1] - border] = True
    if mask is not None:
        keep &= mask
    return fit_gain_offset(_blurred(source, sigma), _blurred(target, sigma), keep)


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    values = np.ascontiguousarray(image, np.float32)
    if sigma <= 0:
        return values
    return np.asarray(cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_REFLECT),
                      np.float32)


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` resized to ``height`` x ``width`` by pixel-area averaging (float32)."""
    return np.asarray(cv2.resize(np.ascontiguousarray(image, np.float32), (width, height),
                                 interpolation=cv2.INTER_AREA), np.float32)


def _centre(image: np.ndarray, share: float) -> np.ndarray:
    height, width = image.shape[:2]
    top, left = int(height * (1 - share) / 2), int(width * (1 - share) / 2)
    return image[top:height - top, left:width - left]


def ratio_curve(low: np.ndarray, high: np.ndarray,
                factors: tuple[float, ...] = RATIO_FACTORS,
                crop: float = RATIO_CROP) -> list[tuple[float, float]]:
    """(factor, PSNR in dB) for each candidate factor: how well ``high`` brought to ``factor``
    times fewer pixels (area) and back to its grid (bicubic), then fitted in gain and offset,
    matches ``low`` on grey over the central ``crop`` share of each side."""
    low_y, high_y = luma(low), luma(high)
    height, width = high_y.shape
    target = _centre(low_y, crop)
    curve = []
    for factor in factors:
        small = area_resize(high_y, max(1, round(height / factor)), max(1, round(width / factor)))
        back = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        simulated = _centre(back, crop)
        gain, offset = fit_gain_offset(simulated, target, iterations=2)
        error = float(np.mean((apply_gain_offset(simulated, gain, offset) - target) ** 2))
        curve.append((float(factor), 10 * math.log10(1.0 / max(error, 1e-12))))
    return curve


def measure_ratio(low: np.ndarray, high: np.ndarray,
                  factors: tuple[float, ...] = RATIO_FACTORS, crop: float = RATIO_CROP) -> float:
    """The native resolution ratio of a registered pair (``low``: the far capture on
    ``high``'s grid), e.g. about 2.9 for City100's iPhone X pairs.

    Method: the near capture is made into what the far capture would be if the ratio were
    ``f``, for each candidate ``f`` (1.5 to 4 in steps of 0.05): downscaled by ``f`` with
    pixel-area averaging (a sensor with ``f`` times larger pixels) and upscaled back to the
    grid with bicubic (the far capture was brought onto the near capture's grid by some
    interpolation: City100 does not say which), then fitted to the far capture in gain and
    offset (:func:`fit_gain_offset`, robust). The ``f`` that makes it match the far capture
    best (the highest PSNR on grey over the centre, :data:`RATIO_CROP` of each side) is
    refined by a parabola fitted to the PSNR of the factors around it (:func:`_peak`). Too
    small an ``f`` leaves detail the far capture lacks; too large removes detail it has.

    What is measured is the *effective* ratio: the far capture's lens blur, processing and
    the resampling used to register it count too. On real pairs the peak is broad (City100:
    within a few tenths of a dB from 2.6 to 3.2), so a single scene's figure scatters by about
    0.1 (std over City100's 50 scenes: 0.14, mean 2.83); pool scenes shot alike when one
    figure is wanted. On a pair made by this very pipeline it reads about 0.05 low."""
    curve = ratio_curve(low, high, factors, crop)
    return _peak(np.array([f for f, _ in curve]), np.array([s for _, s in curve]))


def _peak(factors: np.ndarray, scores: np.ndarray) -> float:
    """The vertex of a least-squares parabola through the scores within
    :data:`RATIO_WINDOW` of the best factor (the best of the scores smoothed over
    :data:`RATIO_SMOOTHING` neighbours): the curve is jagged by a few tenths of a dB, from
    where the area sampling's pixels fall on the image, so three points alone would follow
    the jag."""
    if len(factors) < 3:
        return float(factors[int(np.argmax(scores))])
    width = min(RATIO_SMOOTHING, len(scores))
    padded = np.pad(scores, width // 2, mode="edge")
    smoothed = np.convolve(padded, np.ones(width) / width, mode="valid")[:len(scores)]
    best = float(factors[int(np.argmax(smoothed))])
    near = np.abs(factors - best) <= RATIO_WINDOW + 1e-9
    if near.sum() < 3:
        return best
    a, b, _ = np.polyfit(factors[near] - best, scores[near], 2)
    if a >= 0:  # no maximum inside: keep the smoothed best
        return best
    vertex = best - b / (2 * a)
    return float(np.clip(vertex, factors[near].min(), factors[near].max()))


def native_pair(low: np.ndarray, high: np.ndarray, scale: int,
                ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(LR, target) for judging a zoom by ``scale`` on a registered pair of this ``ratio``.

    LR is the far capture area-resized to round(H / r) x round(W / r) with
    r = max(ratio, scale); the target is the near capture area-resized to exactly LR's size
    times ``scale``.

    Why: the far capture was upsampled onto the near capture's grid, so it holds only
    1 / ratio of that grid's detail; area-resizing it by ``ratio`` returns it to what its
    sensor delivered (nothing is lost, nothing invented), the input a zoom really gets. The
    zoom's output grid is then ``scale`` times finer. For ``scale <= ratio`` the near
    capture holds at least that much detail, so downscaled onto the output grid it is a true
    target. For ``scale > ratio`` it holds less than the output grid can show, so LR is
    taken below native (r = scale), and the target is the near capture itself at LR x
    ``scale`` (its own grid, give or take the rounding): a target never asks for detail the
    near capture does not have."""
    if low.shape != high.shape:
        raise ValueError(f"a registered pair has one shape, not {low.shape} and {high.shape}")
    if scale < 1 or ratio <= 0:
        raise ValueError(f"scale {scale} and ratio {ratio} must be positive")
    factor = max(float(ratio), float(scale))
    height, width = low.shape[:2]
    lr_height, lr_width = max(1, round(height / factor)), max(1, round(width / factor))
    lr = area_resize(low, lr_height, lr_width)
    target = area_resize(high, lr_height * scale, lr_width * scale)
    return lr, target


def residual_shift(estimate: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(dx, dy) in pixels: ``target`` is ``estimate`` moved by (dx, dy) (content at x in
    ``estimate`` is at x + (dx, dy) in ``target``): the misalignment a registered pair
    still has, a translation over the whole image.

    Phase correlation (grey, Hann window) finds it to the pixel, however large; a
    translation-only ECC fit (``cv2.findTransformECC``, lightly smoothed) started there refines
    it: phase correlation's own sub-pixel figure jumps by up to half a pixel between
    neighbouring peaks. If ECC does not converge, the phase-correlation figure is returned."""
    a, b = luma(estimate), luma(target)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_64F)
    (dx, dy), _ = cv2.phaseCorrelate(a.astype(np.float64), b.astype(np.float64), window)
    # ECC finds warp with estimate(x + t) ~ target(x): t = -(dx, dy).
    start = np.array([[1, 0, -dx], [0, 1, -dy]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        mask = np.full(a.shape, 255, np.uint8)
        _, found = cv2.findTransformECC(b, a, start, cv2.MOTION_TRANSLATION, criteria, mask, 5)
    except cv2.error:
        return float(dx), float(dy)
    warp = np.asarray(found)
    return -float(warp[0, 2]), -float(warp[1, 2])


def city100_names(folder: Path, split: Split = "all") -> list[str]:
    """The scene names (``"001"`` ...) of ``folder`` with both captures, in ``split``."""
    if split not in ("train", "held_out", "all"):
        raise ValueError(f"split must be train, held_out or all, not {split!r}")
    names = sorted(path.name[:-len("H.png")] for path in Path(folder).glob("*H.png")
                   if (path.parent / f"{path.name[:-len('H.png')]}L.png").is_file())
    if split == "train":
        return [name for name in names if name in TRAIN]
    if split == "held_out":
        return [name for name in names if name in HELD_OUT]
    return names


def load_city100_pair(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): scene ``name``'s far and near captures, RGB float32 in [0, 1]."""
    return _rgb(Path(folder) / f"{name}L.png"), _rgb(Path(folder) / f"{name}H.png")


def city100_pairs(folder: Path, split: Split = "all"
                  ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, low, high) for every scene of ``split`` in ``folder`` (a City100 subset:
    ``NNNL.png`` far capture registered onto ``NNNH.png``, the near capture): RGB float32 in
    [0, 1]. ``held_out`` is :data:`HELD_OUT`, ``train`` :data:`TRAIN`. Each pair takes about
    12 MB: for many scenes, :func:`city100_names` and :func:`load_city100_pair` stream."""
    return [(name, *load_city100_pair(folder, name)) for name in city100_names(folder, split)]


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    top = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else 1.0
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), np.float32) / np.float32(top)
