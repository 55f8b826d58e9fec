"""LibRaw's demosaicking (through rawpy) for any Bayer mosaic held in memory.

LibRaw only opens files, and the mosaics developed here are arrays (a merged mosaic is no file's
content; ``zoom.window`` crops frames), so the mosaic is wrapped in a minimal CFA DNG written to
memory with tifffile: black 0, white 65535, the 16-bit quantisation OpenCV's path uses too. The
mosaic arrives white-balanced and clipped (``_camera_rgb``), so LibRaw is told to change nothing:
unit multipliers, no black, no auto-brightness, no maximum adjustment, linear output in the
camera's own colours, no flip. Its output then equals its input wherever the colour is flat
(the tests check a flat colour and a colour chart, every Bayer phase, odd sizes).

LibRaw is fed the square roots of the values, and its output is squared back. Its algorithms
interpolate colour differences (R - G, B - G) and judge edges by them; in linear light those
differences scale with the brightness, so across a shading edge they are not smooth and dark
areas get the error bright areas make. On a square-root scale (close to the sRGB curve and to
photon noise's own scale) they are: AHD gains 0.3-1.3 dB PSNR in linear light and 2.5-3 dB
in sRGB on kodak24, mcmaster18 and b100 (benchmarks/demosaic_quality.py, "linear-fed" rows).
16 bits of square root are finer than 16 linear bits below 1/4 and at worst 1.5e-5 off at 1.

The mosaic is reflect-padded by an even number of pixels on every side (the CFA phase is kept)
before LibRaw sees it: LibRaw refuses images under 22 pixels a side, and its interpolators fill
their outermost pixels with a plain average, so the padding takes that cruder border instead of
the image (AHD's outer 8 px on kodak images: 39.4 dB padded, 28.7 dB not).
"""

from __future__ import annotations

import io
from typing import Literal

import cv2
import numpy as np
import rawpy
import tifffile

#: LibRaw's algorithms by the names the ``demosaic`` parameter uses (LibRaw 0.22 without the GPL
#: demosaic packs: AFD, LMMSE, VCD and AMaZE are absent).
ALGORITHMS = {
    "ahd": rawpy.DemosaicAlgorithm.AHD, "dcb": rawpy.DemosaicAlgorithm.DCB,
    "dht": rawpy.DemosaicAlgorithm.DHT, "aahd": rawpy.DemosaicAlgorithm.AAHD,
    "ppg": rawpy.DemosaicAlgorithm.PPG, "libraw-vng": rawpy.DemosaicAlgorithm.VNG,
    "libraw-linear": rawpy.DemosaicAlgorithm.LINEAR,
}

#: Reflect padding on each side; even, so that the padded mosaic keeps the CFA phase. AHD's own
#: border (5 px, averaged) and DCB's/DHT's fall inside it.
PAD = 8
#: dcraw's smallest image side: LibRaw calls anything smaller "not RAW".
MIN_SIDE = 22

_COLOUR_CODE = {"R": 0, "G": 1, "B": 2}  # DNG CFAPlaneColor (0, 1, 2) = R, G, B
# TIFF/DNG tag numbers (DNG specification 1.4)
_MAKE, _MODEL, _DNG_VERSION, _UNIQUE_MODEL = 271, 272, 50706, 50708
_CFA_REPEAT, _CFA_PATTERN, _CFA_PLANE_COLOR, _CFA_LAYOUT = 33421, 33422, 50710, 50711
_BLACK_LEVEL, _WHITE_LEVEL = 50714, 50717
_PHOTOMETRIC_CFA = 32803


def libraw_demosaic(balanced: np.ndarray, cfa: str, method: str, *,
                    domain: Literal["sqrt", "linear"] = "sqrt") -> np.ndarray:
    """Demosaic a white-balanced Bayer mosaic (float, 0 = black, 1 = white) with LibRaw.

    :param cfa: the 2x2 pattern as letters in row-major order (RGGB, BGGR, GRBG or GBRG).
    :param method: a key of :data:`ALGORITHMS`.
    :param domain: ``sqrt``: LibRaw interpolates the square root of the values and the result
        is squared back (the module's note says why); ``linear``: the values themselves.
    :return: H x W x 3 float32 linear camera RGB in [0, 1], the input's shape.
    """
    # OpenCV for the whole-frame passes: threaded, and rounding and clipping in one (12 MP).
    # (cv2's stub wants an array as the second operand; OpenCV takes a scalar as well.)
    values = cv2.max(  # type: ignore[call-overload]
        np.ascontiguousarray(balanced, dtype=np.float32), 0.0)
    if domain == "sqrt":
        values = cv2.sqrt(values)
    mosaic16 = cv2.addWeighted(values, 65535.0, values, 0.0, 0.0, dtype=cv2.CV_16U)  # saturates
    # Contiguous first: OpenCV on the padded output's strided centre took 0.48 s at 12 MP,
    # the copy and the multiply 0.04 s.
    rgb16 = np.ascontiguousarray(libraw_demosaic16(mosaic16, cfa, method))
    if domain == "sqrt":
        return cv2.multiply(rgb16, rgb16, dtype=cv2.CV_32F, scale=1.0 / 65535.0 ** 2)
    return np.multiply(rgb16, np.float32(1 / 65535.0), dtype=np.float32)


def libraw_demosaic16(mosaic16: np.ndarray, cfa: str, method: str) -> np.ndarray:
    """LibRaw's ``method`` on a 2-D uint16 Bayer mosaic (0 = black, 65535 = white): H x W x 3
    uint16 camera RGB of the same shape and scale, values unchanged where colour is flat."""
    if mosaic16.ndim != 2 or mosaic16.dtype != np.uint16:
        raise ValueError("libraw_demosaic16 takes a 2-D uint16 mosaic")
    height, width = mosaic16.shape
    padded = _pad(mosaic16)
    with rawpy.imread(io.BytesIO(cfa_dng_bytes(padded, cfa))) as raw:
        rgb = raw.postprocess(
            demosaic_algorithm=ALGORITHMS[method],
            output_color=rawpy.ColorSpace.raw,  # camera RGB: our own matrix follows
            gamma=(1, 1), no_auto_bright=True, bright=1.0, output_bps=16,
            user_wb=[1.0, 1.0, 1.0, 1.0],  # already balanced by the caller
            user_black=0, user_sat=65535,
            adjust_maximum_thr=0.0,  # else LibRaw rescales when the data peak is high
            highlight_mode=rawpy.HighlightMode.Clip, user_flip=0)
    top, left = (padded.shape[0] - height) // 2, (padded.shape[1] - width) // 2
    return rgb[top:top + height, left:left + width]


def _pad(mosaic: np.ndarray) -> np.ndarray:
    """Reflect-pad by :data:`PAD` on every side, more where a side is too short for LibRaw.

    The padding is even and the same on both ends of an axis (the caller finds the image at the
    centre); reflection about the edge pixel (period 2 (n - 1), numpy repeats it as needed)
    keeps every padded pixel's CFA colour.
    """
    pads = [max(PAD, 2 * (-(-(MIN_SIDE - size) // 4))) for size in mosaic.shape]
    return np.pad(mosaic, [(p, p) for p in pads], mode="reflect")


def cfa_dng_bytes(mosaic16: np.ndarray, cfa: str) -> bytes:
    """A minimal uncompressed CFA DNG of ``mosaic16`` (black 0, white 65535), in memory.

    Make, model and DNGVersion make LibRaw take it for a DNG; the CFA tags give the pattern
    (colours 0, 1, 2 = R, G, B; rectangular layout).
    """
    tags = [
        (_MAKE, "s", 0, "burst", True),
        (_MODEL, "s", 0, "develop", True),
        (_UNIQUE_MODEL, "s", 0, "burst develop", True),
        (_DNG_VERSION, "B", 4, (1, 4, 0, 0), True),
        (_CFA_REPEAT, "H", 2, (2, 2), True),
        (_CFA_PATTERN, "B", 4, bytes(_COLOUR_CODE[c] for c in cfa), True),
        (_CFA_PLANE_COLOR, "B", 3, (0, 1, 2), True),
        (_CFA_LAYOUT, "H", 1, 1, True),
        (_BLACK_LEVEL, "I", 1, (0,), True),
        (_WHITE_LEVEL, "I", 1, (65535,), True),
    ]
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, mosaic16, photometric=_PHOTOMETRIC_CFA, metadata=None,
                     byteorder="<", extratags=tags)
    return buffer.getvalue()
