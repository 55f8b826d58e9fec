"""A one-off local plugin used by the core tests (loaded with --plugins-dir).

Frames are .npy files; the stages are deliberately trivial so the tests exercise the core
(collection, presets, the runner, writers) and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from burstcli import Burst, hookimpl, param, stage
from burstcli.errors import BadFileError


@dataclasses.dataclass(frozen=True)
class LoadParams:
    sleep: float = param(0.0, "seconds to wait per frame (to test interrupts)")


@stage("npy.load", LoadParams)
def load(burst: Burst, params: LoadParams) -> Burst:
    """Load .npy frames; a file that is not a valid .npy array is dropped with a warning."""
    frames, out = [], burst
    for frame in burst.frames:
        time.sleep(params.sleep)
        if os.environ.get("NPY_INTERRUPT_ON") == frame.path.name:
            raise KeyboardInterrupt
        try:
            frames.append(frame.replace(pixels=np.load(frame.path), layout="gray"))
        except (ValueError, OSError, EOFError) as exc:
            out = out.with_warning(f"{frame.path}: not a .npy array ({exc.__class__.__name__})")
    if not frames:
        raise BadFileError(burst.frames[0].path, "no readable frame")
    return out.with_frames(frames)


@dataclasses.dataclass(frozen=True)
class PickParams:
    brightest: bool = param(True, "pick the brightest frame (else the darkest)")
    gain: float = param(1.0, "unused: a float parameter for preset tests")
    mode: str = param("a", "unused: a string parameter for preset tests")


@stage("npy.pick", PickParams)
def pick(burst: Burst, params: PickParams) -> Burst:
    """Reference = the brightest frame; the mean is stored as the score."""
    frames = [f.with_score("mean", float(np.mean(f.pixels))) for f in burst.frames]
    means = [f.scores["mean"] for f in frames]
    index = int(np.argmax(means) if params.brightest else np.argmin(means))
    return burst.with_frames(frames).replace(reference=index)


@dataclasses.dataclass(frozen=True)
class SpoilParams:
    value: str = param("nan", "what the image becomes: nan, flat or empty")


@stage("npy.spoil", SpoilParams)
def spoil(burst: Burst, params: SpoilParams) -> Burst:
    """A buggy stage: the reference as the image, spoilt (the runner must refuse to write it)."""
    image = burst.reference_frame.pixels.astype(np.float32)
    if params.value == "nan":
        image[0, 0] = np.nan
    elif params.value == "flat":
        image[:] = 0.0
    else:
        image = image[:0]
    return burst.replace(image=image, image_layout="gray")


@hookimpl
def register_stages(register):
    register(load)
    register(pick)
    register(spoil)


@hookimpl
def burst_image_extensions():
    return [".npy"]


@hookimpl
def register_presets(register):
    register(Path(__file__).with_name("npy_presets"))
