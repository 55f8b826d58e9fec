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

from collections.abc import Sequence

import cv2
import numpy as np

from burstcli import Frame
from burstlib.arrays import channel_mean, grey_proxy, noise_coefficients, normalized, pixels_of
from burstlib.exposure import overlap_ratio
from burstlib.noise import noise_level_function, proxy_channels
from burstlib.registration.lk import gaussian_noise_gain
from burstlib.warps import warp_to_reference

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


def agreement_weight(frame: Frame, reference: np.ndarray, warped: np.ndarray, valid: np.ndarray,
                     noise: np.ndarray, threshold: float, window: int,
                     bounds: tuple[float, float] = CALIBRATION_BOUNDS) -> tuple[np.ndarray, float]:
    """Weight in [0, 1] per pixel (2-D, the reference's grid): 1 where the frame differs from
    the reference as noise explains, fading exponentially beyond ``threshold`` times that,
    compared over ``window`` x ``window`` luminance-proxy pixels; and the frame's calibration
    factor (see :func:`disagreement`)."""
    ratio, factor = disagreement(frame, reference, warped, valid, noise, window, bounds)
    # exp(-max(ratio - threshold, 0)), in place (12 MP: no temporaries)
    np.subtract(threshold, ratio, out=ratio)
    np.minimum(ratio, 0.0, out=ratio)
    weight = cv2.exp(ratio)
    if frame.layout == "cfa":  # back to sensor resolution: each proxy pixel is a 2x2 cell
        weight = cv2.resize(weight, (reference.shape[1], reference.shape[0]),
                            interpolation=cv2.INTER_NEAREST)
    return weight, factor


def agreement_in_frames(reference: Frame, frames: Sequence[Frame], threshold: float = 1.5,
                        window: int = 9, smooth: float = 0.0, misalignment: float = 0.0,
                        floor: float = 0.0) -> list[np.ndarray]:
    """For each registered frame, a weight per pixel of its own grid (float32, 2-D): 1 where
    it shows what the reference shows there, up to noise, falling towards 0 where it
    differs by more than ``threshold`` times that (what moved), as the robust merge weighs
    frames; a frame equal to ``reference`` (the same object) gets ones. For stages that
    sample frames where they lie (multi-frame super-resolution) rather than resample them.

    ``smooth`` > 0 compares the two Gaussian-blurred by that sigma (pixels), the noise
    expected scaled to match: aliased frames differ from one another at every edge (that
    difference is what super-resolution is made of), a moving object over a whole area.
    ``misalignment`` (luminance-proxy pixels) adds the difference a registration that far off
    makes on the reference's edges: without noise, nothing else would explain it; ``floor``
    is the least variance of the difference taken for noise (what frames developed or
    compressed one by one differ by, which a blur does not average away)."""
    values = normalized(reference)
    noise = proxy_noise(reference, values)
    # Frames are compared on their luminance proxy: for colour frames the channel mean
    # carries the whole comparison (blurring and warping commute with it), at a third of
    # the work.
    grey = reference.layout != "cfa" and values.ndim == 3
    values = channel_mean(values) if grey else values
    if smooth > 0:
        noise = noise * np.float32(gaussian_noise_gain(smooth) ** 2)  # the variance kept
        values = blurred(values, smooth)
    noise = np.maximum(noise, np.float32(floor))
    if misalignment > 0:
        proxy = proxy_of(reference, values)
        slope_x = cv2.Sobel(proxy, cv2.CV_32F, 1, 0, ksize=3) / 8
        slope_y = cv2.Sobel(proxy, cv2.CV_32F, 0, 1, ksize=3) / 8
        noise = noise + np.float32(misalignment ** 2) * (slope_x ** 2 + slope_y ** 2)
    maps: list[np.ndarray] = []
    for frame in frames:
        shape = pixels_of(frame).shape[:2]
        if frame is reference:
            maps.append(np.ones(shape, np.float32))
            continue
        pixels = channel_mean(normalized(frame)) if grey else normalized(frame)
        pixels = blurred(pixels, smooth) if smooth > 0 else pixels
        frame = frame.replace(pixels=pixels, raw=None, layout="gray" if grey else frame.layout)
        warped, valid = warp_to_reference(frame, values.shape, "cubic")
        # Where the frame does not reach (and on the rim, where its interpolation and its
        # blur mix in the outside) it is compared with nothing: the reference stands in, so
        # the window does not carry the edge's difference onto pixels the frame does show.
        reach = 2 + int(np.ceil(2 * smooth))
        inside = cv2.erode(plane_of(valid > 0.999).astype(np.uint8),
                           np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
        if smooth > 0:  # the reference's own blur is biased on its rim (reflected edges)
            edge = int(np.ceil(3 * smooth))
            inside[:edge], inside[-edge:], inside[:, :edge], inside[:, -edge:] = (False,) * 4
        warped *= overlap_ratio(values, warped, inside.astype(np.float32))
        inside = inside if values.ndim == 2 else inside[..., None]
        warped = np.where(inside, warped, values)
        agree, _ = agreement_weight(reference, values, warped, valid, noise, threshold, window)
        transform = frame.transform if frame.transform is not None else np.eye(3)
        # weight at frame pixel x = agreement at reference pixel transform(x)
        maps.append(cv2.warpPerspective(agree, transform, (shape[1], shape[0]),
                                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REPLICATE))
    return maps


def blurred(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur by ``sigma`` pixels, edges reflected."""
    return cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def plane_of(valid: np.ndarray) -> np.ndarray:
    """A validity mask as one plane (2-D): the first channel of a colour one."""
    return valid if valid.ndim == 2 else valid[..., 0]
