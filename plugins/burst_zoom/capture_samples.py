"""Training samples from real captures (``burst dataset build``; seed 000 claims 1-7).

A built sample holds far frames (frame 0, the reference, on the training grid; the others as
captured, with their transforms onto it), the standard image at ``scale`` times that grid and
a mask of what the loss may look at (:mod:`burstlib.captures`). A training example is a
random window of it: the network's input built by the same code as at inference
(:func:`burst_zoom.features.network_input`: the reference is channel 0 and splats with twice
the other frames' weight, 000 claim 7's "reference weighted most"), and as target the
window of the standard image with its bicubic base and its mask, so that the loss can forgive
the captures' residual misalignment (:func:`tolerant_l1`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from burstlib.captures import CaptureSample, read_sample, sample_files
from burstlib.colour import luma
from burstlib.realpairs import HELD_OUT

from .features import network_input


def to_luma(sample: CaptureSample) -> CaptureSample:
    """The sample with every image in Y (BT.601 of its gamma-encoded RGB, as the network
    reads) and its mask as float32."""
    return CaptureSample([luma(f) for f in sample.frames], sample.transforms,
                         luma(sample.standard), sample.mask.astype(np.float32), sample.scale)


#: In a config's ``capture_exclude``: City100's held-out scenes (:data:`HELD_OUT`), the ones
#: ``burst bench zoom --sets city100`` judges on.
CITY100_HELD_OUT = "city100-held-out"


def excluded_scenes(names: tuple[str, ...]) -> frozenset[str]:
    """A config's ``capture_exclude``, with ``city100-held-out`` spelled out."""
    out = {name for name in names if name != CITY100_HELD_OUT}
    if CITY100_HELD_OUT in names:
        out.update(HELD_OUT)
    return frozenset(out)


def load_captures(folders: list[Path], scale: int, exclude: frozenset[str] = frozenset()
                  ) -> list[CaptureSample]:
    """Every sample of the built datasets in ``folders`` but the scenes in ``exclude``
    (held out for benchmarks); all must be built for ``scale``. Every sample is held in
    memory (City100's 35 scenes: 50 MB; sessions of 12 MP RAW frames would want streaming)."""
    samples = []
    for folder in folders:
        for path in sample_files(folder, exclude):
            sample = read_sample(path)
            if sample.scale != scale:
                raise ValueError(f"{path}: built for x{sample.scale}, training x{scale}")
            samples.append(to_luma(sample))
    if not samples:
        raise ValueError(f"no built samples in {', '.join(map(str, folders))}")
    return samples


def capture_example(sample: CaptureSample, patch: int, rng: np.random.Generator,
                    classical_iterations: int = 0, tries: int = 20
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(input h x w x C, target 4 x H x W: residual over the bicubic base, the base, the
    mask, ones: a real capture) for a random ``patch``-sided window of the training grid
    that the mask mostly keeps (the best of ``tries`` draws)."""
    s = sample.scale
    height, width = sample.frames[0].shape
    if min(height, width) < patch:
        raise ValueError(f"a built sample of {width}x{height} is smaller than the "
                         f"{patch} px training window")
    best = None
    for _ in range(tries):
        y, x = int(rng.integers(0, height - patch + 1)), int(rng.integers(0, width - patch + 1))
        kept = float(sample.mask[y * s:(y + patch) * s, x * s:(x + patch) * s].mean())
        if best is None or kept > best[0]:
            best = (kept, x, y)
        if kept > 0.9:
            break
    assert best is not None
    _, x, y = best
    features, base = network_input(sample.frames, sample.transforms, s, (x, y), (patch, patch),
                                   classical_iterations=classical_iterations)
    window = np.s_[y * s:(y + patch) * s, x * s:(x + patch) * s]
    truth, mask = sample.standard[window], sample.mask[window]
    return features, np.stack([truth - base, base, mask, np.ones_like(mask)])


def synthetic_target(residual: np.ndarray, base: np.ndarray) -> np.ndarray:
    """A synthetic example's target in the same form (its mask keeps everything; it is not
    a real capture)."""
    return np.stack([residual, base, np.ones_like(base), np.zeros_like(base)])


def tolerant_l1(predicted, targets, tolerance: int):  # type: ignore[no-untyped-def]
    """L1 inside the mask; for real captures (``targets``' fourth plane set), against the
    target shifted by whichever whole-pixel offset of at most ``tolerance`` px fits the
    example best (captures stay a fraction of a pixel to a pixel apart after alignment: a
    plain L1 would teach the network to blur that away; a synthetic example is exactly
    aligned and keeps the plain loss). ``targets`` is B x 4 x H x W (:func:`capture_example`,
    :func:`synthetic_target`)."""
    import torch
    residual, base, mask = targets[:, 0:1], targets[:, 1:2], targets[:, 2:3]
    real = targets[:, 3, 0, 0] > 0
    truth = residual + base
    t = tolerance
    inner = np.s_[..., t:truth.shape[-2] - t, t:truth.shape[-1] - t]
    estimate = (predicted + base)[inner]
    losses = []
    for dy in range(-t, t + 1):
        for dx in range(-t, t + 1):
            moved = torch.roll(truth, (dy, dx), dims=(-2, -1))[inner]
            weight = torch.roll(mask, (dy, dx), dims=(-2, -1))[inner]
            error = (weight * (estimate - moved).abs()).sum(dim=(1, 2, 3))
            losses.append(error / weight.sum(dim=(1, 2, 3)).clamp(min=1.0))
    stacked = torch.stack(losses)
    aligned = stacked[len(losses) // 2]  # the (0, 0) offset
    return torch.where(real, stacked.min(dim=0).values, aligned).mean()
