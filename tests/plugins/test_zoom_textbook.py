"""The zoom stages against the textbook method (ECC + iterative back-projection through a box
sensor, from bicubic), on aliased bursts made by the benchmark's generator (not the one the
models were trained with)."""

from __future__ import annotations

import numpy as np
import pytest

from burst_bench.degrade import Recipe, render
from burst_bench.zoom_bench import TEXTBOOK, measure_zoom
from burstcli.runner import BurstProcessor, JobSpec


def zoom_recipe(sources, scale: int, noise: float, seed: int) -> Recipe:
    return Recipe(name=f"x{scale}_{seed}", kind="tiff16", source="texture",
                  image=sources["texture"][1], frames=8, width=72, height=56, band="light",
                  noise=noise, profile=False, motion="rotation", shift=3.0, rotation=0.5,
                  moving_object=False, object_share=0.0, flat=False, optics=0.3, quality=95,
                  seed=seed, scale=scale)


@pytest.mark.parametrize("scale", [2, 4])
def test_zoom_stages_beat_the_textbook_back_projection(tmp_path, bench_sources, scale):
    presets = {p: BurstProcessor(JobSpec(p, (), "tiff"))
               for p in (f"upscale{scale}x", f"upscale{scale}x-classical")}
    margins = {p: [] for p in presets}
    # Moderate and heavy noise: at light noise (sigma <= 0.01) both are on a par with the
    # textbook method, not ahead (see the issue notes); this guards what holds.
    for noise, seed in ((0.03, 2), (0.06, 4)):
        rendered = render(zoom_recipe(bench_sources, scale, noise, seed), tmp_path / str(seed),
                          bench_sources)
        result = measure_zoom(rendered, presets)
        best = max(result.psnr[name] for name in TEXTBOOK)
        for preset in presets:
            margins[preset].append(result.psnr[preset] - best)
    learned, classical = (f"upscale{scale}x", f"upscale{scale}x-classical")
    assert min(margins[classical]) > 1.0, margins
    assert min(margins[learned]) > 1.0, margins


def test_validation_stops_noisy_bursts_early_and_lets_clean_ones_converge(tmp_path,
                                                                          bench_sources):
    runs = {}
    classical = BurstProcessor(JobSpec("upscale2x-classical", (), "tiff"))
    for noise, seed in ((0.0005, 3), (0.06, 3)):
        rendered = render(zoom_recipe(bench_sources, 2, noise, seed), tmp_path / str(noise),
                          bench_sources)
        from burst_bench.merge_bench import found_burst
        burst, _ = classical.run_chain(found_burst(rendered))
        runs[noise] = burst.notes["zoom.classical"]["iterations"]
    assert runs[0.06] <= 3 < 10 <= runs[0.0005], runs


@pytest.mark.parametrize("scale", [2, 4])
def test_zoom_stages_keep_a_flat_scene_seen_across_a_large_shift(tmp_path, bench_sources, scale):
    """A smooth, sky-like scene, frames 6 px apart: each frame sees a different part of the
    brightness ramp, so only gains measured on what the frames share keep the exposure right
    (whole-frame means put both stages 9 dB below bicubic)."""
    recipe = zoom_recipe(bench_sources, scale, 0.004, 7)
    recipe = Recipe(**{**recipe.__dict__, "flat": True, "shift": 6.0, "rotation": 1.2})
    presets = {p: BurstProcessor(JobSpec(p, (), "tiff"))
               for p in (f"upscale{scale}x", f"upscale{scale}x-classical")}
    result = measure_zoom(render(recipe, tmp_path / "flat", bench_sources), presets)
    for preset in presets:
        assert result.psnr[preset] > result.psnr["bicubic"] + 0.5, result.psnr


@pytest.mark.parametrize("scale", [2, 4])
def test_zoom_stages_take_a_moving_object_from_the_reference(tmp_path, bench_sources, scale):
    """A textured object moving on its own through the burst: frames are weighed by their
    agreement with the reference, so the object is not smeared into a double (without the
    weights both stages were 7-10 dB below bicubic on such bursts, as the textbook method is)."""
    recipe = zoom_recipe(bench_sources, scale, 0.004, 9)
    recipe = Recipe(**{**recipe.__dict__, "moving_object": True, "object_share": 0.12})
    presets = {p: BurstProcessor(JobSpec(p, (), "tiff"))
               for p in (f"upscale{scale}x", f"upscale{scale}x-classical")}
    result = measure_zoom(render(recipe, tmp_path / "moving", bench_sources), presets)
    best = max(result.psnr[name] for name in TEXTBOOK)
    for preset in presets:
        assert result.psnr[preset] > result.psnr["bicubic"], result.psnr
        assert result.psnr[preset] > best + 2.0, result.psnr
