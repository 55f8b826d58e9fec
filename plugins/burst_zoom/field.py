"""Which part of the frame a zoom enlarges, and cutting a burst down to that part.

``field`` (a parameter of every zoom stage) is always in the pixels of the frames as
decoded: 'full', 'center' (the central 1/scale of the field of view) or 'x,y,w,h'. When
``zoom.window`` has cut the frames to the window plus a margin (so that scoring, registration
and developing touch only that part), it notes where the cut lies and the later stages
translate ``field`` into the cut frames' pixels.
"""

from __future__ import annotations

import math

from burstcli import Burst
from burstcli.errors import StageError

NOTE = "zoom.window"


def window(field: str, scale: int, height: int, width: int) -> tuple[float, float, int, int]:
    """(x, y, w, h) of the reference window a ``field`` names in a height x width frame."""
    if field == "full":
        return 0.0, 0.0, width, height
    if field == "center":
        cw, ch = max(1, round(width / scale)), max(1, round(height / scale))
        return (width - cw) / 2, (height - ch) / 2, cw, ch
    try:
        x, y, w, h = (float(v) for v in field.split(","))
    except ValueError:
        raise StageError(f"zoom: field {field!r} is not 'full', 'center' or 'x,y,w,h'") from None
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise StageError(f"zoom: field {field!r} is not inside the {width}x{height} frame")
    return x, y, int(w), int(h)


def burst_window(burst: Burst, field: str, scale: int, height: int,
                 width: int) -> tuple[float, float, int, int]:
    """:func:`window` for a burst whose frames (height x width now) ``zoom.window`` may
    have cut: ``field`` is read in the decoded frames' pixels and returned in the cut's."""
    cut = burst.notes.get(NOTE)
    if cut is None or field == "full":
        return window(field, scale, height, width)
    full_width, full_height = cut["frame_size"]
    left, top = cut["origin"]
    x, y, w, h = window(field, scale, full_height, full_width)
    x, y = x - left, y - top
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise StageError(f"zoom: field {field!r} lies outside the part zoom.window kept "
                         f"({width}x{height} at {left},{top}); give both the same field")
    return x, y, w, h


def in_decoded_frame(burst: Burst, x: float, y: float, w: int, h: int) -> list[float]:
    """A window in the cut frames' pixels as [x, y, w, h] in the decoded frames' (sidecars)."""
    left, top = burst.notes.get(NOTE, {}).get("origin", (0, 0))
    return [x + left, y + top, w, h]


MIN_MARGIN = 64  # px
#: px: beyond this a margin adds registration time, not accuracy, and 256 px is more drift
#: than a hand-held burst shows (a 12 MP zoom4x cut 3.5 MP per frame with half its 1000 px
#: window around it, 1.9 MP with this)
MAX_MARGIN = 256


def cut_box(field: str, scale: int, height: int, width: int,
            margin: float) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the window plus ``margin`` (a fraction of its longer
    side, from MIN_MARGIN to MAX_MARGIN px), inside the frame, with even left and top (a
    Bayer mosaic keeps its colour phase)."""
    x, y, w, h = window(field, scale, height, width)
    margin = min(MAX_MARGIN, max(MIN_MARGIN, margin * max(w, h)))
    left = max(0, math.floor(x - margin)) // 2 * 2
    top = max(0, math.floor(y - margin)) // 2 * 2
    right = min(width, math.ceil(x + w + margin))
    bottom = min(height, math.ceil(y + h + margin))
    return left, top, right, bottom
