"""001's exposure policy (claims 5-7): which frames to fuse with the deblurred reference.

A camera may add a second capture after the regular burst, at a longer exposure time (more
light per frame, so less noise, but more shake). 001 fuses the first deblurred image with
frames of the regular capture around it when it is sharp enough (a blur degree under a second
threshold), and with the longer-exposed frames of the additional capture when it is still too
blurry. In a batch tool the capture is over: the frames' EXIF exposure and capture times say
which part of the burst each belongs to.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt

import numpy as np

from burstcli import Burst, Frame, param, stage
from burstcli.errors import StageError
from burstlib.arrays import grey_proxy, in_linear_light, normalized
from burstlib.colour import srgb_encode
from burstlib.noise import noise_variance_estimate
from burstlib.spectrum import picture_sharpness


@dataclasses.dataclass(frozen=True)
class ExposureParams:
    threshold: float = param(
        0.05, "the deblurred reference is still too blurry below this sharpness (001 eq. 1: "
              "high- over low-band Fourier amplitude of its luminance proxy, noise removed; "
              "sharp photographs measure 0.06-0.11, a 4 px shake about 0.05)", above=0)
    long_ratio: float = param(1.5, "a frame taken after the reference with at least this many "
                                   "times its exposure time belongs to the additional, longer "
                                   "capture", above=1)
    neighbours: int = param(0, "regular branch: at most this many regular frames, the nearest "
                               "in capture time (0: all of them)", low=0)
    noisy: float = param(
        0.025, "a sharp reference this noisy (noise std of its luminance proxy, sRGB-encoded, "
               "0-1) is fused with the longer-exposed capture as well: the robust merge takes "
               "their cleaner flat areas and leaves their smeared edges", above=0)


@dataclasses.dataclass(frozen=True)
class Parts:
    """The active frames other than the reference, by capture."""

    regular: list[int]
    additional: list[int]
    unknown: list[int]  # no exposure time in their EXIF


def split_capture(burst: Burst, ratio: float) -> Parts:
    """Regular frames (about the reference's exposure time) and the additional capture
    (taken after the reference, exposed ``ratio`` times longer or more)."""
    reference = burst.reference_frame
    base = reference.exif.exposure_time
    regular, additional, unknown = [], [], []
    for index in burst.active_indices:
        if index == burst.reference:
            continue
        time = burst.frames[index].exif.exposure_time
        if base is None or time is None:
            unknown.append(index)
        elif time >= ratio * base and _later(burst.frames[index], reference):
            additional.append(index)
        elif time < ratio * base:
            regular.append(index)
        else:  # a long exposure before the shutter: neither part 001 describes
            unknown.append(index)
    return Parts(regular, additional, unknown)


def _later(frame: Frame, reference: Frame) -> bool:
    taken, shutter = frame.exif.capture_time, reference.exif.capture_time
    return taken is None or shutter is None or taken > shutter


def nearest(burst: Burst, indices: list[int], count: int) -> list[int]:
    """Up to ``count`` of ``indices`` nearest the reference in capture time (else in index)."""
    if count <= 0 or len(indices) <= count:
        return indices
    shutter = burst.reference_frame.exif.capture_time

    def distance(index: int) -> float:
        taken = burst.frames[index].exif.capture_time
        if isinstance(taken, _dt.datetime) and isinstance(shutter, _dt.datetime):
            return abs((taken - shutter).total_seconds())
        return float(abs(index - (burst.reference or 0)))

    return sorted(sorted(indices, key=distance)[:count])


def reference_measures(frame: Frame, linear: bool = False) -> tuple[float, float]:
    """001 eq. 1 on the frame as it is now (the first deblurred image after deblur.network),
    and its noise std, both measured from the image (a deblurred frame's noise is no longer
    the file's); ``linear`` frames are measured sRGB-encoded, as the thresholds were set."""
    if linear:
        frame = frame.replace(pixels=srgb_encode(normalized(frame)))
    grey = grey_proxy(frame)
    variance = noise_variance_estimate(grey)  # measured once: eq. 1 takes it out too
    return picture_sharpness(grey, variance), float(np.sqrt(variance))


@stage("select.exposure", ExposureParams, needs=("reference",), provides=())
def select_exposure(burst: Burst, params: ExposureParams) -> Burst:
    """The exposure policy of 001 (claims 5-7): fuse the deblurred reference with the regular
    frames around it, or, when it is still too blurry, with the longer-exposed frames captured
    after it.

    Put it after ``deblur.network`` (the first deblurred image) and before registration. The
    frames' EXIF exposure time sorts them: those exposed ``long_ratio`` times longer than the
    reference and taken after it are the additional capture, the others the regular one. When
    the reference's blur degree (001 eq. 1, as ``score.frequency`` measures it) is under
    ``threshold`` and there is an additional capture, its frames are fused; otherwise the
    regular frames (the ``neighbours`` nearest in capture time, or all). Beyond 001: a sharp
    reference whose noise is above ``noisy`` is fused with both parts (branch ``both``), since
    at that noise the longer frames' cleaner flat areas outweigh what their blur costs where
    the merge accepts them. Frames without an exposure time go with the regular ones.
    ``notes["select.exposure"]`` says which branch was taken and why.
    """
    if burst.reference is None:
        raise StageError("select.exposure: no reference frame; put `select` before it")
    parts = split_capture(burst, params.long_ratio)
    sharpness, noise = reference_measures(burst.reference_frame, in_linear_light(burst))
    blurry = sharpness < params.threshold
    regular = nearest(burst, parts.regular + parts.unknown, params.neighbours)
    if blurry and parts.additional:
        branch, chosen = "additional", parts.additional
        why = (f"the deblurred reference measures {sharpness:.4f} < {params.threshold}: still "
               f"blurry, so the {len(chosen)} longer-exposed frame(s) captured after it")
    elif noise > params.noisy and parts.additional:
        branch, chosen = "both", regular + parts.additional
        why = (f"the deblurred reference measures {sharpness:.4f} >= {params.threshold} but "
               f"its noise {noise:.4f} > {params.noisy}: the {len(regular)} regular and the "
               f"{len(parts.additional)} longer-exposed frame(s)")
    else:
        branch, chosen = "regular", regular
        why = (f"the deblurred reference measures {sharpness:.4f} "
               f"{'<' if blurry else '>='} {params.threshold}"
               + ("" if not blurry else ", but there is no longer-exposed capture after it")
               + f": the {len(chosen)} regular frame(s) around it")
    selected = tuple(sorted({burst.reference, *chosen}))
    return burst.replace(selected=selected).with_note("select.exposure", {
        "branch": branch, "why": why, "sharpness": round(sharpness, 5),
        "noise": round(noise, 5), "noisy": params.noisy,
        "threshold": params.threshold, "regular": parts.regular,
        "additional": parts.additional, "no_exposure_time": parts.unknown,
        "selected": list(selected)})
