"""Finding capture sessions on disk and reading their frames through burst's own stages.

Two layouts:

- **sessions**: a folder per scene holding ``far/`` (M frames, hand-held, from farther away)
  and ``near/`` (K frames, tripod, closer), in any format ``decode`` reads, RAW included
  (``burst synth --sessions`` writes these);
- **pairs**: one folder of ``NNNL.*`` (far capture, already on the near grid) and ``NNNH.*``
  (near capture) files, as City100 ships them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from burstcli import Burst, Frame
from burstcli.registry import run_stage
from burstlib.arrays import normalized
from burstlib.images import IMAGE_SUFFIXES
from burstlib.rawfiles import RAW_EXTENSIONS

from .align import SceneRejected

PAIR_NAME = re.compile(r"^(?P<scene>.+?)(?P<side>[LH])$", re.IGNORECASE)
READABLE = IMAGE_SUFFIXES | RAW_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class Scene:
    """One scene: far and near frame files (a pair is one far and one near file)."""

    name: str
    far: tuple[Path, ...]
    near: tuple[Path, ...]
    paired: bool = False  # a City100-style pair: far already on the near grid


def _frames(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir()
                        if p.suffix.lower() in READABLE and not p.name.startswith(".")))


def find_scenes(root: Path) -> list[Scene]:
    """Sessions under ``root`` (``root`` itself may be one), else the pairs in it."""
    candidates = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    sessions = [Scene(folder.name, _frames(folder / "far"), _frames(folder / "near"))
                for folder in candidates
                if (folder / "far").is_dir() and (folder / "near").is_dir()]
    return sessions or find_pairs(root)


def find_pairs(root: Path) -> list[Scene]:
    """``NNNL`` / ``NNNH`` files of one folder, paired by their scene name."""
    sides: dict[str, dict[str, Path]] = {}
    for path in _frames(root):
        match = PAIR_NAME.match(path.stem)
        if match:
            sides.setdefault(match["scene"], {})[match["side"].upper()] = path
    return [Scene(name, (files["L"],), (files["H"],), paired=True)
            for name, files in sorted(sides.items()) if {"L", "H"} <= set(files)]


@dataclasses.dataclass(frozen=True)
class Developed:
    """A scene side's frames as sRGB-encoded RGB in [0, 1] and their Laplacian sharpness."""

    images: list[np.ndarray]
    sharpness: list[float]


def developed_frames(files: tuple[Path, ...], name: str) -> Developed:
    """Every file decoded and developed to sRGB-encoded RGB (as ``enhance`` would see it),
    with its Laplacian sharpness (000 [0055]; ``score.laplacian``). A frame that cannot be
    read rejects the scene (a session is small: a missing frame is a bad capture)."""
    if not files:
        raise SceneRejected(f"{name}: no readable frames")
    burst = run_stage("decode", Burst(name, tuple(Frame(path) for path in files)))
    if len(burst.frames) != len(files):
        raise SceneRejected(f"{name}: {len(files) - len(burst.frames)} unreadable frame(s) "
                            f"({'; '.join(burst.warnings)})")
    burst = run_stage("score.laplacian", burst)
    burst = run_stage("develop.frames", burst, output="srgb")
    return Developed([as_rgb(frame) for frame in burst.frames],
                     [float(frame.scores["laplacian"]) for frame in burst.frames])


def as_rgb(frame: Frame) -> np.ndarray:
    """A developed frame as float32 RGB in [0, 1] (:func:`burstlib.arrays.normalized`; grey
    repeated in three planes)."""
    image = normalized(frame)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
