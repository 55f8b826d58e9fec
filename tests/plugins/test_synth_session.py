"""burst synth capture sessions: the layout a far/near builder reads, and a truth that is
geometrically right (every frame's to_near reproduces it from clean_near)."""

from __future__ import annotations

import json

import click
import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import rawpy
from click.testing import CliRunner

from burst_synth import register_commands
from burstlib.synth.render import CFA_OFFSETS, INTERPOLATION
from burstlib.synth.session import NEAR_JITTER, SessionOptions, load_session, make_session

W, H = 96, 64
CLEAN = dict(width=W, height=H, noise="none", blur=0.0, sharp_margin=0.0, exposure_jitter=0.0)


def normalised(path, truth: dict) -> np.ndarray:
    """A DNG's mosaic, 0 at black and 1 at white."""
    with rawpy.imread(str(path)) as raw:
        values = raw.raw_image_visible.astype(np.float32)
    return (values - truth["black_level"]) / (truth["white_level"] - truth["black_level"])


def sites(mosaic: np.ndarray, rgb: np.ndarray, cfa: str,
          inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mosaic's values and the RGB image's values at the same Bayer sites, where
    ``inside`` (bool HxW) holds."""
    got, want = [], []
    for colour, offsets in CFA_OFFSETS[cfa].items():
        for dy, dx in offsets:
            keep = inside[dy::2, dx::2]
            got.append(mosaic[dy::2, dx::2][keep])
            want.append(rgb[dy::2, dx::2, colour][keep])
    return np.concatenate(got), np.concatenate(want)


def inside_near_view(to_near: np.ndarray, border: int = 8) -> np.ndarray:
    """Pixels of a frame that land on near frame 0's grid ``border`` pixels from its edges."""
    y, x = np.mgrid[:H, :W].astype(float)
    points = np.tensordot(to_near, np.stack([x, y, np.ones_like(x)]), axes=1)
    u, v = points[0] / points[2], points[1] / points[2]
    return (u >= border) & (u <= W - 1 - border) & (v >= border) & (v <= H - 1 - border)


def seen_through(clean_near: np.ndarray, to_near: np.ndarray, frame_ratio: float) -> np.ndarray:
    """What a frame whose pixels map to near frame 0 by ``to_near`` sees of ``clean_near``:
    near pixels averaged over the frame's pixel (a box ``frame_ratio`` near pixels wide),
    sampled at to_near @ (x, y, 1)."""
    image = clean_near
    if frame_ratio > 1:
        side = int(round(frame_ratio))
        image = cv2.blur(clean_near, (side, side), borderType=cv2.BORDER_REFLECT)
        if side % 2 == 0:  # an even box is centred half a pixel up-left of its anchor
            image = cv2.warpAffine(image, np.array([[1.0, 0, 0.5], [0, 1.0, 0.5]]), (W, H),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT)
    return cv2.warpAffine(image, to_near[:2], (W, H), flags=INTERPOLATION | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def frame_error(folder, truth: dict, frame: dict, to_near: np.ndarray, ratio: float) -> float:
    values = normalised(folder / frame["file"], truth)
    got, want = sites(values, seen_through(truth["clean_near"], to_near, ratio), truth["cfa"],
                      inside_near_view(frame["to_near"]))
    return float(np.abs(got - want).mean())


def moved(matrix: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1]]) @ matrix


def test_layout_truth_and_dngs(tmp_path):
    truth = make_session(tmp_path, SessionOptions(width=W, height=H, near_frames=3, seed=1))
    folder = tmp_path / "scene_000"
    assert sorted(p.name for p in (folder / "far").iterdir()) == [
        f"frame_{i:02d}.dng" for i in range(8)]
    assert sorted(p.name for p in (folder / "near").iterdir()) == [
        f"frame_{i:02d}.dng" for i in range(3)]
    assert {p.name for p in folder.iterdir()} == {"far", "near", "truth.json", "clean_near.npy"}
    assert json.loads((folder / "truth.json").read_text()) == truth
    assert truth["ratio"] == 2.0 and truth["size"] == [W, H] and truth["standard_frame"] == 0
    assert truth["bad_near"] is None and 0 <= truth["reference"] < 8
    assert set(truth["noise"]) == {"shot", "read"} and truth["noise"]["shot"] > 0
    assert [f["file"] for f in truth["far"]] == [f"far/frame_{i:02d}.dng" for i in range(8)]
    assert [f["file"] for f in truth["near"]] == [f"near/frame_{i:02d}.dng" for i in range(3)]
    loaded = load_session(folder)
    assert loaded["clean_near"].shape == (H, W, 3) and loaded["clean_near"].dtype == np.float32
    assert np.array_equal(loaded["near"][0]["to_near"], np.eye(3))
    far = loaded["far"][0]["to_near"]
    assert np.linalg.det(far[:2, :2]) == pytest.approx(4.0, rel=1e-9)  # a scale by the ratio
    for frame in truth["far"] + truth["near"]:
        with rawpy.imread(str(folder / frame["file"])) as raw:
            assert raw.raw_image_visible.shape == (H, W)
            assert raw.other.iso_speed == frame["iso"]
    assert truth["far"][truth["reference"]]["shake"]["spread_px"] == min(
        f["shake"]["spread_px"] for f in truth["far"])


def test_near_frames_are_tripod_frames_reproduced_by_their_truth(tmp_path):
    """Noise off: sampling clean_near through a near frame's to_near gives the frame, moving
    it by a pixel does not; the jitter is below NEAR_JITTER everywhere."""
    make_session(tmp_path, SessionOptions(**CLEAN, near_frames=4, seed=2))
    truth = load_session(tmp_path / "scene_000")
    corners = np.array([[0, W - 1, 0, W - 1], [0, 0, H - 1, H - 1], [1, 1, 1, 1]], float)
    for frame in truth["near"]:
        matrix = frame["to_near"]
        assert np.abs(matrix @ corners - corners).max() <= NEAR_JITTER
        error = frame_error(tmp_path / "scene_000", truth, frame, matrix, 1.0)
        assert error < 3e-3
        for dx, dy in ((1, 0), (0, 1)):
            assert frame_error(tmp_path / "scene_000", truth, frame, moved(matrix, dx, dy),
                               1.0) > 5 * error


@pytest.mark.parametrize("ratio", [2.0, 2.9])
def test_far_frames_project_onto_clean_near_through_their_truth(tmp_path, ratio):
    """Noise and shake off: clean_near averaged over a far pixel and sampled through a far
    frame's to_near predicts the far frame; one near pixel off in x or y clearly does not."""
    make_session(tmp_path, SessionOptions(**CLEAN, ratio=ratio, far_frames=3, near_frames=1,
                                          seed=3))
    truth = load_session(tmp_path / "scene_000")
    for frame in truth["far"]:
        matrix = frame["to_near"]
        assert matrix[0, 0] ** 2 + matrix[1, 0] ** 2 == pytest.approx(ratio ** 2)
        error = frame_error(tmp_path / "scene_000", truth, frame, matrix, ratio)
        for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1)):
            off = frame_error(tmp_path / "scene_000", truth, frame, moved(matrix, dx, dy), ratio)
            assert off > 1.5 * error, (error, off)


def laplacian_energy(path, truth: dict) -> float:
    green = normalised(path, truth)[0::2, 1::2]  # one green site of RGGB
    return float(np.mean(cv2.Laplacian(green, cv2.CV_32F)[4:-4, 4:-4] ** 2))


def test_the_reference_is_the_sharpest_far_frame(tmp_path):
    options = SessionOptions(width=128, height=96, noise="low", far_frames=6, near_frames=1,
                             seed=4)
    truth = make_session(tmp_path, options)
    energy = [laplacian_energy(tmp_path / "scene_000" / f["file"], truth) for f in truth["far"]]
    assert int(np.argmax(energy)) == truth["reference"]
    assert sorted(energy)[-2] < 0.9 * max(energy)


@pytest.mark.parametrize("kind", ["bump", "occluder"])
def test_bad_near_frame_is_recorded_and_really_different(tmp_path, kind):
    truth = make_session(tmp_path, SessionOptions(width=W, height=H, noise="low",
                                                  exposure_jitter=0.0, bad_near=kind, seed=5))
    folder = tmp_path / "scene_000"
    bad = truth["bad_near"]
    assert bad["kind"] == kind and 1 <= bad["index"] < 4 and bad["why"]
    assert bad["file"] == truth["near"][bad["index"]]["file"]
    frames = [normalised(folder / f["file"], truth) for f in truth["near"]]
    change = [np.abs(frame - frames[0]) for frame in frames]
    good = max(float(c.mean()) for i, c in enumerate(change[1:], 1) if i != bad["index"])
    if kind == "bump":
        assert change[bad["index"]].mean() > 4 * good
        matrix = np.array(truth["near"][bad["index"]]["to_near"])
        assert np.abs(matrix[:2, 2]).max() > 3 or abs(matrix[1, 0]) > 0.03
    else:
        x0, y0, x1, y1 = bad["box"]
        assert (x1 - x0) * (y1 - y0) > 0.1 * W * H
        assert change[bad["index"]][y0:y1, x0:x1].mean() > 4 * good
        outside = change[bad["index"]].copy()
        outside[y0:y1, x0:x1] = 0
        assert outside.sum() / (W * H - (x1 - x0) * (y1 - y0)) < 2 * good


def test_same_seed_same_session_other_seed_other(tmp_path):
    options = dict(width=64, height=48, far_frames=2, near_frames=3, bad_near="bump")
    a = make_session(tmp_path / "a", SessionOptions(**options, seed=6))
    b = make_session(tmp_path / "b", SessionOptions(**options, seed=6))
    c = make_session(tmp_path / "c", SessionOptions(**options, seed=7))
    assert a == b and a["far"] != c["far"]
    for name in ("far/frame_01.dng", "near/frame_02.dng", "clean_near.npy"):
        assert (tmp_path / "a/scene_000" / name).read_bytes() == \
            (tmp_path / "b/scene_000" / name).read_bytes()


def test_rerun_replaces_frames_and_source_images_are_the_scene(tmp_path):
    make_session(tmp_path, SessionOptions(width=64, height=48, far_frames=3, near_frames=4))
    source = tmp_path / "src"
    source.mkdir()
    iio.imwrite(source / "flat.png", np.full((40, 50, 3), 128, np.uint8))  # smaller: enlarged
    make_session(tmp_path, SessionOptions(width=64, height=48, far_frames=2, near_frames=1,
                                          noise="none", source=source))
    folder = tmp_path / "scene_000"
    assert len(list((folder / "far").iterdir())) == 2  # no stale frames of the first run
    assert len(list((folder / "near").iterdir())) == 1
    clean = load_session(folder)["clean_near"]
    assert np.ptp(clean, axis=(0, 1)).max() < 1e-4 and clean.mean() > 0.05


def test_bad_options():
    for bad in (dict(ratio=1.1), dict(bad_near="cat"), dict(bad_near="bump", near_frames=2),
                dict(width=63), dict(far_frames=0)):
        with pytest.raises(ValueError):
            SessionOptions(**bad)  # type: ignore[arg-type]


def test_cli_sessions(tmp_path):
    group = click.Group()
    register_commands(cli=group)
    result = CliRunner().invoke(group, [
        "synth", str(tmp_path), "--sessions", "2", "--frames", "3", "--near-frames", "3",
        "--size", "64x48", "--ratio", "2.5", "--bad-near", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene_000", "scene_001"]
    assert len(result.output.strip().splitlines()) == 2
    truth = load_session(tmp_path / "scene_001")
    assert truth["seed"] == 8 and truth["ratio"] == 2.5 and len(truth["far"]) == 3
    assert truth["options"]["sharp_margin"] == SessionOptions.sharp_margin  # sessions' default
    assert truth["bad_near"]["kind"] == "bump"
    result = CliRunner().invoke(group, ["synth", str(tmp_path / "o"), "--sessions", "1",
                                        "--size", "32x32", "--frames", "2",
                                        "--bad-near=occluder"])
    assert result.exit_code == 0, result.output
    assert load_session(tmp_path / "o/scene_000")["bad_near"]["kind"] == "occluder"
    for bad in (["--sessions", "1", "--ratio", "1.1"], ["--sessions", "1", "--zoom", "2"],
                ["--sessions", "1", "--bursts", "2"], ["--ratio", "2"], ["--bad-near"],
                ["--sessions", "1", "--bad-near", "--near-frames", "2"]):
        assert CliRunner().invoke(group, ["synth", str(tmp_path / "x"), *bad]).exit_code == 2, bad
