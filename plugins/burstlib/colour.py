"""RGB <-> YUV (BT.601, full range, as JPEG and seed 004 use it) for gamma-encoded images.

Y is luma in [0, 1]; U and V are the blue and red differences scaled into [0, 1] with 0.5 as
neutral (JPEG's Cb and Cr; OpenCV's YCrCb holds the same numbers in the order Y, V, U, with
rounded coefficients). The exact matrix is used here, so a round trip gives back the input.
"""

from __future__ import annotations

import cv2
import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114])
#: linear sRGB (D65) -> XYZ, the matrix dcraw and LibRaw use (``xyz_rgb``): what they multiply
#: a camera's ColorMatrix by.
SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])
#: Rows Y, U, V over R, G, B: U = (B - Y) / 1.772, V = (R - Y) / 1.402 (then + 0.5).
_RGB_TO_YUV = np.stack([_LUMA, (np.array([0, 0, 1.0]) - _LUMA) / 1.772,
                        (np.array([1.0, 0, 0]) - _LUMA) / 1.402]).astype(np.float32)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV.astype(np.float64)).astype(np.float32)
_OFFSET = np.array([0.0, 0.5, 0.5], np.float32)
# 3 x 4 affine maps for cv2.transform (one pass over the image, much faster than matmul).
_FORWARD = np.hstack([_RGB_TO_YUV, _OFFSET[:, None]]).astype(np.float32)
_INVERSE = np.hstack([_YUV_TO_RGB, -(_YUV_TO_RGB @ _OFFSET)[:, None]]).astype(np.float32)


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) RGB in [0, 1] -> (h, w, 3) float32 Y, U, V."""
    return cv2.transform(np.ascontiguousarray(rgb[..., :3], np.float32), _FORWARD)


def yuv_to_rgb(yuv: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb_to_yuv` (float32 RGB, not clipped)."""
    return cv2.transform(np.ascontiguousarray(yuv, np.float32), _INVERSE)


CODE_MAX = 65535  # 16-bit codes: what develop.frames keeps and what YUV codes are


def rgb_to_yuv_codes(rgb: np.ndarray) -> np.ndarray:
    """RGB codes (uint8 or uint16, h x w x 3) -> 16-bit YUV codes: :func:`rgb_to_yuv`
    of the normalised values, times 65535, rounded, in one OpenCV pass without a float copy.
    U and V of RGB in [0, 1] lie in [0, 1], so nothing is clipped; the rounding (at most
    half a 16-bit step) is far below any 8 or 16-bit input's own."""
    return cv2.transform(np.ascontiguousarray(rgb[..., :3]).astype(np.uint16, copy=False),
                         _code_matrix(_FORWARD, CODE_MAX / np.iinfo(rgb.dtype).max))


def yuv_codes_to_rgb(yuv: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb_to_yuv_codes`: 16-bit RGB codes, clipped to [0, 65535]."""
    return cv2.transform(np.ascontiguousarray(yuv), _code_matrix(_INVERSE, 1.0))


def _code_matrix(affine: np.ndarray, input_scale: float) -> np.ndarray:
    """A 3 x 4 affine map on normalised values as one on codes (the input's codes scaled by
    ``input_scale`` to 16 bits; the offsets in 16-bit codes)."""
    out = affine.astype(np.float64)
    out[:, :3] *= input_scale
    out[:, 3] *= CODE_MAX
    return out.astype(np.float32)


def upsample_chroma(yuv: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A YUV image of ``y``'s size: ``y`` as luma, the chroma of ``yuv`` bicubic
    (004 [0141]: the network enlarges Y, U and V are interpolated)."""
    height, width = y.shape
    out = np.empty((height, width, 3), np.float32)
    out[..., 0] = y
    out[..., 1:] = cv2.resize(np.ascontiguousarray(yuv[..., 1:]), (width, height),
                              interpolation=cv2.INTER_CUBIC)
    return out


#: Where the sRGB curve turns from its linear toe (slope 12.92) to the power law.
SRGB_KNEE = 0.0031308
SRGB_TOE_SLOPE = 12.92


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light -> the sRGB transfer curve, clipped to [0, 1], float32."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= SRGB_KNEE, SRGB_TOE_SLOPE * x,
                    1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def srgb_slope(linear: np.ndarray) -> np.ndarray:
    """d srgb_encode / d linear at ``linear`` (clipped to [0, 1]; 12.92 on the toe): how
    much the curve stretches a small difference, such as noise, at that level."""
    x = np.clip(linear, SRGB_KNEE, 1.0)
    slope = (1.055 / 2.4) * np.power(x, 1 / 2.4 - 1)
    return np.where(linear <= SRGB_KNEE, SRGB_TOE_SLOPE, slope).astype(np.float32)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded values -> linear light (the curve inverted), float32."""
    return np.where(encoded <= 0.04045, encoded / 12.92,
                    ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of a gamma-encoded RGB image (H x W x 3 -> H x W, float32)."""
    return (rgb @ _LUMA.astype(np.float32)).astype(np.float32)
