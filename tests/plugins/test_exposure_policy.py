"""select.exposure, 001's exposure policy, on made-up EXIF: which frames join the deblurred
reference, and why; and the sign of 001 eq. 1 on a blur sweep."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_select.exposure import ExposureParams, reference_measures, select_exposure
from burstcli import Burst, ExifInfo, Frame
from burstlib.synth.scene import procedural_scene
from burstlib.synth.shake import shake_trajectory, trajectory_kernel

START = dt.datetime(2026, 5, 1, 12, 0, 0)


def _frame(index: int, pixels: np.ndarray, exposure: float | None, ms: int) -> Frame:
    exif = ExifInfo(capture_time=START + dt.timedelta(milliseconds=ms), exposure_time=exposure)
    return Frame(Path(f"f{index}.tiff"), pixels=pixels, layout="rgb", exif=exif)


@pytest.fixture(scope="module")
def scene():
    return procedural_scene(128, 160, np.random.default_rng(2))


def _bracketed(scene, exposures, reference=1):
    frames = tuple(_frame(i, scene, t, 40 * i) for i, t in enumerate(exposures))
    return Burst("b", frames, reference=reference)


def test_a_sharp_reference_takes_the_regular_frames(scene):
    burst = _bracketed(scene, [0.01, 0.01, 0.01, 0.04, 0.04])
    out = select_exposure(burst, ExposureParams(threshold=1e-4))
    note = out.notes["select.exposure"]
    assert note["branch"] == "regular" and out.selected == (0, 1, 2)
    assert note["additional"] == [3, 4] and ">=" in note["why"]


def test_a_blurry_reference_takes_the_longer_capture_after_it(scene):
    burst = _bracketed(scene, [0.01, 0.01, 0.01, 0.04, 0.04])
    out = select_exposure(burst, ExposureParams(threshold=10.0))
    assert out.notes["select.exposure"]["branch"] == "additional"
    assert out.selected == (1, 3, 4) and "still blurry" in out.notes["select.exposure"]["why"]


def test_without_a_longer_capture_the_regular_frames_stay(scene):
    out = select_exposure(_bracketed(scene, [0.01, 0.01, 0.012]), ExposureParams(threshold=10.0))
    note = out.notes["select.exposure"]
    assert note["branch"] == "regular" and "no longer-exposed capture" in note["why"]
    assert out.selected == (0, 1, 2)


def test_long_frames_before_the_shutter_and_missing_exif(scene):
    """A long exposure before the reference is not the additional capture; a frame without
    an exposure time goes with the regular ones."""
    burst = _bracketed(scene, [0.04, 0.01, None, 0.04], reference=1)
    parts = select_exposure(burst, ExposureParams(threshold=10.0)).notes["select.exposure"]
    assert parts["additional"] == [3] and parts["no_exposure_time"] == [0, 2]
    regular = select_exposure(burst, ExposureParams(threshold=1e-4))
    assert regular.selected == (0, 1, 2)


def test_a_sharp_but_noisy_reference_takes_both_captures(scene):
    """Beyond 001: the longer frames' clean flat areas pay once the reference is noisy; the
    same reference, clean, keeps to the regular frames."""
    noisy = np.clip(scene + np.random.default_rng(0).normal(0, 0.05, scene.shape), 0, 1)
    frames = tuple(_frame(i, noisy.astype(np.float32) if i == 1 else scene, t, 40 * i)
                   for i, t in enumerate([0.01, 0.01, 0.01, 0.04, 0.04]))
    burst = Burst("b", frames, reference=1)
    out = select_exposure(burst, ExposureParams(threshold=1e-4, noisy=0.025))
    note = out.notes["select.exposure"]
    assert note["branch"] == "both" and out.selected == (0, 1, 2, 3, 4), note
    assert note["noise"] > 0.025 and "noise" in note["why"]
    clean = select_exposure(_bracketed(scene, [0.01, 0.01, 0.01, 0.04, 0.04]),
                            ExposureParams(threshold=1e-4, noisy=0.025))
    assert clean.notes["select.exposure"]["branch"] == "regular"


def test_neighbours_keeps_the_nearest_regular_frames_in_time(scene):
    burst = _bracketed(scene, [0.01] * 6, reference=2)
    out = select_exposure(burst, ExposureParams(threshold=1e-4, neighbours=2))
    assert out.selected == (1, 2, 3)


def test_eq1_falls_as_the_blur_grows(scene):
    """001's blur degree, stored as a sharpness: the sign is right (more shake, lower)."""
    rng = np.random.default_rng(3)
    path = shake_trajectory(rng, 1.0)
    values = []
    for length in (0.0, 2.0, 4.0, 8.0, 16.0):
        blurred = scene if length == 0 else cv2.filter2D(
            scene, -1, trajectory_kernel(path * length)[::-1, ::-1], borderType=cv2.BORDER_REFLECT)
        values.append(reference_measures(Frame(Path("x.tiff"), pixels=blurred, layout="rgb"))[0])
    assert all(a > b for a, b in zip(values, values[1:])), values


def test_a_bracketed_dng_burst_is_split_by_its_exif(tmp_path, burst_cli, burst_synth_burst):
    """burst synth's bracketed bursts: the long frames after the regular ones are the
    additional capture, read from the DNGs' EXIF; forced blurry, the policy takes them."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    import json
    shots, truth = burst_synth_burst(frames=6, long_frames=2, width=128, height=96, seed=4,
                                     name="br")
    assert [f["part"] for f in truth["frames"]] == ["regular"] * 4 + ["additional"] * 2
    result = burst_cli("enhance", shots, "-p", "deblur", "-o", tmp_path / "out",
                       "--set", "select.exposure.threshold=10", "--set", "select.shutter=0")
    assert result.exit_code == 0, result.output
    note = json.loads(next((tmp_path / "out").glob("*.json")).read_text())["notes"]
    policy = note["select.exposure"]
    assert policy["additional"] == [4, 5] and policy["branch"] == "additional"
    assert set(policy["selected"]) == {note["select"]["reference"], 4, 5}
