"""The noise plane of a ``+sigma`` deblur model: what it holds, that training and the stage
build the same thing, that a sigma model reads it and a 3-plane model never gets it, and that
the stage records where its plane came from."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_deblur import noise_plane
from burstcli import Frame, RawInfo
from burstlib.colour import srgb_decode, srgb_encode, srgb_slope
from burstlib.synth.scene import procedural_scene


def _flat(linear: float, side: int = 64) -> np.ndarray:
    return srgb_encode(np.full((side, side, 3), linear, np.float32))


def test_the_slope_is_the_curve_s_derivative():
    x = np.array([0.001, 0.003, 0.01, 0.05, 0.18, 0.5, 0.9], np.float32)
    step = 1e-4
    numeric = (srgb_encode(x.astype(np.float64) + step) - srgb_encode(x - step)) / (2 * step)
    assert np.allclose(srgb_slope(x), numeric, rtol=2e-2)


def test_known_noise_becomes_the_encoded_std_times_the_scale():
    """A flat grey at linear 0.18: the plane is 10 x sqrt(shot 0.18 + read) x the slope."""
    shot, read = 1e-3, 2e-5
    plane = noise_plane.from_shot_read(_flat(0.18), shot, read)
    expected = 10 * np.sqrt(shot * 0.18 + read) * float(srgb_slope(
        np.float32(0.18)))
    assert plane.shape == (64, 64) and np.allclose(plane, expected, rtol=1e-3)
    # darker pixels have more encoded noise for the same linear noise (the curve is steeper)
    assert noise_plane.from_shot_read(_flat(0.02), shot, read).mean() > plane.mean()


def test_the_estimate_finds_the_noise_the_profile_would_give():
    """Heavy noise on a smooth scene: the noise level function measured from the image comes
    within a quarter of the plane the true (shot, read) give."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(procedural_scene(192, 192, rng), (0, 0), 3.0)
    linear = srgb_decode(scene)
    shot, read = 3e-3, 3e-5
    noisy = srgb_encode(linear + rng.normal(size=linear.shape).astype(np.float32)
                        * np.sqrt(linear * shot + read).astype(np.float32))
    truth = noise_plane.from_shot_read(noisy, shot, read).mean()
    assert noise_plane.estimated(noisy).mean() == pytest.approx(truth, rel=0.25)


def _raw_info(profile: tuple[float, float]) -> RawInfo:
    return RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0.0,) * 4,
                   white_level=1.0, white_balance=(1.0,) * 4, noise_profile=(profile,) * 3)


def test_a_profile_gives_the_plane_of_its_variance():
    shot, read = 2e-3, 1e-5
    encoded = _flat(0.3)
    frame = Frame(path=Path("f.dng"), pixels=encoded, layout="rgb", raw=_raw_info((shot, read)))
    assert np.allclose(noise_plane.from_profile(frame, encoded),
                       noise_plane.from_shot_read(encoded, shot, read), rtol=1e-4)


torch = pytest.importorskip("torch")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")

from burst_deblur.apply import _noise_plane, run_model  # noqa: E402
from burst_deblur.training import DeblurTrainConfig, export, make_pairs  # noqa: E402
from burstcli.models import ModelCard  # noqa: E402
from burstcli.registry import find_model  # noqa: E402


@pytest.fixture(scope="module")
def sigma_card(tmp_path_factory) -> ModelCard:
    """A small random ``rgb+sigma`` model, exported as training exports one."""
    from burstlib.nn.trainloop import atomic_save
    from burst_deblur.training import build_network
    folder = tmp_path_factory.mktemp("sigma")
    config = DeblurTrainConfig(features=(8, 8), modules=(1, 1), noise_plane=True)
    torch.manual_seed(0)
    net = build_network(config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    atomic_save({"model": net.state_dict(), "step": 0, "config": dataclasses.asdict(config)},
                folder / "sigma.pt")
    out = export(folder / "sigma.pt", folder / "sigma.tflite")
    return ModelCard.from_file("sigma", out)


def test_the_card_says_which_planes_it_takes(sigma_card):
    assert sigma_card.planes == "rgb+sigma"
    assert find_model("deblur", "deblur").planes == "rgb+sigma"  # the shipped v2
    assert json.loads(sigma_card.file.with_suffix(".json").read_text())["training"][
        "noise_plane"] is True


def test_training_pairs_carry_the_plane_of_their_noise():
    """The fourth input plane of a pair is its known noise at the blurry input's level."""
    rng = np.random.default_rng(1)
    images = [procedural_scene(160, 160, rng)]
    config = DeblurTrainConfig(patch=32, noise_plane=True,
                               blur={"sharp_share": 1.0, "shot": [1e-3, 1e-3],
                                     "brightness": [1.0, 1.0]})
    inputs, targets = make_pairs(images, [np.ones((1, 1), np.float32)], config, 2, rng)
    assert inputs.shape == (2, 4, 32, 32) and targets.shape == (2, 3, 32, 32)
    # shot 1e-3 (read ~1e-5): encoded std 0.02-0.1 over these brightnesses, x10
    assert 0.1 < float(inputs[:, 3].mean()) < 1.5 and float(inputs[:, 3].min()) > 0


def test_a_sigma_model_reads_the_plane_and_measures_it_when_not_given(sigma_card):
    image = procedural_scene(64, 72, np.random.default_rng(2))
    measured = run_model(sigma_card, image, 512)
    assert np.array_equal(measured, run_model(sigma_card, image, 512,
                                              noise_plane.estimated(image)))
    told_clean = run_model(sigma_card, image, 512, np.zeros(image.shape[:2], np.float32))
    assert np.abs(told_clean - measured).max() > 1e-4  # the plane changes the output
    grey = run_model(sigma_card, image[..., 1], 512)
    assert grey.shape == image.shape[:2]


def test_a_three_plane_model_never_gets_a_plane():
    """The first training (3 planes) still runs as it did, whatever plane it is offered."""
    card = find_model("deblur-rgb", "deblur")
    assert card.planes == "rgb"
    image = procedural_scene(64, 64, np.random.default_rng(3))
    assert np.array_equal(run_model(card, image, 512),
                          run_model(card, image, 512, np.ones((64, 64), np.float32)))
    assert _noise_plane(card, None, image) == (None, "")


def test_the_stage_takes_the_profile_when_the_frame_has_one(sigma_card):
    encoded = _flat(0.3)
    frame = Frame(path=Path("f.dng"), pixels=encoded, layout="rgb", raw=_raw_info((2e-3, 1e-5)))
    plane, source = _noise_plane(sigma_card, frame, encoded)
    assert source == "profile" and plane is not None
    assert np.allclose(plane, noise_plane.from_profile(frame, encoded))
    plane, source = _noise_plane(sigma_card, None, encoded)  # a merged image: measured
    assert source == "estimated" and plane is not None and plane.shape == (64, 64)


def test_the_stage_builds_the_plane_and_says_whence(tmp_path, burst_cli, sigma_card):
    shots = tmp_path / "shots" / "j"
    shots.mkdir(parents=True)
    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur(procedural_scene(96, 128, rng), (0, 0), 2.0)
    noisy = np.clip(scene + rng.normal(0, 0.02, scene.shape), 0, 1)
    cv2.imwrite(str(shots / "f0.png"), (noisy[..., ::-1] * 65535).astype(np.uint16))
    result = burst_cli("enhance", shots, "-p", "deblur-single", "-o", tmp_path / "out",
                       "--set", f"deblur.network.model={sigma_card.file}",
                       "--set", "deblur.network.skip_sharper_than=0")
    assert result.exit_code == 0, result.output
    sidecar = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    noise = sidecar["notes"]["deblur.network"]["reference frame"]["noise"]
    # a 16-bit PNG has no profile: measured, about the 0.02 that was added
    assert noise["source"] == "estimated" and 0.01 < noise["mean_std"] < 0.04, noise
