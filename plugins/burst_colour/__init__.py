"""Colour stages: RGB to YUV (BT.601) and back, for stages that work on luma (004 [0141]).

``colour.yuv`` turns every developed frame (and the chain's image, if any) into YUV, layout
``yuv``: channel 0 is Y, 1 and 2 are U and V (see :mod:`burstlib.colour`). Frames held as
integer codes (what ``decode`` and ``develop.frames`` give) stay 16-bit codes, in a
temporary file if they were in one (:mod:`burstlib.spill`): ten 48 MP frames' YUV would
otherwise be 5.8 GB of float32; float frames stay float32. A stage that
understands ``yuv`` (``zoom.network``) then enlarges Y with its network and U, V by bicubic
interpolation; ``colour.rgb`` turns the result back. Grey frames have no colour and stay as
they are. A ``yuv`` product cannot be written: end such a pipeline with ``colour.rgb``.
"""

from __future__ import annotations

import numpy as np

from burstcli import Burst, Frame, NoParams, hookimpl, stage
from burstcli.errors import StageError
from burstlib.arrays import normalized
from burstlib.colour import (rgb_to_yuv, rgb_to_yuv_codes, upsample_chroma, yuv_codes_to_rgb,
                             yuv_to_rgb)
from burstlib.spill import kept_like

__all__ = ["colour_rgb", "colour_yuv", "rgb_to_yuv", "upsample_chroma", "yuv_to_rgb"]


def _check_developed(layout: str | None, what: str) -> None:
    if layout in ("cfa", "linear_raw"):
        raise StageError(f"colour: {what} is RAW; put `develop.frames` (or `develop`) first")


def _frame_to_yuv(frame: Frame) -> Frame:
    _check_developed(frame.layout, str(frame.path))
    if frame.pixels is None or (frame.layout or "rgb") != "rgb":
        return frame  # not decoded, grey, or already YUV
    if frame.pixels.dtype not in (np.uint8, np.uint16):  # (other integers: through float)
        return frame.replace(pixels=rgb_to_yuv(normalized(frame)), layout="yuv")
    return frame.replace(pixels=kept_like(frame.pixels, rgb_to_yuv_codes(frame.pixels)),
                         layout="yuv")


# RAW frames make colour.yuv fail; develop.frames leaves RGB frames as they are, so asking
# for it costs a PNG or JPEG burst nothing and catches a RAW burst before decoding.
@stage("colour.yuv", needs=("developed",), provides=())
def colour_yuv(burst: Burst, params: NoParams) -> Burst:
    """RGB frames (and the chain's RGB image) to YUV, BT.601 full range: 16-bit codes for
    frames held as integer codes (in a temporary file if they were in one), float32 for
    float frames and the chain's image.

    Y carries the detail a luma network enlarges; U and V the colour, which only needs
    interpolating. Frames must be developed (``develop.frames``); grey frames pass as they
    are. Follow with a stage that works on ``yuv`` and end with ``colour.rgb``."""
    frames = [_frame_to_yuv(f) if i in burst.active_indices else f
              for i, f in enumerate(burst.frames)]
    out = burst.with_frames(frames)
    if burst.image is not None and (burst.image_layout or "rgb") == "rgb" and burst.image.ndim == 3:
        out = out.replace(image=rgb_to_yuv(burst.image), image_layout="yuv")
    elif burst.image is not None:
        _check_developed(burst.image_layout, "the chain's image")
    return out.with_note("colour.yuv", {"space": "BT.601 full range", "frames": sum(
        f.layout == "yuv" for f in frames)})


@stage("colour.rgb", needs=(), provides=())
def colour_rgb(burst: Burst, params: NoParams) -> Burst:
    """YUV back to RGB (clipped to [0, 1]): the chain's image and every YUV frame."""
    frames = [_frame_to_rgb(f) if f.layout == "yuv" else f for f in burst.frames]
    out = burst.with_frames(frames)
    if burst.image_layout == "yuv":
        assert burst.image is not None  # a layout is only ever set with the image it describes
        out = out.replace(image=_to_rgb(burst.image), image_layout="rgb")
    return out


def _frame_to_rgb(frame: Frame) -> Frame:
    assert frame.pixels is not None  # a "yuv" layout describes pixels (set with them)
    if frame.pixels.dtype == np.uint16:  # 16-bit codes (colour.yuv of 8 and 16-bit frames)
        return frame.replace(pixels=kept_like(frame.pixels, yuv_codes_to_rgb(frame.pixels)),
                             layout="rgb")
    return frame.replace(pixels=_to_rgb(frame.pixels), layout="rgb")


def _to_rgb(yuv: np.ndarray) -> np.ndarray:
    rgb = yuv_to_rgb(yuv)
    return np.clip(rgb, 0.0, 1.0, out=rgb)  # in place: a zoomed image is HR-sized


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The ``colour.yuv`` and ``colour.rgb`` stages."""
    register(colour_yuv)
    register(colour_rgb)
