"""The data that flows through a chain of stages.

A :class:`Burst` is immutable: a stage returns a new one (``burst.replace(...)``) and never
mutates the arrays it was given. Pixel arrays keep the dtype they were decoded with (uint8,
uint16 or float32) so that a chain which does not touch them writes them back value for value.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: How a frame's pixels are laid out.
#: ``cfa``: a 2-D Bayer (or other colour-filter) mosaic, straight from the sensor;
#: ``rgb``: H x W x 3 (or 4) developed colour; ``gray``: H x W single channel;
#: ``linear_raw``: H x W x C demosaicked but undeveloped sensor data (LinearRaw DNG);
#: ``yuv``: H x W x 3 float Y, U, V (BT.601 full range, U and V centred on 0.5).
Layout = Literal["cfa", "rgb", "gray", "linear_raw", "yuv"]


@dataclasses.dataclass(frozen=True)
class RawInfo:
    """Sensor metadata of a RAW frame, as LibRaw reports it.

    ``cfa_pattern`` is the 2x2 (or larger) array of colour indices into ``color_desc``
    (rawpy's ``raw_pattern``), e.g. ``[[0, 1], [3, 2]]`` with ``color_desc == "RGBG"`` is RGGB.
    ``black_level`` holds one value per colour index; ``white_level`` is the saturation value.
    ``white_balance`` holds the as-shot multipliers per colour index (rawpy's
    ``camera_whitebalance``). ``color_matrix`` is the 3x3 matrix from white-balanced camera RGB
    to linear sRGB (LibRaw's ``rgb_cam``, rawpy's ``color_matrix``; rows sum to 1), or None
    when LibRaw knows none for the camera.
    ``noise_profile`` holds (scale, offset) pairs per plane: variance = scale * x + offset for
    x in [0, 1] above black (DNG NoiseProfile tag), or None.
    """

    cfa_pattern: tuple[tuple[int, ...], ...]
    color_desc: str
    black_level: tuple[float, ...]
    white_level: float
    white_balance: tuple[float, ...]
    color_matrix: tuple[tuple[float, ...], ...] | None = None
    noise_profile: tuple[tuple[float, float], ...] | None = None

    def cfa_string(self) -> str:
        """The pattern as letters in row-major order, e.g. ``"RGGB"``."""
        return "".join(self.color_desc[i] for row in self.cfa_pattern for i in row)


@dataclasses.dataclass(frozen=True)
class ExifInfo:
    """The EXIF fields later stages and writers need. Every field may be missing (None)."""

    capture_time: _dt.datetime | None = None  # DateTimeOriginal + SubSecTimeOriginal
    exposure_time: float | None = None  # seconds
    iso: float | None = None
    f_number: float | None = None
    focal_length: float | None = None  # mm
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    orientation: int | None = None
    extra: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings, missing fields left out)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or (field.name == "extra" and not value):
                continue
            out[field.name] = value.isoformat() if isinstance(value, _dt.datetime) else value
        if "extra" in out:
            out["extra"] = dict(out["extra"])
        return out


@dataclasses.dataclass(frozen=True)
class Frame:
    """One image of a burst.

    Before the decode stage only ``path`` (and maybe ``exif``) is known and ``pixels`` is None.
    ``scores`` maps a score name (``"frequency"``, ``"laplacian"``...) to a value where higher
    means sharper. ``transform`` is the 3x3 matrix mapping this frame's pixel positions
    (x = column, y = row) to the reference frame's, once a registration stage has run.
    ``flow``, set by a local registration stage, refines it where the scene does not follow
    one homography (parallax, lens distortion, small motion): an (h, w, 2) field of (dx, dy)
    in reference pixels over the reference grid (any h, w: it is resized bilinearly to the
    reference's size, cell centres on pixel centres) such that the scene point seen at
    reference pixel x lies in this frame at ``inverse(transform) @ (x + flow(x))``.
    """

    path: Path
    pixels: np.ndarray | None = None
    layout: Layout | None = None
    raw: RawInfo | None = None
    exif: ExifInfo = dataclasses.field(default_factory=ExifInfo)
    scores: Mapping[str, float] = dataclasses.field(default_factory=dict)
    transform: np.ndarray | None = None
    flow: np.ndarray | None = None

    def replace(self, **changes: Any) -> Frame:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def with_score(self, name: str, value: float) -> Frame:
        """A copy with one more score."""
        return self.replace(scores={**self.scores, name: float(value)})


@dataclasses.dataclass(frozen=True)
class Development:
    """How a develop stage turned RAW data into the chain's RGB values, so that a writer can
    store the result as RAW again (``-f dng``).

    ``raw`` is the reference frame's RAW metadata as decoded (``develop.frames`` drops it from
    the frames it develops). The RGB values are ``curve(clip(M @ (gains * camera)))``, camera
    being the normalised sensor values (0 = black, 1 = white): ``white_balance`` says whether
    the as-shot gains (green = 1) were applied, ``color_matrix`` whether ``raw.color_matrix``
    (M) was, ``curve`` which transfer curve the values hold now (``linear`` or ``srgb``).

    ``source`` is set when the stage developed the chain's product itself: the RAW product it
    read (layout ``source_layout``: a mosaic or LinearRaw planes), and ``result`` the image it
    made. While the chain's product is still that very image, ``source`` is the RAW data to
    store; once a later stage replaced it, the development is to be undone instead.
    """

    raw: RawInfo
    white_balance: bool
    color_matrix: bool
    curve: Literal["linear", "srgb"]
    source: np.ndarray | None = None
    source_layout: Layout | None = None
    result: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Burst:
    """A group of frames of one scene, in capture order, and what the chain made of them.

    ``reference`` is the index (into ``frames``) of the reference frame once a selection
    stage chose it. ``selected`` holds the indices of the frames later stages should use
    (None: all). ``image`` is the chain's product so far (None: the reference frame's pixels
    are the product) and ``image_layout`` says how it is laid out. ``notes`` collects
    JSON-ready facts stages want in the sidecar, keyed by stage name. ``warnings`` holds
    one-line messages for the user (``"path: reason"`` for a frame that was dropped); the runner
    prints each and the sidecar keeps them. ``development`` says how RAW data became the RGB
    product (set by the develop stages; None while nothing RAW was developed).
    """

    name: str
    frames: tuple[Frame, ...]
    source: Path | None = None
    reference: int | None = None
    selected: tuple[int, ...] | None = None
    image: np.ndarray | None = None
    image_layout: Layout | None = None
    notes: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    development: Development | None = None

    def replace(self, **changes: Any) -> Burst:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def with_frames(self, frames: list[Frame] | tuple[Frame, ...]) -> Burst:
        """A copy holding ``frames`` instead."""
        return self.replace(frames=tuple(frames))

    def with_note(self, stage: str, value: Any) -> Burst:
        """A copy with ``value`` stored under ``notes[stage]`` for the sidecar."""
        return self.replace(notes={**self.notes, stage: value})

    def with_warning(self, message: str) -> Burst:
        """A copy with one more user-facing warning line."""
        return self.replace(warnings=(*self.warnings, message))

    @property
    def reference_frame(self) -> Frame:
        """The reference frame (the first frame while no selection stage has run)."""
        return self.frames[self.reference if self.reference is not None else 0]

    @property
    def active_indices(self) -> tuple[int, ...]:
        """Indices of the frames later stages should use, the reference included."""
        if self.selected is None:
            return tuple(range(len(self.frames)))
        return self.selected

    def product(self) -> tuple[np.ndarray, Layout]:
        """What a writer should write: the chain's image, else the reference frame's pixels."""
        if self.image is not None:
            return self.image, self.image_layout or "rgb"
        frame = self.reference_frame
        if frame.pixels is None:
            raise ValueError(f"burst {self.name!r} was never decoded: no pixels to write")
        return frame.pixels, frame.layout or "rgb"
