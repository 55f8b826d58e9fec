"""Registration stages: every frame's transform to the reference frame (001 claim 9, 000 [0041])."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from burstcli import Burst, Frame, hookimpl, param, stage
from burstcli.profiling import frame_timer
from burstlib.arrays import grey_proxy
from burstlib.exposure import PROXY_TO_SENSOR
from burstlib.registration.register import prepare, register
from burstlib.warps import to_frame_pixels

REASONS_SHOWN = 5  # a warning names the reason of each dropped frame up to this many frames


@dataclasses.dataclass(frozen=True)
class AlignParams:
    min_correlation: float = param(
        0.5, "leave a frame out of the merge when its correlation with the reference, once "
             "registered, is below this (the frame could not be registered; 0: only the "
             "other checks leave frames out)", low=0.0, high=1.0)


# Without a selection stage the first frame is the reference, and it is set: a merge can
# follow align.global directly.
@stage("align.global", AlignParams, needs=("pixels",), provides=("registered", "reference"))
def align_global(burst: Burst, params: AlignParams) -> Burst:
    """Register every frame to the reference, sub-pixel, robust to moving objects, verified.

    Works on the luminance proxy (a RAW mosaic's 2x2 cells: half resolution, colour-phase
    free; an RGB frame's channel mean). Starting points, on a copy at most 160 px large: the
    translations most tiles of a grid agree on (each tile phase-correlates and votes once,
    so the scene outvotes a textured moving object), the peaks of a whole-frame phase
    correlation, the identity and, only when none of these explains the frame but for a
    moving object's blobs (a large rotation, a zoom), a SIFT + MAGSAC homography from
    matches thinned over a grid; the one that leaves the least of the frame unexplained
    wins. Then robust Gauss-Newton, coarse to fine on lightly smoothed levels (Tukey
    weights per brightness band: what moves gets weight 0; exposure gain and offset
    fitted; Lanczos sampling), on the frame's pixels off the moving objects. The motion
    model is chosen by the data on frames up to about 300 x 300 proxy pixels: translation,
    Euclidean, affine or homography, whichever has the least expected error (a
    homography's 8 parameters on a 48 px window fit noise); larger frames take the
    homography. Each frame gets ``transform`` (3x3, frame pixel ->
    reference pixel, x = column; identity for the reference).

    A frame whose fit cannot be trusted leaves the selection: a transform no hand-held burst
    makes (scale far from 1, shear, strong perspective, little overlap, non-finite), a fit
    that explains less than half of the frame, one whose own noise could put it more than
    0.4 px off, one its tiles' residual shifts disagree with, or a correlation (over the
    pixels the fit keeps) below ``min_correlation``. The burst gets one warning naming them
    all; the sidecar gets each frame's correlation and model, and the dropped frames with
    the reasons.
    """
    ref_index = burst.reference if burst.reference is not None else 0
    timer = frame_timer()
    with timer.time(burst.frames[ref_index]):
        reference = prepare(grey_proxy(burst.frames[ref_index]))
    frames, quality, models, reasons = list(burst.frames), {}, {}, {}
    for index in burst.active_indices:
        frame = burst.frames[index]
        if index == ref_index:
            frames[index] = frame.replace(transform=np.eye(3))
            quality[index], models[index] = 1.0, "identity"
            continue
        with timer.time(frame):
            found = register(reference, grey_proxy(frame))
        frames[index] = frame.replace(transform=to_frame_pixels(found.homography, frame))
        quality[index], models[index] = round(found.correlation, 5), found.model
        if not found.trusted:
            reasons[index] = found.reason
        elif found.correlation < params.min_correlation:
            reasons[index] = f"correlation {found.correlation:.2f}"
    dropped = sorted(reasons)
    selected = tuple(i for i in burst.active_indices if i not in reasons)
    out = burst.with_frames(frames).replace(selected=selected, reference=ref_index)
    if dropped:
        out = out.with_warning(_dropped_warning(burst, dropped, reasons))
    return out.with_note("align.global", {"correlation": quality, "model": models,
                                          "dropped": dropped,
                                          "reasons": {i: reasons[i] for i in dropped}})


def _dropped_warning(burst: Burst, dropped: list[int], reasons: dict[int, str]) -> str:
    """One line for the burst however many frames were dropped (a 200-frame burst once got
    63 lines): the count and the names, with the reasons while there are few."""
    if len(dropped) <= REASONS_SHOWN:
        names = ", ".join(f"{burst.frames[i].path.name} ({reasons[i]})" for i in dropped)
    else:
        names = ", ".join(burst.frames[i].path.name for i in dropped) + " (reasons in the sidecar)"
    return (f"{burst.name}: {len(dropped)} of {len(burst.active_indices)} frames could not be "
            f"registered and were left out of the merge: {names}")


@dataclasses.dataclass(frozen=True)
class LocalParams:
    smoothness: float = param(
        6.0, "Gaussian radius (luminance-proxy pixels) over which the local flow is pooled: "
             "larger is steadier against noise, smaller follows finer motion", above=0)
    min_gain: float = param(
        0.5, "keep the local flow only where it lowers the local residual by this fraction "
             "(protects places the global transform already fits)", low=0.0, below=1.0)


# Frames without a transform start from the identity, so align.local alone registers them
# (a tripod burst); it does not choose a reference.
@stage("align.local", LocalParams, needs=("pixels",), provides=("registered",))
def align_local(burst: Burst, params: LocalParams) -> Burst:
    """Refine the global registration locally: a smooth dense flow on top of each homography.

    Runs after ``align.global`` (frames without a transform start from the identity). On the
    luminance proxies, each frame warped by its homography is compared with the reference by
    DIS optical flow; the flow is pooled over textured neighbourhoods (noise) and kept only
    where it clearly lowers the residual, so parallax, lens distortion and small motion are
    followed while a static scene keeps its global fit untouched. Each frame gets ``flow``
    (reference pixels, see :class:`burstcli.Frame`); merges that resample frames use it. The
    sidecar gets, per frame, the mean and largest flow length and the share of the frame it
    moved by more than a quarter pixel.
    """
    from .local import residual_flow

    ref_index = burst.reference if burst.reference is not None else 0
    ref_frame = burst.frames[ref_index]
    ref_grey = grey_proxy(ref_frame)
    frames, stats, timer = list(burst.frames), {}, frame_timer()
    for index in burst.active_indices:
        if index == ref_index:
            continue
        frame = burst.frames[index]
        transform = frame.transform if frame.transform is not None else np.eye(3)
        homography = _to_proxy_pixels(transform, frame)
        with timer.time(frame):
            warped = _warp_proxy(grey_proxy(frame), homography, ref_grey)
            valid = cv2.warpPerspective(np.ones_like(warped), homography, warped.shape[::-1],
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            valid = cv2.erode(valid, np.ones((5, 5), np.uint8))  # BORDER_REPLICATE's rim too
            flow = residual_flow(ref_grey, warped, valid, smoothness=params.smoothness,
                                 min_gain=params.min_gain)
        if frame.layout == "cfa":
            flow = flow * 2.0  # proxy pixels are two sensor pixels wide
        frames[index] = frame.replace(transform=transform, flow=flow)
        length = np.hypot(flow[..., 0], flow[..., 1])
        stats[index] = {"mean_px": round(float(length.mean()), 4),
                        "max_px": round(float(length.max()), 3),
                        "moved_share": round(float((length > 0.25).mean()), 4)}
    return burst.with_frames(frames).with_note("align.local", {"flow": stats})


def _to_proxy_pixels(transform: np.ndarray, frame: Frame) -> np.ndarray:
    if frame.layout != "cfa":
        return transform
    return np.linalg.inv(PROXY_TO_SENSOR) @ transform @ PROXY_TO_SENSOR


def _warp_proxy(grey: np.ndarray, homography: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The frame's proxy on the reference proxy's grid, at the reference's exposure level
    (optical flow assumes constant brightness; bursts jitter by 10 %)."""
    warped = cv2.warpPerspective(grey, homography, (reference.shape[1], reference.shape[0]),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped * (float(reference.mean()) / max(float(warped.mean()), 1e-9))


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The registration stages."""
    register(align_global)
    register(align_local)
