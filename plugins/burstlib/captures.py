"""Training samples built from real captures (seed 000 claims 1-6): the file format shared
by ``burst dataset build``, which writes them, and ``burst train``, which reads them.

A built dataset is a folder holding ``manifest.json`` and ``samples/<scene>.npz``. One sample:

- ``frame_0`` ... ``frame_{M-1}``: float16 sRGB-encoded RGB in [0, 1]; frame 0 is the
  reference resampled onto the training grid (the standard image's grid over ``scale``),
  the others are far frames as captured;
- ``transforms`` (M x 3 x 3): frame k's pixel positions (x, y, pixel centres at integers) ->
  training-grid positions (frame 0: the identity);
- ``standard`` (H x W x 3, float16): the near frames' robust average, fitted to the
  reference's photometry; H x W = ``scale`` x the training grid;
- ``mask`` (H x W, uint8): 0 where the loss must not look (ghosts: the scene changed between
  the captures; outside the reference's view);
- ``scale`` (scalar).

The manifest: ``{"version": 1, "scale": s, "samples": {scene: {...}}, "skipped": {scene:
reason}}``; each sample's entry holds its file, frames, the far -> standard homography, the
ratio, the residual misalignment (standard px), the masked share and the photometric fit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

MANIFEST = "manifest.json"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class CaptureSample:
    """One built sample, read back (see the module docstring)."""

    frames: list[np.ndarray]
    transforms: list[np.ndarray]
    standard: np.ndarray
    mask: np.ndarray
    scale: int


def write_sample(path: Path, sample: CaptureSample) -> None:
    """Write ``sample`` to ``path`` (.npz) atomically: a crash leaves the old file or none."""
    arrays: dict[str, Any] = {f"frame_{i}": f.astype(np.float16) for i, f in
                              enumerate(sample.frames)}
    arrays.update(transforms=np.stack(sample.transforms).astype(np.float64),
                  standard=sample.standard.astype(np.float16),
                  mask=sample.mask.astype(np.uint8), scale=np.int64(sample.scale))
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            _synced(handle)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def read_sample(path: Path) -> CaptureSample:
    """A sample written by :func:`write_sample`, as float32 arrays."""
    with np.load(path) as data:
        transforms = data["transforms"]
        frames = [data[f"frame_{i}"].astype(np.float32) for i in range(len(transforms))]
        return CaptureSample(frames, list(transforms), data["standard"].astype(np.float32),
                             data["mask"].copy(), int(data["scale"]))


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a built dataset (an empty one when the folder has none yet)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {"version": VERSION, "scale": None, "samples": {}, "skipped": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("version") != VERSION:
        raise ValueError(f"{path}: manifest version {manifest.get('version')}, "
                         f"this burst reads {VERSION}")
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (it is the record of what was built: resumable)."""
    path = Path(folder) / MANIFEST
    temp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=1) + "\n")
            _synced(handle)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _synced(handle: IO[Any]) -> None:
    """On disk before the rename that publishes it (a power cut then leaves old or new)."""
    handle.flush()
    os.fsync(handle.fileno())


def sample_files(folder: Path, exclude: frozenset[str] = frozenset()) -> list[Path]:
    """The sample files a built dataset's manifest lists, but the scenes in ``exclude``."""
    manifest = read_manifest(folder)
    return [Path(folder) / entry["file"] for scene, entry in sorted(manifest["samples"].items())
            if scene not in exclude]
