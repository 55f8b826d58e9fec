"""The learned zoom at inference: shipped models, colour handling, tiles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from burstcli import Frame
from burstcli.errors import StageError
from burst_decode.arrays import normalized

from .features import depth_to_space, input_channels, network_input
from .runtime import TiledModel

MODELS = Path(__file__).parent / "models"


@dataclasses.dataclass
class LoadedModel:
    """A ``.tflite`` network, its card's facts, and its tiled runner."""

    name: str
    scale: int
    runner: TiledModel
    runner_path: Path


def load_model(name_or_path: str, tile: int) -> LoadedModel:
    """A shipped model by name (``x2``, ``x4``) or a ``.tflite`` path with its ``.json``."""
    path = MODELS / f"zoom_{name_or_path}.tflite" if "/" not in name_or_path and not \
        name_or_path.endswith(".tflite") else Path(name_or_path)
    card = path.with_suffix(".json")
    if not path.is_file() or not card.is_file():
        raise StageError(f"zoom: no model {name_or_path!r} ({path} and its .json card)")
    facts = json.loads(card.read_text())
    if facts.get("input_channels") != input_channels(facts["scale"]):
        raise StageError(f"zoom: {path} was made for other inputs than this version builds")
    # The network's receptive field is a few input pixels: 8 of overlap hides tile seams.
    return LoadedModel(path.stem, int(facts["scale"]), TiledModel(path, facts["scale"], tile=tile),
                       path)


def to_ycc(rgb: np.ndarray) -> np.ndarray:
    """BT.601 full-range Y, Cr, Cb (OpenCV's order) of gamma-encoded RGB in [0, 1]."""
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2YCrCb)


def from_ycc(ycc: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_ycc`."""
    return cv2.cvtColor(ycc.astype(np.float32), cv2.COLOR_YCrCb2RGB)


def luma(frame: Frame) -> np.ndarray:
    """The frame's Y (grey frames are their own)."""
    values = normalized(frame)
    return to_ycc(values)[..., 0] if values.ndim == 3 else values


def super_resolve_luma(model: LoadedModel, lumas: list[np.ndarray], transforms: list[np.ndarray],
                       origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The network's HR Y for a window of the reference (frame 0)."""
    features, base = network_input(lumas, transforms, model.scale, origin, size)
    residual = model.runner(features)
    if residual.shape[:2] != base.shape:  # a model ending in s*s channels, not depth-to-space
        residual = depth_to_space(residual, model.scale)
    return base + residual.reshape(base.shape)


def run_network(model: LoadedModel, frames: list[Frame], origin: tuple[int, int],
                size: tuple[int, int]) -> np.ndarray:
    """HR image of the window: Y from the network, colour bicubic from the reference."""
    transforms = [np.eye(3) if f.transform is None else f.transform for f in frames]
    lumas = [luma(f) for f in frames]
    level = float(lumas[0].mean())  # bursts jitter in exposure: bring frames to the reference's
    lumas = [lumas[0], *(l * np.float32(level / max(float(l.mean()), 1e-6)) for l in lumas[1:])]
    y = super_resolve_luma(model, lumas, transforms, origin, size)
    reference = normalized(frames[0])
    if reference.ndim == 2:
        return np.clip(y, 0.0, 1.0).astype(np.float32)
    x0, y0 = origin
    window = reference[y0:y0 + size[0], x0:x0 + size[1]]
    colour = cv2.resize(to_ycc(window), (y.shape[1], y.shape[0]), interpolation=cv2.INTER_CUBIC)
    colour[..., 0] = y
    return np.clip(from_ycc(colour), 0.0, 1.0).astype(np.float32)
