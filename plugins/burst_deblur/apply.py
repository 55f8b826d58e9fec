"""Running a deblur model on a burst's product: planes in, tiles, residual clipping, planes out."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from burstcli import Burst
from burstcli.errors import StageError
from burstcli.models import ModelCard
from burstcli.registry import find_model
from burstlib.arrays import in_linear_light, normalized
from burstlib.litert import TiledModel
from burstlib.colour import luma, srgb_decode, srgb_encode
from burstlib.spectrum import encoded_sharpness

#: Receptive field of the shipped shape is about 50 px; tiles overlap by more.
OVERLAP = 32


@functools.lru_cache(maxsize=4)
def _runner(file: Path, stamp: int, tile: int) -> TiledModel:
    """Kept for the batch: interpreters are costly to make (``stamp``: the file's mtime)."""
    return TiledModel(file, 1, tile=tile, overlap=OVERLAP)


def _network_planes(rgb: np.ndarray, kind: str) -> np.ndarray:
    """What the network reads: H x W x 1 luma for a ``y`` model, H x W x 3 for an ``rgb`` one
    (a grey image repeated)."""
    if kind == "y":
        return (rgb if rgb.ndim == 2 else luma(rgb))[..., None]
    return rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)


def run_model(card: ModelCard, rgb: np.ndarray, tile: int) -> np.ndarray:
    """``card``'s network on a gamma-encoded image (H x W x 3 or H x W, float in [0, 1]):
    the same shape back, clipped to [0, 1]. Sizes are padded (edge-replicated) to a multiple
    of 4, the network's two space_to_depth steps, and cut back."""
    grey = rgb.ndim == 2
    planes = _network_planes(rgb, card.planes)
    height, width = planes.shape[:2]
    padded = np.pad(planes, ((0, -height % 4), (0, -width % 4), (0, 0)), mode="edge")
    runner = _runner(card.file, card.file.stat().st_mtime_ns, max(64, tile // 4 * 4))
    out = runner(np.ascontiguousarray(padded, np.float32))[:height, :width]
    if card.planes == "y" and not grey:  # the luma's change added to every channel
        out = rgb + (out[..., 0] - planes[..., 0])[..., None]
    elif grey:
        out = out.mean(axis=2) if out.shape[2] == 3 else out[..., 0]
    if not np.isfinite(out).all():
        raise StageError(f"deblur model {card.name} produced non-finite values")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def deblur_product(burst: Burst, model: str, tile: int, skip_sharper_than: float = 0.0) -> Burst:
    """``deblur.network``: the product (the merged image, else the reference frame) deblurred."""
    card = find_model(model, "deblur")
    if burst.image is not None:
        values, layout = burst.image.astype(np.float32, copy=False), burst.image_layout or "rgb"
        target = "image"
    else:
        if burst.reference is None:
            raise StageError("deblur.network: no reference frame")
        frame = burst.reference_frame
        values, layout, target = normalized(frame), frame.layout or "rgb", "reference frame"
    if layout not in ("rgb", "gray"):
        raise StageError(f"deblur.network works on developed RGB or grey images, not {layout}; "
                         "put develop.frames (or develop) before it")
    linear = in_linear_light(burst)
    encoded = srgb_encode(values) if linear else np.clip(values, 0.0, 1.0)
    notes = dict(burst.notes.get("deblur.network", {}))
    if skip_sharper_than > 0:
        sharpness = encoded_sharpness(encoded)
        if sharpness >= skip_sharper_than:
            notes[target] = {"model": card.name, "skipped": f"sharpness {sharpness:.4f} >= "
                                                             f"{skip_sharper_than}: already sharp"}
            return burst.with_note("deblur.network", notes)
    restored = run_model(card, encoded, tile)
    restored = srgb_decode(restored) if linear else restored
    change = float(np.mean(np.abs(restored - (values if linear else encoded))))
    # One entry per target: a chain may deblur the reference before fusion and the merged
    # image after it (001's first and third deblurred images), and the sidecar keeps both.
    notes[target] = {"model": card.name, "linear": linear, "mean_change": round(change, 5)}
    if target == "image":
        return burst.replace(image=restored).with_note("deblur.network", notes)
    frames = list(burst.frames)
    index = burst.reference
    assert index is not None  # checked above: the product was the reference frame
    frames[index] = frames[index].replace(pixels=restored)
    return burst.replace(frames=tuple(frames)).with_note("deblur.network", notes)
