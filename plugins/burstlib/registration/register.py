"""Global registration of one grey image to another, robust and sub-pixel at every size.

Homographies here map positions (x = column, y = row) of the moving image to the reference.

1. Starting points, on a pyramid level at most SEARCH_SIDE px large (:mod:`.initial`): the
   translations most tiles of a grid vote for (each tile phase-correlates on its own, so
   the scene outvotes a textured moving object), the peaks of a whole-frame phase
   correlation, the identity and, only when none of them explains the frame but for what
   its outlier blobs (a moving object) cover, a SIFT + MAGSAC homography from matches
   thinned to a few per grid cell (large rotations, zoom).
   Each is refined a little by robust direct alignment and the one that leaves the least
   of the frame unexplained within noise wins: a scene that covers 85 % of the frame beats
   an object that covers 15 %, however textured.
2. Coarse to fine, robust Gauss-Newton (:mod:`.lk`: Tukey weights per brightness band, so
   what moves gets weight 0 and shot noise is weighed right; exposure gain and offset
   fitted too) on Gaussian-smoothed levels, Lanczos-4 sampling corrected for OpenCV's
   1/32 px rounding; the levels above the finest on at most DESCENT_POINTS points.
3. The motion model is chosen by the data on small frames: translation, Euclidean, affine
   and homography are fitted in turn on the same pixels (off the moving objects) and the
   one with the least expected error is kept (Akaike's criterion in the correlated noise's
   units: a homography's 8 parameters on a 48 px window fit noise). Larger frames take the
   homography, refitted off the moving objects: they pin its parameters down.
4. The result is verified: a transform no hand-held burst produces, a fit that explains
   too little of the frame or whose own noise may put it more than MAX_STD px off, or
   one the frame's tiles disagree with (:mod:`.verify`) is not trusted.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from burstlib.noise import haar_details

from . import lk
from .initial import phase_peaks, tile_votes, translation
from .verify import MIN_INLIERS, implausibility, inlier_share, outlier_blobs, tile_verdict

FEATURE_SIDE = 1024  # features are found on a copy at most this large: fast, and robust to noise
FEATURE_MIN_SIDE = 128  # smaller frames have too few features to be worth finding
SEARCH_SIDE = 160  # starting points are compared on the finest level at most this large
MIN_SIDE = 20  # the coarsest pyramid level's shorter side is at least this (and a frame's)
MIN_POINTS = 256  # a reference with fewer usable pixels than this registers nothing
SMOOTHING = 1.0  # Gaussian sigma (level px) applied to both images at every level
SMOOTHING_GAIN = lk.gaussian_noise_gain(SMOOTHING)  # the share of noise's std it keeps
SELECT_POINTS = 100_000  # frames (points of the finest level) up to this size choose a model
SELECT_SAMPLE = 16_000  # ... on at most this many of their points
# Levels coarser than the finest keep at most this many points (the strongest of every
# tile): their fit is only the next level's start, which its own fit corrects; 120 000
# there took a fifth to a third of a 12 MP mosaic's registration.
DESCENT_POINTS = 30_000
# px: a fit whose own noise may put it farther off than this is not trusted. Not tighter:
# at heavy noise small frames fit to +-0.3 px, and merging them (the merge leaves out
# what disagrees) measured +12 dB over the reference where dropping them gave +3.
MAX_STD = 0.4
GRID_CELLS = 8  # matches are thinned on a GRID_CELLS x GRID_CELLS grid ...
PER_CELL = 4  # ... to at most this many per cell
TRUSTED_MATCHES = 12  # a feature homography needs this many inliers to be a starting point
EXPLAINED = 0.9  # a starting point explaining this share of the frame needs no SIFT
MOVING_SHARE = 0.003  # outlier blobs covering less of the frame than this are left alone
# A start's outlier blobs (a moving object, grown by their rim) may cover this much of the
# search level and still be taken for a moving object, not for a start that is off: what
# the verification asks of a fit (it must explain half of the frame, verify.MIN_INLIERS).
BLOB_SHARE = 0.5
# In model selection, a fit from the working fit's projection replaces the one from the
# simpler model's fit when it lowers the robust cost by more than this share: a chain gone
# wrong (a rotated frame) costs several times as much; a slightly lower cost moved a 64 px
# frame with a moving object from 0.7 to 1.7 px off.
CLEARLY_BETTER = 0.25


@dataclasses.dataclass(frozen=True)
class Registration:
    """The homography (moving -> reference), the registered pair's correlation, the
    feature matches used, the motion model kept, and whether the fit can be trusted
    (``reason`` says why not)."""

    homography: np.ndarray
    correlation: float
    matches: int
    model: str = "homography"
    trusted: bool = True
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Features:
    """SIFT keypoints and descriptors of an image, found on a copy scaled by ``factor``."""

    keypoints: tuple
    descriptors: np.ndarray | None
    factor: float


@dataclasses.dataclass(frozen=True)
class Pyramid:
    """An image's pyramid (finest first): the plain levels, the smoothed ones with
    gradients, and the noise standard deviation of the finest level."""

    plain: tuple[np.ndarray, ...]
    levels: tuple[lk.Level, ...]
    noise: float


class Reference:
    """What registering frames to one reference needs of it, computed once per burst (its
    SIFT features only when a frame first needs them)."""

    def __init__(self, grey: np.ndarray) -> None:
        self.grey = grey
        self.pyramid = build_pyramid(grey)
        self.points = tuple(lk.make_points(level, DESCENT_POINTS if index else None)
                            for index, level in enumerate(self.pyramid.levels))
        self._features: Features | None = None

    @property
    def features(self) -> Features | None:
        """SIFT features of the reference (None: too small to have useful ones)."""
        if self._features is None and min(self.grey.shape) >= FEATURE_MIN_SIDE:
            self._features = detect_features(self.grey)
        return self._features


def detect_features(grey: np.ndarray) -> Features:
    """SIFT on a copy at most FEATURE_SIDE px large (a burst's reference: once, not per frame)."""
    small, factor = _shrink(grey, FEATURE_SIDE)
    # OpenCV 5's stub lists SIFT.create only, not this alias that OpenCV still has.
    keypoints, descriptors = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=3000).detectAndCompute(
        to_uint8(small), None)
    return Features(tuple(keypoints), descriptors, factor)


def to_uint8(grey: np.ndarray) -> np.ndarray:
    """A contrast-stretched 8-bit copy for the feature detector (percentiles, not min/max,
    so a few hot pixels do not flatten the rest; from every 4th pixel, which is plenty)."""
    low, high = np.percentile(grey[::2, ::2], (0.5, 99.5))
    scaled = (grey - low) * (255.0 / max(float(high - low), 1e-6))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _shrink(grey: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    factor = min(1.0, side / max(grey.shape))
    if factor == 1.0:
        return grey, 1.0
    size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), factor


def scale_homography(h: np.ndarray, factor: float) -> np.ndarray:
    """A homography found on images scaled by ``factor`` (pixel centres kept), at full size."""
    s = np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5], [0, 0, 1]])
    return np.linalg.inv(s) @ h @ s


def feature_homography(ref: Features, moving: np.ndarray) -> tuple[np.ndarray, int]:
    """SIFT matches (Lowe's ratio test), thinned to PER_CELL per cell of a grid, and a MAGSAC
    homography, on shrunken copies (the reference's features found once by
    :func:`detect_features`). Falls back to the identity when too few features match."""
    mov = detect_features(moving)
    kp_ref, des_ref, factor = ref.keypoints, ref.descriptors, ref.factor
    kp_mov, des_mov = mov.keypoints, mov.descriptors
    if des_ref is None or des_mov is None or len(kp_ref) < 8 or len(kp_mov) < 8:
        return np.eye(3), 0
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_mov, des_ref, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    good = _thinned(good, kp_ref, moving.shape, factor)
    if len(good) < 8:
        return np.eye(3), len(good)
    src = np.array([kp_mov[m.queryIdx].pt for m in good], np.float32)
    dst = np.array([kp_ref[m.trainIdx].pt for m in good], np.float32)
    h, inliers = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 1.0)
    if h is None:
        return np.eye(3), len(good)
    return scale_homography(h, factor), int(inliers.sum())


def _thinned(matches: list, keypoints: tuple, shape: tuple[int, ...], factor: float) -> list:
    """At most PER_CELL matches (the most distinctive) per grid cell of the reference: the
    consensus then counts area, not texture (a textured moving object has many features)."""
    h, w = shape[0] * factor, shape[1] * factor
    kept: dict[int, int] = {}
    out = []
    for m in sorted(matches, key=lambda m: m.distance):
        x, y = keypoints[m.trainIdx].pt
        cell = int(min(GRID_CELLS - 1, y * GRID_CELLS / h)) * GRID_CELLS + int(
            min(GRID_CELLS - 1, x * GRID_CELLS / w))
        if kept.get(cell, 0) < PER_CELL:
            kept[cell] = kept.get(cell, 0) + 1
            out.append(m)
    return out


def noise_sigma(grey: np.ndarray) -> float:
    """Noise standard deviation of an image: the MAD of its finest diagonal Haar detail
    (edges touch few of those coefficients; noise all of them)."""
    detail, _ = haar_details(grey.astype(np.float32, copy=False))
    return float(np.median(np.abs(detail))) / 0.6745


def build_pyramid(grey: np.ndarray) -> Pyramid:
    """Levels halved by area averaging until the shorter side would drop below MIN_SIDE."""
    plain: list[np.ndarray] = [grey.astype(np.float32, copy=False)]
    while min(plain[-1].shape) // 2 >= MIN_SIDE:
        h, w = plain[-1].shape
        plain.append(cv2.resize(plain[-1], ((w + 1) // 2, (h + 1) // 2),
                                interpolation=cv2.INTER_AREA))
    levels = tuple(lk.make_level(p, SMOOTHING) for p in plain)
    return Pyramid(tuple(plain), levels, noise_sigma(grey))


def prepare(reference: np.ndarray) -> Reference:
    """The reference's pyramid and points per level, once per burst."""
    return Reference(reference)


def level_noise(pyramid: Pyramid, level: int) -> float:
    """Noise of a smoothed level: area averaging halves it per level, the Gaussian cuts it
    by SMOOTHING_GAIN."""
    return pyramid.noise / 2 ** level * SMOOTHING_GAIN


def inflation() -> float:
    """How much the residuals' spatial correlation inflates the parameters' variance over
    what white-noise arithmetic on the smoothed levels says: the smoothing's variance gain,
    inverted (the Jacobian is smooth, so the blur removes no noise from its directions).
    It agrees with the benchmark: predicted and measured errors match, and model selection
    works best with Akaike's penalty in these units."""
    return 1.0 / SMOOTHING_GAIN ** 2


def to_level(warp: np.ndarray, ref_from: tuple[int, int], ref_to: tuple[int, int],
             mov_from: tuple[int, int], mov_to: tuple[int, int]) -> np.ndarray:
    """A warp (reference pixel -> moving pixel) on levels of shapes ``*_from``, expressed
    on levels of shapes ``*_to`` (pixel centres kept, per-axis factors)."""
    return _centres(mov_from, mov_to) @ warp @ np.linalg.inv(_centres(ref_from, ref_to))


def _centres(source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    fy, fx = target[0] / source[0], target[1] / source[1]
    return np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1.0]])


def register(reference: np.ndarray | Reference, moving: np.ndarray) -> Registration:
    """Register ``moving`` to ``reference`` (a grey image, or :func:`prepare`'s result once
    per burst): starting points compared robustly, coarse-to-fine robust Gauss-Newton, the
    motion model chosen by the data, the result verified (see the module docstring)."""
    if not isinstance(reference, Reference):
        reference = prepare(reference)
    if reference.points[0].size < MIN_POINTS or min(moving.shape) < MIN_SIDE:
        return Registration(np.eye(3), 0.0, 0, "translation", False, "too small to register")
    mov = build_pyramid(moving)
    depth = min(len(reference.pyramid.levels), len(mov.levels))
    search = _search_level(reference.pyramid, depth)
    start, matches = _best_start(reference, mov, moving, search)
    select = reference.points[0].size <= SELECT_POINTS
    if select:
        found = _select_model(reference, mov, _descend(reference, mov, start, search))
    else:
        above = _descend(reference, mov, start, search, finest=False)
        found = _off_blobs(reference, mov, above, min(search, 1))
    # on every point of the finest level (the model was chosen off the outlier blobs; a fit
    # on all of them, its scales measured, is that evaluation already)
    if select or found.residual.size != reference.points[0].size:
        found = lk.evaluate(reference.points[0], mov.levels[0], found.warp, found.model,
                            found.gain, found.offset, level_noise(reference.pyramid, 0))
    homography = np.linalg.inv(found.warp)
    homography /= homography[2, 2]
    rho = lk.correlation(found, reference.points[0], mov.levels[0],
                         ~outlier_blobs(reference.points[0], found))
    reason = _distrust(homography, found, reference, mov)
    return Registration(homography, rho, matches, found.model, not reason, reason)


def _search_level(pyramid: Pyramid, depth: int) -> int:
    for index in range(depth):
        if max(pyramid.plain[index].shape) <= SEARCH_SIDE:
            return index
    return depth - 1


def _best_start(reference: Reference, mov: Pyramid, moving: np.ndarray, search: int
                ) -> tuple[lk.Fit, int]:
    """The starting point that explains most of the frame, refined on the search level:
    tile votes, phase-correlation peaks and the identity, most likely first, until one
    explains EXPLAINED of the frame; SIFT (the costly one) only when none does, not even
    off the outlier blobs a moving object leaves (a rotation of several degrees, a zoom)."""
    ref_plain, mov_plain = reference.pyramid.plain[search], mov.plain[search]
    noise = np.hypot(level_noise(reference.pyramid, search), level_noise(mov, search))
    points = reference.points[search]
    contrast = float(np.percentile(points.value, 99) - np.percentile(points.value, 1))
    cut = 3.0 * max(noise, 0.01 * contrast)
    starts = [translation(t) for t in tile_votes(ref_plain, mov_plain)]
    starts += [translation(t) for t, _ in phase_peaks(ref_plain, mov_plain)] + [np.eye(3)]
    fits: list[lk.Fit] = []
    for warp in _distinct(starts, ref_plain.shape):  # most likely first
        fits.append(_refine_start(reference, mov, warp, search))
        if _explained(fits[-1], cut) >= EXPLAINED:
            break  # nothing else can explain much more of the frame
    best = min(fits, key=lambda f: _truncated_cost(f, cut))
    matches = 0
    if _explained(best, cut) < EXPLAINED and not _explained_but_blobs(best, points, cut) \
            and min(moving.shape) >= FEATURE_MIN_SIDE and reference.features is not None:
        homography, matches = feature_homography(reference.features, moving)
        if matches >= TRUSTED_MATCHES:
            warp = to_level(np.linalg.inv(homography), reference.grey.shape, ref_plain.shape,
                            moving.shape, mov_plain.shape)
            found = _refine_start(reference, mov, warp, search)
            best = min((best, found), key=lambda f: _truncated_cost(f, cut))
    return best, matches


def _explained_but_blobs(found: lk.Fit, points: lk.Points, cut: float) -> bool:
    """Whether a start explains EXPLAINED of the frame off its outlier blobs, and those
    hold at most BLOB_SHARE of the frame's texture (gradient energy) and of its points:
    what it leaves is a moving object, which SIFT (a third of a second per frame of a zoom
    window) would only find the same motion around.

    A start that is off (a rotation of several degrees, a zoom) leaves residuals wherever
    the frame has texture: its robust scale grows with them, so off its blobs it explains
    no more than over all (a quarter to a half, measured). Where the texture is sparse
    (discs of it on flat grey), the flat part sets the scale instead and the whole texture
    becomes blobs over a small area: by area alone SIFT was skipped and 3-degree rotations
    ended 8-32 px off; by the texture the blobs hold, it is asked."""
    blobs = outlier_blobs(points, found)
    if blobs.mean() > BLOB_SHARE:
        return False
    energy = points.gx * points.gx + points.gy * points.gy
    if float(energy[blobs].sum()) > BLOB_SHARE * float(energy.sum()):
        return False
    return _explained(dataclasses.replace(found, inside=found.inside & ~blobs), cut) >= EXPLAINED


def _explained(found: lk.Fit, cut: float) -> float:
    """Share of the overlap's points a fit explains within ``cut``."""
    inside = int(found.inside.sum())
    return float(np.sum(found.inside & (np.abs(found.residual) < cut))) / inside if inside else 0.0


def _distinct(warps: list[np.ndarray], shape: tuple[int, int]) -> list[np.ndarray]:
    """The warps that differ from every earlier one by more than a pixel at some corner."""
    corners = lk._corners(shape)
    out: list[np.ndarray] = []
    for warp in warps:
        if all(np.max(np.abs(lk._apply(warp, corners) - lk._apply(o, corners))) > 1.0 for o in out):
            out.append(warp)
    return out


def _refine_start(reference: Reference, mov: Pyramid, warp: np.ndarray, search: int) -> lk.Fit:
    """A starting warp (search level) refined: translation one level coarser, when there
    is one, then Euclidean on the search level."""
    ref_levels, mov_levels = reference.pyramid.levels, mov.levels
    if search + 1 < min(len(ref_levels), len(mov_levels)):
        coarse = search + 1
        w = to_level(warp, ref_levels[search].shape, ref_levels[coarse].shape,
                     mov_levels[search].shape, mov_levels[coarse].shape)
        f = lk.fit(reference.points[coarse], mov_levels[coarse], w, "translation",
                   iterations=15, floor=level_noise(reference.pyramid, coarse))
        warp = to_level(f.warp, ref_levels[coarse].shape, ref_levels[search].shape,
                        mov_levels[coarse].shape, mov_levels[search].shape)
    return lk.fit(reference.points[search], mov_levels[search], warp, "euclidean",
                  iterations=20, floor=level_noise(reference.pyramid, search))


def _truncated_cost(found: lk.Fit, cut: float) -> float:
    """Mean of min(residual^2, cut^2) over all points, points outside the overlap at the
    cut: the share of the frame a fit leaves unexplained, textured or not."""
    r = np.where(found.inside, np.minimum(found.residual ** 2, cut * cut), cut * cut)
    return float(r.mean()) if r.size else np.inf


def working_model(shape: tuple[int, int]) -> str:
    """The richest model a level this large pins down reliably while descending."""
    side = min(shape)
    return "euclidean" if side < 40 else "affine" if side < 96 else "homography"


def _descend(reference: Reference, mov: Pyramid, start: lk.Fit, search: int,
             finest: bool = True) -> lk.Fit:
    """Coarse to fine from the search level to the finest (or, not ``finest``, to the
    level above it), robustly."""
    found = start
    ref_levels, mov_levels = reference.pyramid.levels, mov.levels
    for level in range(search - 1, -1 if finest else 0, -1):
        warp = to_level(found.warp, ref_levels[level + 1].shape, ref_levels[level].shape,
                        mov_levels[level + 1].shape, mov_levels[level].shape)
        found = lk.fit(reference.points[level], mov_levels[level], warp,
                       working_model(ref_levels[level].shape), gain=found.gain,
                       offset=found.offset, iterations=15 if level else 25,
                       floor=level_noise(reference.pyramid, level))
    return found


def _select_model(reference: Reference, mov: Pyramid, working: lk.Fit) -> lk.Fit:
    """The simplest model whose robust cost no richer one beats by more than Akaike's 2 per
    extra parameter (in the noise's units: :func:`inflation`), i.e. the one with the least
    expected registration error, refitted on every point off the moving objects."""
    clear = ~outlier_blobs(reference.points[0], working)
    fits = nested_fits(reference, mov, working, clear)
    penalty = 2.0 * inflation()
    chosen = lk.MODELS[-1]
    for model in lk.MODELS:
        if all(fits[model].cost - fits[richer].cost <= penalty * (
                lk.DEGREES[richer] - lk.DEGREES[model]) for richer in _richer(model)):
            chosen = model
            break
    best = fits[chosen]
    if clear.sum() == best.residual.size:
        return best
    return lk.fit(reference.points[0].subset(clear), mov.levels[0], best.warp, chosen,
                  gain=best.gain, offset=best.offset, iterations=8,
                  floor=level_noise(reference.pyramid, 0))


def _off_blobs(reference: Reference, mov: Pyramid, above: lk.Fit, level: int) -> lk.Fit:
    """The finest level's fit off the outlier blobs (a moving object's rim is not rejected
    by the robust weights, yet it pulls), or on every point when the blobs are next to
    nothing, from ``above``, the fit on ``level`` (the one above the finest, or the finest).

    The blobs are those of ``above`` evaluated on the finest level: a fit there on every
    point first, only to find them, cost a third of the finest level's samplings, and the
    fit off them had to leave its result again; 0.01 px off, the blobs are the same."""
    ref_levels, mov_levels = reference.pyramid.levels, mov.levels
    warp = to_level(above.warp, ref_levels[level].shape, ref_levels[0].shape,
                    mov_levels[level].shape, mov_levels[0].shape)
    points, floor = reference.points[0], level_noise(reference.pyramid, 0)
    model = working_model(ref_levels[0].shape)
    probe = lk.evaluate(points, mov_levels[0], warp, model, above.gain, above.offset, floor)
    clear = ~outlier_blobs(points, probe)
    if clear.mean() <= 1 - MOVING_SHARE:
        points = points.subset(clear)
    return lk.fit(points, mov_levels[0], warp, model, gain=above.gain, offset=above.offset,
                  iterations=25, floor=floor)


def nested_fits(reference: Reference, mov: Pyramid, working: lk.Fit, clear: np.ndarray
                ) -> dict[str, lk.Fit]:
    """Every model fitted on the finest level's ``clear`` points (at most SELECT_SAMPLE of
    them, spread evenly), in turn, each from the simpler one's fit (so a richer model starts
    where a simpler one ended) and from the working fit projected onto it, which is kept
    when it fits clearly better (by more than Akaike's penalty for the model's parameters);
    all with the working fit's noise scales, so that their costs compare.

    Both starts: from the simpler fit alone, a rotation of a few degrees went wrong, since
    the translation's fit of a rotated frame is off everywhere and a Euclidean fit from it
    ended in another minimum (256 px frames rotated 3 degrees: 9 px off, from a working fit
    0.01 px off, and the frame then dropped for its correlation). Kept only when clearly
    better: a slightly lower cost from it moved a 64 px frame with a moving object from 0.7
    to 1.7 px off."""
    points, level = reference.points[0], mov.levels[0]
    stride = -(-int(clear.sum()) // SELECT_SAMPLE)
    if stride > 1:
        clear = clear & (np.arange(clear.size) % stride == 0)
    points = points.subset(clear)
    floor = level_noise(reference.pyramid, 0)
    fits: dict[str, lk.Fit] = {}
    chained: lk.Fit | None = None
    for model in lk.MODELS:
        starts = [(chained.warp, chained.gain, chained.offset)] if chained is not None else []
        starts.append((lk.project(working.warp, model, points.shape), working.gain,
                       working.offset))
        found = [lk.fit(points, level, warp, model, gain=gain, offset=offset, iterations=10,
                        floor=floor, scales=working.scales, tolerance=0.005)
                 for warp, gain, offset in starts]
        margin = max(2.0 * inflation() * lk.DEGREES[model], CLEARLY_BETTER * found[0].cost)
        chained = fits[model] = found[-1] if found[-1].cost < found[0].cost - margin else \
            found[0]
    return fits


def _richer(model: str) -> tuple[str, ...]:
    return lk.MODELS[lk.MODELS.index(model) + 1:]


def _distrust(homography: np.ndarray, found: lk.Fit, reference: Reference, mov: Pyramid
              ) -> str:
    """Why the registration is not to be trusted ('' when it is)."""
    reason = implausibility(homography, reference.grey.shape)
    if reason:
        return reason
    explained = inlier_share(found)
    if explained < MIN_INLIERS:
        return f"the fit explains only {explained:.0%} of the frame"
    spread = lk.position_std(found, reference.points[0], inflation())
    if spread > MAX_STD:
        return f"too uncertain (+-{spread:.2f} px)"
    noise = max(found.scale, np.hypot(level_noise(reference.pyramid, 0), level_noise(mov, 0)))
    return tile_verdict(reference.points[0], mov.levels[0], found, noise)
