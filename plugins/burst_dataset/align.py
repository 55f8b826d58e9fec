"""Seed 000's training sample from one capture session (claims 1-6), as arrays.

A session is M far frames (hand-held) and K near frames (tripod) of one scene:

1. **Standard image** (:mod:`.standard`): the near frames registered to the first (robust
   homographies, :func:`burstlib.registration.register`), resampled onto its grid and
   averaged robustly. A near frame that does not register, or that disagrees with the others
   in patches over more than 2 % of the frame (the tripod bumped, someone in front), rejects
   the scene.
2. **Reference**: the far frame with the largest Laplacian energy (000 [0055]; the caller
   scores them with ``score.laplacian``).
3. **Reference to standard**: SIFT + MAGSAC gives the far -> near homography (the far frame is
   ``ratio`` times coarser and sees more: this is the crop to the near field of view); it is
   refined by robust direct alignment on the training grid, the standard image's grid over
   ``scale``, where the reference is resampled. What is left (one more registration's
   displacement) is reported in standard-image pixels.
4. **Photometric fit**: the standard image is brought to the reference's brightness and colour
   (gain and offset per channel, robust), so the network learns detail, not a colour shift.
5. **Ghosts**: LR blocks where the fitted standard and the reference still differ beyond what
   blur and noise explain (something moved between the two captures) are marked and left out
   of the loss.
6. **Other far frames** are registered to the reference (first: their mean with it is what
   step 3 aligns, sqrt(M) less noisy than the reference alone) and kept as they are, with
   their transforms onto the training grid: the network's input is built from the samples
   themselves, as at inference (:func:`burst_zoom.features.network_input`).

Homographies map positions (x = column, y = row, pixel centres at integers) of one image to
another, as everywhere in :mod:`burstlib.registration`.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from burstlib.realpairs import apply_gain_offset, fit_gain_offset, photometric_fit
from burstlib.arrays import channel_mean
from burstlib.registration.register import (
    detect_features, feature_homography, prepare, register)

GHOST_BLOCK = 8  # LR px: the side of the blocks the ghost test marks
GHOST_BLUR = 2.0  # LR px: the ghost test compares the captures this much low-passed
GHOST_SHARE = 0.5  # ... and a block differing by more than this share of its contrast ...
GHOST_FLOOR = 0.03  # ... plus this (in [0, 1] units: noise, flat blocks) is a ghost
MAX_MASKED = 0.4  # a reference differing from the near view over more than this is rejected
MIN_GAIN = 0.33  # a photometric gain outside [MIN_GAIN, 1 / MIN_GAIN] says another scene
MIN_MATCHES = 12  # SIFT inliers the far -> near homography needs
RATIO_TOLERANCE = 0.1  # a feature match whose scale is this far (relative) from a known ratio
SEARCH_RATIOS = tuple(float(r) for r in np.round(np.geomspace(1.2, 4.5, 48), 3))
MIN_CORRELATION = 0.5  # the zoom search's best match must correlate at least this
MODEL_SLACK = 0.01  # the affine part replaces a homography that aligns at most 1 % better
REFINEMENTS = 2  # rounds of direct alignment on the training grid


class SceneRejected(ValueError):
    """A scene that cannot give a trustworthy sample (the message says which file and why)."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One scene's training sample: ``frames[0]`` is the reference on the training grid
    (LR, the standard's grid over ``scale``), the others as captured; ``transforms[k]`` maps
    frame k's pixels to the training grid. ``standard`` (scale x the grid) is fitted to the
    reference's photometry; ``mask`` (standard's size) is 0 on ghost blocks."""

    frames: list[np.ndarray]
    transforms: list[np.ndarray]
    standard: np.ndarray
    mask: np.ndarray
    scale: int
    far_to_standard: np.ndarray  # reference (far frame as captured) px -> standard px
    far_to_near: np.ndarray  # the same to the near view's px (before the standard shrank)
    standard_scale: float  # standard px per near px (< 1: brought down to the far grid)
    initial: np.ndarray  # far px -> near px from the start alone (before the refinement)
    reference: int  # which far frame is the reference
    ratio: float  # near px per far px, from the homography
    residual_px: float  # what one more registration moves, near px
    masked_share: float
    gain: np.ndarray
    offset: np.ndarray
    dropped: list[int]  # far frames left out (did not register to the reference)


def grey(rgb: np.ndarray) -> np.ndarray:
    """The channel mean, float32 and contiguous (what registration works on)."""
    image = np.ascontiguousarray(rgb, dtype=np.float32)
    return channel_mean(image) if image.ndim == 3 else image


def warp(image: np.ndarray, homography: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resampled onto a grid of ``size`` (h, w); ``homography`` maps image -> grid."""
    return cv2.warpPerspective(image, homography, (size[1], size[0]),
                               flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)


def coverage(homography: np.ndarray, source: tuple[int, int], size: tuple[int, int]
             ) -> np.ndarray:
    """Where a grid of ``size`` holds pixels of a ``source``-shaped image (bool)."""
    ones = np.ones(source, np.float32)
    covered = cv2.warpPerspective(ones, homography, (size[1], size[0]), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return covered > 0.999


def _scale_of(homography: np.ndarray) -> float:
    """The area scale of a homography's linear part, as a length ratio."""
    return float(np.sqrt(abs(np.linalg.det(homography[:2, :2] / homography[2, 2]))))


def to_training_grid(scale: float) -> np.ndarray:
    """Standard px -> training-grid px (pixel centres kept: a grid ``scale`` times coarser)."""
    return np.linalg.inv(np.array([[scale, 0, 0.5 * scale - 0.5],
                                   [0, scale, 0.5 * scale - 0.5], [0, 0, 1.0]]))


def far_to_near(far: np.ndarray, standard: np.ndarray, name: str,
                ratio: float | None = None) -> np.ndarray:
    """Far reference px -> standard px (step 3's start: the crop and the scale): SIFT +
    MAGSAC, or where too few features match or their scale is not ``ratio`` (when known,
    within RATIO_TOLERANCE), the near view searched for in the far frame (small or noisy
    frames, which SIFT finds little in once the far view is a third of the size;
    :func:`zoom_search`, at ``ratio`` alone when it is known)."""
    homography, inliers = feature_homography(detect_features(grey(standard)), grey(far))
    if inliers >= MIN_MATCHES and (not ratio
                                   or abs(_scale_of(homography) / ratio - 1) <= RATIO_TOLERANCE):
        return homography
    found = zoom_search(far, standard, (ratio,) if ratio else SEARCH_RATIOS)
    if found is None:
        raise SceneRejected(f"{name}: the near view is nowhere in this far frame")
    return found


def zoom_search(far: np.ndarray, standard: np.ndarray, ratios: tuple[float, ...]
                ) -> np.ndarray | None:
    """The standard image shrunk by each candidate ratio and matched in the far frame
    (normalised cross-correlation of low-passed grey images): the best match's ratio and
    place, as far px -> standard px; None when no ratio fits inside the far frame or the
    best match correlates less than MIN_CORRELATION."""
    target = cv2.GaussianBlur(grey(far), (0, 0), 1.0)
    near = cv2.GaussianBlur(grey(standard), (0, 0), 1.0)
    best: tuple[float, float, tuple[int, int]] | None = None
    for ratio in ratios:
        size = (round(near.shape[1] / ratio), round(near.shape[0] / ratio))
        if size[0] >= target.shape[1] or size[1] >= target.shape[0] or min(size) < 16:
            continue
        template = cv2.resize(near, size, interpolation=cv2.INTER_AREA)
        scores = cv2.matchTemplate(target, template, cv2.TM_CCOEFF_NORMED)
        _, score, _, place = cv2.minMaxLoc(scores)
        if best is None or score > best[0]:
            best = (float(score), ratio, (int(place[0]), int(place[1])))
    if best is None or best[0] < MIN_CORRELATION:
        return None
    _, ratio, (x0, y0) = best
    # the template's pixel (0, 0) is the far pixel (x0, y0); pixel centres kept
    offset = 0.5 * ratio - 0.5
    return np.array([[ratio, 0, offset - ratio * x0], [0, ratio, offset - ratio * y0],
                     [0, 0, 1.0]])


def refine(far: np.ndarray, target_lr: np.ndarray, start: np.ndarray, name: str
           ) -> np.ndarray:
    """Far px -> training-grid px, refined by robust direct alignment of the resampled
    reference to the standard image on the training grid (exposure gain and offset fitted
    alongside, so the captures' brightness difference does not bias it)."""
    anchor = prepare(grey(target_lr))
    to_lr = start
    for _ in range(REFINEMENTS):
        found = register(anchor, grey(warp(far, to_lr, target_lr.shape[:2])))
        if not found.trusted:
            raise SceneRejected(f"{name}: the reference does not align to the near view "
                                f"({found.reason})")
        to_lr = found.homography @ to_lr
        to_lr /= to_lr[2, 2]
    return to_lr


def affine_part(homography: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The affine map closest to ``homography`` (far px -> grid px) where it lands on a grid
    of ``size`` (h, w): least squares on a 12 x 12 lattice of the grid's points, in grid px.
    (:func:`burstlib.registration.lk.project` fits the other direction, in far px; with the
    strong perspective terms noise gives small frames, that fit was 0.4 px worse here.)"""
    ys, xs = np.mgrid[0:size[0] - 1:12j, 0:size[1] - 1:12j]
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    far = np.linalg.inv(homography) @ grid
    far /= far[2]
    rows, *_ = np.linalg.lstsq(far.T, grid[:2].T, rcond=None)
    return np.vstack([rows.T, [0.0, 0.0, 1.0]])


def simplest_fit(far: np.ndarray, target_lr: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """The homography, or its affine part where that aligns as well (within MODEL_SLACK of
    the residual): small or noisy frames leave a homography's perspective terms to the noise
    (0.5-0.8 px off at the corners of a 320 x 240 session whose truth is affine; affine 0.2),
    while a tilted scene plane seen from two distances keeps them, because they pay."""
    simpler = affine_part(homography, target_lr.shape[:2])
    cost = [_misfit(warp(far, h, target_lr.shape[:2]), target_lr) for h in (homography, simpler)]
    return simpler if cost[1] <= cost[0] * (1 + MODEL_SLACK) else homography


def _misfit(moved: np.ndarray, target: np.ndarray) -> float:
    """Mean squared difference of low-passed grey images after a gain and offset fit."""
    a = cv2.GaussianBlur(grey(moved), (0, 0), 1.0)
    b = cv2.GaussianBlur(grey(target), (0, 0), 1.0)
    gain, offset = fit_gain_offset(a, b)
    return float(np.mean((apply_gain_offset(a, gain, offset) - b) ** 2))


def residual_misalignment(reference: np.ndarray, target: np.ndarray) -> float:
    """RMS displacement (LR px, over a grid of the frame) of the homography that registers
    the resampled reference to the fitted standard once more: what the alignment left.
    Tiles' own shifts were tried and are too noisy to say anything at this level (0.5-1.2 px
    where the known error was 0.07-0.25). NaN when that registration is not trusted."""
    found = register(grey(target), grey(reference))
    if not found.trusted:
        return float("nan")
    h, w = reference.shape[:2]
    ys, xs = np.mgrid[0:h:16, 0:w:16]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float64)
    moved = found.homography @ points
    moved /= moved[2]
    return float(np.sqrt(np.mean(np.sum((moved[:2] - points[:2]) ** 2, axis=0))))


def ghost_mask(reference: np.ndarray, fitted_lr: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """LR bool mask, True where the reference and the fitted standard agree. Both are
    low-passed (what both captures resolve, not the detail only the near one has), and a
    block is a ghost when their difference is large beside the block's own contrast: a
    softer copy of the same scene differs by a fraction of its contrast, a scene that changed
    (something moved in or out) by as much as the contrast itself, or on a flat block by
    more than GHOST_FLOOR."""
    a = _block_grey(cv2.GaussianBlur(grey(reference), (0, 0), GHOST_BLUR))
    b = _block_grey(cv2.GaussianBlur(grey(fitted_lr), (0, 0), GHOST_BLUR))
    difference = np.sqrt(((a - b) ** 2).mean(axis=(1, 3)))
    # the lesser contrast: where something appeared in one capture only, the other is flat
    contrast = np.minimum(a.std(axis=(1, 3)), b.std(axis=(1, 3)))
    ghost = (difference > GHOST_SHARE * contrast + GHOST_FLOOR).astype(np.uint8)
    # a block beside a ghost holds its blurred edge
    agree = cv2.dilate(ghost, np.ones((3, 3), np.uint8)) == 0
    h, w = reference.shape[:2]
    return np.repeat(np.repeat(agree, GHOST_BLOCK, 0), GHOST_BLOCK, 1)[:h, :w] & valid


def _block_grey(image: np.ndarray) -> np.ndarray:
    """(rows, GHOST_BLOCK, cols, GHOST_BLOCK) view of an edge-padded grey image."""
    h, w = image.shape
    rows, cols = -(-h // GHOST_BLOCK), -(-w // GHOST_BLOCK)
    padded = np.pad(image, ((0, rows * GHOST_BLOCK - h), (0, cols * GHOST_BLOCK - w)),
                    mode="edge")
    return padded.reshape(rows, GHOST_BLOCK, cols, GHOST_BLOCK)


def register_far(far: list[np.ndarray], reference: int
                 ) -> tuple[list[int], list[np.ndarray], list[int]]:
    """The far frames that register to the reference (indices, frame px -> reference px)
    and those that do not (left out: their indices)."""
    anchor = prepare(grey(far[reference]))
    kept, homographies, dropped = [], [], []
    for index, frame in enumerate(far):
        if index == reference:
            continue
        found = register(anchor, grey(frame))
        if found.trusted:
            kept.append(index)
            homographies.append(found.homography)
        else:
            dropped.append(index)
    return kept, homographies, dropped


def steadied(far: list[np.ndarray], reference: int, kept: list[int],
             homographies: list[np.ndarray]) -> np.ndarray:
    """The reference with the registered far frames averaged in, in its geometry: what it is
    aligned to the standard image with. One frame's noise puts a homography's scale and
    rotation tenths of a pixel off at the frame's edges; M frames' mean has sqrt(M) less."""
    ref = far[reference]
    total = ref.astype(np.float32).copy()
    for index, homography in zip(kept, homographies):
        total += warp(far[index], homography, ref.shape[:2])
    return total / (1 + len(kept))


def training_grid(standard: np.ndarray, scale: int
                  ) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """(grid size, the standard image cut to ``scale`` times it, the standard on the grid)."""
    lr_size = (standard.shape[0] // scale, standard.shape[1] // scale)
    standard = standard[:lr_size[0] * scale, :lr_size[1] * scale]
    return lr_size, standard, cv2.resize(standard, (lr_size[1], lr_size[0]),
                                         interpolation=cv2.INTER_AREA)


def align_to_near(steady: np.ndarray, standard: np.ndarray, scale: int, initial: np.ndarray,
                  name: str) -> np.ndarray:
    """Far px -> standard px: ``initial`` refined by direct alignment on the grid ``scale``
    times coarser than the standard image, kept affine where perspective does not pay."""
    _, _, target_lr = training_grid(standard, scale)
    down = to_training_grid(scale)
    to_lr = simplest_fit(steady, target_lr, refine(steady, target_lr, down @ initial, name))
    return np.linalg.inv(down) @ to_lr


def build_sample(far: list[np.ndarray], reference: int, standard: np.ndarray, scale: int,
                 far_names: list[str], start: np.ndarray | None = None,
                 ratio: float | None = None) -> Sample:
    """Steps 3-6 for far frames (any size; ``reference`` their sharpest) and a standard
    image. ``start`` (far px -> standard px) skips the search when known; ``ratio`` (near px
    per far px), when known, narrows it."""
    name = far_names[reference]
    ref = far[reference]
    kept, homographies, dropped = register_far(far, reference)
    steady = steadied(far, reference, kept, homographies)
    initial = start if start is not None else far_to_near(steady, standard, name, ratio)
    to_near = align_to_near(steady, standard, scale, initial, name)
    # The training grid is the far frames' own (the standard image over their ratio), never
    # finer: a far frame resampled up to a finer grid would be blurrier than what the network
    # gets at inference. The standard image comes down to ``scale`` times that grid. (The
    # alignment above ran on the finer grid: more of the near view's detail to align to.)
    shrink = min(1.0, scale / _scale_of(to_near))
    shrink = 1.0 if shrink > 1 / 1.05 else shrink  # within 5 %: not worth a resampling
    if shrink < 1.0:
        standard = cv2.resize(standard, (round(standard.shape[1] * shrink),
                                         round(standard.shape[0] * shrink)),
                              interpolation=cv2.INTER_AREA)
    to_standard = to_training_grid(1 / shrink)  # near px -> (shrunk) standard px
    lr_size, standard, target_lr = training_grid(standard, scale)
    down = to_training_grid(scale)
    ref_to_lr = down @ to_standard @ to_near
    ref_lr = warp(ref, ref_to_lr, lr_size)
    valid = coverage(ref_to_lr, ref.shape[:2], lr_size)
    if valid.mean() < 0.5:
        raise SceneRejected(f"{name}: covers only {valid.mean():.0%} of the near view")
    inside = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # off the rim
    gain, offset = photometric_fit(target_lr, ref_lr, mask=inside if inside.any() else valid)
    if not np.all((np.asarray(gain) > MIN_GAIN) & (np.asarray(gain) < 1 / MIN_GAIN)):
        raise SceneRejected(f"{name}: does not match the near view (brightness gain "
                            f"{np.round(gain, 2).tolist()}: another scene, or no texture)")
    fitted = apply_gain_offset(standard, gain, offset)
    fitted_lr = apply_gain_offset(target_lr, gain, offset)
    agree = ghost_mask(ref_lr, fitted_lr, valid)
    mask = np.repeat(np.repeat(agree, scale, 0), scale, 1).astype(np.uint8)
    masked = 1.0 - float(agree.mean())
    if masked > MAX_MASKED:
        raise SceneRejected(f"{name}: differs from the near view over {masked:.0%} of it "
                            "(another scene, or the scene changed between the captures)")
    residual = scale / shrink * residual_misalignment(ref_lr, fitted_lr)  # near px
    if not np.isfinite(residual):
        raise SceneRejected(f"{name}: no part of it aligns with the near view")
    frames = [ref_lr] + [far[index] for index in kept]
    transforms = [np.eye(3)] + [ref_to_lr @ homography for homography in homographies]
    far_to_standard = to_standard @ to_near
    return Sample(frames=frames, transforms=transforms,
                  standard=fitted.astype(np.float32), mask=mask, scale=scale,
                  far_to_standard=far_to_standard / far_to_standard[2, 2],
                  far_to_near=to_near / to_near[2, 2], standard_scale=shrink,
                  initial=initial, reference=reference, ratio=_scale_of(to_near),
                  residual_px=residual, masked_share=masked, gain=np.asarray(gain),
                  offset=np.asarray(offset), dropped=dropped)
