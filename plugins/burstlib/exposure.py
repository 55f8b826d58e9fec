"""Exposure gains between registered frames, measured where both frames see the scene."""

from __future__ import annotations

import math

import cv2
import numpy as np

from burstcli import Frame
from burstlib.arrays import grey_proxy

#: The gain is measured on copies at most this large: a mean level needs no more pixels.
GAIN_SIDE = 256
#: Below this many shared pixels the overlap says too little; the whole frames decide.
MIN_SHARED = 64

#: A mosaic's proxy pixel u covers sensor pixels 2u and 2u + 1: its centre is at 2u + 0.5.
PROXY_TO_SENSOR = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])


def exposure_gain(reference: Frame, frame: Frame) -> float:
    """The factor that brings ``frame`` to ``reference``'s exposure (bursts jitter by 10 %),
    measured on their luminance proxies by :func:`shared_gain`."""
    return shared_gain(grey_proxy(reference), _proxy_transform(reference), grey_proxy(frame),
                       _proxy_transform(frame))


def shared_gain(reference: np.ndarray, reference_transform: np.ndarray, image: np.ndarray,
                transform: np.ndarray) -> float:
    """The factor that brings grey ``image`` to grey ``reference``'s level: the ratio of
    their means over the part of the scene both see. Each transform maps its image's pixels
    to a common frame (the reference frame's pixels: identity for the reference itself, a
    shift for a reference cut to a window).

    The means of the whole images are biased as soon as the frames see different parts of
    a scene whose brightness varies: a 5 px shift across a sky's gradient put a zoom 9 dB
    below bicubic.
    """
    factor = max(1, math.ceil(max(*reference.shape, *image.shape) / GAIN_SIDE))
    small_ref, to_small_ref = _reduced(reference, factor)
    small, to_small = _reduced(image, factor)
    # image's small pixels -> image -> common frame -> reference -> reference's small pixels
    homography = (to_small_ref @ np.linalg.inv(reference_transform) @ transform
                  @ np.linalg.inv(to_small))
    size = (small_ref.shape[1], small_ref.shape[0])
    warped = cv2.warpPerspective(small, homography, size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT)
    valid = cv2.warpPerspective(np.ones_like(small), homography, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT)
    if int(np.count_nonzero(valid > 0.999)) < MIN_SHARED:
        return float(reference.mean()) / max(float(image.mean()), 1e-9)
    return overlap_ratio(small_ref, warped, valid)


def overlap_ratio(reference: np.ndarray, warped: np.ndarray, valid: np.ndarray) -> float:
    """The factor that brings ``warped`` (an image already on ``reference``'s grid) to
    ``reference``'s level: the ratio of their means where ``valid`` (the share of each pixel
    the warped image really covers) is complete. Over every 4th row and column of a large
    image: as exact as the whole for a mean level, and masked indexing of 12 MP RGB frames
    cost more than the rest of a merge."""
    step = 4 if valid.size > 1_000_000 else 1
    inside = valid[::step, ::step] > 0.999
    seen = float(warped[::step, ::step][inside].mean(dtype=np.float64))
    return float(reference[::step, ::step][inside].mean(dtype=np.float64)) / max(seen, 1e-9)


def _proxy_transform(frame: Frame) -> np.ndarray:
    """The frame's transform from its luminance proxy's pixels (a mosaic's proxy pixel u
    covers sensor pixels 2u and 2u + 1) to the common frame."""
    transform = frame.transform if frame.transform is not None else np.eye(3)
    if frame.layout == "cfa":
        return transform @ PROXY_TO_SENSOR
    return transform


def _reduced(image: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` shrunk ``factor`` times (area) and the map of its pixels to the copy's."""
    if factor == 1:
        return image, np.eye(3)
    h, w = image.shape[0] // factor, image.shape[1] // factor
    small = cv2.resize(image[:h * factor, :w * factor], (w, h), interpolation=cv2.INTER_AREA)
    offset = 0.5 / factor - 0.5  # pixel centres: x_small = (x + 0.5) / factor - 0.5
    return small, np.array([[1.0 / factor, 0.0, offset], [0.0, 1.0 / factor, offset],
                            [0.0, 0.0, 1.0]])
