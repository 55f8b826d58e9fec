"""The noise-level input plane of a ``+sigma`` deblur model (FFDNet's idea, Zhang et al. 2018).

The plane holds, per pixel, the standard deviation of the noise in the values the network
reads (sRGB-encoded), times :data:`SIGMA_SCALE`, averaged over the
colour channels. A network told the noise level can deconvolve hard on a clean frame and
smooth on a noisy one; one that is not must hedge between them.

Training and the stage compute it from what the stage can see, never from the truth: the
signal level is the (noisy, blurry) frame smoothed by a 5 x 5 box, as
:func:`burstlib.agreement.sample_noise` smooths it. Noise known in linear light (shot + read
variance in training, a RAW file's noise profile at run time) is carried to the encoded
domain by the slope of the sRGB curve at that level; without a profile the stage measures the
encoded image's own noise level function.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from burstcli import Frame
from burstlib.agreement import sample_noise
from burstlib.colour import srgb_decode, srgb_slope

#: Input plane of the network: encoded-domain std 0.005-0.1 becomes 0.05-1 (the training
#: recipe and the stage both build the plane here).
SIGMA_SCALE = 10.0


def takes_noise_plane(planes: str) -> bool:
    """Whether a model card's ``planes`` (``rgb``, ``y``, ``rgb+sigma``, ``y+sigma``) asks
    for the noise plane."""
    return planes.endswith("+sigma")


def signal_level(values: np.ndarray) -> np.ndarray:
    """The local signal level: ``values`` under a 5 x 5 box (as sample_noise takes it)."""
    return cv2.blur(np.ascontiguousarray(values, np.float32), (5, 5))


def _plane(std: np.ndarray) -> np.ndarray:
    """Per-channel std (H x W x C or H x W) -> the H x W plane the network reads."""
    mean = std.mean(axis=2) if std.ndim == 3 else std
    return (mean * SIGMA_SCALE).astype(np.float32)


def from_linear_variance(level: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """The plane from a linear-light signal level and noise variance (same shapes)."""
    return _plane(np.sqrt(np.maximum(variance, 0.0)) * srgb_slope(level))


def from_shot_read(encoded: np.ndarray, shot: float, read: float) -> np.ndarray:
    """The plane of a frame made with shot + read noise in linear light (training pairs and
    the benchmark's frames, whose noise is known as a RAW profile knows it)."""
    level = np.maximum(signal_level(srgb_decode(encoded)), 0.0)
    return from_linear_variance(level, shot * level + read)


def from_profile(frame: Frame, encoded: np.ndarray) -> np.ndarray:
    """The plane of a developed RAW frame from its file's noise profile (variance S x + O of
    the normalised linear values), at the frame's own smoothed linear level."""
    linear = srgb_decode(encoded)
    return from_linear_variance(np.maximum(signal_level(linear), 0.0),
                                sample_noise(frame, linear))


def estimated(encoded: np.ndarray) -> np.ndarray:
    """The plane measured from the encoded image alone: each channel's noise level function
    (variance by brightness) read at the local level. For images without a profile (JPEG,
    PNG, TIFF) and for merged images, whose noise the merge lowered by an unknown amount."""
    anonymous = Frame(path=Path("image"), pixels=encoded, layout="rgb" if encoded.ndim == 3
                      else "gray")
    return _plane(np.sqrt(sample_noise(anonymous, np.ascontiguousarray(encoded, np.float32))))
