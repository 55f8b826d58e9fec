"""Local refinement of a global registration: a dense, smooth residual flow.

A homography explains a camera that rotates in front of a distant scene. Parallax, lens
distortion and things that move a little (leaves, a face) leave a residual that varies over the
frame. It is measured here by OpenCV's DIS optical flow between the reference's luminance proxy
and the frame's, the frame already warped by its homography, and then made trustworthy:

* noise: flow is averaged over a Gaussian neighbourhood with weights from the local structure
  (the smaller eigenvalue of the structure tensor: only corners and texture pin a motion down,
  flat areas and straight edges do not);
* static scenes: the flow is kept only where it lowers the local residual clearly, so where the
  homography was already right nothing changes (and no noise is added to a good registration).
"""

from __future__ import annotations

import cv2
import numpy as np

from burstlib.registration.register import to_uint8


def _smooth_proxy(grey: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)


def _as_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = (image - low) * (255.0 / max(high - low, 1e-6))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _dense_flow(reference: np.ndarray, warped: np.ndarray) -> np.ndarray:
    """DIS flow f with reference(x) ~ warped(x + f(x)), both images scaled alike."""
    low, high = (float(v) for v in np.percentile(reference, (0.5, 99.5)))
    # OpenCV 5's stub lists DISOpticalFlow.create only, not this alias that OpenCV still has.
    dis = cv2.DISOpticalFlow_create(  # type: ignore[attr-defined]
        cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_as_uint8(reference, low, high), _as_uint8(warped, low, high), None)


def _structure_weight(reference: np.ndarray) -> np.ndarray:
    """How well the image pins a motion down at each pixel (0 in flat areas)."""
    eigen = cv2.cornerMinEigenVal(to_uint8(reference), blockSize=5, ksize=3)
    return np.maximum(eigen, 0).astype(np.float32)


def _weighted_smooth(flow: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    norm = cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-12
    out = np.empty_like(flow)
    for c in range(2):
        out[..., c] = cv2.GaussianBlur(flow[..., c] * weight, (0, 0), sigma) / norm
    return out


def remap_by_flow(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image(x + flow(x)) for every pixel x (bilinear; the border repeated)."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def residual_flow(reference: np.ndarray, warped: np.ndarray, valid: np.ndarray, *,
                  smoothness: float, min_gain: float, max_pixels: int = 500_000) -> np.ndarray:
    """The trusted residual flow of ``warped`` (already globally registered), in pixels of
    the inputs, on their grid or (large images) a coarser one covering the same field.

    ``smoothness`` is the Gaussian sigma (pixels) over which flow is pooled; the flow is kept
    where it lowers the local mean squared residual by at least the fraction ``min_gain``,
    faded in smoothly around those places, and zero elsewhere and where ``valid`` (1 where
    the warped frame saw the scene) is not 1. Images larger than
    ``max_pixels`` are measured on a shrunken copy: the pooled flow is smooth anyway, and
    dense flow costs about 2 s per megapixel here.
    """
    height, width = reference.shape[:2]
    factor = min(1.0, (max_pixels / (height * width)) ** 0.5)
    if factor < 1.0:
        size = (max(8, round(width * factor)), max(8, round(height * factor)))
        small = [cv2.resize(im, size, interpolation=cv2.INTER_AREA)
                 for im in (reference, warped, valid)]
        flow = residual_flow(*small, smoothness=max(1.0, smoothness * factor), min_gain=min_gain,
                             max_pixels=max_pixels)
        return flow * np.float32(width / size[0])  # small-image pixels -> input pixels
    ref, mov = _smooth_proxy(reference), _smooth_proxy(warped)
    seen = (valid > 0.999).astype(np.float32)  # flow where the frame saw nothing is made up
    flow = _weighted_smooth(_dense_flow(ref, mov), _structure_weight(ref) * seen, smoothness)
    before = cv2.GaussianBlur((ref - mov) ** 2 * seen, (0, 0), smoothness)
    after = cv2.GaussianBlur((ref - remap_by_flow(mov, flow)) ** 2 * seen, (0, 0), smoothness)
    keep = ((after < (1.0 - min_gain) * before) * seen).astype(np.float32)
    keep = cv2.GaussianBlur(keep, (0, 0), smoothness / 2)
    return flow * keep[..., None]
