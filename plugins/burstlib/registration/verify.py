"""Is a registration trustworthy? A frame merged 1 px off does more harm than a frame left out.

Independent looks: the transform itself must be one a hand-held burst can produce (scale
near 1, no shear, no strong perspective, enough overlap, finite), and tiles of the registered
pair must agree with it (each tile's own residual shift, a local Lucas-Kanade step: their
median near zero, most of them small, where the tile has the texture to tell). The fit's
own statistics (its inlier share, its predicted precision) are checked by the caller.
"""

from __future__ import annotations

import cv2
import numpy as np

from .lk import Fit, Level, Points

MAX_SCALE = 1.25  # local scale of the transform within [1 / MAX_SCALE, MAX_SCALE]
# Ratio of the local scales along the two principal directions (shear): 1.10-1.12 was
# measured on sound homographies of small, noisy frames of a perspective burst.
MAX_ANISOTROPY = 1.2
MIN_OVERLAP = 0.5  # share of the reference the frame must cover
TILE_STD = 0.1  # px: a tile can tell its shift when noise moves it less than this
TILE_OFFSET = 0.3  # px: the telling tiles' median residual shift may be no larger
# A tile agrees when its residual shift is below this (or 3 std): generous, because a scene
# that one homography does not explain (parallax, lens distortion: align.local's work)
# leaves tiles a pixel or two off either way; a fit on the wrong thing leaves them all off.
TILE_AGREE = 2.0
MIN_AGREEING = 0.5  # share of the telling tiles that must agree
MIN_TILES = 4  # fewer telling tiles than this: the check cannot say anything
MIN_INLIERS = 0.5  # share of the overlap the fit must explain (a moving object: < 30 %)
TILE_INLIERS = 0.7  # a tile is asked when this share of it is clear of outlier blobs
# Residuals of smoothed levels are correlated: a tile's shift is noisier than white-noise
# arithmetic says, by about this factor (measured on the benchmark's bursts).
CORRELATION = 2.0


def implausibility(transform: np.ndarray, shape: tuple[int, int]) -> str:
    """Why a frame -> reference ``transform`` of a frame of ``shape`` cannot come from a
    hand-held burst ('' when it can): checked at the corners and the centre."""
    if not np.all(np.isfinite(transform)) or abs(np.linalg.det(transform)) < 1e-12:
        return "degenerate transform"
    h, w = shape
    xs = np.array([0.0, w - 1, 0.0, w - 1, (w - 1) / 2])
    ys = np.array([0.0, 0.0, h - 1, h - 1, (h - 1) / 2])
    denominator = transform[2, 0] * xs + transform[2, 1] * ys + transform[2, 2]
    if np.any(denominator <= 0) or np.ptp(denominator) > 0.2 * np.abs(denominator).min():
        return "strong perspective"
    for x, y, d in zip(xs, ys, denominator):
        u = (transform[0, 0] * x + transform[0, 1] * y + transform[0, 2]) / d
        v = (transform[1, 0] * x + transform[1, 1] * y + transform[1, 2]) / d
        local = (transform[:2, :2] - np.outer([u, v], transform[2, :2])) / d
        if np.linalg.det(local) <= 0:
            return "mirrored transform"
        small, large = np.linalg.svd(local, compute_uv=False)[::-1]
        if large > MAX_SCALE or small < 1 / MAX_SCALE:
            return f"scale {small:.2f}-{large:.2f}"
        if large / small > MAX_ANISOTROPY:
            return f"shear {large / small:.2f}"
    if overlap(transform, shape) < MIN_OVERLAP:
        return "too little overlap"
    return ""


def overlap(transform: np.ndarray, shape: tuple[int, int]) -> float:
    """Share of the reference (of ``shape``) that the frame covers."""
    h, w = shape
    ys, xs = np.mgrid[0:h:max(1.0, h / 16), 0:w:max(1.0, w / 16)]
    inverse = np.linalg.inv(transform)
    p = inverse @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = p[0] / p[2], p[1] / p[2]
    return float(np.mean((p[2] > 0) & (u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1)))


def outlier_blobs(points: Points, fit: Fit, grow: int = 2) -> np.ndarray:
    """Per point: within ``grow`` px of a point the fit rejects (a moving object and its
    rim, where the residual is large but not yet rejected)."""
    h, w = points.shape
    image = np.zeros(h * w, np.uint8)
    image[points.index[fit.inside & (fit.weights == 0)]] = 1
    kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    return cv2.dilate(image.reshape(h, w), kernel).ravel()[points.index] > 0


def inlier_share(fit: Fit) -> float:
    """Share of the overlap's points the fit keeps (nonzero robust weight)."""
    inside = int(fit.inside.sum())
    return float(np.count_nonzero(fit.weights)) / inside if inside else 0.0


def tile_verdict(points: Points, level: Level, fit: Fit, noise: float) -> str:
    """Why the registered pair's tiles disagree with the fit ('' when they do not, or when
    fewer than MIN_TILES can tell). Every tile's residual shift is one Lucas-Kanade step,
    unweighted, over its pixels outside :func:`outlier_blobs`; tiles mostly covered by
    those (a moving object's footprint in either frame), or by the borders, are not asked.
    A fit that is off shows in the median shift; one on the wrong thing (a moving object)
    leaves most tiles far off."""
    dx, dy, telling, std = _tile_shifts(points, level, fit, noise)
    told = int(telling.sum())
    if told < MIN_TILES:
        return ""
    offset = float(np.hypot(np.median(dx[telling]), np.median(dy[telling])))
    if offset > TILE_OFFSET:
        return f"its tiles put it {offset:.2f} px off"
    agree = telling & (np.hypot(dx, dy) <= np.maximum(TILE_AGREE, 3 * std))
    share = float(agree.sum()) / told
    if share < MIN_AGREEING:
        return f"only {share:.0%} of {told} tiles agree with the fit"
    return ""


def _tile_shifts(points: Points, level: Level, fit: Fit, noise: float) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per tile: residual shift (x, y), whether it can tell, and its standard deviation."""
    values = fit.sampled(points, level)  # the fit's own points: the sampling it was made of
    inside = fit.inside & ~outlier_blobs(points, fit)
    residual = fit.gain * values + fit.offset - points.value
    gx, gy = points.gx, points.gy
    h, w = points.shape
    side = max(12, int(np.ceil(max(h, w) / 8)))
    columns = -(-w // side)
    tile = (points.y.astype(np.int64) // side) * columns + points.x.astype(np.int64) // side
    count = columns * -(-h // side)
    keep = inside.astype(np.float64)

    def total(values_: np.ndarray) -> np.ndarray:
        return np.bincount(tile, weights=values_ * keep, minlength=count)

    sxx, sxy, syy = total(gx * gx), total(gx * gy), total(gy * gy)
    bx, by = total(gx * residual), total(gy * residual)
    det = sxx * syy - sxy * sxy
    trace = sxx + syy
    smallest = 0.5 * (trace - np.sqrt(np.maximum(trace * trace - 4 * det, 0)))
    std = CORRELATION * noise / np.sqrt(np.maximum(smallest, 1e-30))
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = -(syy * bx - sxy * by) / det
        dy = -(sxx * by - sxy * bx) / det
    asked = total(np.ones_like(residual)) >= TILE_INLIERS * np.bincount(tile, minlength=count)
    telling = asked & (std < TILE_STD) & np.isfinite(dx) & np.isfinite(dy)
    return dx, dy, telling, std
