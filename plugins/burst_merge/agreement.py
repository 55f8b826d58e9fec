"""How well a registered frame agrees with the reference, in units of what noise explains.

The noise model comes from the file's noise profile when it has one (RAW), else from the
reference itself: a noise level function (variance by brightness) measured on its luminance
proxy, so 16-bit TIFF without a profile, 8-bit JPEG and developed RAW frames (whose channels
share their noise after demosaicking) all get the figure of their own proxy, not one derived
by assuming independent channels. What a registered frame then shows differs from the model by
a factor that depends on things the model cannot know (the resampling smooths the frame's
noise, JPEG blocks, residual misregistration on edges), so each frame's factor is measured as
the median disagreement over the frame, within bounds: a burst is mostly a static scene, and
the bounds keep a large moving object from calibrating itself away.
"""

from __future__ import annotations

import cv2
import numpy as np

from burstcli import Frame
from burstlib.noise import noise_level_function, proxy_channels
from burstlib.arrays import grey_proxy, noise_coefficients

#: Bounds of the measured factor between a frame's disagreement and the noise model's: the
#: upper keeps a large moving object from calibrating itself away.
CALIBRATION_BOUNDS = (0.5, 3.0)
#: The bounds ``merge.robust`` uses: frames that agree far better than the model says
#: (texture taken for noise on a clean, small frame) tighten its test that far (at 0.5, clean
#: 8-bit PNG bursts merged 1.5 dB worse). Its held-out frames check the result.
MERGE_BOUNDS = (0.02, 3.0)


def proxy_of(frame: Frame, values: np.ndarray) -> np.ndarray:
    """The luminance proxy (see :func:`grey_proxy`) of normalised ``values`` laid out as
    ``frame``'s pixels."""
    return grey_proxy(frame.replace(pixels=values, layout=frame.layout))


def proxy_noise(frame: Frame, values: np.ndarray) -> np.ndarray:
    """Noise variance of the reference's luminance proxy, per proxy pixel (float32, 2-D).

    From the noise profile (variance = S x + O per sample; the proxy averages
    :func:`proxy_channels` independent samples), else from the proxy's own noise level
    function, interpolated at each pixel's local brightness; never below what 8-bit
    quantisation and compression leave."""
    proxy = proxy_of(frame, values)
    level = cv2.blur(proxy, (5, 5))  # the signal level, not its noise
    coefficients = noise_coefficients(frame)
    if coefficients is not None:
        scale, offset = coefficients
        variance = (scale * np.maximum(level, 0.0) + offset) / proxy_channels(frame)
    else:
        levels, variances = noise_level_function(proxy)
        variance = _interpolated(level, levels, variances)
    floor = quantisation_floor(frame) / proxy_channels(frame)
    return np.maximum(variance, max(floor, 1e-12)).astype(np.float32)


def sample_noise(frame: Frame, values: np.ndarray) -> np.ndarray:
    """Noise variance of each sample of normalised ``values`` (same shape, float32): from the
    noise profile when there is one, else each channel's own noise level function (variance
    by brightness: a developed RAW frame's shot noise grows with the signal) at the local
    brightness."""
    level = cv2.blur(values, (5, 5))  # the signal level, not its noise
    coefficients = noise_coefficients(frame)
    if coefficients is not None:
        scale, offset = coefficients
        return np.maximum(scale * np.maximum(level, 0.0) + offset, 1e-12).astype(np.float32)
    planes = values[..., None] if values.ndim == 2 else values
    levels_of = level[..., None] if level.ndim == 2 else level
    out = np.empty(planes.shape, np.float32)
    for c in range(planes.shape[2]):
        levels, variances = noise_level_function(np.ascontiguousarray(planes[..., c]))
        out[..., c] = _interpolated(levels_of[..., c], levels, variances)
    np.maximum(out, 1e-12, out=out)
    return out[..., 0] if values.ndim == 2 else out


#: Brightness steps of the table through which the noise level function is read per pixel.
LEVEL_STEPS = 1024


def _interpolated(level: np.ndarray, levels: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """``np.interp(level, levels, variances)`` through a table of LEVEL_STEPS brightness
    steps over [0, 1] (beyond it, the ends): a tenth of the time on 12 MP, and the noise level
    function varies far more slowly than a step."""
    table = np.interp(np.linspace(0.0, 1.0, LEVEL_STEPS + 1), levels, variances)
    index = np.clip(level * LEVEL_STEPS + 0.5, 0, LEVEL_STEPS).astype(np.int32)
    return table.astype(np.float32)[index]


def quantisation_floor(frame: Frame) -> float:
    """The least per-sample difference two frames of a scene show: 8-bit files (JPEG above
    all) have had their flat areas smoothed by compression, so noise measured there is too
    low; about two code values of difference are never evidence of motion."""
    if frame.pixels is not None and frame.pixels.dtype == np.uint8:
        return (2.0 / 255.0) ** 2
    return 1e-12


def disagreement(frame: Frame, reference: np.ndarray, warped: np.ndarray, valid: np.ndarray,
                 noise: np.ndarray, window: int,
                 bounds: tuple[float, float] = CALIBRATION_BOUNDS) -> tuple[np.ndarray, float]:
    """Per proxy pixel, the mean squared proxy difference over a ``window`` square in units of
    what two noisy frames explain (2 x ``noise``), divided by the frame's own calibration
    factor (the median of that ratio where the frame covers the reference, bounded); and that
    factor. About 1 where the frame shows the same scene."""
    diff = proxy_of(frame, cv2.subtract(warped, reference))
    local = cv2.blur(cv2.multiply(diff, diff), (window, window))
    ratio = cv2.divide(local, noise, scale=0.5)  # local / (2 noise), one pass
    covered = proxy_of(frame, valid) > 0.999
    step = 2 if covered.size > 1_000_000 else 1  # a median over a quarter is as good, 4x faster
    sample = ratio[::step, ::step][covered[::step, ::step]]
    factor = float(np.median(sample)) if sample.size else 1.0
    factor = float(np.clip(factor, *bounds))
    ratio *= np.float32(1.0 / factor)
    return ratio, factor
