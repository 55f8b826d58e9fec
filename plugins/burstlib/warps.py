"""Bring a frame onto the reference frame's pixel grid, a RAW mosaic colour plane by plane."""

from __future__ import annotations

import cv2
import numpy as np

from burstcli import Frame
from burstlib.exposure import PROXY_TO_SENSOR
from burstlib.arrays import normalized

INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                 "lanczos": cv2.INTER_LANCZOS4}


def _plane_map(transform: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Reference plane pixel -> the same colour plane's pixel in the frame.

    Plane pixel q of site (dy, dx) is sensor pixel B q with B = [[2, 0, dx], [0, 2, dy]]; the
    frame's transform maps frame -> reference, so its inverse takes us back into the frame."""
    b = np.array([[2.0, 0.0, dx], [0.0, 2.0, dy], [0.0, 0.0, 1.0]])
    return np.linalg.inv(b) @ np.linalg.inv(transform) @ b


def _warp(image: np.ndarray, to_source: np.ndarray, shape: tuple[int, ...],
          flag: int) -> np.ndarray:
    return cv2.warpPerspective(image, to_source, (shape[1], shape[0]),
                               flags=flag | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)


def warp_to_reference(frame: Frame, shape: tuple[int, ...], interpolation: str) -> tuple[
        np.ndarray, np.ndarray]:
    """(values, valid): the frame's normalised pixels in the reference's geometry, and a float
    mask that is 1 where they came from inside the frame (0 outside, in between at the rim).

    The frame's ``transform`` places it; its ``flow``, when a local registration stage set one,
    refines the placement pixel by pixel."""
    values = normalized(frame)
    transform = frame.transform if frame.transform is not None else np.eye(3)
    if frame.flow is not None:
        return _warp_with_flow(frame, values, transform, shape, INTERPOLATION[interpolation])
    flag = INTERPOLATION[interpolation]
    if frame.layout != "cfa":
        ones = np.ones(values.shape[:2], np.float32)
        return (_warp(values, np.linalg.inv(transform), shape[:2], flag),
                _warp(ones, np.linalg.inv(transform), shape[:2], cv2.INTER_LINEAR))
    out = np.zeros(shape, np.float32)
    valid = np.zeros(shape, np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            plane = values[dy::2, dx::2]
            to_source = _plane_map(transform, dy, dx)
            target = out[dy::2, dx::2].shape
            out[dy::2, dx::2] = _warp(plane, to_source, target, flag)
            valid[dy::2, dx::2] = _warp(np.ones_like(plane), to_source, target, cv2.INTER_LINEAR)
    return out, valid


def full_flow(frame: Frame, shape: tuple[int, ...]) -> np.ndarray:
    """The frame's flow resized to the reference grid (h, w, 2), in reference pixels."""
    height, width = shape[:2]
    assert frame.flow is not None  # called for frames a local registration gave a flow
    if frame.flow.shape[:2] == (height, width):
        return frame.flow.astype(np.float32, copy=False)
    return cv2.resize(frame.flow.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _remap(image: np.ndarray, u: np.ndarray, v: np.ndarray, flag: int) -> np.ndarray:
    return cv2.remap(image, u, v, flag, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _warp_with_flow(frame: Frame, values: np.ndarray, transform: np.ndarray,
                    shape: tuple[int, ...], flag: int) -> tuple[np.ndarray, np.ndarray]:
    """Resampling through transform and flow: reference x <- frame H^-1 (x + flow(x))."""
    flow = full_flow(frame, shape)
    height, width = shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = source_positions(transform, xs + flow[..., 0], ys + flow[..., 1])
    if frame.layout != "cfa":
        ones = np.ones(values.shape[:2], np.float32)
        return _remap(values, u, v, flag), _remap(ones, u, v, cv2.INTER_LINEAR)
    out = np.zeros(shape, np.float32)
    valid = np.zeros(shape, np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            plane = values[dy::2, dx::2]
            # Sensor position s of a same-colour sample is 2 q + (dx, dy) for plane pixel q.
            pu = (u[dy::2, dx::2] - dx) / 2
            pv = (v[dy::2, dx::2] - dy) / 2
            out[dy::2, dx::2] = _remap(plane, pu, pv, flag)
            valid[dy::2, dx::2] = _remap(np.ones_like(plane), pu, pv, cv2.INTER_LINEAR)
    return out, valid


def to_frame_pixels(homography: np.ndarray, frame: Frame) -> np.ndarray:
    """A homography between luminance proxies, expressed in the frames' own pixels."""
    if frame.layout != "cfa":
        return homography
    return PROXY_TO_SENSOR @ homography @ np.linalg.inv(PROXY_TO_SENSOR)


def positions_in_frame(frame: Frame, xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]) -> tuple[
        np.ndarray, np.ndarray]:
    """Where a registered frame sees the scene points at reference pixels (xs, ys): its
    transform inverted, after its flow (if any, resized to the reference ``shape``)."""
    if frame.flow is not None:
        flow = cv2.resize(frame.flow.astype(np.float32), (shape[1], shape[0]),
                          interpolation=cv2.INTER_LINEAR)
        rows, cols = np.clip(np.rint(ys), 0, shape[0] - 1).astype(int), np.clip(
            np.rint(xs), 0, shape[1] - 1).astype(int)
        xs, ys = xs + flow[rows, cols, 0], ys + flow[rows, cols, 1]
    return source_positions(frame.transform if frame.transform is not None else np.eye(3), xs, ys)


def source_positions(transform: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Frame positions (float32) of reference positions (xs, ys): the inverse of a frame ->
    reference ``transform`` applied."""
    inverse = np.linalg.inv(transform)
    w = inverse[2, 0] * xs + inverse[2, 1] * ys + inverse[2, 2]
    return (((inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]) / w).astype(np.float32),
            ((inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]) / w).astype(np.float32))
