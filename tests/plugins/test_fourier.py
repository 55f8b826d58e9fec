"""Fourier burst accumulation (burst_merge.fourier): tiles that rebuild the image, noise that
still averages down, frequencies taken from the frames that kept them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from burst_merge.fourier import Accumulation, accumulate as accumulate_planes, hann_window
from burstlib.synth.scene import procedural_scene

DEFAULT = Accumulation(power=4.0, smoothing=0.05, tile=64, noise_aware=True)
PUBLISHED = Accumulation(power=11.0, smoothing=0.02, tile=0, noise_aware=False)


def accumulate(stack: np.ndarray, noise: np.ndarray, how: Accumulation):
    """The accumulation of k x H x W x C frames with per-sample noise H x W x C, as H x W x C."""
    merged, left = accumulate_planes(np.ascontiguousarray(stack.transpose(0, 3, 1, 2)),
                                     noise.mean(axis=2), how)
    return merged.transpose(1, 2, 0), left


def _scene(size: int = 160, seed: int = 3) -> np.ndarray:
    return procedural_scene(size, size, np.random.default_rng(seed)).astype(np.float32)


def test_half_step_windows_sum_to_one():
    window = hann_window(16)
    total = np.zeros((48, 48), np.float32)
    for y in range(0, 33, 8):
        for x in range(0, 33, 8):
            total[y:y + 16, x:x + 16] += window
    assert np.allclose(total[8:-8, 8:-8], 1.0, atol=1e-6)


@pytest.mark.parametrize("shape", [(160, 160, 3), (37, 90, 4), (64, 64, 1)])
@pytest.mark.parametrize("tile", [64, 63, 1, 0])
def test_identical_frames_come_back_unchanged(shape, tile):
    """Odd sizes, sizes under a tile, one channel or four (a mosaic's sites); odd and tiny
    tiles are rounded up to a side whose half steps tile exactly."""
    import dataclasses
    frame = np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)
    stack = np.stack([frame] * 3)
    noise = np.full(shape, 1e-4, np.float32)
    for how in (dataclasses.replace(DEFAULT, tile=tile), PUBLISHED):
        assert np.allclose(accumulate(stack, noise, how)[0], frame, atol=1e-4)


@pytest.mark.parametrize("value", [0.0, 0.5])
def test_flat_and_black_frames_stay_finite(value):
    """A frequency no frame holds (a flat or black tile) is shared equally, never 0 / 0."""
    stack = np.full((3, 40, 50, 3), value, np.float32)
    noise = np.full((40, 50, 3), 1e-6, np.float32)
    for how in (DEFAULT, PUBLISHED):
        merged, left = accumulate(stack, noise, how)
        assert np.isfinite(merged).all() and np.allclose(merged, value, atol=1e-5)
        assert np.isfinite(left).all()


def test_noise_only_frequencies_average_over_every_frame():
    """A still scene in noise: the default weights average nearly like the mean; at the
    published power, taking the noise out first averages more than weighing noise as
    signal (which favours each frequency's loudest noise)."""
    rng = np.random.default_rng(1)
    clean = cv2.GaussianBlur(_scene(), (0, 0), 2.0)
    sigma = 0.05
    stack = np.stack([clean + rng.normal(0, sigma, clean.shape).astype(np.float32)
                      for _ in range(8)])
    noise = np.full(clean.shape, sigma ** 2, np.float32)

    def error(image: np.ndarray) -> float:
        return float(np.mean((image - clean) ** 2))

    mean = error(stack.mean(axis=0))
    assert error(accumulate(stack, noise, DEFAULT)[0]) < 1.1 * mean
    aware = Accumulation(power=11.0, smoothing=0.05, tile=64, noise_aware=True)
    blind = Accumulation(power=11.0, smoothing=0.05, tile=64, noise_aware=False)
    assert error(accumulate(stack, noise, aware)[0]) < 0.95 * error(accumulate(stack, noise, blind)[0])


def test_crossed_shake_keeps_what_either_frame_kept():
    """Frames shaken along different directions, with a little noise: the accumulation, tiled
    or as published, is far sharper than their mean."""
    rng = np.random.default_rng(2)
    clean = _scene()
    frames = []
    for angle in (0, 60, 120, 90):
        kernel = np.zeros((9, 9), np.float32)
        cv2.line(kernel, (4 - round(4 * np.cos(np.radians(angle))), 4 - round(4 * np.sin(np.radians(angle)))),
                 (4 + round(4 * np.cos(np.radians(angle))), 4 + round(4 * np.sin(np.radians(angle)))), 1.0)
        blurred = cv2.filter2D(clean, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
        frames.append(blurred + rng.normal(0, 0.01, clean.shape).astype(np.float32))
    stack = np.stack(frames)
    noise = np.full(clean.shape, 1e-4, np.float32)
    inner = np.s_[8:-8, 8:-8]

    def error(image: np.ndarray) -> float:
        return float(np.mean((image[inner] - clean[inner]) ** 2))

    mean = error(stack.mean(axis=0))
    assert error(accumulate(stack, noise, DEFAULT)[0]) < 0.6 * mean
    assert error(accumulate(stack, noise, PUBLISHED)[0]) < 0.6 * mean


def test_what_moved_comes_from_the_reference():
    """A square that moved between two noisy frames: with ``deghost`` the accumulation keeps
    the reference's square and no ghost of the other's; without it both show."""
    from pathlib import Path

    from burst_merge import deblur_fourier
    from burstcli import Burst, Frame
    rng = np.random.default_rng(4)
    clean = cv2.GaussianBlur(_scene(128, 5).mean(axis=2), (0, 0), 1.0)
    moved = clean.copy()
    clean[40:70, 40:70], moved[40:70, 70:100] = 1.0, 1.0  # the square, then 30 px on
    frames = tuple(Frame(Path(f"{i}.tiff"), layout="gray", transform=np.eye(3),
                         pixels=(image + rng.normal(0, 0.01, image.shape)).astype(np.float32))
                   for i, image in enumerate((clean, moved)))
    burst = Burst("b", frames, reference=0)
    ghost = np.s_[45:65, 75:95]  # where the other frame's square is, not the reference's

    def ghost_error(deghost: float) -> float:
        params = deblur_fourier.make_params({"deghost": deghost, "spatial": 0.0})
        image = deblur_fourier(burst, params).image
        return float(np.abs(image[ghost] - clean[ghost]).mean())

    assert ghost_error(1.5) < 0.02 < 0.2 < ghost_error(0.0)


@pytest.mark.parametrize("kind", ["dng", "jpeg"])
def test_the_burst_deblur_preset_end_to_end(tmp_path, burst_cli, burst_synth_burst, kind):
    """RAW frames developed before the accumulation; JPEG frames as they are."""
    import json
    shots, _ = burst_synth_burst(frames=4, width=128, height=96, seed=3, name="d", blur=6.0)
    if kind == "jpeg":
        shots = tmp_path / "jpeg" / "j"
        shots.mkdir(parents=True)
        scene = _scene(140, 6)
        for index in range(3):
            view = scene[index:index + 96, 2 * index:2 * index + 128]
            noisy = view + np.random.default_rng(index).normal(0, 0.02, view.shape)
            cv2.imwrite(str(shots / f"f{index}.jpg"),
                        (np.clip(noisy, 0, 1)[..., ::-1] * 255).astype(np.uint8))
    result = burst_cli("enhance", shots, "-p", "burst-deblur", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    sidecar = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert sidecar["notes"]["deblur.fourier"]["noise_aware"] is True
    image = cv2.imread(str(next((tmp_path / "out").glob("*.tiff"))), cv2.IMREAD_UNCHANGED)
    assert image.shape[:2] == (96, 128) and image.dtype == np.uint16
    assert 0.05 < image.mean() / 65535 < 0.95  # a picture, not NaN written as 0 or white


def test_bench_merge_measures_deblurring_presets_on_shaken_bursts(tmp_path):
    """`burst bench merge --shake` with a deblurring preset first (its registration is the
    one on the burst's line) and the published accumulation as a preset file."""
    import sys
    from pathlib import Path

    from burst_bench.merge_bench import bench_merge
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import textured_scene
    for source in ("set14", "b100"):
        (tmp_path / source).mkdir()
        textured_scene(tmp_path / source / "a.png", len(source))
    published = Path(__file__).parents[2] / "benchmarks" / "presets" / "fba-published.yaml"
    lines: list[str] = []
    results = bench_merge(tmp_path, bursts=1, kinds=("png8",), bands=("moderate",),
                          sizes=(64, 64), presets=("burst-deblur", str(published)), shake=6.0,
                          lens=False, echo=lines.append)
    assert len(results) == 1 and "ours" in results[0].registration
    assert set(results[0].psnr) >= {"burst-deblur", str(published), "reference alone"}
    assert any("burst-deblur" in line for line in lines)


@pytest.mark.parametrize("size", [(64, 96), (63, 95)])
def test_the_stage_on_a_raw_mosaic(size):
    """On a CFA mosaic (the four sites as four planes), odd sizes included: identical frames
    come back as they were, and noisy ones average down."""
    from pathlib import Path

    from burst_merge import deblur_fourier
    from burstcli import Burst, Frame
    rng = np.random.default_rng(7)
    clean = cv2.GaussianBlur(_scene(100, 8).mean(axis=2), (0, 0), 1.5)[:size[0], :size[1]]
    noisy = [clean + rng.normal(0, 0.03, clean.shape).astype(np.float32) for _ in range(4)]

    def merged(frames: list[np.ndarray]) -> np.ndarray:
        burst = Burst("b", tuple(Frame(Path(f"{i}.dng"), pixels=f.astype(np.float32),
                                       layout="cfa", transform=np.eye(3))
                                 for i, f in enumerate(frames)), reference=0)
        image = deblur_fourier(burst, deblur_fourier.make_params({"deghost": 0.0})).image
        assert image.shape == clean.shape and np.isfinite(image).all()
        return image

    assert np.allclose(merged([clean] * 3), clean, atol=1e-4)
    error = float(np.mean((merged(noisy) - clean) ** 2))
    assert error < 0.5 * float(np.mean((noisy[0] - clean) ** 2))
