"""Building a dataset: every scene through :mod:`.align`, written as it is done, recorded in
the manifest (so a rerun picks up where an interrupted one stopped)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from burstlib.captures import (
    CaptureSample, read_manifest, write_manifest, write_sample)
from burstlib.realpairs import measure_ratio, native_pair

from .align import (
    RATIO_TOLERANCE, Sample, SceneRejected, build_sample, to_training_grid)
from .scenes import Scene, developed_frames
from .standard import standard_image


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """What a dataset is built with (recorded in its manifest)."""

    scale: int = 2
    ratio: float | None = None  # near px per far px, when known (else measured)


def build_scene(scene: Scene, options: BuildOptions) -> Sample:
    """One scene's sample (:class:`SceneRejected` says why there is none)."""
    if scene.paired:
        return _paired_sample(scene, options)
    near = developed_frames(scene.near, f"{scene.name}/near")
    standard = standard_image(near.images, [str(path) for path in scene.near])
    far = developed_frames(scene.far, f"{scene.name}/far")
    # The ratio is given or measured, not read from EXIF: focal lengths in mm ignore the
    # sensors' pixel pitch (a phone's tele and wide cameras differ in both).
    sample = build_sample(far.images, int(np.argmax(far.sharpness)), standard, options.scale,
                          [str(path) for path in scene.far], ratio=options.ratio)
    if options.ratio and abs(sample.ratio / options.ratio - 1) > RATIO_TOLERANCE:
        raise SceneRejected(f"{scene.name}: the far frames are {sample.ratio:.2f}x coarser "
                            f"than the near ones, not {options.ratio:g}x as given")
    return sample


def _paired_sample(scene: Scene, options: BuildOptions) -> Sample:
    """A far capture already on the near grid (City100): brought back to its native
    resolution (:func:`burstlib.realpairs.native_pair`), then aligned and fitted."""
    (low,) = developed_frames(scene.far, scene.name).images
    (high,) = developed_frames(scene.near, scene.name).images
    if low.shape != high.shape:
        raise SceneRejected(f"{scene.far[0]}: {low.shape[1]}x{low.shape[0]}, its near capture "
                            f"{high.shape[1]}x{high.shape[0]} (a pair shares one grid)")
    ratio = options.ratio or measure_ratio(low, high)
    lr, target = native_pair(low, high, options.scale, ratio)
    start = np.linalg.inv(to_training_grid(options.scale))  # the pair is registered already
    sample = build_sample([lr], 0, target, options.scale, [str(scene.far[0])], start)
    return dataclasses.replace(sample, ratio=float(ratio))


def manifest_entry(scene: Scene, sample: Sample, file: str) -> dict[str, Any]:
    """What the manifest says of one sample."""
    return {"file": file, "far": [str(p) for p in scene.far],
            "reference": str(scene.far[sample.reference]),
            "near": [str(p) for p in scene.near], "frames": len(sample.frames),
            "dropped_far": [str(scene.far[i]) for i in sample.dropped],
            "far_to_standard": np.round(sample.far_to_standard, 8).tolist(),
            "far_to_near": np.round(sample.far_to_near, 8).tolist(),
            "standard_scale": round(sample.standard_scale, 6),
            "ratio": round(sample.ratio, 4), "residual_px": round(sample.residual_px, 4),
            "masked_share": round(sample.masked_share, 4),
            "gain": np.round(sample.gain, 5).tolist(),
            "offset": np.round(sample.offset, 5).tolist()}


def build_dataset(scenes: list[Scene], out: Path, options: BuildOptions,
                  progress: Callable[[Scene, str], None] = lambda scene, outcome: None
                  ) -> dict[str, Any]:
    """Build every scene not yet in ``out``'s manifest; returns the manifest. A scene that
    fails is recorded under ``skipped`` with its reason (and retried by a later run)."""
    manifest = read_manifest(out)
    if manifest["scale"] not in (None, options.scale):
        raise ValueError(f"{out} holds a x{manifest['scale']} dataset; this build is "
                         f"x{options.scale} (use another folder)")
    manifest.update(scale=options.scale, ratio_given=options.ratio)
    for scene in scenes:
        if scene.name in manifest["samples"]:
            progress(scene, "done before")
            continue
        try:
            sample = build_scene(scene, options)
        except SceneRejected as why:
            manifest["skipped"][scene.name] = str(why)
            write_manifest(out, manifest)
            progress(scene, f"skipped: {why}")
            continue
        file = f"samples/{scene.name}.npz"
        write_sample(out / file, CaptureSample(sample.frames, sample.transforms,
                                               sample.standard, sample.mask, sample.scale))
        manifest["samples"][scene.name] = manifest_entry(scene, sample, file)
        manifest["skipped"].pop(scene.name, None)
        write_manifest(out, manifest)
        progress(scene, f"{len(sample.frames)} far frames, residual "
                        f"{sample.residual_px:.2f} px, {sample.masked_share:.0%} masked")
    return manifest
