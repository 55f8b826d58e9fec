"""`burst dataset build` (seed 000 claims 1-6) and training on what it builds."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from burstlib.captures import read_manifest, read_sample

RATIO = 2.5


def _photo(seed: int, size: int = 400) -> np.ndarray:
    from conftest import textured_scene
    path = textured_scene(Path(f"/tmp/burst-dataset-scene-{seed}.png"), seed)
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    path.unlink()
    return image[:size, :size]


def _far_on_near_grid(near: np.ndarray, ratio: float, shift: float = 0.0) -> np.ndarray:
    """What a City100 far capture is: the scene at 1/ratio the resolution, brought back to
    the near grid (and registered, but for ``shift`` px), a little darker."""
    h, w = near.shape[:2]
    small = cv2.resize(near, (round(w / ratio), round(h / ratio)), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    moved = cv2.warpAffine(back, np.float32([[1, 0, shift], [0, 1, 0]]), (w, h),
                           borderMode=cv2.BORDER_REFLECT)
    return np.clip(0.9 * moved + 0.02, 0, 1)


def _write(path: Path, image: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(image * 255).astype(np.uint8),
                                        cv2.COLOR_RGB2BGR))


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """Three City100-style pairs: a good one, one with a ghost (a block that is in the far
    capture only), one whose far capture is another scene."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    for index, seed in enumerate((1, 2, 3)):
        near = _photo(seed)
        far = _far_on_near_grid(near, RATIO)
        if index == 1:
            far[200:260, 120:200] = (0.9, 0.1, 0.1)  # something crossed the far view
        if index == 2:
            far = _far_on_near_grid(np.rot90(_photo(9)).copy(), RATIO)
        _write(folder / f"00{index}H.png", near)
        _write(folder / f"00{index}L.png", far)
    return folder


def test_pairs_build_with_their_ratio_fit_and_ghost(pairs: Path, tmp_path: Path, burst_cli):
    out = tmp_path / "built"
    result = burst_cli("dataset", "build", pairs, out, "--scale", "2")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert set(manifest["samples"]) == {"000", "001"}
    assert "002" in manifest["skipped"] and "002" in result.output  # reported, not kept
    good = manifest["samples"]["000"]
    assert abs(good["ratio"] - RATIO) < 0.25
    assert good["residual_px"] < 0.3
    assert good["masked_share"] < 0.05
    # the far capture is 0.9 x + 0.02: the standard is fitted to it, not the other way
    assert np.allclose(good["gain"], 0.9, atol=0.05)
    sample = read_sample(out / good["file"])
    assert sample.standard.shape[:2] == tuple(2 * np.array(sample.frames[0].shape[:2]))
    ghosted = read_sample(out / manifest["samples"]["001"]["file"])
    assert ghosted.mask[165:205, 100:155].mean() < 0.2  # the ghost, on the x2 grid of 400 / 2.5
    assert 0.03 < manifest["samples"]["001"]["masked_share"] < 0.3


def test_a_rerun_builds_only_what_is_missing(pairs: Path, tmp_path: Path, burst_cli):
    out = tmp_path / "built"
    assert burst_cli("dataset", "build", pairs, out).exit_code == 0
    before = (out / "samples" / "000.npz").stat().st_mtime_ns
    again = burst_cli("dataset", "build", pairs, out)
    assert again.exit_code == 0 and "done before" in again.output
    assert (out / "samples" / "000.npz").stat().st_mtime_ns == before
    other_scale = burst_cli("dataset", "build", pairs, out, "--scale", "4")
    assert other_scale.exit_code != 0 and "x2" in other_scale.output


def test_no_scenes_is_one_clear_error(tmp_path: Path, burst_cli):
    result = burst_cli("dataset", "build", tmp_path, tmp_path / "out")
    assert result.exit_code != 0 and "no sessions" in result.output


def test_tolerant_loss_forgives_a_pixel_not_more():
    torch = pytest.importorskip("torch", reason="the train extra is not installed")
    from burst_zoom.capture_samples import tolerant_l1
    rng = np.random.default_rng(0)
    truth = torch.from_numpy(rng.random((2, 1, 24, 24), dtype=np.float32))
    base = torch.zeros_like(truth)
    mask = torch.ones_like(truth)
    shifted = torch.roll(truth, (1, -1), dims=(-2, -1))
    targets = torch.cat([truth, base, mask, mask], dim=1)  # real captures
    assert float(tolerant_l1(shifted, targets, 1)) < 1e-6
    assert float(tolerant_l1(shifted, targets, 0)) > 0.1
    far = torch.roll(truth, (3, 0), dims=(-2, -1))
    assert float(tolerant_l1(far, targets, 1)) > 0.1
    synthetic = torch.cat([truth, base, mask, torch.zeros_like(mask)], dim=1)
    assert float(tolerant_l1(shifted, synthetic, 1)) > 0.1  # exactly aligned: no slack
    masked = torch.cat([truth, base, torch.zeros_like(mask), mask], dim=1)
    assert float(tolerant_l1(far, masked, 0)) == 0.0  # what the mask hides costs nothing


def test_training_steps_from_built_samples(pairs: Path, tmp_path: Path, burst_cli):
    pytest.importorskip("torch", reason="the train extra is not installed")
    out = tmp_path / "built"
    assert burst_cli("dataset", "build", pairs, out).exit_code == 0
    config = tmp_path / "real.yaml"
    config.write_text(json.dumps({
        "scale": 2, "steps": 3, "batch": 4, "patch": 24, "checkpoint_every": 3,
        "network": {"features": 8, "modules": 1},
        "captures": [str(out)], "capture_share": 1.0, "shift_tolerance": 1,
        "capture_exclude": ["001"]}))
    result = burst_cli("train", "zoom", config, "-o", tmp_path / "real.pt",
                       "--export", tmp_path / "real.tflite")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "real.json").read_text())
    assert card["training"]["captures"] == ["built"]
    assert card["training"]["capture_exclude"] == ["001"]


def _session(out: Path, **options) -> dict:
    from burstlib.synth.session import SessionOptions, make_session
    return make_session(out, SessionOptions(width=320, height=240, noise="low", **options))


def test_a_raw_session_recovers_its_known_transforms(tmp_path: Path, burst_cli):
    from burst_dataset.bench import transfer_error
    sessions = tmp_path / "sessions"
    truth = _session(sessions, seed=3, name="scene_a")
    out = tmp_path / "built"
    result = burst_cli("dataset", "build", sessions, out)
    assert result.exit_code == 0, result.output
    entry = read_manifest(out)["samples"]["scene_a"]
    reference = truth["reference"]
    assert entry["reference"].endswith(truth["far"][reference]["file"])
    assert entry["frames"] == 8 and not entry["dropped_far"]
    error = transfer_error(np.array(entry["far_to_near"]),
                           np.array(truth["far"][reference]["to_near"]), tuple(truth["size"]))
    assert error < 0.3, error
    sample = read_sample(out / entry["file"])
    assert sample.standard.shape[:2] == (240, 320) and sample.frames[0].shape[:2] == (120, 160)
    # the other far frames, through their transforms, land where the reference says
    assert np.allclose(sample.transforms[0], np.eye(3))
    assert all(abs(np.sqrt(abs(np.linalg.det(t[:2, :2]))) - 1) < 0.05
               for t in sample.transforms[1:])


@pytest.mark.parametrize("kind", ["bump", "occluder"])
def test_a_session_with_a_bad_near_frame_is_reported_and_skipped(tmp_path: Path, burst_cli,
                                                                 kind: str):
    sessions = tmp_path / "sessions"
    truth = _session(sessions, seed=5, bad_near=kind, name="scene_bad")
    out = tmp_path / "built"
    result = burst_cli("dataset", "build", sessions, out)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert not manifest["samples"]
    assert truth["bad_near"]["file"] in manifest["skipped"]["scene_bad"]
    assert "scene_bad" in result.output


def test_perspective_is_kept_where_it_pays_and_dropped_where_noise_made_it():
    from burst_dataset.align import simplest_fit, warp
    target = cv2.GaussianBlur(_photo(4, 240), (0, 0), 1.0)
    tilted = np.array([[1.0, 0.02, 3.0], [0.01, 1.0, -2.0], [4e-4, 3e-4, 1.0]])
    far = warp(target, np.linalg.inv(tilted), target.shape[:2])  # far px -> target px: tilted
    kept = simplest_fit(far, target, tilted)
    assert np.allclose(kept, tilted)
    flat = tilted.copy()
    flat[2, :2] = 0.0
    noisy = flat.copy()
    noisy[2, :2] = (2e-6, -2e-6)  # perspective terms far below what the image resolves
    far = warp(target, np.linalg.inv(flat), target.shape[:2])
    simpler = simplest_fit(far, target, noisy)
    assert np.allclose(simpler[2], (0.0, 0.0, 1.0))  # affine: the noise's terms are gone
    assert np.allclose(simpler[:2], flat[:2], atol=0.03)  # and it is the true map


def test_two_near_frames_that_disagree_leave_no_hole():
    from burst_dataset.standard import standard_image
    first = _photo(6, 160)
    second = first.copy()
    second[40:80, 40:80] = (0.9, 0.1, 0.1)  # something moved between the two
    standard = standard_image([first, second], ["near/a.png", "near/b.png"])
    assert standard.min() > 0.0 or first.min() == 0.0
    assert np.all(standard[40:80, 40:80].mean(axis=(0, 1)) > 0.05)  # not a black block


def test_a_session_ghost_is_masked(tmp_path: Path):
    """Something in the near view only (a block pasted into the standard image) is masked
    where it lies, and nowhere much else."""
    from burst_dataset.align import build_sample
    from burst_dataset.standard import standard_image
    from burst_dataset.scenes import find_scenes, developed_frames
    _session(tmp_path, seed=3, name="scene_g")
    (scene,) = find_scenes(tmp_path)
    near = developed_frames(scene.near, "near")
    standard = standard_image(near.images, [str(p) for p in scene.near])
    standard[80:140, 100:180] = (0.1, 0.8, 0.2)
    far = developed_frames(scene.far, "far")
    sample = build_sample(far.images, int(np.argmax(far.sharpness)), standard, 2,
                          [str(p) for p in scene.far])
    assert sample.mask[84:136, 104:176].mean() == 0.0
    assert sample.masked_share < 0.2
