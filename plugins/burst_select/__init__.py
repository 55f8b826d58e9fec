"""The ``select`` stage: choose the reference frame and the frames to fuse."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from burstcli import Burst, hookimpl, param, stage
from burstcli.errors import StageError

from .exposure import select_exposure

SCORE_PREFERENCE = ("frequency", "laplacian", "tenengrad")


def _score_name_rule(value: str) -> str | None:
    """auto, or a score's name (frequency, laplacian, tenengrad, ...)"""
    if not value or any(c.isspace() for c in value):
        return f"{value!r} is not a score's name (auto, frequency, laplacian, tenengrad, ...)"
    return None


def _any_frame(value: int | str) -> str | None:
    """any index (negative: from the last frame; clamped to the burst) or first, middle, last"""
    return None  # every int is meaningful (see shutter_index); the names are a Literal


@dataclasses.dataclass(frozen=True)
class SelectParams:
    method: Literal["sharpest", "walk"] = param(
        "sharpest", "sharpest: the sharpest frame; walk: 001's threshold walk from the shutter frame")
    score: str = param("auto", "which score to use; auto: the first of frequency, laplacian, "
                               "tenengrad that a scoring stage wrote", check=_score_name_rule)
    shutter: int | Literal["first", "middle", "last"] = param(
        "first", "the frame taken at the shutter moment, where the walk starts (an index, or "
                 "first/middle/last)", check=_any_frame)
    threshold: float = param(0.9, "walk: accept the first frame at least this sharp relative "
                                  "to the sharpest frame", low=0.0, high=1.0)
    min_relative: float = param(0.0, "drop frames whose sharpness relative to the reference is "
                                     "below this (0 keeps all)", low=0.0, high=1.0)
    max_frames: int = param(0, "keep at most this many frames, the sharpest first (0: all)",
                            low=0)


@stage("select", SelectParams, needs=("scores",), provides=("reference",))
def select(burst: Burst, params: SelectParams) -> Burst:
    """Choose the reference frame and which frames later stages fuse.

    ``sharpest`` (000 claim 8, 001 claim 2): the frame with the highest score. ``walk``
    (001 claims 2-3): start at the shutter frame and visit its neighbours near to far (at equal
    distance, the earlier frame first); the first frame whose sharpness relative to the
    sharpest frame is at least ``threshold`` is the reference, so the chosen moment stays close
    to the one the photographer pressed for; if none is, the sharpest frame.

    Relative sharpness is score / highest score in the burst: every first-party score is a
    positive, exposure-invariant detail amplitude (RMS Laplacian or Sobel response per unit
    brightness; high- over low-band Fourier amplitude), so 0.9 means "90 % of the sharpest
    frame's fine detail". A score with zero or negative values (a third party's) is mapped to
    (score - lowest) / (highest - lowest) instead, and the note says so. Frames below
    ``min_relative`` of the reference, and beyond the ``max_frames`` sharpest, are left out of
    ``selected``; the reference always stays. The exposure policy of 001 claims 5-7 (prefer a
    long-exposure capture when the deblurred reference is still blurry) is ``select.exposure``,
    after ``deblur.network``.

    Writes ``reference``, ``selected`` (indices in capture order, the reference included) and
    ``notes["select"]``: method, score, relative sharpness per frame, its mapping, the dropped
    frames and, for the walk, the shutter frame, threshold and visiting order.
    """
    name = _score_name(burst, params.score)
    scores = np.array([frame.scores[name] for frame in burst.frames], dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise StageError(f"select: score {name!r} is not finite for every frame: "
                         f"{scores.tolist()}")
    relative, mapping = relative_sharpness(scores)
    start = shutter_index(params.shutter, len(scores))
    if params.method == "walk":
        reference = walk(relative, start, params.threshold)
    else:
        reference = int(np.argmax(scores))
    keep = choose_frames(relative, reference, params.min_relative, params.max_frames)
    dropped = sorted(set(range(len(scores))) - set(keep))
    return burst.replace(reference=reference, selected=tuple(keep)).with_note(
        "select", {"method": params.method, "score": name, "reference": reference,
                   "relative_sharpness": [round(float(r), 4) for r in relative],
                   "mapping": mapping, "dropped": dropped,
                   **({"shutter": start, "threshold": params.threshold,
                       "walk_order": walk_order(start, len(scores))}
                      if params.method == "walk" else {})})


def relative_sharpness(scores: np.ndarray) -> tuple[np.ndarray, str]:
    """Each score relative to the best (1.0), and how: ``ratio`` or ``min-max`` (see select)."""
    if scores.min() > 0:
        return scores / scores.max(), "ratio"
    spread = scores.max() - scores.min()
    return (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores), "min-max"


def _score_name(burst: Burst, wanted: str) -> str:
    present = set.intersection(*(set(f.scores) for f in burst.frames)) if burst.frames else set()
    if wanted != "auto":
        if wanted not in present:
            raise StageError(f"select: no frame has the score {wanted!r} (scores: "
                             f"{', '.join(sorted(present)) or 'none'}); put its scoring stage first")
        return wanted
    for name in (*SCORE_PREFERENCE, *sorted(present)):
        if name in present:
            return name
    raise StageError("select: no scores; put a score.* stage before select in the preset")


def shutter_index(shutter: int | str, count: int) -> int:
    """The shutter frame's index; negative indices count from the end, out of range is clamped."""
    named = {"first": 0, "middle": (count - 1) // 2, "last": count - 1}
    index = named[shutter] if isinstance(shutter, str) else shutter
    index = index + count if index < 0 else index
    return int(min(max(index, 0), count - 1))


def walk_order(start: int, count: int) -> list[int]:
    """start, start-1, start+1, start-2, start+2, ... within [0, count)."""
    order = [start]
    for step in range(1, count):
        order += [i for i in (start - step, start + step) if 0 <= i < count]
    return order


def walk(relative: np.ndarray, start: int, threshold: float) -> int:
    """001's threshold search: the first frame near-to-far from ``start`` sharp enough."""
    for index in walk_order(start, len(relative)):
        if relative[index] >= threshold:
            return index
    return int(np.argmax(relative))


def choose_frames(relative: np.ndarray, reference: int, min_relative: float,
                  max_frames: int) -> list[int]:
    """Indices (capture order) of frames to fuse: the reference plus those sharp enough."""
    floor = min_relative * relative[reference]
    candidates = [i for i in np.argsort(-relative, kind="stable") if relative[i] >= floor]
    keep = {reference, *(int(i) for i in candidates)}
    if max_frames > 0:
        ranked = [reference] + [int(i) for i in candidates if i != reference]
        keep = set(ranked[:max_frames])
    return sorted(keep)


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The ``select`` and ``select.exposure`` stages."""
    register(select)
    register(select_exposure)
