"""Global registration of one grey image to another: features, then ECC to sub-pixel.

Homographies here map positions (x = column, y = row) of the moving image to the reference.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

FEATURE_SIDE = 1024  # features are found on a copy at most this large: fast, and robust to noise
ECC_LEVELS = 3  # pyramid levels of the ECC refinement: 1/4, 1/2, 1 of the registration image
# With this many MAGSAC inliers the features' homography is within a pixel or two of the
# truth, and an ECC step that lands farther than ECC_REACH px from it was pulled away (by a
# large moving object, or noise over flat areas in a small window): it is not taken.
TRUSTED_MATCHES = 40
ECC_REACH = 3.0


@dataclasses.dataclass(frozen=True)
class Registration:
    """The homography (moving -> reference), ECC's correlation, and the feature matches used."""

    homography: np.ndarray
    correlation: float
    matches: int


@dataclasses.dataclass(frozen=True)
class Features:
    """SIFT keypoints and descriptors of an image, found on a copy scaled by ``factor``."""

    keypoints: tuple
    descriptors: np.ndarray | None
    factor: float


def detect_features(grey: np.ndarray) -> Features:
    """SIFT on a copy at most FEATURE_SIDE px large (a burst's reference: once, not per frame)."""
    small, factor = _shrink(grey, FEATURE_SIDE)
    keypoints, descriptors = cv2.SIFT_create(nfeatures=3000).detectAndCompute(
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
    """SIFT matches (Lowe's ratio test) and a MAGSAC homography, on shrunken copies (the
    reference's features found once by :func:`detect_features`).

    Falls back to the identity when too few features match (flat or very noisy images)."""
    mov = detect_features(moving)
    kp_ref, des_ref, factor = ref.keypoints, ref.descriptors, ref.factor
    kp_mov, des_mov = mov.keypoints, mov.descriptors
    if des_ref is None or des_mov is None or len(kp_ref) < 8 or len(kp_mov) < 8:
        return np.eye(3), 0
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_mov, des_ref, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 8:
        return np.eye(3), len(good)
    src = np.float32([kp_mov[m.queryIdx].pt for m in good])
    dst = np.float32([kp_ref[m.trainIdx].pt for m in good])
    h, inliers = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 1.0)
    if h is None:
        return np.eye(3), len(good)
    return scale_homography(h, factor), int(inliers.sum())


def ecc_step(reference: np.ndarray, moving: np.ndarray, homography: np.ndarray, factor: float,
             mask: np.ndarray | None = None, *, iterations: int = 50,
             epsilon: float = 1e-6) -> tuple[np.ndarray, float] | None:
    """One ECC maximisation on copies scaled by ``factor`` (mask: uint8 in the moving
    image's pixels at that scale, 0 = ignore). None when ECC does not converge.

    ECC finds W with moving(W x) ~ reference(x), i.e. reference -> moving: the inverse of ours.
    """
    ref, mov = _level(reference, factor), _level(moving, factor)
    guess = np.linalg.inv(scale_homography(homography, 1 / factor)).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, epsilon)
    try:
        correlation, found = cv2.findTransformECC(ref, mov, guess, cv2.MOTION_HOMOGRAPHY,
                                                  criteria, mask, 3)
    except cv2.error:
        return None
    return scale_homography(np.linalg.inv(found.astype(np.float64)), factor), float(correlation)


def ecc_refine(reference: np.ndarray, moving: np.ndarray, initial: np.ndarray, *,
               finest: int = 0, anchor: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Refine a homography to sub-pixel accuracy by ECC, coarse to fine over the pyramid
    levels ECC_LEVELS - 1 .. ``finest`` (level k is 1 / 2**k of full size). With an
    ``anchor`` (a trusted estimate), a level that lands more than ECC_REACH px from it is
    not taken. The correlation is ECC's, or measured when no level was taken."""
    homography, correlation = initial, None
    for level in reversed(range(finest, ECC_LEVELS)):
        found = ecc_step(reference, moving, homography, 0.5 ** level)
        if found is not None and _within_reach(found[0], anchor, reference.shape):
            homography, correlation = found  # else keep the previous level's estimate
    if correlation is None:
        correlation = measured_correlation(reference, moving, homography)
    return homography, correlation


def _within_reach(homography: np.ndarray, anchor: np.ndarray | None,
                  shape: tuple[int, ...]) -> bool:
    return anchor is None or _corner_shift(homography, anchor, shape) <= ECC_REACH


def measured_correlation(reference: np.ndarray, moving: np.ndarray,
                         homography: np.ndarray) -> float:
    """ECC's criterion (zero-mean normalised correlation) of a registration, at half size,
    over the part of the reference the moving image covers."""
    ref, mov = _level(reference, 0.5), _level(moving, 0.5)
    half = scale_homography(homography, 2.0)
    size = (ref.shape[1], ref.shape[0])
    warped = cv2.warpPerspective(mov, half, size, flags=cv2.INTER_LINEAR)
    seen = cv2.warpPerspective(np.ones_like(mov), half, size, flags=cv2.INTER_NEAREST) > 0
    a, b = ref[seen] - ref[seen].mean(), warped[seen] - warped[seen].mean()
    return float((a * b).sum() / max(float(np.sqrt((a * a).sum() * (b * b).sum())), 1e-12))


MOVING_FRACTION = 0.003  # a disagreeing blob must cover this share of the frame to be masked


def moving_mask(reference: np.ndarray, moving: np.ndarray, homography: np.ndarray) -> np.ndarray | None:
    """uint8 mask in the moving image's pixels: 0 over blobs that still disagree with the
    reference once registered (something moved), 255 elsewhere; None when nothing moved."""
    size = (reference.shape[1], reference.shape[0])
    warped = cv2.warpPerspective(moving, homography, size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
    gain = float(reference.mean()) / max(float(warped.mean()), 1e-9)
    residual = cv2.GaussianBlur(np.abs(warped * gain - reference), (0, 0), 3.0)
    blobs = (residual > 4.0 * float(np.median(residual)) + 1e-9).astype(np.uint8)
    blobs = cv2.morphologyEx(blobs, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
    if blobs.mean() < MOVING_FRACTION:
        return None
    keep = (1 - cv2.dilate(blobs, np.ones((9, 9), np.uint8))) * 255
    return cv2.warpPerspective(keep, homography, (moving.shape[1], moving.shape[0]),
                               flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)


def _plausible(homography: np.ndarray, estimates: tuple[np.ndarray, ...],
               shape: tuple[int, ...]) -> bool:
    """Whether a masked fit lands within 2 px of an earlier estimate: the unmasked ECC (which
    a large moving object may have pulled away) or the features' (a MAGSAC consensus)."""
    return min(_corner_shift(homography, e, shape) for e in estimates) <= 2.0


def _corner_shift(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """How far apart two homographies put the image's corners, in pixels."""
    h, w = shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
    pa, pb = a @ corners, b @ corners
    return float(np.max(np.hypot(*(pa[:2] / pa[2] - pb[:2] / pb[2]))))


def _level(grey: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return grey.astype(np.float32, copy=False)
    size = (max(8, round(grey.shape[1] * factor)), max(8, round(grey.shape[0] * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def register(reference: np.ndarray, moving: np.ndarray,
             reference_features: Features | None = None) -> Registration:
    """Features for the gross motion, ECC for the last fraction of a pixel.

    ECC runs at 1/4 and 1/2 size; then blobs that still disagree with the reference (a person,
    a car) are found at 1/2 size and the full-size ECC runs once, with them masked out, so
    that what moves does not pull the fit of the scene. The masked fit is dropped if it lands
    more than 2 px from both the unmasked fit and the features' (the mask hid the scene's
    structure). When many features agree, no ECC step may move more than ECC_REACH px away
    from their homography. ``reference_features`` (:func:`detect_features` of the
    reference) saves finding them again for every frame of a burst."""
    initial, matches = feature_homography(reference_features or detect_features(reference),
                                          moving)
    anchor = initial if matches >= TRUSTED_MATCHES else None
    coarse, correlation = ecc_refine(reference, moving, initial, finest=1, anchor=anchor)
    mask = _moving_mask_full_size(reference, moving, coarse)
    found = ecc_step(reference, moving, coarse, 1.0, mask)
    if mask is not None and (found is None or not _plausible(found[0], (coarse, initial),
                                                                reference.shape)):
        found = ecc_step(reference, moving, coarse, 1.0)
    if found is not None and _within_reach(found[0], anchor, reference.shape):
        coarse, correlation = found
    return Registration(coarse, correlation, matches)


def _moving_mask_full_size(reference: np.ndarray, moving: np.ndarray,
                           homography: np.ndarray) -> np.ndarray | None:
    """:func:`moving_mask` found at half size, returned at full size (None: nothing moved,
    or so much that masking it would leave too little of the scene)."""
    mask = moving_mask(_level(reference, 0.5), _level(moving, 0.5),
                       scale_homography(homography, 2.0))  # full-size -> half-size pixels
    if mask is None or mask.mean() < 0.5 * 255:
        return None
    return cv2.resize(mask, (moving.shape[1], moving.shape[0]), interpolation=cv2.INTER_NEAREST)
