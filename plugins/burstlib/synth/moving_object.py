"""Local motion: a disc cut from elsewhere in the scene, moving across it from frame to frame.

Its texture moves with it (a merge that aligns only the camera must see the object's inside
change, not just its outline), and it has the scene's own statistics: a synthetic texture
would either be too easy to spot or, dense in features, outvote the camera's motion in a
feature-based aligner. It is painted into the scene in place, only within its bounding box,
and the scene is restored afterwards: a whole-scene copy per frame would cost more than
rendering the frame.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class MovingObject:
    """Centres per frame and radius in scene (HR) pixels; ``texture`` (SxSx3, linear camera
    RGB) is what the disc shows, its centre pixel ((S - 1) / 2) on the disc's centre."""

    centres: np.ndarray  # frames x 2, (x, y)
    radius: float
    texture: np.ndarray

    def patch(self, index: int, shape: tuple[int, int]) -> tuple[slice, slice, np.ndarray,
                                                                 np.ndarray] | None:
        """(rows, cols, alpha, texture HxWx3) of frame ``index`` inside a scene of ``shape``;
        None when the object is outside it."""
        cx, cy = self.centres[index]
        reach = self.radius + 2
        y0, y1 = max(int(cy - reach), 0), min(int(math.ceil(cy + reach)) + 1, shape[0])
        x0, x1 = max(int(cx - reach), 0), min(int(math.ceil(cx + reach)) + 1, shape[1])
        if y0 >= y1 or x0 >= x1:
            return None
        dy, dx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        # anti-aliased edge: coverage falls from 1 to 0 over one pixel around the radius
        alpha = np.clip(self.radius + 0.5 - np.hypot(dx - np.float32(cx), dy - np.float32(cy)),
                        0.0, 1.0)
        middle = (self.texture.shape[0] - 1) / 2
        to_texture = np.array([[1.0, 0.0, x0 - cx + middle], [0.0, 1.0, y0 - cy + middle]])
        texture = cv2.warpAffine(self.texture, to_texture, (x1 - x0, y1 - y0),
                                 flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REFLECT)
        return slice(y0, y1), slice(x0, x1), alpha, texture


def random_object(rng: np.random.Generator, frames: int, width: int, height: int, zoom: int,
                  margin: int, scene: list[np.ndarray]) -> MovingObject:
    """A disc of radius 8% of the frame's short side, cut from a random place of the scene
    (``scene``: its R, G, B planes), crossing the middle of the frame at 2% of its width per
    frame (far more than the noise can hide), in a random direction."""
    radius = 0.08 * min(width, height) * zoom
    start = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height])
    heading = rng.uniform(0, 2 * math.pi)
    speed = 0.02 * width
    steps = np.arange(frames) - (frames - 1) / 2
    centres = (start + np.outer(steps, [math.cos(heading) * speed, math.sin(heading) * speed]))
    side = 2 * int(math.ceil(radius)) + 9
    rows, cols = scene[0].shape
    y, x = int(rng.integers(0, rows - side + 1)), int(rng.integers(0, cols - side + 1))
    texture = np.dstack([plane[y:y + side, x:x + side] for plane in scene])
    return MovingObject(centres * zoom + margin, radius, np.ascontiguousarray(texture))


@contextlib.contextmanager
def painted(planes: list[np.ndarray], obj: MovingObject | None, index: int) -> Iterator[None]:
    """Paint frame ``index``'s object into the scene planes for the duration of the block."""
    region = obj.patch(index, planes[0].shape) if obj is not None else None
    if region is None:
        yield
        return
    rows, cols, alpha, texture = region
    saved = [plane[rows, cols].copy() for plane in planes]
    try:
        for channel, plane in enumerate(planes):
            plane[rows, cols] = saved[channel] * (1 - alpha) + texture[..., channel] * alpha
        yield
    finally:
        for plane, original in zip(planes, saved):
            plane[rows, cols] = original


def footprint(obj: MovingObject | None, width: int, height: int, zoom: int, margin: int,
              grow: float) -> np.ndarray:
    """Where the object is in any frame, in reference-frame pixels (bool HxW), grown by
    ``grow`` frame pixels (the shake blur spreads its edge)."""
    mask = np.zeros((height, width), bool)
    if obj is None:
        return mask
    reach = obj.radius / zoom + grow
    for centre in obj.centres:
        cx, cy = (centre - margin) / zoom
        y0, y1 = max(int(cy - reach), 0), min(int(math.ceil(cy + reach)) + 1, height)
        x0, x1 = max(int(cx - reach), 0), min(int(math.ceil(cx + reach)) + 1, width)
        if y0 < y1 and x0 < x1:
            y, x = np.mgrid[y0:y1, x0:x1]
            mask[y0:y1, x0:x1] |= np.hypot(x - cx, y - cy) <= reach
    return mask
