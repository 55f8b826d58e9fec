"""Zoom stages: multi-frame super-resolution of a registered burst."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Literal

import numpy as np

from burstcli import Burst, hookimpl, param, stage
from burstcli.errors import StageError
from burstcli.models import ModelCard
from burstcli.registry import find_model
from burstlib.exposure import exposure_gain
from burstlib.arrays import normalized, pixels_of

from .classical import (Grid, SensorModel, back_project, back_project_validated, bicubic_start,
                        hold_out, kernel_start)
from .features import crop_to_window, window_cut
from .field import NOTE, burst_window, cut_box, in_decoded_frame, window
from .motion import MOTION_THRESHOLD, motion_weights

__all__ = ["window", "zoom_classical", "zoom_network", "zoom_window"]


MAX_SCALE = 16  # beyond any detail a burst holds; a full-frame x16 is gigabytes per burst
#: The shipped models' folder (network.MODELS; named here so that validating a preset does
#: not import the network runtime).
SHIPPED_MODELS = Path(__file__).parent / "models"


def check_field(value: str) -> str | None:
    """full, center, or x,y,w,h in the decoded frames' pixels"""
    if value in ("full", "center"):
        return None
    try:
        x, y, w, h = (float(v) for v in value.split(","))
    except ValueError:
        return f"{value!r} is not full, center or x,y,w,h (e.g. 100,80,640,480)"
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return f"{value!r}: x, y, w and h must be numbers (pixels)"
    if x < 0 or y < 0 or w < 1 or h < 1:
        return f"{value!r}: x and y must be >= 0, w and h >= 1"
    return None  # whether it fits the frames is known once they are decoded


def model_path(name_or_path: str) -> Path:
    """The ``.tflite`` file a ``model`` value names, as :func:`.network.load_model` finds it."""
    if "/" not in name_or_path and not name_or_path.endswith(".tflite"):
        return SHIPPED_MODELS / f"zoom_{name_or_path}.tflite"
    return Path(name_or_path)


def shipped_models() -> list[str]:
    """The shipped models' names (x2, x4; not their single-frame fallbacks)."""
    return sorted(p.stem.removeprefix("zoom_") for p in SHIPPED_MODELS.glob("zoom_*.tflite")
                  if p.with_suffix(".json").is_file() and not p.stem.endswith("_single"))


@dataclasses.dataclass(frozen=True)
class ClassicalParams:
    scale: int = param(2, "output pixels per input pixel along each axis", low=1,
                       high=MAX_SCALE)
    field: str = param(
        "full", "what to enlarge: 'full' (the whole frame, output scale x the input size), "
                "'center' (the central 1/scale of the field of view: a digital zoom back to "
                "about the input's pixel count) or 'x,y,w,h' in reference pixels",
        check=check_field)
    iterations: int = param(40, "the most back-projection iterations (0: the "
                                "kernel-regression start); fewer when validation says so", low=0)
    validation: float = param(0.125, "share of every frame's pixels held out of the updates "
                                     "to decide when to stop: the estimate that predicts them "
                                     "best is kept, so noisy bursts stop before their noise is "
                                     "amplified and clean ones converge; 0: run every iteration",
                              low=0, below=1)
    # The correction is normalised per pixel (classical._iteration): 1 applies it in full,
    # 2 and more overshoot by at least the error itself and never settle.
    step: float = param(1.0, "back-projection step (1: a full correction per iteration)",
                        above=0, below=2)
    sigma: float = param(0.7, "kernel-regression start: Gaussian radius in output pixels "
                              "per unit of scale", above=0, high=4)
    robust: float = param(MOTION_THRESHOLD, "leave a frame out where it differs from the "
                                            "reference by more than this many times what "
                                            "noise explains (what moved comes from the "
                                            "reference alone); 0: off", low=0)
    start: Literal["best", "kernel", "bicubic"] = param(
        "best", "where back-projection starts: the kernel regression of all frames (smooth, "
                "denoised: wins on noisy bursts and flat scenes), the bicubic enlargement of the "
                "reference (sharper where the frames leave the fine grid undetermined: wins on "
                "clean bursts), or both, keeping the one that predicts the held-out pixels "
                "better (twice the time)")


#: What the zoom stages read (they raise a StageError naming select and align.* without).
ZOOM_NEEDS = ("registered", "reference")


@stage("zoom.classical", ClassicalParams, needs=ZOOM_NEEDS, provides=("image",))
def zoom_classical(burst: Burst, params: ClassicalParams) -> Burst:
    """Classical multi-frame super-resolution: no model file, any integer scale.

    The registered frames' samples (a RAW mosaic's colour by colour: the result is
    demosaicked, layout ``linear_raw``) are merged onto the finer grid by kernel regression
    (or the reference is enlarged bicubically: ``start``), then refined by iterative
    back-projection through a sensor model (each pixel the mean of a scale x scale box of the
    scene where its transform puts it). What moved comes from the reference alone: each
    frame is weighed, pixel by pixel, by its agreement with the reference (the two blurred,
    so that aliasing is not taken for motion, and compared with what noise and a quarter
    pixel of misregistration explain; see :func:`burstlib.agreement.agreement_in_frames`). It
    decides itself when to stop: a share of every frame's pixels is held out of the updates,
    the estimate that predicts them best decides the start and the iterations, and those are
    then run again with every pixel; so a clean burst is iterated to convergence and a noisy
    one stops before its noise is amplified (no noise estimate needed). A burst of one frame
    works too (single-frame back-projection). ``field`` picks the whole frame or a digital
    zoom.
    """
    if burst.reference is None:
        raise StageError("zoom: no reference frame; put `select` before the zoom")
    ref_index = burst.reference
    indices = [ref_index, *(i for i in burst.active_indices if i != ref_index)]
    frames = [burst.frames[i] for i in indices]
    if any(f.transform is None for f in frames[1:]):
        raise StageError("zoom: frames are not registered; put an `align.*` stage first")
    reference = normalized(frames[0])
    height, width = reference.shape[:2]
    x, y, w, h = burst_window(burst, params.field, params.scale, height, width)
    grid = Grid(params.scale, (x, y), (h, w))
    gains = [1.0, *(exposure_gain(frames[0], f) for f in frames[1:])]
    weights = motion_weights(frames, params.robust) if params.robust > 0 and len(frames) > 1 \
        else [None] * len(frames)
    cuts = [window_cut(f, (x, y), (h, w)) for f in frames]  # a zoom needs a part only
    frames = [crop_to_window(f, (x, y), (h, w)) for f in frames]
    agreement = [None if a is None else a[cut] for a, cut in zip(weights, cuts)]
    models = [SensorModel(f, grid, g, a) for f, g, a in zip(frames, gains, agreement)]

    grey = frames[0].layout != "cfa" and reference.ndim == 2
    starts: dict[str, np.ndarray] = {}

    def start_from(name: str) -> np.ndarray:
        if name not in starts and name == "bicubic":
            starts[name] = bicubic_start(frames[0], grid, 1 if grey else 3)
        elif name not in starts:
            start = kernel_start(frames, gains, grid, params.sigma * params.scale,
                                 np.full((*grid.shape, 3), float(reference.mean()), np.float32),
                                 agreement)
            starts[name] = start.mean(axis=2, keepdims=True) if grey else start
        return starts[name]

    # Validation chooses the start and the iterations on part of the pixels ...
    # The starts see every pixel, the held-out ones included, so the held-out error favours
    # stopping early a little: measured, that errs on the safe side (held-out pixels kept out
    # of the starts and the reference let 17-31 iterations through on clean flat and JPEG
    # bursts, whose fine grid they blurred and rang: -2 to -6 dB).
    hold_out(models, params.validation, reference=True)
    runs = {name: back_project_validated(models, start_from(name), params.iterations,
                                         params.step, params.validation)
            for name in ((params.start,) if params.start != "best" else ("kernel", "bicubic"))}
    chosen = min(runs, key=lambda name: runs[name][2])  # the better prediction of held-out pixels
    image, iterations, _ = runs[chosen]
    if params.validation > 0:  # ... and the choice is then made again with every pixel
        image = back_project(models, start_from(chosen), iterations, params.step)
    image = np.clip(image, 0.0, None)
    layout = frames[0].layout or "rgb"
    if layout == "cfa":
        layout = "linear_raw"
    elif image.shape[2] == 1:
        image = image[..., 0]
    return burst.replace(image=image.astype(np.float32), image_layout=layout).with_note(
        "zoom.classical", {"scale": params.scale, "window": in_decoded_frame(burst, x, y, w, h),
                           "frames": indices, "iterations": iterations, "start": chosen})


@dataclasses.dataclass(frozen=True)
class NetworkParams:
    model: str = param("x4", "a shipped model (x2, x4) or the path of a .tflite made by "
                             "`burst export` (its .json card beside it gives the scale)",
                       model_task="zoom")
    field: str = param("full", "as zoom.classical: full, center or x,y,w,h", check=check_field)
    # Tiles overlap by 8 px on each side (runtime.TiledModel): smaller ones keep little.
    tile: int = param(256, "network tile side in input pixels (memory stays bounded)", low=32,
                      high=4096)
    ensemble: int = param(1, "self-ensemble: average the network over 1, 2, 4 or 8 "
                             "orientations of the burst (flips, transposes); slower, finer",
                          choices=(1, 2, 4, 8))
    refine: float = param(0.125, "share of the frames' pixels held out to decide how far to "
                                 "back-project the network's output onto the frames (data "
                                 "consistency: gains at low noise, stops at once at high); "
                                 "0: the network's output as it is", low=0, below=1)


# RAW frames make it fail ("put develop.frames first"); develop.frames leaves RGB frames as
# they are, so asking for it costs a PNG or JPEG burst nothing.
@stage("zoom.network", NetworkParams, needs=(*ZOOM_NEEDS, "developed"), provides=("image",))
def zoom_network(burst: Burst, params: NetworkParams) -> Burst:
    """Learned multi-frame super-resolution (seed 004's folded network, run by LiteRT).

    The registered frames' samples are splatted onto the fine grid and, for models made
    with it, back-projected through the sensor model (the classical estimate; see
    :mod:`burst_zoom.features`); the network, run tile by tile at the input resolution,
    predicts the detail over the bicubic upsampling of the reference from both; each frame's
    samples count by their agreement with the reference, as in ``zoom.classical``, so what
    moved comes from the reference alone. It runs on the
    luminance Y (BT.601) of gamma-encoded frames; the colour (U, V) is bicubic from the
    reference (004 [0141]): YUV frames (``colour.yuv``) give a YUV image, RGB frames an RGB
    one (through the same conversion), grey stays grey. A burst of one frame goes to the
    model's single-image fallback. ``ensemble`` averages the network over flips and
    transposes of the burst. RAW frames must be developed first (``develop.frames``).
    """
    from .network import load_model, run_network

    if burst.reference is None:
        raise StageError("zoom: no reference frame; put `select` before the zoom")
    indices = [burst.reference, *(i for i in burst.active_indices if i != burst.reference)]
    frames = [burst.frames[i] for i in indices]
    if any(f.transform is None for f in frames[1:]):
        raise StageError("zoom: frames are not registered; put an `align.*` stage first")
    if frames[0].layout in ("cfa", "linear_raw"):
        raise StageError("zoom.network works on developed frames; put `develop.frames` first")
    model = load_model(str(find_model(params.model, "zoom").file), params.tile)
    height, width = pixels_of(frames[0]).shape[:2]
    x, y, w, h = burst_window(burst, params.field, model.scale, height, width)
    image, layout, refined = run_network(model, frames, (int(round(x)), int(round(y))), (h, w),
                                         params.ensemble, params.refine)
    return burst.replace(image=image, image_layout=layout).with_note(
        "zoom.network", {"model": model.for_frames(len(frames)).name, "scale": model.scale,
                         "window": in_decoded_frame(burst, x, y, w, h), "frames": indices,
                         "ensemble": params.ensemble, "refinement_iterations": refined})


@dataclasses.dataclass(frozen=True)
class WindowParams:
    scale: int = param(4, "the zoom's scale ('center' is the central 1/scale of the view)",
                       low=1, high=MAX_SCALE)
    field: str = param("center", "what the zoom will enlarge, as the zoom stages' field: "
                                 "center or x,y,w,h in the decoded frames' pixels",
                       check=check_field)
    margin: float = param(0.5, "kept around the window on each side, as a fraction of its "
                               "longer side (64 to 256 px): registration needs context "
                               "(less than 0.5 registers small frames poorly) and room for "
                               "the hand-held drift", low=0)


# It cuts frames that are decoded and not yet registered (nor cut before).
@stage("zoom.window", WindowParams, needs=("pixels",), provides=("window",),
       before=("registered", "window"))
def zoom_window(burst: Burst, params: WindowParams) -> Burst:
    """Cut every frame to the zoom's window plus a margin, before scoring and registration.

    A digital zoom enlarges a part of the view (a 4x zoom: a sixteenth), so the stages
    before it need only that part: sharpness is scored where the user zooms, and
    registration and developing touch a quarter to a third of the frame's pixels. The zoom
    stages after it keep reading ``field`` in the decoded frames' pixels (the cut is noted
    in the sidecar). Mosaics are cut at even offsets (the colour pattern is unchanged).
    Goes right after ``decode``; frames must not be registered yet.
    """
    frames = burst.frames
    if any(f.pixels is None for f in frames):
        raise StageError("zoom.window: frames are not decoded; put `decode` first")
    if any(f.transform is not None for f in frames):
        raise StageError("zoom.window: frames are already registered; put it before align.*")
    if NOTE in burst.notes:
        raise StageError("zoom.window: the frames were cut already")
    height, width = pixels_of(burst.reference_frame).shape[:2]
    left, top, right, bottom = cut_box(params.field, params.scale, height, width, params.margin)
    cut = [f.replace(pixels=pixels_of(f)[top:bottom, left:right]) for f in frames]
    return burst.with_frames(cut).with_note(NOTE, {
        "origin": [left, top], "size": [right - left, bottom - top],
        "frame_size": [width, height]})


@hookimpl
def register_commands(cli) -> None:  # type: ignore[no-untyped-def]
    """Add ``burst bench zoom``, ``burst train zoom`` (``burst train CONFIG`` for a zoom
    config) and ``burst export``."""
    from burstcli.cli.context import shared_group

    from .commands import bench_zoom, export_command, train_command
    shared_group(cli, "bench").add_command(bench_zoom)
    shared_group(cli, "train").add_command(train_command)
    cli.add_command(export_command)


@hookimpl
def register_models(register) -> None:  # type: ignore[no-untyped-def]
    """The shipped zoom networks, by scale (``x2``, ``x4``; each hands bursts of one frame to
    its ``_single`` fallback beside it)."""
    for name in shipped_models():
        register(ModelCard.from_file(name, model_path(name)))


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The zoom stages."""
    register(zoom_window)
    register(zoom_classical)
    register(zoom_network)
