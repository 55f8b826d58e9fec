"""Step 1 of a sample (seed 000): the standard image, the near frames registered to the
first and averaged robustly; a near frame that disagrees in patches rejects the scene."""

from __future__ import annotations

import cv2
import numpy as np

from burstlib.registration.register import prepare, register

from .align import SceneRejected, grey, warp

OUTLIER_SIGMAS = 3.0  # a near frame's pixel this far from the median is left out of the mean
# the least noise deviation assumed: resampling an aliased, demosaicked frame changes it by
# about this much even where the sensor adds no noise
MIN_SIGMA = 0.005
MISREGISTRATION = 0.25  # px of registration error the near frames' agreement test forgives
BANDS = 8  # brightness bands in which the near frames' noise is measured
# a near frame differing in patches over more of the frame than this rejects the scene
BAD_SHARE = 0.02


def standard_image(near: list[np.ndarray], names: list[str]) -> np.ndarray:
    """The near frames registered to the first and averaged robustly (step 1)."""
    anchor = prepare(grey(near[0]))
    size = near[0].shape[:2]
    stack = [near[0]]
    for frame, name in zip(near[1:], names[1:]):
        found = register(anchor, grey(frame))
        if not found.trusted:
            raise SceneRejected(f"{name}: does not register to {names[0]} ({found.reason})")
        stack.append(warp(frame, found.homography, size))
    frames = np.stack(stack).astype(np.float32)
    inliers = agreeing(frames)
    if len(near) > 2:
        for index, name in enumerate(names):
            disagreeing = disagreeing_share(inliers[index])
            if disagreeing > BAD_SHARE:
                raise SceneRejected(f"{name}: differs from the other near frames over "
                                    f"{disagreeing:.0%} of the frame (moved or occluded)")
    weights = inliers[..., None].astype(np.float32)
    counts = weights.sum(axis=0)
    mean = (frames * weights).sum(axis=0) / np.maximum(counts, 1.0)
    # where every frame was refused (two frames that disagree: both are as far from their
    # median), the median itself
    return np.where(counts > 0, mean, np.median(frames, axis=0)).astype(np.float32)


def disagreeing_share(inliers: np.ndarray) -> float:
    """The share of a frame where it disagrees in patches (an opening with a 5 px square
    removes scattered pixels: noise's tails, an edge resampled a little differently; what
    moved or covers the view stays)."""
    outliers = (~inliers).astype(np.uint8)
    return float(cv2.morphologyEx(outliers, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).mean())


def agreeing(frames: np.ndarray) -> np.ndarray:
    """K x H x W bool: where each registered frame's grey value lies within OUTLIER_SIGMAS
    noise deviations of the frames' median. The deviation is measured per brightness band
    (robustly, from the frames themselves): noise grows with the signal, and more so once
    gamma-encoded, so one figure for the whole frame would flag the bright or the dark parts.
    Edges are given MISREGISTRATION px of slack.
    """
    greys = frames.mean(axis=-1)
    median = np.median(greys, axis=0)
    deviation = np.abs(greys - median)
    bands = np.minimum((np.clip(median, 0, 1) * BANDS).astype(int), BANDS - 1)
    sigma = np.zeros(BANDS, np.float32)
    for band in range(BANDS):
        values = deviation[:, bands == band]
        # the median frame deviates 0 by construction: leave those out of the spread
        values = values[values > 0]
        sigma[band] = 1.4826 * float(np.median(values)) if values.size else 0.0
    # a registration a fraction of a pixel off moves edges by that fraction of their slope
    gy, gx = np.gradient(median)
    slack = MISREGISTRATION * np.hypot(gx, gy)
    return deviation <= OUTLIER_SIGMAS * np.maximum(sigma[bands], MIN_SIGMA) + slack
