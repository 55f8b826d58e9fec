"""``burst bench exposure``: 001's exposure policy on bracketed bursts, beside its two fixed
alternatives, from the same run on the same bursts.

Each burst is a synthetic bracketed DNG burst (:mod:`burstlib.synth.api` with long frames): a
regular capture, then ``long`` frames at ``ratio`` times the exposure time (a lower ISO, longer
shake), scenes from photographs when a folder is given, else procedural ones. Every variant
runs the same chain (decode, score.frequency, select sharpest, develop.frames to linear light,
deblur.network on the reference, align.global, merge.robust, develop.encode) and differs only
in which frames join the deblurred reference:

- ``policy``: ``select.exposure`` as shipped (001 claims 5-7);
- ``all frames``: every frame;
- ``regular only`` / ``long only``: ``select.exposure`` forced to one branch;
- ``reference deblurred``: no fusion (what ``deblur-single`` gives).

PSNR (sRGB, a border of 16 px left out) against the reference view's clean truth, developed
by the same ``develop`` stage; a burst whose chosen reference is not the synth's (its truth
is of that frame only) is counted and left out.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from burstcli import Burst, Frame
from burstcli.collect import FoundBurst, InputFile
from burstcli.registry import run_stage
from burstcli.runner import BurstProcessor, JobSpec
from burstlib.metrics import psnr
from burstlib.synth.api import SynthOptions, load_truth, make_burst

from .merge_bench import product_rgb

CHAIN = ("decode, score.frequency, select, develop.frames, deblur.network, {policy}"
         "align.global, merge.robust, develop.encode")
VARIANTS = {
    "policy": ("select.exposure, ", ""),
    "all frames": ("", ""),
    "regular only": ("select.exposure, ",
                     "  select.exposure: {threshold: 0.000001, noisy: 1000000}\n"),
    "long only": ("select.exposure, ", "  select.exposure: {threshold: 1000000}\n"),
}
NOISE = {"low": 3e-4, "moderate": 2e-3, "high": 1e-2}
BORDER = 16


def _preset(folder: Path, name: str, stage: str, params: str) -> Path:
    path = folder / f"{name.replace(' ', '_')}.yaml"
    path.write_text(f"pipeline: [{CHAIN.format(policy=stage)}]\n"
                    "params:\n  select: {method: sharpest}\n"
                    "  develop.frames: {output: linear}\n" + params)
    return path


def _single(folder: Path) -> Path:
    path = folder / "single.yaml"
    path.write_text("pipeline: [decode, score.frequency, select, develop, deblur.network]\n"
                    "params:\n  select: {method: sharpest}\n")
    return path


@dataclasses.dataclass
class Cell:
    """PSNRs per variant over the bursts of one noise band."""

    values: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    branches: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: int = 0


def run_bench(bursts: int, *, long: int = 3, ratio: float = 4.0, blur: float = 6.0,
              size: tuple[int, int] = (320, 240), seed: int = 0, source: Path | None = None,
              echo: Callable[[str], None] = print) -> dict[str, Cell]:
    """``bursts`` bracketed bursts per noise band through every variant; prints a line per
    burst and the means."""
    cells: dict[str, Cell] = {}
    with tempfile.TemporaryDirectory(prefix="burst-bench-exposure-") as work:
        folder = Path(work)
        presets = {name: _preset(folder, name, *parts) for name, parts in VARIANTS.items()}
        presets["reference deblurred"] = _single(folder)
        processors = {n: BurstProcessor(JobSpec(str(p), (), "tiff")) for n, p in presets.items()}
        for band, shot in NOISE.items():
            cell = cells.setdefault(band, Cell())
            for index in range(bursts):
                options = SynthOptions(frames=5 + long, width=size[0], height=size[1],
                                       noise=shot, blur=blur, long_frames=long,
                                       long_exposure=ratio, moving_object=False,
                                       seed=seed + 100 * list(NOISE).index(band) + index,
                                       source=source, name=f"{band}_{index}")
                make_burst(folder / "shots", options)
                _measure(folder / "shots" / options.name, processors, cell, echo)
    echo("\nmean PSNR (dB) per noise band; branch counts of the policy:")
    for band, cell in cells.items():
        means = {name: float(np.mean(v)) for name, v in cell.values.items() if v}
        if not means:
            continue
        best_fixed = max(means["all frames"], means["regular only"])
        echo(f"  {band:<9} " + ", ".join(f"{k} {v:.2f}" for k, v in means.items())
             + f"; policy - best of (all, regular only) {means['policy'] - best_fixed:+.2f}"
             + f"; branches {cell.branches}; skipped {cell.skipped}")
    return cells


def _measure(burst_dir: Path, processors: dict[str, BurstProcessor], cell: Cell,
             echo: Callable[[str], None]) -> None:
    truth = load_truth(burst_dir)
    files = tuple(InputFile(p) for p in sorted(burst_dir.glob("*.dng")))
    found = FoundBurst(burst_dir.name, burst_dir, files)
    target = _developed_truth(burst_dir / truth["frames"][truth["reference"]]["file"], truth)
    results: dict[str, float] = {}
    branch, measures = "?", ""
    for name, processor in processors.items():
        burst, _ = processor.run_chain(found)
        if burst.reference != truth["reference"]:
            cell.skipped += 1
            echo(f"{burst_dir.name}: {name} chose frame {burst.reference}, the truth is of "
                 f"{truth['reference']}: left out")
            return
        if name == "policy":
            note = burst.notes["select.exposure"]
            branch = note["branch"]
            measures = f" (sharpness {note['sharpness']:.3f}, noise {note['noise']:.4f})"
        results[name] = psnr(product_rgb(burst), target, BORDER)
    for name, value in results.items():
        cell.values.setdefault(name, []).append(value)
    cell.branches[branch] = cell.branches.get(branch, 0) + 1
    echo(f"{burst_dir.name}: policy took {branch}{measures}; " +
         ", ".join(f"{k} {v:.2f}" for k, v in results.items()))


def _developed_truth(path: Path, truth: dict) -> np.ndarray:
    """The clean reference view through ``develop``, with its file's own RAW metadata."""
    decoded = run_stage("decode", Burst("truth", (Frame(path),), reference=0))
    image = run_stage("develop", decoded.replace(image=truth["clean"],
                                                 image_layout="linear_raw")).image
    assert image is not None  # develop always writes the image
    return image
