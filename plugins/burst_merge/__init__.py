"""Fusion stages: 001's two averaging ways and a robust merge that leaves out what moved."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from burstcli import Burst, Frame, hookimpl, param, stage
from burstcli.errors import StageError
from burstcli.profiling import return_free_memory
from burstlib.agreement import (MERGE_BOUNDS, agreement_weight, plane_of, proxy_noise, proxy_of,
                                quantisation_floor, sample_noise)
from burstlib.arrays import (channel_mean, grey_proxy, noise_coefficients, normalized, per_pixel,
                             pixels_of)
from burstlib.exposure import overlap_ratio
from burstlib.noise import noise_variance_estimate
from burstlib.warps import full_flow, warp_to_reference

from .fourier import Accumulation, accumulate
from .shrink import shrink_residual_noise
from .validate import (HELD_OUT, HeldOutFrame, Window, detail_level,
                       effective_frames, fit_trust, share_map)

Interpolation = Literal["bilinear", "cubic", "lanczos"]
INTERPOLATION_HELP = "how frames are resampled onto the reference grid"
MAX_WINDOW = 255  # a neighbourhood wider than this compares whole frames, not places
MAX_SIGMA = 4.0  # merge.kernel spreads each sample over (4 sigma + 1)^2 pixels: cost grows fast


def _registered(burst: Burst) -> tuple[int, list[int]]:
    if burst.reference is None:
        raise StageError("merge: no reference frame; put `select` before the merge")
    others = [i for i in burst.active_indices if i != burst.reference]
    if any(burst.frames[i].transform is None for i in others):
        raise StageError("merge: frames are not registered; put an `align.*` stage first")
    return burst.reference, others


def _result(burst: Burst, merged: np.ndarray, stage_name: str, note: dict) -> Burst:
    layout = burst.reference_frame.layout or "rgb"
    return burst.replace(image=merged.astype(np.float32, copy=False),
                         image_layout=layout).with_note(stage_name, note)


@dataclasses.dataclass(frozen=True)
class MeanParams:
    interpolation: Interpolation = param("cubic", INTERPOLATION_HELP)


#: What every merge reads (see _registered): frames with transforms and a reference frame.
MERGE_NEEDS = ("registered", "reference")


@stage("merge.mean", MeanParams, needs=MERGE_NEEDS, provides=("image",))
def merge_mean(burst: Burst, params: MeanParams) -> Burst:
    """001's second way (claim 8): every registered frame on the reference grid, averaged.

    Frames are resampled with their ``transform`` (a RAW mosaic colour plane by colour plane,
    so the result is still a mosaic), brought to the reference's exposure, and averaged where
    they cover the reference. Nothing is done about what moved: see ``merge.robust``.
    """
    ref_index, others = _registered(burst)
    reference = normalized(burst.frames[ref_index])
    total, weight = reference.copy(), np.ones_like(reference)
    for index in others:
        warped, valid = warp_to_reference(burst.frames[index], reference.shape, params.interpolation)
        total += warped * overlap_ratio(reference, warped, valid) * per_pixel(valid, total)
        weight += per_pixel(valid, total)
    return _result(burst, total / weight, "merge.mean", {"frames": [ref_index, *others]})


@dataclasses.dataclass(frozen=True)
class SequentialParams:
    interpolation: Interpolation = param("cubic", INTERPOLATION_HELP)


@stage("merge.sequential", SequentialParams, needs=MERGE_NEEDS, provides=("image",))
def merge_sequential(burst: Burst, params: SequentialParams) -> Burst:
    """001's first way (claim 8, fig. 10): fuse frame by frame, registering the running fused
    image with the next frame and averaging with weights (i - 1) : 1.

    F1 is the reference; Fi = ((i - 1) F(i-1) + frame_i') / i, where frame_i' is frame i
    registered to F(i-1) afresh (features + ECC on the luminance proxies), so each step sees a
    cleaner target than the noisy reference alone.
    """
    from burstlib.warps import to_frame_pixels
    from burstlib.registration.register import register

    ref_index, others = _registered(burst)
    reference_frame = burst.frames[ref_index]
    fused = normalized(reference_frame)
    for count, index in enumerate(others, start=2):
        frame = burst.frames[index]
        found = register(grey_proxy(reference_frame.replace(pixels=fused)), grey_proxy(frame))
        aligned = frame.replace(transform=to_frame_pixels(found.homography, frame))
        warped, valid = warp_to_reference(aligned, fused.shape, params.interpolation)
        warped = warped * overlap_ratio(fused, warped, valid)
        step = per_pixel(valid, fused) / count  # where the frame does not reach, F stays
        fused = fused * (1 - step) + warped * step
    return _result(burst, fused, "merge.sequential", {"frames": [ref_index, *others]})


@dataclasses.dataclass(frozen=True)
class RobustParams:
    interpolation: Interpolation = param("cubic", INTERPOLATION_HELP)
    threshold: float = param(
        1.5, "how many times the difference expected from noise a neighbourhood may differ "
             "from the reference before the frame is faded out there (lower: fewer ghosts, "
             "less denoising)", above=0)
    window: int = param(9, "side of the neighbourhood (luminance-proxy pixels) compared: "
                           "larger is steadier (81 samples at 9)", low=1, high=MAX_WINDOW)
    spatial: float = param(1.0, "then take out, spatially, the noise the merge left (each "
                                "pixel's single-frame noise over how many frames went into "
                                "it), as a multiple of it; 0: off (RAW mosaics: always off)",
                           low=0)


@stage("merge.robust", RobustParams, needs=MERGE_NEEDS, provides=("image",))
def merge_robust(burst: Burst, params: RobustParams) -> Burst:
    """Average the registered frames, but only where they agree with the reference (000 [0058]).

    For each frame and pixel, the mean squared difference to the reference over a small
    neighbourhood of the luminance proxy is compared with what noise alone explains: twice the
    proxy's noise variance, from the file's noise profile (variance = S x + O) or else from the
    reference's own noise level function (variance by brightness), whatever the file kind
    (16-bit without a profile, 8-bit JPEG, developed RAW). Each frame's ratio is then divided
    by its median over the frame (bounded to 0.5-3: resampling smooths a frame's noise, JPEG
    adds its own), since a burst is mostly a static scene. Up to ``threshold`` times the
    expected difference the frame counts fully; beyond, its weight falls off exponentially, so
    a moving object is taken from the reference alone and never smeared. The reference always
    has weight 1. Works on RAW mosaics (colour plane by plane) and on RGB; per frame the mean
    weight where it covers the reference and the measured factor go to the sidecar.

    Averaging leaves each pixel the single-frame noise divided by its weight sum; with
    ``spatial`` that remainder is shrunk away by wavelet shrinkage at exactly that level
    (:mod:`.shrink`): most where the merge could do least (what moved, one frame), nothing
    where no noise is left. Not on mosaics (their colours are interleaved).

    Averaging helps only while the frames' noise outweighs what resampling them costs, which
    one image cannot tell (on a clean, detailed burst the interpolation error looks like
    noise). So two frames are also held out (:mod:`.validate`): the merge of the others,
    carried into a held-out frame's own grid, must predict what that frame recorded better
    than the reference does. The share of the merge's change that does so, fitted by level
    of detail, is what is kept, and the same for the shrinkage; the shares go to the sidecar
    (``kept``; 1 everywhere on a noisy burst).
    """
    ref_index, others = _registered(burst)
    ref_frame = burst.frames[ref_index]
    reference = normalized(ref_frame)
    noise = proxy_noise(ref_frame, reference)
    validated = ref_frame.layout != "cfa"  # a mosaic's proxy is half its grid
    window = Window.central(reference.shape)
    held_out = _held_out(burst, others, reference.shape) if validated else []
    sums = _robust_sums(burst, others, reference, noise, params, window, held_out)
    del noise  # 48 MP: 192 MB the rest does without
    # The frames' measured disagreement says when the noise model is too high (texture
    # taken for noise on a small frame): never shrink more than the frames show.
    factors = sums.factors
    shown = min(1.0, float(np.median(list(factors.values())))) if factors else 1.0
    strength = params.spatial * shown if validated else 0.0
    variance = sample_noise(ref_frame, reference) if strength > 0 else None

    def shrink(image: np.ndarray, frames: np.ndarray) -> np.ndarray:  # the window's
        if variance is None:
            return image
        return shrink_residual_noise(image, window.of(variance), strength, frames)

    trust = fit_trust(window, window.of(reference), window.of(sums.total),
                      window.of(sums.weight), sums.held, shrink)
    detail = detail_level(proxy_of(ref_frame, reference)) if sums.held else None
    share = share_map(detail, trust.centres, trust.merge) if detail is not None else np.float32(1.0)
    merged = sums.total
    merged /= per_pixel(sums.weight, merged)
    if sums.held:
        merged = _blend(reference, merged, share)
    del reference  # nor does the shrinkage need it (48 MP RGB: 576 MB)
    if variance is not None:  # strength > 0
        frames = effective_frames(share, sums.weight)
        shrunk = shrink_residual_noise(merged, variance, strength, frames)
        merged = (_blend(merged, shrunk, share_map(detail, trust.centres, trust.shrink))
                  if detail is not None else shrunk)
    return _result(burst, merged, "merge.robust",
                   {"mean_weight": sums.used, "noise_factor": _rounded(factors),
                    "held_out": held_out,
                    "kept": {"merge": _listed(trust.merge), "shrink": _listed(trust.shrink)}})


@dataclasses.dataclass
class _Sums:
    """What the robust merge gathers over the frames."""

    total: np.ndarray  # the reference plus every frame times its agreement
    weight: np.ndarray  # 1 plus the agreements (2-D)
    used: dict[int, float]  # each frame's mean agreement where it sees the reference
    factors: dict[int, float]  # each frame's calibration factor
    held: list[HeldOutFrame]


def _robust_sums(burst: Burst, others: list[int], reference: np.ndarray, noise: np.ndarray,
                 params: RobustParams, window: Window, held_out: list[int]) -> _Sums:
    """Every other frame on the reference grid, weighed by its agreement and summed (in
    place: 12 MP RGB frames make no temporaries they need not)."""
    assert burst.reference is not None  # the merge checked it (_registered)
    ref_frame = burst.frames[burst.reference]
    sums = _Sums(reference.copy(), np.ones(reference.shape[:2], np.float32), {}, {}, [])
    for index in others:
        frame = burst.frames[index]
        warped, valid = warp_to_reference(frame, reference.shape, params.interpolation)
        gain = overlap_ratio(reference, warped, valid)
        warped *= gain
        agree, sums.factors[index] = agreement_weight(ref_frame, reference, warped, valid, noise,
                                                      params.threshold, params.window,
                                                      MERGE_BOUNDS)
        covered = plane_of(valid)
        seen = covered > 0.999
        sums.used[index] = round(float(agree[seen].mean()) if seen.any() else 0.0, 4)
        agree *= covered
        if index in held_out:
            sums.held.append(HeldOutFrame(frame, gain, window.of(warped).copy(),
                                          window.of(agree).copy()))
        warped *= per_pixel(agree, warped)
        sums.total += warped
        sums.weight += agree
        del warped, valid, agree, covered, seen
        return_free_memory()  # each frame's temporaries (the heap keeps them otherwise)
    return sums


def _blend(base: np.ndarray, target: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``base + share x (target - base)``, a 2-D share for every channel, into ``target``."""
    np.subtract(target, base, out=target)
    target *= per_pixel(share, target)
    target += base
    return target


def _held_out(burst: Burst, others: list[int], shape: tuple[int, ...]) -> list[int]:
    """The frames whose view validates the merge (see :mod:`.validate`): the first ones of
    the reference's size placed by their transform alone; none when there is only one
    other frame (its merge without it would be the reference itself)."""
    if len(others) < 2:
        return []
    eligible = [i for i in others if burst.frames[i].flow is None
                and pixels_of(burst.frames[i]).shape[:2] == shape[:2]]
    return eligible[:HELD_OUT]


def _listed(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]


def _noise_variance_map(frame: Frame, values: np.ndarray) -> np.ndarray:
    """Per-sample noise variance of the normalised reference (profile, else estimated plane
    by plane: a mosaic's sites, an image's channels)."""
    coefficients = noise_coefficients(frame)
    if coefficients is not None:
        scale, offset = coefficients
        smooth = cv2.blur(values, (5, 5))  # the signal level, not its noise
        return np.maximum(scale * smooth + offset, 1e-10).astype(np.float32)
    planes = _plane_slices(frame, values)
    estimate = float(np.mean([noise_variance_estimate(values[p]) for p in planes]))
    return np.full(values.shape, max(estimate, quantisation_floor(frame)), np.float32)


def _rounded(values: dict[int, float]) -> dict[int, float]:
    return {k: round(v, 3) for k, v in values.items()}


@dataclasses.dataclass(frozen=True)
class KernelParams:
    sigma: float = param(0.5, "Gaussian kernel radius (sigma) in sensor pixels: larger "
                              "denoises more and blurs more", above=0, high=MAX_SIGMA)
    robust: bool = param(True, "fade out samples that disagree with the reference beyond "
                               "noise (deghosting, as merge.robust)")
    threshold: float = param(1.5, "robust: allowed difference, in multiples of the noise's",
                             above=0)
    window: int = param(9, "robust: neighbourhood side (luminance-proxy pixels)", low=1,
                        high=MAX_WINDOW)


@stage("merge.kernel", KernelParams, needs=MERGE_NEEDS, provides=("image",))
def merge_kernel(burst: Burst, params: KernelParams) -> Burst:
    """Kernel-regression merge: all frames' samples scattered onto the reference grid.

    Every sensor sample of every registered frame is placed where its transform puts it on the
    reference grid and spread to the nearby output pixels with a Gaussian weight, per colour;
    the output is the weighted mean, a full RGB image (demosaicked by the merge itself, layout
    ``linear_raw`` for a RAW burst). Unlike resampling each frame first, this uses every frame's
    sampling phase, so the aliasing of a mosaic's colour planes averages out. With ``robust``,
    each sample is weighted by the agreement of its frame with the reference there (see
    ``merge.robust``): moving things come from the reference alone.
    """
    from burstlib.kernel import Accumulator, frame_values, output_positions

    ref_index, others = _registered(burst)
    ref_frame = burst.frames[ref_index]
    reference = normalized(ref_frame)
    noise = proxy_noise(ref_frame, reference)
    height, width = reference.shape[:2]
    accumulator = Accumulator(height, width)
    ones = np.ones((height, width), np.float32)
    accumulator.add(ref_frame, reference, output_positions(np.eye(3), (height, width), 1.0),
                    ones.ravel(), params.sigma)
    weights = {}
    for index in others:
        frame = burst.frames[index]
        warped, valid = warp_to_reference(frame, reference.shape, "bilinear")
        gain = overlap_ratio(reference, warped, valid)
        agree = (agreement_weight(ref_frame, reference, warped * gain, valid, noise, params.threshold,
                                  params.window)[0]
                 if params.robust else np.ones(reference.shape[:2], np.float32))
        assert frame.transform is not None  # _registered checked every other frame's
        positions = output_positions(frame.transform, (height, width), 1.0)
        if frame.flow is not None:  # x + flow(x) = H p, so x is about H p - flow(H p)
            flow = full_flow(frame, (height, width))
            positions = positions - np.stack([_sample_at(flow[..., c], positions) for c in (0, 1)])
        confidence = _sample_at(agree, positions)
        accumulator.add(frame, frame_values(frame, gain), positions, confidence, params.sigma)
        weights[index] = round(float(confidence.mean()), 4)
    fallback = _fallback_rgb(ref_frame, reference)
    merged = accumulator.result(fallback)
    layout = "linear_raw" if ref_frame.layout == "cfa" else (ref_frame.layout or "rgb")
    return burst.replace(image=merged, image_layout=layout).with_note(
        "merge.kernel", {"mean_weight": weights, "sigma": params.sigma})


def _sample_at(weight_map: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """A reference-grid map read at (rounded) sample positions; 0 outside the grid."""
    x = np.rint(positions[0]).astype(np.int64)
    y = np.rint(positions[1]).astype(np.int64)
    inside = (x >= 0) & (x < weight_map.shape[1]) & (y >= 0) & (y < weight_map.shape[0])
    values = weight_map[np.clip(y, 0, weight_map.shape[0] - 1), np.clip(x, 0, weight_map.shape[1] - 1)]
    return np.where(inside, values, 0.0)


def _fallback_rgb(frame: Frame, values: np.ndarray) -> np.ndarray:
    """The reference as RGB, for output pixels no sample reached (only at the very rim)."""
    if values.ndim == 3:
        return values
    if values.ndim == 2 and frame.layout != "cfa":
        return np.repeat(values[..., None], 3, axis=2)
    from burstlib.kernel import sample_channels
    channels = sample_channels(frame)
    assert channels is not None  # a decoded mosaic carries its RAW metadata
    out = np.zeros((*values.shape, 3), np.float32)
    for c in range(3):
        plane = np.where(channels == c, values, 0).astype(np.float32)
        count = cv2.blur((channels == c).astype(np.float32), (3, 3))
        out[..., c] = cv2.blur(plane, (3, 3)) / np.maximum(count, 1e-6)
    return out


@dataclasses.dataclass(frozen=True)
class WienerParams:
    strength: float = param(
        8.0, "c of HDR+'s shrinkage |D|^2 / (|D|^2 + c * noise): larger keeps more of each "
             "frame (more denoising), smaller falls back to the reference sooner (fewer ghosts)",
        above=0)
    interpolation: Interpolation = param("cubic", INTERPOLATION_HELP)


@stage("merge.wiener", WienerParams, needs=MERGE_NEEDS, provides=("image",))
def merge_wiener(burst: Burst, params: WienerParams) -> Burst:
    """HDR+'s frequency-domain merge: overlapping 16x16 tiles, pairwise Wiener shrinkage.

    Every registered frame is resampled onto the reference grid (a RAW mosaic colour plane by
    colour plane), brought to the reference's exposure, cut into half-overlapping windowed
    tiles and Fourier transformed. Per tile and frequency the frame is pulled towards the
    reference by A = |D|^2 / (|D|^2 + c * 2 sigma^2), D the difference of their spectra and
    sigma^2 the tile's noise variance (the file's noise profile, else estimated): what noise
    explains is averaged, what moved or cannot be resampled exactly (aliasing) comes from the
    reference. The mean agreement (1 - A) per frame goes to the sidecar.
    """
    from .wiener import TileMerger

    ref_index, others = _registered(burst)
    ref_frame = burst.frames[ref_index]
    reference = normalized(ref_frame)
    variance = _noise_variance_map(ref_frame, reference)
    planes = _plane_slices(ref_frame, reference)
    mergers = [TileMerger(reference[p], variance[p], params.strength) for p in planes]
    for index in others:
        warped, valid = warp_to_reference(burst.frames[index], reference.shape, params.interpolation)
        inside = per_pixel(valid, reference)
        # Outside the frame's view the reference stands in: D = 0 there.
        gain = overlap_ratio(reference, warped, valid)
        filled = warped * gain * inside + reference * (1 - inside)
        for merger, plane in zip(mergers, planes):
            merger.add(filled[plane])
    merged = np.empty_like(reference)
    for merger, plane in zip(mergers, planes):
        merged[plane] = merger.result()
    agreement = {index: round(float(np.mean([m.agreement[k] for m in mergers])), 4)
                 for k, index in enumerate(others)}
    return _result(burst, np.clip(merged, 0.0, None), "merge.wiener",
                   {"agreement": agreement, "strength": params.strength})


def _plane_slices(frame: Frame, values: np.ndarray) -> list[tuple]:
    """Index tuples selecting each colour plane: a mosaic's four 2x2 sites, an RGB image's
    channels, or the whole of a grey image."""
    if frame.layout == "cfa":
        return [np.s_[dy::2, dx::2] for dy in (0, 1) for dx in (0, 1)]
    if values.ndim == 3:
        return [np.s_[..., c] for c in range(values.shape[2])]
    return [(Ellipsis,)]


@dataclasses.dataclass(frozen=True)
class FourierParams:
    power: float = param(4.0, "p of the weights |F_k|^p: 0 is the plain mean, large values "
                              "take each frequency from the frame that kept it best (11 as "
                              "published)", low=0)
    smoothing: float = param(0.05, "Gaussian smoothing of the power spectra, as a fraction "
                                   "of the transform's side (steadies the weights; 0: none)",
                             low=0, high=1)
    tile: int = param(64, "side of the overlapping tiles accumulated one by one (blur and "
                          "noise vary across a frame; rounded up to an even side of at least "
                          "8); 0: the whole image, as published", low=0, high=4096)
    noise_aware: bool = param(True, "take each frame's expected noise power out of its "
                                    "spectrum before weighing, so frequencies that hold only "
                                    "noise are averaged over every frame (off: as published)")
    spatial: float = param(1.0, "then take out, spatially, the noise the accumulation left "
                                "(each pixel's single-frame noise times the share its "
                                "weights leave), as a multiple of it; 0: off (RAW mosaics: "
                                "always off)", low=0)
    deghost: float = param(1.5, "fade a frame towards the reference where they differ by more "
                                "than this many times what noise explains (merge.robust's "
                                "threshold: what moved, and on a clean burst what shake "
                                "smeared past the reference's sharpness); 0: off, as "
                                "published", low=0)
    interpolation: Interpolation = param("cubic", INTERPOLATION_HELP)


#: The neighbourhood (luminance-proxy pixels) ``deghost`` compares, as merge.robust's.
DEGHOST_WINDOW = 9


@stage("deblur.fourier", FourierParams, needs=MERGE_NEEDS, provides=("image",))
def deblur_fourier(burst: Burst, params: FourierParams) -> Burst:
    """Burst deblurring without a network: Fourier burst accumulation (Delbracio & Sapiro),
    tiled and noise-aware (:mod:`.fourier`).

    Hand shake blurs each frame in a different direction, so each frequency survives best in
    some frame. The registered frames (a RAW mosaic's four sites as four planes) are Fourier
    transformed tile by tile and, frequency by frequency, averaged with weights that favour
    the frames that kept that frequency; frequencies holding only noise are averaged over all
    frames, so noise still averages down. Before that, where a frame differs from the
    reference by more than noise explains (``deghost``, merge.robust's test) the reference
    stands in for it: what moved is not smeared, and on a clean burst a sharp reference is
    not blurred by shakier frames. After it, the noise the weights left (known per pixel) is
    shrunk spatially (``spatial``, as merge.robust does; it counts the frames' noise as
    independent, so where the reference stood in for a frame a little is left; on a burst of
    one frame it is a spatial denoiser, as merge.robust is). RAW frames are best developed
    first (``develop.frames``): a mosaic's colour planes alias, and aliasing differs from
    frame to frame. ``tile: 0, power: 11, smoothing: 0.02, noise_aware: false, deghost: 0,
    spatial: 0`` is close to the method as published (it smooths the power spectrum, not the
    magnitudes, over 2 % of the longer side, not of the shorter).
    """
    ref_index, others = _registered(burst)
    ref_frame = burst.frames[ref_index]
    reference = normalized(ref_frame)
    noise = proxy_noise(ref_frame, reference) if params.deghost > 0 else None
    first = _as_planes(ref_frame, reference)
    planes = np.empty((1 + len(others), *first.shape), np.float32)  # k x C x H x W
    planes[0] = first
    for slot, index in enumerate(others, start=1):
        warped, valid = warp_to_reference(burst.frames[index], reference.shape, params.interpolation)
        warped *= overlap_ratio(reference, warped, valid)
        inside = per_pixel(valid, reference)
        if noise is not None:  # merge.robust's test: what moved, what shake smeared
            agree, _ = agreement_weight(ref_frame, reference, warped, valid, noise,
                                        params.deghost, DEGHOST_WINDOW, MERGE_BOUNDS)
            inside = inside * per_pixel(agree, reference)
        planes[slot] = _as_planes(ref_frame, warped * inside + reference * (1 - inside))
    variance = sample_noise(ref_frame, reference)
    how = Accumulation(params.power, params.smoothing, params.tile, params.noise_aware)
    accumulated, left = accumulate(planes, _as_planes(ref_frame, variance).mean(axis=0), how)
    del planes
    merged = _from_planes(ref_frame, accumulated, reference)
    if params.spatial > 0 and ref_frame.layout != "cfa":  # a mosaic's colours interleave
        merged = shrink_residual_noise(merged, variance * per_pixel(left, merged),
                                       params.spatial)
    return _result(burst, np.clip(merged, 0.0, None), "deblur.fourier",
                   {"frames": [ref_index, *others], "power": params.power,
                    "tile": params.tile, "noise_aware": params.noise_aware})


def _as_planes(frame: Frame, values: np.ndarray) -> np.ndarray:
    """Colour planes first (C x H x W): a mosaic's four sites (over its whole 2 x 2 cells: an
    odd last row or column is left out), an image's channels."""
    if frame.layout == "cfa":
        cells = values[:values.shape[0] // 2 * 2, :values.shape[1] // 2 * 2]
        return np.stack([cells[s] for s in _plane_slices(frame, cells)])
    return values.transpose(2, 0, 1) if values.ndim == 3 else values[None]


def _from_planes(frame: Frame, planes: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_as_planes`, shaped like ``like`` (a mosaic's odd last row or
    column is taken from ``like``)."""
    if frame.layout == "cfa":
        out = like.copy()
        cells = out[:like.shape[0] // 2 * 2, :like.shape[1] // 2 * 2]
        for plane, site in zip(planes, _plane_slices(frame, cells)):
            cells[site] = plane
        return out
    return np.ascontiguousarray(planes.transpose(1, 2, 0) if like.ndim == 3 else planes[0])


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The fusion stages."""
    for spec in (merge_mean, merge_sequential, merge_robust, merge_kernel, merge_wiener,
                 deblur_fourier):
        register(spec)
