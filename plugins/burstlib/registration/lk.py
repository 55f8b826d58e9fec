"""Robust direct alignment of one image level to another: Gauss-Newton over nested motion models.

The warp ``W`` maps a reference pixel (x = column, y = row) to the moving image's pixel (the
inverse of the stage's frame -> reference transform). The fit minimises

    sum_x  w(x) * (gain * I(W x) + offset - T(x))**2

over the reference points ``x`` kept for the level, with Tukey weights ``w`` (a moving object
or a glint gets weight 0 instead of pulling the fit) and an exposure ``gain`` / ``offset``
(burst frames jitter by 10 %). Steps are compositional, ``W <- W E(delta)``, with ``E`` of the
chosen motion model (translation, Euclidean, affine, homography: nested, so a fit of a richer
model can start from a simpler one), parametrised in coordinates centred on the level and
scaled to [-1, 1] (a well-conditioned normal matrix at every size). The image Jacobian is
the reference's (as in the inverse-compositional algorithm): it is computed once per level,
so a step costs one sampling of the moving image and one weighted sum (measured as
accurate as the warped image's gradient, or the mean of both, on the benchmark's bursts).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

MODELS = ("translation", "euclidean", "affine", "homography")
DEGREES = {"translation": 2, "euclidean": 3, "affine": 6, "homography": 8}
TUKEY = 4.685  # the biweight's cut-off in robust standard deviations (95 % efficiency)
# Noise grows with brightness (shot noise): the residual's scale is measured per band of
# reference brightness, so a bright band's noise neither sets the dark band's cut-off nor
# outweighs it (each residual counts by its band's inverse variance).
BANDS = 6
MAX_POINTS = 120_000  # more reference points than this add time, not accuracy
POINT_TILE = 32  # px: above MAX_POINTS, every tile this large keeps the same share
BORDER_SIGMAS = 1.0  # smoothing sigmas along the borders that fits leave out
# The moving image is sampled with Lanczos-4 (see :func:`sample`): OpenCV's bicubic
# (a = -0.75) does not even reproduce a ramp and biased fits by up to 0.03 px depending on the
# sub-pixel phase; bilinear by 0.01-0.02 px; Lanczos-4 with the rounding corrected, 0.005 px.
REMAP_STEPS = 32  # OpenCV's remap rounds positions to 1/32 px (INTER_TAB_SIZE)
MEDIAN_POINTS = 12_000  # noise scales are medians of at most about this many residuals
DAMPING = 1e-6  # Levenberg-Marquardt damping to start from (relative to the diagonal)
SUM_BLOCK = 2048  # points per float32 partial sum (see weighted_sums)
# After a step is taken back, damping tenfold steps that would move the corners within this
# share of its moves are not tried (they would be taken back too): damping 1e-5 .. 1e-2
# left a step as it was and cost a sampling each.
RETRY_CHANGE = 0.1


@dataclasses.dataclass(frozen=True)
class Level:
    """One pyramid level of an image, smoothed: values and gradients (x, y)."""

    image: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    margin: int  # px along the borders where smoothing saw reflected, not real, content

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]


@dataclasses.dataclass(frozen=True)
class Points:
    """The reference points a level's fit uses: pixel positions, normalised positions,
    template values and gradients, and their raster indices (for blob masks)."""

    x: np.ndarray
    y: np.ndarray
    xn: np.ndarray
    yn: np.ndarray
    value: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    index: np.ndarray
    band: np.ndarray  # brightness band of each point (0 .. BANDS - 1, equal counts)
    rows: np.ndarray  # the image Jacobian's rows for every parameter (see ROWS), K x N
    shape: tuple[int, int]
    norm: np.ndarray  # pixel -> normalised coordinates (3x3)

    @property
    def size(self) -> int:
        return int(self.x.size)

    def subset(self, keep: np.ndarray) -> Points:
        """The points where ``keep`` is true."""
        return dataclasses.replace(
            self, x=self.x[keep], y=self.y[keep], xn=self.xn[keep], yn=self.yn[keep],
            value=self.value[keep], gx=self.gx[keep], gy=self.gy[keep], index=self.index[keep],
            band=self.band[keep], rows=np.ascontiguousarray(self.rows[:, keep]))


@dataclasses.dataclass(frozen=True)
class Fit:
    """A converged (or capped) fit on one level."""

    warp: np.ndarray  # reference pixel -> moving pixel at this level
    model: str
    gain: float
    offset: float
    scale: float  # robust residual scale (MAD of the residual over the overlap)
    scales: np.ndarray  # the same per brightness band
    weights: np.ndarray  # per point: biweight / band variance; 0 outside and on outliers
    residual: np.ndarray  # per point (0 outside the overlap)
    inside: np.ndarray  # per point: lands inside the moving image
    cost: float  # robust cost, 2 sum rho(residual / band scale): ~ squares in noise variances
    iterations: int
    # per point: the moving level sampled at the warped point (what the residual was made
    # of), kept so that checks at the same warp need not sample the level again
    values: np.ndarray | None = None
    sampled_points: Points | None = None  # the points ``values`` belong to

    def sampled(self, points: Points, level: Level) -> np.ndarray:
        """The moving ``level`` at the fit's warped ``points``: the fit's own sampling when
        they are the points it was made on, else sampled anew."""
        if self.values is not None and points is self.sampled_points:
            return self.values
        return sample(level, self.warp, points)[0]


def make_level(grey: np.ndarray, smoothing: float) -> Level:
    """A level from a grey image: Gaussian-smoothed (noise, aliasing, and interpolation bias
    shrink; both images get the same blur, so the motion does not change), Scharr gradients."""
    image: np.ndarray = grey.astype(np.float32, copy=False)
    if smoothing > 0:
        image = cv2.GaussianBlur(image, (0, 0), smoothing, borderType=cv2.BORDER_REFLECT)
    gx = cv2.Scharr(image, cv2.CV_32F, 1, 0, scale=1 / 32, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Scharr(image, cv2.CV_32F, 0, 1, scale=1 / 32, borderType=cv2.BORDER_REFLECT)
    # near a border the blur mixed in mirrored content that the other frame, which sees
    # real scene there, does not have: fits leave that rim out
    return Level(image, gx, gy, int(np.ceil(BORDER_SIGMAS * smoothing)) + 1)


def gaussian_noise_gain(sigma: float) -> float:
    """How much a Gaussian blur of ``sigma`` (pixels) cuts white noise's standard deviation
    along one axis: the sum of its squared 1-D taps (over both axes: its square, the share
    of the noise's variance the blur keeps)."""
    taps = cv2.getGaussianKernel(2 * int(np.ceil(3 * sigma)) + 1, sigma)
    return float(np.sum(taps * taps))


def normaliser(shape: tuple[int, int]) -> np.ndarray:
    """Pixel -> normalised coordinates: centred on the level, the longer half-side = 1."""
    h, w = shape
    s = max(h, w) / 2.0
    return np.array([[1 / s, 0, -(w - 1) / (2 * s)], [0, 1 / s, -(h - 1) / (2 * s)],
                     [0, 0, 1.0]])


def make_points(level: Level, limit: int | None = None) -> Points:
    """The reference points of a level: every pixel clear of the level's border margin, or,
    above ``limit`` (MAX_POINTS), the same share of every tile of the level, those with
    the strongest gradient (flat pixels carry next to no information about the motion; per
    tile, so that a textured moving object does not get most of the points)."""
    h, w = level.shape
    border = level.margin + 1  # and the gradient's reach
    keep = np.zeros((h, w), bool)
    keep[border:h - border, border:w - border] = True
    count = int(np.count_nonzero(keep))
    limit = MAX_POINTS if limit is None else limit
    index = _strongest_per_tile(level, keep, limit / count) if count > limit else np.flatnonzero(
        keep)
    y, x = np.divmod(index, w)
    x, y = x.astype(np.float32), y.astype(np.float32)
    norm = normaliser((h, w))
    value = level.image.ravel()[index]
    edges = np.quantile(value, np.linspace(0, 1, BANDS + 1)[1:-1]) if value.size else []
    xn = (x * norm[0, 0] + norm[0, 2]).astype(np.float32)
    yn = (y * norm[1, 1] + norm[1, 2]).astype(np.float32)
    gx, gy = level.gx.ravel()[index], level.gy.ravel()[index]
    return Points(x, y, xn, yn, value, gx, gy, index, np.searchsorted(edges, value).astype(np.int8),
                  jacobian_rows(xn, yn, gx, gy, 1.0 / norm[0, 0]), (h, w), norm)


def _strongest_per_tile(level: Level, keep: np.ndarray, share: float) -> np.ndarray:
    """The raster indices of the ``share`` of each POINT_TILE-px tile's pixels (those
    ``keep``, a mask of the level, holds) with the strongest gradient, in raster order
    (ties: the earlier pixel first).

    The level is cut into tiles (padded past its edges) and each tile's strongest pixels
    found on their own by a partition (:func:`_top_per_row`): :func:`make_points` of a
    12 MP mosaic's proxy took 0.55 s with a stable sort of every tile, 0.06 s so."""
    h, w = level.shape
    t = POINT_TILE
    rows, cols = -(-h // t), -(-w // t)
    present = np.zeros((rows * t, cols * t), bool)
    present[:h, :w] = keep
    magnitude = np.full((rows * t, cols * t), -1.0, np.float32)  # below any real one
    strength = level.gx * level.gx + level.gy * level.gy
    magnitude[:h, :w] = np.where(keep, strength, np.float32(-1.0))
    counts = _by_tile(present, t).sum(axis=1)
    keep = np.ceil(share * counts).astype(np.int64)
    chosen = _top_per_row(_by_tile(magnitude, t), keep)
    image = chosen.reshape(rows, cols, t, t).transpose(0, 2, 1, 3).reshape(rows * t, cols * t)
    return np.flatnonzero(image[:h, :w])


def _top_per_row(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row of ``values``, a mask of its ``keep[row]`` largest (ties: the earlier first,
    as a stable sort would take them): one partition per distinct count (a tile at the
    level's edge has fewer pixels, so there are a few), not a sort of every row."""
    chosen = np.zeros(values.shape, bool)
    for k in np.unique(keep):
        if k <= 0:
            continue
        rows = np.flatnonzero(keep == k)
        part = values[rows]
        threshold = -np.partition(-part, k - 1, axis=1)[:, k - 1:k]  # the k-th largest
        above = part > threshold
        tied = part == threshold
        missing = k - above.sum(axis=1, keepdims=True)
        # where more pixels tie at the threshold than are missing, the earlier ones
        crowded = np.flatnonzero(tied.sum(axis=1, keepdims=True) > missing)
        tied[crowded] &= np.cumsum(tied[crowded], axis=1) <= missing[crowded]
        chosen[rows] = above | tied
    return chosen


def _by_tile(image: np.ndarray, t: int) -> np.ndarray:
    """An image whose sides are multiples of ``t`` as one row per t x t tile (raster order
    of tiles, and of pixels within each)."""
    rows, cols = image.shape[0] // t, image.shape[1] // t
    return image.reshape(rows, t, cols, t).transpose(0, 2, 1, 3).reshape(rows * cols, t * t)


def sample(level: Level, warp: np.ndarray, points: Points) -> tuple[np.ndarray, np.ndarray]:
    """The moving level at the warped points, and which points land inside it, clear of its
    border margin. Lanczos-4, from the position OpenCV rounds to (1/32 px), plus the
    gradient times the rest: remap alone would leave a +-1/64 px staircase that fits cycle
    on instead of converging."""
    w3 = warp[2, 0] * points.x + warp[2, 1] * points.y + warp[2, 2]
    u = (warp[0, 0] * points.x + warp[0, 1] * points.y + warp[0, 2]) / w3
    v = (warp[1, 0] * points.x + warp[1, 1] * points.y + warp[1, 2]) / w3
    h, w = level.shape
    m = level.margin + 1  # and the Lanczos kernel's reach (its far taps weigh little)
    inside = (u >= m) & (u <= w - 1 - m) & (v >= m) & (v <= h - 1 - m) & (w3 > 0)
    mu, mv = _as_map(u), _as_map(v)
    n = points.size

    def at(image: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.remap(image, mu, mv, interpolation,
                         borderMode=cv2.BORDER_REPLICATE).ravel()[:n]

    rest_u = (u - np.rint(u * REMAP_STEPS) / REMAP_STEPS).astype(np.float32)
    rest_v = (v - np.rint(v * REMAP_STEPS) / REMAP_STEPS).astype(np.float32)
    values = at(level.image, cv2.INTER_LANCZOS4)
    values += at(level.gx, cv2.INTER_LINEAR) * rest_u + at(level.gy, cv2.INTER_LINEAR) * rest_v
    return values, inside


def _as_map(coordinate: np.ndarray) -> np.ndarray:
    """A 1-D coordinate list as a 2-D float32 map (OpenCV's remap wants 2-D maps, and
    short ones: rows of 1024)."""
    n = coordinate.size
    rows = -(-n // 1024)
    out = np.full(rows * 1024, -10.0, np.float32)
    out[:n] = coordinate
    return out.reshape(rows, 1024)


#: The Jacobian rows each model uses, out of :func:`jacobian_rows`' nine.
ROWS = {"translation": [0, 1], "euclidean": [0, 1, 2], "affine": [0, 1, 3, 4, 5, 6],
        "homography": [0, 1, 3, 4, 5, 6, 7, 8]}


def jacobian_rows(x: np.ndarray, y: np.ndarray, gx: np.ndarray, gy: np.ndarray, s: float
                  ) -> np.ndarray:
    """d(image)/d(parameter) per point for every parameter of every model (9 x N): the
    translations, the rotation, the four affine terms, the two perspective terms; in
    normalised units (the displacement, in px, of a point at the level's edge is ``s``
    times the parameter)."""
    gx, gy = gx * np.float32(s), gy * np.float32(s)
    radial = gx * x + gy * y
    return np.stack([gx, gy, gy * x - gx * y, gx * x, gx * y, gy * x, gy * y,
                     -radial * x, -radial * y]).astype(np.float32)


def step_warp(model: str, delta: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """The increment E(delta) in pixel coordinates (rotations exact, so a Euclidean fit
    stays Euclidean)."""
    a = np.eye(3)
    a[0, 2], a[1, 2] = delta[0], delta[1]
    if model == "euclidean":
        c, s = np.cos(delta[2]), np.sin(delta[2])
        a[:2, :2] = [[c, -s], [s, c]]
    elif model in ("affine", "homography"):
        a[0, 0] += delta[2]
        a[0, 1] += delta[3]
        a[1, 0] += delta[4]
        a[1, 1] += delta[5]
    if model == "homography":
        a[2, 0], a[2, 1] = delta[6], delta[7]
    return np.linalg.inv(norm) @ a @ norm


def band_scales(residual: np.ndarray, inside: np.ndarray, floor: float, band: np.ndarray
                ) -> tuple[np.ndarray, float]:
    """The residual's robust scale per brightness band (MAD over the overlap, never below
    half of ``floor``, what noise alone explains: a perfect fit must not reject half the
    pixels), and overall (never below ``floor``)."""
    stride = max(1, residual.size // MEDIAN_POINTS)  # medians of a sample: plenty, and fast
    magnitude = np.abs(residual[::stride][inside[::stride]])
    band = band[::stride][inside[::stride]]
    overall = max(1.4826 * _median(magnitude), floor, 1e-7)
    scales = np.full(BANDS, overall)
    order = np.argsort(band, kind="stable")  # one sort, then each band is a slice
    starts = np.searchsorted(band[order], np.arange(BANDS + 1))
    for b in range(BANDS):
        chosen = magnitude[order[starts[b]:starts[b + 1]]]
        if chosen.size >= 32:
            scales[b] = max(1.4826 * _median(chosen), 0.5 * floor, 1e-7)
    return scales, overall


def _median(values: np.ndarray) -> float:
    """The (upper) median, by one partition (np.median's checks cost more on small sets)."""
    if values.size == 0:
        return 0.0
    middle = values.size // 2
    return float(np.partition(values, middle)[middle])


def tukey(residual: np.ndarray, inside: np.ndarray, scales: np.ndarray, band: np.ndarray
          ) -> tuple[np.ndarray, float]:
    """Biweight weights divided by each point's band variance, and the robust cost
    2 sum rho(r / scale) (points outside the overlap count as outliers: every model is
    charged for the same points, so costs compare)."""
    per_point = scales[band].astype(np.float32)
    u = residual / (TUKEY * per_point)
    within = inside & (np.abs(u) < 1)
    v = np.where(within, 1 - u * u, 0.0)
    weights = np.where(within, v * v / (per_point * per_point), 0.0).astype(np.float32)
    cost = TUKEY * TUKEY / 3 * float(np.sum(1 - v * v * v))  # 2 rho; ~ (r / scale)^2 near 0
    return weights, cost


def fit(points: Points, level: Level, warp: np.ndarray, model: str, *, gain: float = 1.0,
        offset: float = 0.0, iterations: int = 30, floor: float = 1e-4,
        scales: np.ndarray | None = None, tolerance: float = 1e-3) -> Fit:
    """Gauss-Newton (Levenberg-Marquardt damped) on one level from ``warp``, reweighted every
    step; stops when a step moves no corner more than ``tolerance`` px. Fixed band
    ``scales`` (else re-measured every step) make the costs of different models' fits
    comparable. A step that raises the robust cost is taken back and retried more damped
    (a homography's perspective terms on a small, noisy window overshoot).

    (Ending a fit at its best state once a rejected step was shorter than ten tolerances
    saved a tenth of a 12 MP burst's registration, and cost 0.29 dB of bench upscale's
    heavy-noise 64 px burst: not done.)"""
    corners = _corners(points.shape)
    k = DEGREES[model]
    # Jacobian rows, gain, offset, residual; zero-padded once to whole SUM_BLOCKs (the padding
    # adds nothing to the sums, and weighted_sums need not copy it every step)
    system = np.zeros((k + 3, _padded(points.size)), np.float32)
    system[:k, :points.size] = points.rows[ROWS[model]]
    system[k + 1, :points.size] = 1.0
    state = (warp.astype(np.float64), gain, offset)
    best: tuple | None = None  # (cost, state, sums) of the best state so far
    sampled: list[tuple] = []  # (state, values, inside) of the best and the last sampled
    damping, judge, count = DAMPING, scales, 0
    moved: np.ndarray | None = None  # the corners' moves of the last step
    rejected: np.ndarray | None = None  # ... of the step just taken back, if it was
    for count in range(1, iterations + 1):
        values, inside = sample(level, state[0], points)
        sampled = [sampled[0], (state, values, inside)] if sampled else [(state, values, inside)]
        residual = state[1] * values + state[2] - points.value
        current = scales if scales is not None else band_scales(
            residual, inside, floor, points.band)[0]
        judge = current if judge is None else judge  # costs compare under fixed scales
        weights, cost = tukey(residual, inside, current, points.band)
        if judge is not current:
            cost = tukey(residual, inside, judge, points.band)[1]
        if best is not None and cost > best[0]:
            state, sums = best[1], best[2]
            damping *= 10  # back to the best state, a shorter step
            rejected = moved
        else:
            if np.count_nonzero(weights) < 8 * (k + 2):
                break
            damping = max(damping / 10, DAMPING)
            system[k, :points.size], system[k + 2, :points.size] = values, residual
            sums = weighted_sums(system, weights, k + 2)
            best = (cost, state, sums)
            sampled = sampled[-1:]
            rejected = None
        delta, damping, warp, moved = _damped_step(sums, model, damping, state[0], points.norm,
                                                   corners, rejected)
        if delta is None:
            break
        warp /= warp[2, 2]
        if not np.all(np.isfinite(warp)):
            break
        state = (warp, state[1] + float(delta[k]), state[2] + float(delta[k + 1]))
        if float(np.max(np.abs(moved))) < tolerance:
            break
    final = _evaluate_state(points, level, state, model, floor, scales, count, sampled)
    if best is not None and final.cost > best[0] and best[1] is not state:
        final = _evaluate_state(points, level, best[1], model, floor, scales, count, sampled)
    return final


def _damped_step(sums: np.ndarray, model: str, damping: float, warp: np.ndarray,
                 norm: np.ndarray, corners: np.ndarray, rejected: np.ndarray | None
                 ) -> tuple[np.ndarray | None, float, np.ndarray, np.ndarray]:
    """The damped Gauss-Newton step from ``warp``: (delta, the damping used, the warp it
    leads to, the corners' moves), delta None when there is none (singular, or damped past
    1e6). After a step was taken back (``rejected``: its corners' moves), the damping grows
    tenfold while the step would still move the corners as that one did (within
    RETRY_CHANGE): tenfold damping changes a well-conditioned step next to nothing until it
    nears the diagonal, and every step tried costs a sampling of the level."""
    k = DEGREES[model]
    while True:
        delta = _solve(sums[:k + 2, :k + 2], -sums[k + 2, :k + 2], damping)
        if delta is None or damping > 1e6:
            return None, damping, warp, np.zeros_like(corners[:2])
        moving = warp @ step_warp(model, delta[:k], norm)
        moved = _apply(moving, corners) - _apply(warp, corners)
        if rejected is None or np.max(np.abs(moved - rejected)) > RETRY_CHANGE * np.max(
                np.abs(rejected)):
            return delta, damping, moving, moved
        damping *= 10


def _evaluate_state(points: Points, level: Level, state: tuple, model: str, floor: float,
                    scales: np.ndarray | None, iterations: int, sampled: list[tuple]) -> Fit:
    """:func:`evaluate` at a fit's ``state`` (warp, gain, offset), from the sampling the fit
    made of it when ``sampled`` (state, values, inside) has it: a sampling of the finest
    level is the costliest part of a step."""
    for known, values, inside in sampled:
        if known is state:
            return _evaluation(points, values, inside, state[0], model, state[1], state[2],
                               floor, scales, iterations)
    return evaluate(points, level, state[0], model, state[1], state[2], floor, scales,
                    iterations)


def evaluate(points: Points, level: Level, warp: np.ndarray, model: str, gain: float,
             offset: float, floor: float, scales: np.ndarray | None = None,
             iterations: int = 0) -> Fit:
    """The fit's residual, weights, scales and cost at ``warp``."""
    values, inside = sample(level, warp, points)
    return _evaluation(points, values, inside, warp, model, gain, offset, floor, scales,
                       iterations)


def _evaluation(points: Points, values: np.ndarray, inside: np.ndarray, warp: np.ndarray,
                model: str, gain: float, offset: float, floor: float,
                scales: np.ndarray | None, iterations: int) -> Fit:
    """:func:`evaluate` from the moving level already sampled at the warped points."""
    residual = np.where(inside, gain * values + offset - points.value, 0.0).astype(np.float32)
    measured, overall = band_scales(residual, inside, floor, points.band)
    weights, cost = tukey(residual, inside, scales if scales is not None else measured,
                          points.band)
    return Fit(warp, model, gain, offset, overall, measured, weights, residual, inside, cost,
               iterations, values, points)


def weighted_sums(system: np.ndarray, weights: np.ndarray, columns: int) -> np.ndarray:
    """sum_n system[i, n] * weights[n] * system[j, n] for every row i and j < ``columns``:
    J^T W J and J^T W r at once. float32 products summed in blocks, the blocks' sums added in
    float64: one float32 sum over 10^5 points loses enough to make Gauss-Newton wander by
    0.01-0.02 px instead of converging. (einsum, not BLAS: its threads cost more than they
    save on these tall, thin products.)"""
    rows, n = system.shape[0], weights.size
    if system.shape[1] != _padded(n):  # a system not padded by its maker
        padded = np.zeros((rows, _padded(n)), np.float32)
        padded[:, :n] = system
        system = padded
    blocks = system.shape[1] // SUM_BLOCK
    weighted = system.copy()
    weighted[:, :n] *= weights
    a = weighted.reshape(rows, blocks, SUM_BLOCK)
    b = system[:columns].reshape(columns, blocks, SUM_BLOCK)
    return np.einsum("ibn,jbn->bij", a, b).sum(axis=0, dtype=np.float64)


def _padded(count: int) -> int:
    """``count`` rounded up to whole SUM_BLOCKs."""
    return -(-count // SUM_BLOCK) * SUM_BLOCK


def _solve(normal: np.ndarray, rhs: np.ndarray, damping: float) -> np.ndarray | None:
    """The damped Gauss-Newton step (Marquardt's scaling: ``damping`` times the diagonal)."""
    damped = normal + np.diag(damping * np.maximum(np.diag(normal), 1e-12))
    try:
        delta = np.linalg.solve(damped, rhs)
    except np.linalg.LinAlgError:
        return None
    return delta if np.all(np.isfinite(delta)) else None


def _corners(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return np.array([[0, w - 1, 0, w - 1], [0, 0, h - 1, h - 1], [1, 1, 1, 1]], np.float64)


def _apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = h @ points
    return p[:2] / p[2]


def project(warp: np.ndarray, model: str, shape: tuple[int, int]) -> np.ndarray:
    """The ``model`` warp closest to ``warp`` over a grid of the level (least squares on
    the positions it gives the grid): where a simpler model's fit starts."""
    if model == "homography":
        return warp.copy()
    h, w = shape
    ys, xs = np.mgrid[0:h:max(1, h // 8), 0:w:max(1, w // 8)]
    src = np.stack([xs.ravel(), ys.ravel()]).astype(np.float64)
    dst = _apply(warp, np.vstack([src, np.ones(src.shape[1])]))
    if model == "translation":
        t = (dst - src).mean(axis=1)
        return np.array([[1, 0, t[0]], [0, 1, t[1]], [0, 0, 1.0]])
    if model == "euclidean":
        return _procrustes(src, dst)
    design = np.vstack([src, np.ones(src.shape[1])]).T
    solution, *_ = np.linalg.lstsq(design, dst.T, rcond=None)
    return np.vstack([solution.T, [0, 0, 1.0]])


def _procrustes(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The rotation + translation that best maps ``src`` onto ``dst`` (Kabsch)."""
    cs, cd = src.mean(axis=1, keepdims=True), dst.mean(axis=1, keepdims=True)
    u, _, vt = np.linalg.svd((dst - cd) @ (src - cs).T)
    rotation = u @ np.diag([1.0, np.linalg.det(u @ vt)]) @ vt
    t = cd - rotation @ cs
    return np.vstack([np.hstack([rotation, t]), [0, 0, 1.0]])


def position_std(fit_: Fit, points: Points, inflation: float) -> float:
    """The fit's predicted positional standard deviation (px, RMS over the corners and the
    centre): the parameters' covariance ``inflation`` (JᵀWJ)^-1 (the weights are inverse
    noise variances already; ``inflation`` accounts for correlated residuals) mapped to the
    displacement of those points."""
    rows = points.rows[ROWS[fit_.model]]
    normal = weighted_sums(rows, fit_.weights, rows.shape[0])
    try:
        covariance = inflation * np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        return np.inf
    s = 1.0 / points.norm[0, 0]
    total = 0.0
    corners = [(-1, -1), (1, -1), (-1, 1), (1, 1), (0, 0)]
    h, w = points.shape
    for x, y in corners:
        x, y = x * (w - 1) / 2 / s, y * (h - 1) / 2 / s  # normalised coordinates
        d = s * _displacements(fit_.model, x, y)  # 2 x k
        total += float(np.trace(d @ covariance @ d.T))
    return float(np.sqrt(total / len(corners))) if np.isfinite(total) else np.inf


def _displacements(model: str, x: float, y: float) -> np.ndarray:
    """d(displacement)/d(parameters) of the point (x, y) (normalised), per ROWS' order."""
    columns = {"translation": [(1, 0), (0, 1)],
               "euclidean": [(1, 0), (0, 1), (-y, x)],
               "affine": [(1, 0), (0, 1), (x, 0), (y, 0), (0, x), (0, y)],
               "homography": [(1, 0), (0, 1), (x, 0), (y, 0), (0, x), (0, y),
                              (-x * x, -x * y), (-x * y, -y * y)]}[model]
    return np.array(columns, np.float64).T


def correlation(fit_: Fit, points: Points, level: Level, clear: np.ndarray | None = None
                ) -> float:
    """Zero-mean normalised correlation (ECC's criterion) of the registered images over the
    points the fit keeps (and ``clear`` ones, if given): a moving object, which no
    registration can match, must not make a well-registered frame look unregistered."""
    values = fit_.sampled(points, level)
    kept = fit_.inside & (fit_.weights > 0)
    if clear is not None:
        kept &= clear
    if kept.sum() < 8:
        return 0.0
    a = points.value[kept] - points.value[kept].mean()
    b = values[kept] - values[kept].mean()
    return float((a * b).sum() / max(float(np.sqrt((a * a).sum() * (b * b).sum())), 1e-12))
