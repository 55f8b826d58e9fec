"""``burst bench merge``: denoising merges against the textbook aligned mean, on bursts made by
:mod:`burst_bench.degrade` from photographs no stage was tuned on.

For every burst the shipped presets run exactly as ``burst enhance`` runs them; their reference
frame is then given to the peers, computed by :mod:`burst_bench.peers` in the same run: the
reference alone, ECC translation + mean, ECC Euclidean + mean, the mean with the true motion
(oracle) and the limit 10 log10 N. PSNR is measured in the sRGB-encoded output against the
clean reference view, inside a border the motion cannot reach, split into the moving object's
region and the rest. Figures are printed per file kind, noise band and static / moving set.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from burstcli import Burst
from burstcli.collect import FoundBurst, InputFile
from burstcli.errors import ConfigError
from burstcli.runner import BurstProcessor, JobSpec
from burstlib.colour import srgb_encode

from .degrade import KINDS, NOISE_BANDS, Rendered, draw_recipe, render
from .peers import aligned_mean, decode_linear, ecc_mean
from .scenes import source_files

PRESETS = ("denoise", "fuse-mean", "denoise-hdrplus")
PEERS = ("ECC translation + mean", "ECC Euclidean + mean", "ECC homography + mean",
         "oracle mean")
TEXTBOOK = PEERS[:3]  # the margin is over the best of these, per set


@dataclasses.dataclass
class BurstResult:
    """One burst's figures: PSNR per method and region, registration error, seconds."""

    kind: str
    band: str
    moving: bool
    frames: int
    size: str
    psnr: dict[str, dict[str, float]]  # method -> region ("static", "moving") -> dB
    registration: dict[str, float]  # method -> RMS px over the static part
    dropped: dict[str, int]
    seconds: dict[str, float]
    weight: float = float("nan")  # the first preset's mean robust weight per frame


def psnr(image: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    """PSNR (peak 1) over ``region`` (2-D bool) of all channels."""
    error = float(np.mean((image[region].astype(np.float64) - truth[region]) ** 2))
    return 10 * math.log10(1.0 / max(error, 1e-12))


def product_rgb(burst: Burst) -> np.ndarray:
    """A preset's output as float RGB in [0, 1] (what its writer would store)."""
    image, _ = burst.product()
    if image.dtype.kind in "ui":
        image = image.astype(np.float32) / np.iinfo(image.dtype).max
    return image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def regions(rendered: Rendered, reference: int) -> dict[str, np.ndarray]:
    """Static and moving parts of the reference view, inside a border the motion may uncover."""
    recipe = rendered.recipe
    shape = rendered.clean[reference].shape[:2]
    border = min(int(math.ceil(recipe.shift + math.radians(recipe.rotation) * max(shape) / 2)) + 3,
                 min(shape) // 4)
    inner = np.zeros(shape, bool)
    inner[border:-border, border:-border] = True
    moving = rendered.motion_mask(reference)
    near = cv2.dilate(moving.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    out = {"static": inner & ~near}
    if moving.any():
        out["moving"] = inner & moving
    return out


def registration_error(transforms: Sequence[np.ndarray | None], rendered: Rendered,
                       reference: int, static: np.ndarray) -> tuple[float, int]:
    """RMS distance (px) between found and true frame -> reference positions over the static
    part, and how many frames had no transform (dropped)."""
    ys, xs = np.nonzero(static[::8, ::8])
    points = np.stack([xs * 8.0, ys * 8.0, np.ones(xs.size)])
    errors, dropped = [], 0
    for index, found in enumerate(transforms):
        if index == reference:
            continue
        if found is None:
            dropped += 1
            continue
        truth = rendered.frame_to_frame(index, reference)
        # Points of the reference taken back into the frame by the truth, then forward by both.
        back = np.linalg.inv(truth) @ points
        a, b = found @ back, truth @ back
        errors.append(np.mean(np.sum((a[:2] / a[2] - b[:2] / b[2]) ** 2, axis=0)))
    return (float(np.sqrt(np.mean(errors))) if errors else float("nan")), dropped


def found_burst(rendered: Rendered) -> FoundBurst:
    """The burst as ``burst enhance`` would have found it on disk."""
    files = tuple(InputFile(path) for path in rendered.files)
    return FoundBurst(rendered.recipe.name, rendered.files[0].parent, files)


def measure(rendered: Rendered, processors: dict[str, BurstProcessor]) -> BurstResult:
    """Every preset and peer on one burst."""
    recipe = rendered.recipe
    scores: dict[str, dict[str, float]] = {}
    registration: dict[str, float] = {}
    dropped: dict[str, int] = {}
    seconds: dict[str, float] = {}
    reference, weight = None, float("nan")
    first = next(iter(processors))  # its registration and weights go on the burst's line
    for name, processor in processors.items():
        start = time.perf_counter()
        burst, _ = processor.run_chain(found_burst(rendered))
        seconds[name] = time.perf_counter() - start
        assert burst.reference is not None  # every benched preset selects a reference frame
        reference = burst.reference if reference is None else reference
        parts = regions(rendered, burst.reference)
        truth = rendered.clean[burst.reference]
        scores[name] = {k: psnr(product_rgb(burst), truth, m) for k, m in parts.items()}
        if name == first:
            weights = burst.notes.get("merge.robust", {}).get("mean_weight", {})
            weight = float(np.mean(list(weights.values()))) if weights else float("nan")
            active = set(burst.active_indices)
            found = [f.transform if i in active else None for i, f in enumerate(burst.frames)]
            registration["ours"], dropped["ours"] = registration_error(
                found, rendered, burst.reference, parts["static"])
    assert reference is not None  # set by the first preset: there is always one
    parts = regions(rendered, reference)
    truth = rendered.clean[reference]
    frames = [decode_linear(path) for path in rendered.files]
    encode = srgb_encode if recipe.kind == "dng" else (lambda x: x)
    scores["reference alone"] = {k: psnr(encode(frames[reference]), truth, m)
                                 for k, m in parts.items()}
    for motion, label in zip(("translation", "euclidean", "homography"), TEXTBOOK):
        start = time.perf_counter()
        merged, transforms = ecc_mean(frames, reference, motion)
        seconds[label] = time.perf_counter() - start
        scores[label] = {k: psnr(encode(merged), truth, m) for k, m in parts.items()}
        registration[label], dropped[label] = registration_error(
            transforms, rendered, reference, parts["static"])
    oracle = aligned_mean(frames, reference, [rendered.frame_to_frame(i, reference)
                                               for i in range(len(frames))])
    scores[PEERS[3]] = {k: psnr(encode(oracle), truth, m) for k, m in parts.items()}
    return BurstResult(recipe.kind, recipe.band, recipe.moving_object, recipe.frames,
                       f"{recipe.width}x{recipe.height}", scores, registration, dropped, seconds,
                       weight)


def preset_processors(presets: Sequence[str], overrides: Sequence[str]
                      ) -> dict[str, BurstProcessor]:
    """A processor per preset, each given the ``--set`` overrides of the stages it has (a
    model for ``zoom.network`` applies to the learned preset, not to its classical peer
    beside it); an override that no preset here can take is an error."""
    processors: dict[str, BurstProcessor] = {}
    used: set[str] = set()
    for preset in presets:
        stages = {step.stage for step in BurstProcessor(JobSpec(preset, (), "tiff")).preset.steps}
        mine = tuple(o for o in overrides if o.split("=", 1)[0].rsplit(".", 1)[0] in stages)
        used.update(mine)
        processors[preset] = BurstProcessor(JobSpec(preset, mine, "tiff"))
    unused = [o for o in overrides if o not in used]
    if unused:
        raise ConfigError(f"--set {unused[0]}: none of {', '.join(presets)} has that stage")
    return processors


def bench_merge(data: Path, *, bursts: int, kinds: Sequence[str] = KINDS,
                bands: Sequence[str] = NOISE_BANDS, sizes: tuple[int, int] = (48, 512),
                presets: Sequence[str] = PRESETS, seed: int = 12,
                overrides: Sequence[str] = (), shake: float = 0.0,
                sets: Sequence[str] | None = None, lens: bool = True,
                echo: Callable[[str], None] = print) -> list[BurstResult]:
    """Make ``bursts`` bursts per kind and noise band (alternately static and with a moving
    object), run every preset and peer on each (``overrides``: ``stage.param=value`` as
    ``--set`` takes them), print the tables; returns the results. ``shake``: each frame
    shaken by a trajectory up to that long (px; the truth stays still); ``sets``: the image
    sources to draw from (default: all found); ``lens`` False: no lens blur, so the truth is
    sharp and sharpening it is not an error (for deblurring presets)."""
    sources = {name: files for name, files in source_files(data).items()
               if sets is None or name in sets}
    if len(sources) < 2:
        raise FileNotFoundError(f"{data}: needs at least two of b100, set14, urban100_subset, "
                                "city100_iphonex")
    processors = preset_processors(presets, overrides)
    rng = np.random.default_rng(seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="burst-bench-merge-") as work:
        for kind in kinds:
            for band in bands:
                for index in range(bursts):
                    recipe = draw_recipe(rng, index, kind, band, sources, sizes,
                                         moving=bool(index % 2), shake=shake)
                    recipe = recipe if lens else dataclasses.replace(recipe, optics=0.0)
                    rendered = render(recipe, Path(work) / recipe.name, sources)
                    results.append(measure(rendered, processors))
                    echo(_burst_line(results[-1], recipe.source))
    echo("")
    for line in summary_table(results, presets):
        echo(line)
    return results


def _burst_line(result: BurstResult, source: str) -> str:
    ref = result.psnr["reference alone"]["static"]
    cells = " ".join(f"{name.split(' ')[0][:8]} {result.psnr[name]['static'] - ref:+.2f}"
                     for name in result.psnr if name != "reference alone")
    return (f"{result.kind:6} {result.band:8} {'moving' if result.moving else 'static'} "
            f"{result.size:>9} x{result.frames:<2} {source:8} ref {ref:5.2f} dB | {cells} | "
            f"reg {result.registration['ours']:.3f} px ({result.dropped['ours']} dropped) vs "
            f"ECC-E {result.registration[PEERS[1]]:.3f}; weight {result.weight:.2f}")


def summary_table(results: Sequence[BurstResult], presets: Sequence[str]) -> list[str]:
    """Mean gains over the reference frame per kind, noise band and set (static / moving)."""
    groups: dict[tuple[str, str, bool], list[BurstResult]] = defaultdict(list)
    for result in results:
        groups[(result.kind, result.band, result.moving)].append(result)
    methods = [*PEERS, *presets]
    short = ["ECC-T", "ECC-E", "ECC-H", "oracle", *presets]
    head = (f"{'kind':6} {'noise':8} {'set':6} {'n':>2} {'ref dB':>6} {'limit':>6} "
            + " ".join(f"{s:>15}" for s in short) + f" {'ours-best ECC':>14} {'reg px ours/ECC-E':>18}")
    lines = ["Gain over the reference frame alone, dB (moving sets: static part / moving region)",
             head]
    for (kind, band, moving), rows in sorted(groups.items()):
        lines.append(_summary_row(kind, band, moving, rows, methods, presets[0] if presets else None))
    return lines


def _summary_row(kind: str, band: str, moving: bool, rows: list[BurstResult],
                 methods: list[str], ours: str | None) -> str:
    def gain(method: str, region: str) -> float:
        return float(np.mean([r.psnr[method][region] - r.psnr["reference alone"][region]
                              for r in rows]))

    def cell(method: str) -> str:
        if moving:
            return f"{gain(method, 'static'):+6.2f}/{gain(method, 'moving'):+6.2f}"
        return f"{gain(method, 'static'):+6.2f}"

    ref = float(np.mean([r.psnr["reference alone"]["static"] for r in rows]))
    limit = float(np.mean([10 * math.log10(r.frames) for r in rows]))
    best_ecc = max(gain(peer, "static") for peer in TEXTBOOK)
    margin = f"{gain(ours, 'static') - best_ecc:+14.2f}" if ours else ""
    reg_ours = np.nanmean([r.registration["ours"] for r in rows]) if ours else float("nan")
    reg_ecc = np.nanmean([r.registration[PEERS[1]] for r in rows])
    return (f"{kind:6} {band:8} {'moving' if moving else 'static':6} {len(rows):>2} {ref:6.2f} "
            f"{limit:+6.2f} " + " ".join(f"{cell(m):>15}" for m in methods)
            + f" {margin} {reg_ours:8.3f}/{reg_ecc:.3f}")
