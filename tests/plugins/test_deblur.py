"""The shipped deblur network and the ``deblur.network`` stage: the model is present, small,
folded and registered; it restores shaken frames and leaves sharp ones alone (these fail when
the weights are broken); the presets run end to end on DNG, JPEG and one-frame bursts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")

from burst_deblur.apply import run_model  # noqa: E402
from burst_deblur.bench import psnr  # noqa: E402
from burstcli.registry import find_model  # noqa: E402
from burstlib.synth.scene import procedural_scene  # noqa: E402
from burstlib.synth.shake import (BlurRecipe, blur_pair, shake_trajectory,  # noqa: E402
                                  trajectory_kernel)

#: On these procedural scenes the first training (deblur_rgb, now `deblur-rgb`) measured +0.11
#: dB on 6 px shakes (shot 1e-3) and -0.20 dB on sharp frames at shot 3e-3; v2 (deblur_rgb_sigma,
#: the plane measured from the frame) +0.04 dB and -1.28 dB: on these hard-edged synthetic
#: scenes it smooths more than it should, which costs nothing in the stage by default (they
#: measure 0.15-0.21 sharp and are skipped; deblur_rgb_sigma.md). Photographs are its benchmark.
#: An untrained model (the identity) gains nothing; broken weights lose many dB.
SHAKEN_GAIN_DB = 0.03
SHARP_LOSS_DB = 2.0


def _noise(shot: float) -> tuple[float, float]:
    """(shot, read) as the synthetic-burst recipe ties them."""
    return shot, float(np.exp(2.18 * np.log(shot) + 1.20))


@pytest.fixture(scope="module")
def card():
    return find_model("deblur", "deblur")


def test_the_shipped_model_is_small_folded_and_documented(card):
    assert card.task == "deblur" and card.planes in ("rgb", "rgb+sigma") and card.scale == 1
    assert card.file.stat().st_size < 1_000_000 and card.facts["parameters"] <= 100_000
    assert card.document is not None and card.file.with_suffix(".yaml").is_file()


def _scenes(count: int, side: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [procedural_scene(side, side, rng) for _ in range(count)]


def test_it_restores_shaken_frames(card):
    rng = np.random.default_rng(3)
    gains = []
    for scene in _scenes(6):  # the scenes of the figures above
        kernel = trajectory_kernel(shake_trajectory(rng, 6.0))
        pair = blur_pair(scene, rng, BlurRecipe(brightness=(1.0, 1.0)), kernel=kernel,
                         noise=_noise(1e-3))
        gains.append(psnr(run_model(card, pair.blurry, 512), pair.sharp)
                     - psnr(pair.blurry, pair.sharp))
    assert np.mean(gains) > SHAKEN_GAIN_DB, gains


def test_it_leaves_a_sharp_clean_frame_nearly_alone(card):
    losses = []
    rng = np.random.default_rng(4)
    for scene in _scenes(4):
        pair = blur_pair(scene, rng, BlurRecipe(brightness=(1.0, 1.0)),
                         kernel=np.ones((1, 1), np.float32), noise=_noise(3e-3))
        losses.append(psnr(pair.blurry, pair.sharp) - psnr(run_model(card, pair.blurry, 512),
                                                           pair.sharp))
    assert np.mean(losses) < SHARP_LOSS_DB, losses


def test_tiles_do_not_change_the_result(card):
    image = _scenes(1, 200)[0]
    whole = run_model(card, image, 1024)
    tiled = run_model(card, image, 96)
    assert np.abs(whole - tiled).max() < 1e-3  # float rounding of other tile sizes only


def test_grey_and_odd_sizes(card):
    grey = _scenes(1, 130)[0][:127, :, 1]
    out = run_model(card, grey, 512)
    assert out.shape == grey.shape and np.isfinite(out).all()


def _jpeg_burst(folder: Path, frames: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur(procedural_scene(96, 128, rng), (0, 0), 2.0)  # not sharp: it runs
    for index in range(frames):
        noisy = np.clip(scene + rng.normal(0, 0.02, scene.shape), 0, 1)
        cv2.imwrite(str(folder / f"f{index}.jpg"), (noisy[..., ::-1] * 255).astype(np.uint8))
    return folder


def _shots(kind: str, tmp_path: Path, burst_synth_burst) -> Path:
    """A 128 x 96 burst of ``kind``: dng (4 frames), jpeg (3) or one-frame (1 JPEG)."""
    if kind == "dng":
        return burst_synth_burst(frames=4, width=128, height=96, seed=3, name="d")[0]
    return _jpeg_burst(tmp_path / "shots" / "j", 1 if kind == "one-frame" else 3)


def _sidecar(folder: Path) -> dict:
    return json.loads(next(folder.glob("*.json")).read_text())


@pytest.mark.parametrize("kind", ["dng", "jpeg", "one-frame"])
def test_deblur_single_end_to_end(tmp_path, burst_cli, burst_synth_burst, kind):
    result = burst_cli("enhance", _shots(kind, tmp_path, burst_synth_burst), "-p",
                       "deblur-single", "-o", tmp_path / "out",
                       "--set", "deblur.network.skip_sharper_than=0")  # always run
    assert result.exit_code == 0, result.output
    sidecar = _sidecar(tmp_path / "out")
    # RAW is developed into the image first; an RGB frame is the product as it is
    target = "image" if kind == "dng" else "reference frame"
    note = sidecar["notes"]["deblur.network"][target]
    assert note["model"] == "deblur" and "mean_change" in note, note
    image = cv2.imread(str(next((tmp_path / "out").glob("*.tiff"))), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.shape[:2] == (96, 128)


@pytest.mark.parametrize("kind", ["dng", "jpeg", "one-frame"])
def test_the_deblur_preset_end_to_end(tmp_path, burst_cli, burst_synth_burst, kind):
    """001's whole chain: walk, deblur the reference, exposure policy, register, merge."""
    result = burst_cli("enhance", _shots(kind, tmp_path, burst_synth_burst), "-p", "deblur",
                       "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    notes = _sidecar(tmp_path / "out")["notes"]
    assert notes["select.exposure"]["branch"] == "regular"  # no longer-exposed capture here
    assert "reference frame" in notes["deblur.network"]
    image = cv2.imread(str(next((tmp_path / "out").glob("*.tiff"))), cv2.IMREAD_UNCHANGED)
    assert image.shape[:2] == (96, 128) and np.isfinite(image).all()


def test_on_a_reference_in_linear_light(tmp_path, burst_cli, burst_synth_burst):
    """Before a merge, on frames developed to linear light: the network sees them encoded."""
    shots, _ = burst_synth_burst(frames=3, width=128, height=96, seed=4, name="l")
    preset = tmp_path / "lin.yaml"
    preset.write_text("pipeline: [decode, score.laplacian, select, develop.frames, "
                      "deblur.network, align.global, merge.robust, develop.encode]\n"
                      "params: {develop.frames: {output: linear}, "
                      "deblur.network: {skip_sharper_than: 0}}\n")
    result = burst_cli("enhance", shots, "-p", preset, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    note = json.loads(next((tmp_path / "out").glob("*.json")).read_text())["notes"]
    assert note["deblur.network"]["reference frame"]["linear"] is True


def test_a_sharp_frame_is_left_alone_and_the_note_says_why(tmp_path, burst_cli):
    shots = tmp_path / "shots" / "s"
    shots.mkdir(parents=True)
    scene = procedural_scene(96, 128, np.random.default_rng(8))
    cv2.imwrite(str(shots / "f0.png"), (scene[..., ::-1] * 255).astype(np.uint8))
    result = burst_cli("enhance", shots, "-p", "deblur-single", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    note = json.loads(next((tmp_path / "out").glob("*.json")).read_text())["notes"]
    assert "already sharp" in note["deblur.network"]["reference frame"]["skipped"]
    written = cv2.imread(str(next((tmp_path / "out").glob("*.tiff"))), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(written, cv2.imread(str(shots / "f0.png"), cv2.IMREAD_UNCHANGED))


def test_a_raw_product_is_refused_with_the_fix(tmp_path, burst_cli, burst_synth_burst):
    shots, _ = burst_synth_burst(frames=2, width=64, height=48, seed=6, name="r")
    preset = tmp_path / "raw.yaml"
    preset.write_text("pipeline: [decode, score.laplacian, select, deblur.network]\n")
    result = burst_cli("enhance", shots, "-p", preset, "-o", tmp_path / "out")
    assert result.exit_code == 1 and "put develop.frames (or develop) before it" in result.output
