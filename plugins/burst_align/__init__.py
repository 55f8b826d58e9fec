"""Registration stages: every frame's transform to the reference frame (001 claim 9, 000 [0041])."""

from __future__ import annotations

import dataclasses

import numpy as np

from burstcli import Burst, Frame, hookimpl, param, stage
from burst_decode.arrays import grey_proxy

from .register import register

#: A mosaic's proxy pixel u covers sensor pixels 2u and 2u + 1: its centre is at 2u + 0.5.
PROXY_TO_SENSOR = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])


def to_frame_pixels(homography: np.ndarray, frame: Frame) -> np.ndarray:
    """A homography between luminance proxies, expressed in the frames' own pixels."""
    if frame.layout != "cfa":
        return homography
    return PROXY_TO_SENSOR @ homography @ np.linalg.inv(PROXY_TO_SENSOR)


@dataclasses.dataclass(frozen=True)
class AlignParams:
    min_correlation: float = param(
        0.5, "leave a frame out of the merge when ECC's correlation with the reference is "
             "below this (the frame could not be registered)")


@stage("align.global", AlignParams)
def align_global(burst: Burst, params: AlignParams) -> Burst:
    """Register every frame to the reference: a homography, refined to sub-pixel accuracy.

    On the luminance proxy (a RAW mosaic's 2x2 cells: half resolution, colour-phase free;
    an RGB frame's channel mean): SIFT features on a copy at most 1024 px wide, matched with
    Lowe's ratio test, give a MAGSAC homography for the gross motion; ECC maximisation then
    refines it coarse to fine over a pyramid (1/4, 1/2, 1), which is what makes it sub-pixel
    and insensitive to exposure differences. Where blobs still disagree with the reference
    afterwards (a person, a car), ECC runs once more with them masked out, so that what moves
    does not pull the fit of the scene. Each frame gets ``transform`` (3x3, frame pixel
    -> reference pixel, x = column; identity for the reference) and the sidecar gets the
    correlation per frame. Frames below ``min_correlation`` leave the selection.
    """
    ref_index = burst.reference if burst.reference is not None else 0
    ref_grey = grey_proxy(burst.frames[ref_index])
    frames, quality, dropped = list(burst.frames), {}, []
    for index in burst.active_indices:
        frame = burst.frames[index]
        if index == ref_index:
            frames[index] = frame.replace(transform=np.eye(3))
            quality[index] = 1.0
            continue
        found = register(ref_grey, grey_proxy(frame))
        frames[index] = frame.replace(transform=to_frame_pixels(found.homography, frame))
        quality[index] = round(found.correlation, 5)
        if found.correlation < params.min_correlation:
            dropped.append(index)
    selected = tuple(i for i in burst.active_indices if i not in dropped)
    out = burst.with_frames(frames).replace(selected=selected, reference=ref_index)
    for index in dropped:
        out = out.with_warning(f"{burst.frames[index].path}: could not be registered "
                               f"(correlation {quality[index]:.2f}); left out of the merge")
    return out.with_note("align.global", {"correlation": quality, "dropped": dropped})


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The registration stages."""
    register(align_global)
