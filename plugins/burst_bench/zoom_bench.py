"""``burst bench upscale``: multi-frame super-resolution on bursts made by
:mod:`burst_bench.degrade` at the zoom's scale (box-sampled, aliased frames of photographs no
model was trained on; every other one with an object moving on its own), every preset beside
the textbook method from the same run.

Per burst: the shipped ``upscale{s}x`` (learned) and ``upscale{s}x-classical`` presets, run as
``burst enhance`` runs them; then, for their reference frame: bicubic enlargement of the
reference, and the textbook ECC (Euclidean) + iterative back-projection through a box sensor
from bicubic, at 10 and 30 iterations (noise makes more iterations worse: the margin is taken
over the better one), and the same with the true motion (oracle). Y-PSNR (BT.601, 16-235) on
the sRGB-encoded output against the clean view at the zoom's resolution, inside a border the
motion may uncover; per file kind and noise band.
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

from burstcli.runner import BurstProcessor
from burstlib.colour import srgb_encode

from .degrade import KINDS, NOISE_BANDS, Rendered, draw_recipe, render
from .merge_bench import found_burst, preset_processors, product_rgb
from .peers import back_projection, decode_linear, ecc_transform, grey
from .scenes import source_files

IBP_ITERATIONS = (10, 30)
TEXTBOOK = tuple(f"ECC + IBP {n} it." for n in IBP_ITERATIONS)


@dataclasses.dataclass
class ZoomResult:
    """One burst's Y-PSNR per method and seconds per method."""

    kind: str
    band: str
    moving: bool  # a textured object moving on its own through the burst
    size: str
    frames: int
    psnr: dict[str, float]
    seconds: dict[str, float]


def protocol_y(rgb: np.ndarray) -> np.ndarray:
    """Y in [16, 235] / 255 of sRGB-encoded RGB in [0, 1] (BT.601): the usual SR protocol."""
    return (16 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


def y_psnr(image: np.ndarray, truth: np.ndarray, border: int) -> float:
    inner = np.s_[border:-border, border:-border]
    error = float(np.mean((protocol_y(np.clip(image, 0, 1))[inner]
                           - protocol_y(truth)[inner]) ** 2))
    return 10 * math.log10(1.0 / max(error, 1e-12))


def measure_zoom(rendered: Rendered, processors: dict[str, BurstProcessor]) -> ZoomResult:
    """The presets and the peers on one zoom burst."""
    recipe = rendered.recipe
    scale = recipe.scale
    border = scale * (int(math.ceil(recipe.shift + math.radians(recipe.rotation) * max(
        recipe.width, recipe.height) / 2)) + 2)
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    reference = None
    for name, processor in processors.items():
        start = time.perf_counter()
        burst, _ = processor.run_chain(found_burst(rendered))
        seconds[name] = time.perf_counter() - start
        assert burst.reference is not None  # every benched preset selects a reference frame
        reference = burst.reference if reference is None else reference
        scores[name] = y_psnr(product_rgb(burst), rendered.clean_hr[burst.reference], border)
    reference = reference or 0
    truth = rendered.clean_hr[reference]
    frames = [decode_linear(path) for path in rendered.files]
    encode = srgb_encode if recipe.kind == "dng" else (lambda x: x)
    size = (truth.shape[1], truth.shape[0])
    scores["bicubic"] = y_psnr(encode(cv2.resize(frames[reference], size,
                                                 interpolation=cv2.INTER_CUBIC)), truth, border)
    greys = [grey(f) for f in frames]
    start = time.perf_counter()
    found = [np.eye(3) if i == reference else ecc_transform(greys[reference], g, "euclidean")
             for i, g in enumerate(greys)]
    true = [rendered.frame_to_frame(i, reference) for i in range(len(frames))]
    for iterations, label in zip(IBP_ITERATIONS, TEXTBOOK):
        image = back_projection(frames, reference, found, scale, iterations=iterations)
        scores[label] = y_psnr(encode(image), truth, border)
        seconds[label] = time.perf_counter() - start
        start = time.perf_counter()
    oracle = back_projection(frames, reference, true, scale, iterations=IBP_ITERATIONS[0])
    scores["oracle IBP"] = y_psnr(encode(oracle), truth, border)
    return ZoomResult(recipe.kind, recipe.band, recipe.moving_object,
                      f"{recipe.width}x{recipe.height}",
                      recipe.frames, scores, seconds)


def bench_upscale(data: Path, *, scale: int, bursts: int, kinds: Sequence[str] = KINDS,
                  bands: Sequence[str] = NOISE_BANDS, sizes: tuple[int, int] = (48, 160),
                  seed: int = 34, overrides: Sequence[str] = (),
                  echo: Callable[[str], None] = print) -> list[ZoomResult]:
    """Make ``bursts`` static zoom bursts per kind and noise band, run the learned and the
    classical preset and the peers on each, print the tables; returns the results."""
    sources = source_files(data)
    if len(sources) < 2:
        raise FileNotFoundError(f"{data}: needs at least two of b100, set14, urban100_subset, "
                                "city100_iphonex")
    presets = (f"upscale{scale}x", f"upscale{scale}x-classical")
    processors = preset_processors(presets, overrides)
    rng = np.random.default_rng(seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="burst-bench-upscale-") as work:
        for kind in kinds:
            for band in bands:
                for index in range(bursts):
                    # Every other burst has a moving object (scored over the whole frame:
                    # the object must come out as the reference shows it).
                    recipe = draw_recipe(rng, index, kind, band, sources, sizes,
                                         moving=index % 2 == 1, scale=scale)
                    rendered = render(recipe, Path(work) / recipe.name, sources)
                    results.append(measure_zoom(rendered, processors))
                    echo(_line(results[-1], recipe.source))
    echo("")
    for line in zoom_table(results, presets):
        echo(line)
    return results


def _line(result: ZoomResult, source: str) -> str:
    cells = " ".join(f"{name}: {value:.2f}" for name, value in result.psnr.items())
    return (f"{result.kind:6} {result.band:8} {_set(result):6} {result.size:>9} "
            f"x{result.frames:<2} {source:8} {cells}")


def _set(result: ZoomResult) -> str:
    return "moving" if result.moving else "static"


def zoom_table(results: Sequence[ZoomResult], presets: Sequence[str]) -> list[str]:
    """Mean Y-PSNR per kind and noise band, and each preset's margin over the better
    textbook row."""
    groups: dict[tuple[str, str, str], list[ZoomResult]] = defaultdict(list)
    for result in results:
        groups[(result.kind, result.band, _set(result))].append(result)
    methods = ["bicubic", *TEXTBOOK, "oracle IBP", *presets]
    head = (f"{'kind':6} {'noise':8} {'set':6} {'n':>2} " + " ".join(f"{m:>20}" for m in methods)
            + "".join(f" {p + ' - best ECC+IBP':>34}" for p in presets))
    lines = ["Y-PSNR dB (BT.601, 16-235) against the clean view at the zoom's resolution", head]
    for (kind, band, kept), rows in sorted(groups.items()):
        mean = {m: float(np.mean([r.psnr[m] for r in rows])) for m in methods}
        best = max(mean[m] for m in TEXTBOOK)
        lines.append(f"{kind:6} {band:8} {kept:6} {len(rows):>2} " + " ".join(
            f"{mean[m]:>20.2f}" for m in methods) + "".join(
            f" {mean[p] - best:>+34.2f}" for p in presets))
    return lines
