"""Running a deblur model on a burst's product: planes in (and the noise plane, for a model
that takes one), tiles, residual clipping, planes out."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from burstcli import Burst, Frame
from burstcli.errors import StageError
from burstcli.models import ModelCard
from burstcli.registry import find_model
from burstlib.arrays import in_linear_light, noise_coefficients, normalized
from burstlib.litert import TiledModel
from burstlib.colour import luma, srgb_decode, srgb_encode
from burstlib.spectrum import encoded_sharpness

from . import noise_plane

#: Receptive field of the shipped shape is about 50 px; tiles overlap by more.
OVERLAP = 32


@functools.lru_cache(maxsize=4)
def _runner(file: Path, stamp: int, tile: int) -> TiledModel:
    """Kept for the batch: interpreters are costly to make (``stamp``: the file's mtime)."""
    return TiledModel(file, 1, tile=tile, overlap=OVERLAP)


def _network_planes(rgb: np.ndarray, kind: str, sigma: np.ndarray | None) -> np.ndarray:
    """What the network reads: H x W x 1 luma for a ``y`` model, H x W x 3 for an ``rgb`` one
    (a grey image repeated), and last the noise plane ``sigma`` (H x W) when given."""
    if kind.startswith("y"):
        image = (rgb if rgb.ndim == 2 else luma(rgb))[..., None]
    else:
        image = rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)
    if sigma is None:
        return image
    return np.concatenate([image, sigma[..., None].astype(image.dtype)], axis=2)


def run_model(card: ModelCard, rgb: np.ndarray, tile: int,
              sigma: np.ndarray | None = None) -> np.ndarray:
    """``card``'s network on a gamma-encoded image (H x W x 3 or H x W, float in [0, 1]):
    the same shape back, clipped to [0, 1]. Sizes are padded (edge-replicated) to a multiple
    of 4, the network's two space_to_depth steps, and cut back. A ``+sigma`` model also reads
    ``sigma`` (the H x W noise plane, :mod:`.noise_plane`), measured from the image itself
    when not given; any other model never sees it."""
    grey = rgb.ndim == 2
    if not noise_plane.takes_noise_plane(card.planes):
        sigma = None
    elif sigma is None:
        sigma = noise_plane.estimated(rgb)
    planes = _network_planes(rgb, card.planes, sigma)
    height, width = planes.shape[:2]
    padded = np.pad(planes, ((0, -height % 4), (0, -width % 4), (0, 0)), mode="edge")
    runner = _runner(card.file, card.file.stat().st_mtime_ns, max(64, tile // 4 * 4))
    out = runner(np.ascontiguousarray(padded, np.float32))[:height, :width]
    if card.planes.startswith("y") and not grey:  # the luma's change added to every channel
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
    sigma, source = _noise_plane(card, burst.reference_frame if target != "image" else None,
                                 encoded)
    restored = run_model(card, encoded, tile, sigma)
    restored = srgb_decode(restored) if linear else restored
    change = float(np.mean(np.abs(restored - (values if linear else encoded))))
    # One entry per target: a chain may deblur the reference before fusion and the merged
    # image after it (001's first and third deblurred images), and the sidecar keeps both.
    notes[target] = {"model": card.name, "linear": linear, "mean_change": round(change, 5)}
    if sigma is not None:  # the encoded-domain noise std the network was told, and whence
        notes[target]["noise"] = {"source": source, "mean_std": round(
            float(sigma.mean()) / noise_plane.SIGMA_SCALE, 5)}
    if target == "image":
        return burst.replace(image=restored).with_note("deblur.network", notes)
    frames = list(burst.frames)
    index = burst.reference
    assert index is not None  # checked above: the product was the reference frame
    frames[index] = frames[index].replace(pixels=restored)
    return burst.replace(frames=tuple(frames)).with_note("deblur.network", notes)


def _noise_plane(card: ModelCard, frame: Frame | None,
                 encoded: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The noise plane for ``card`` (None for a model without one) and where it came from: a
    frame's RAW noise profile when it has one ("profile"), else the encoded image's own noise
    level function ("estimated"). A merged image (``frame`` None) is always measured: the
    merge lowered its noise below any one frame's profile, by an amount it did not record."""
    if not noise_plane.takes_noise_plane(card.planes):
        return None, ""
    if frame is not None and noise_coefficients(frame) is not None:
        return noise_plane.from_profile(frame, encoded), "profile"
    return noise_plane.estimated(encoded), "estimated"
