"""The textbook methods every benchmark figure is printed beside, written plainly here.

Denoise: each frame decoded on its own (a RAW frame demosaicked by LibRaw's AHD through
rawpy, in linear light), registered to the reference by ECC (translation or Euclidean,
coarse to fine), and averaged where it covers the reference. The oracle does the same with
the true motion. Nothing here is shared with the stages it is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import rawpy

ECC_MOTIONS = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
               "homography": cv2.MOTION_HOMOGRAPHY}
COARSEST = 48  # the ECC pyramid stops above this many pixels on the short side


def decode_linear(path: Path) -> np.ndarray:
    """A frame as float32 RGB: linear light for RAW (LibRaw AHD, as-shot white balance, the
    camera's own colour space), the stored values in [0, 1] for other files."""
    if path.suffix.lower() == ".dng":
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD,
                                  use_camera_wb=True, output_color=rawpy.ColorSpace.raw,
                                  gamma=(1, 1), no_auto_bright=True, output_bps=16, user_flip=0,
                                  adjust_maximum_thr=0.0)  # never rescale by the data's max
        return rgb.astype(np.float32) / 65535.0
    pixels = iio.imread(path)
    scale = np.iinfo(pixels.dtype).max if pixels.dtype.kind in "ui" else 1.0
    return pixels[..., :3].astype(np.float32) / scale


def grey(rgb: np.ndarray) -> np.ndarray:
    """The channel mean, float32 and contiguous (what ECC registers)."""
    return np.ascontiguousarray(rgb.mean(axis=2), dtype=np.float32)


def ecc_transform(reference: np.ndarray, moving: np.ndarray, motion: str) -> np.ndarray | None:
    """Moving -> reference pixels (3x3) by ECC over a pyramid, from the identity; None if
    ECC fails at the finest level."""
    levels = 0
    while min(reference.shape) >> (levels + 1) >= COARSEST:
        levels += 1
    warp = np.eye(3 if motion == "homography" else 2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    for level in reversed(range(levels + 1)):
        factor = 0.5 ** level
        ref, mov = _shrink(reference, factor), _shrink(moving, factor)
        guess = warp.copy()
        if level < levels:  # from the coarser level: the same motion in twice the pixels
            guess[:2, 2] *= 2.0
            if motion == "homography":
                guess[2, :2] *= 0.5
        try:
            # cv2's stub wants a mask array here, but OpenCV takes None (no mask) as well.
            _, warp = cv2.findTransformECC(  # type: ignore[call-overload]
                ref, mov, guess, ECC_MOTIONS[motion], criteria, None, 5)
        except cv2.error:
            if level == 0:
                return None
            warp = guess
    # ECC: moving(W x) = reference(x), with W reference -> moving; ours is its inverse.
    full = warp.astype(np.float64) if warp.shape[0] == 3 else np.vstack(
        [warp.astype(np.float64), [0, 0, 1]])
    return np.linalg.inv(full)


def _shrink(grey: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return grey
    size = (max(8, round(grey.shape[1] * factor)), max(8, round(grey.shape[0] * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def aligned_mean(frames: list[np.ndarray], reference: int,
                 transforms: list[np.ndarray | None]) -> np.ndarray:
    """The plain mean of the frames warped (bicubic) onto the reference, each where it covers
    it; a frame without a transform is left out."""
    height, width = frames[reference].shape[:2]
    total = frames[reference].astype(np.float64).copy()
    count = np.ones((height, width, 1))
    for index, (frame, transform) in enumerate(zip(frames, transforms)):
        if index == reference or transform is None:
            continue
        warped = cv2.warpPerspective(frame, transform, (width, height), flags=cv2.INTER_CUBIC)
        valid = cv2.warpPerspective(np.ones((frame.shape[0], frame.shape[1]), np.float32),
                                    transform, (width, height), flags=cv2.INTER_NEAREST)
        total += warped * valid[..., None]
        count += valid[..., None]
    return (total / count).astype(np.float32)


def ecc_mean(frames: list[np.ndarray], reference: int, motion: str) -> tuple[
        np.ndarray, list[np.ndarray | None]]:
    """The textbook merge: ECC (``motion``) on the frames' grey means, then the aligned mean.

    (Registering RAW frames on their sRGB-encoded or square-rooted grey instead of the linear
    one was measured: no better, 0.01-0.02 px worse at light noise.)"""
    greys = [grey(f) for f in frames]
    transforms = [np.eye(3) if i == reference else ecc_transform(greys[reference], g, motion)
                  for i, g in enumerate(greys)]
    return aligned_mean(frames, reference, transforms), transforms


def back_projection(frames: list[np.ndarray], reference: int,
                    transforms: Sequence[np.ndarray | None], scale: int, *, iterations: int = 30,
                    step: float = 1.0) -> np.ndarray:
    """The textbook multi-frame super-resolution (Irani & Peleg's iterative back-projection):
    from the bicubic enlargement of the reference, each frame is simulated through a box
    sensor (the estimate moved onto the frame's fine grid, then each pixel the mean of its
    ``scale`` x ``scale`` box), and its error is spread back over its boxes, moved back and
    averaged over the frames that see each fine pixel; ``iterations`` times.

    A frame pixel x is fine pixel ``scale x + (scale - 1) / 2`` on its own fine grid."""
    height, width = frames[reference].shape[:2]
    size = (width * scale, height * scale)
    fine = np.array([[scale, 0, (scale - 1) / 2], [0, scale, (scale - 1) / 2], [0, 0, 1.0]])
    estimate: np.ndarray = cv2.resize(frames[reference], size, interpolation=cv2.INTER_CUBIC)
    # Reference fine grid -> each frame's fine grid.
    moves = [None if t is None else fine @ np.linalg.inv(t) @ np.linalg.inv(fine)
             for t in transforms]
    coverage = np.zeros(estimate.shape[:2], np.float32)
    for move in moves:
        if move is not None:
            coverage += _move(np.ones(estimate.shape[:2], np.float32), move, size, inverse=True)
    for _ in range(iterations):
        correction = np.zeros_like(estimate)
        for frame, move in zip(frames, moves):
            if move is None:
                continue
            seen = cv2.resize(_move(estimate, move, size), (width, height),
                              interpolation=cv2.INTER_AREA)
            spread = cv2.resize(frame - seen, size, interpolation=cv2.INTER_NEAREST)
            correction += _move(spread, move, size, inverse=True)
        estimate += step * correction / np.maximum(coverage, 1e-3)[..., None]
    return estimate


def _move(image: np.ndarray, move: np.ndarray, size: tuple[int, int], *,
          inverse: bool = False) -> np.ndarray:
    """``image`` on the reference's fine grid seen on a frame's (or back, ``inverse``)."""
    flags = cv2.INTER_LINEAR | (cv2.WARP_INVERSE_MAP if inverse else 0)
    border = cv2.BORDER_CONSTANT if inverse else cv2.BORDER_REPLICATE
    moved = cv2.warpPerspective(image, move, size, flags=flags, borderMode=border)
    return moved if moved.ndim == image.ndim else moved[..., None]
