"""burst synth: real DNG files, and a truth that matches what the files hold."""

from __future__ import annotations

import datetime as dt

import cv2
import exifread
import numpy as np
import pytest
import rawpy

from burst_synth.api import SynthOptions, load_truth, make_burst
from burst_synth.dng import write_dng
from burst_synth.render import CFA_OFFSETS


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_dng_round_trip_is_exact(tmp_path, cfa):
    mosaic = np.random.default_rng(0).integers(256, 4095, (64, 96)).astype(np.uint16)
    time = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    write_dng(tmp_path / "f.dng", mosaic, cfa=cfa, black_level=256, white_level=4095,
              as_shot_neutral=(0.5, 1.0, 0.8), noise_profile=(1e-3, 2e-5),
              exif={"capture_time": time, "exposure_time": 1 / 250, "iso": 400})
    with rawpy.imread(str(tmp_path / "f.dng")) as raw:
        assert np.array_equal(raw.raw_image_visible, mosaic)
        letters = "".join("RGBG"[c] for c in raw.raw_colors_visible[:2, :2].ravel())
        assert letters == cfa
        assert list(raw.black_level_per_channel) == [256] * 4 and raw.white_level == 4095
        assert raw.camera_whitebalance[:3] == pytest.approx([2.0, 1.0, 1.25], rel=1e-4)
    with open(tmp_path / "f.dng", "rb") as handle:
        tags = exifread.process_file(handle, details=False)
    assert str(tags["Image DateTimeOriginal"]) == "2026:01:02 03:04:05"
    assert str(tags["Image SubSecTimeOriginal"]) == "678"
    assert str(tags["Image ExposureTime"]) == "1/250" and str(tags["Image ISOSpeedRatings"]) == "400"


def site_values(mosaic: np.ndarray, rgb: np.ndarray, cfa: str) -> tuple[np.ndarray, np.ndarray]:
    """The mosaic's values and the RGB image's values at the same sites."""
    got, want = [], []
    for colour, sites in CFA_OFFSETS[cfa].items():
        for dy, dx in sites:
            got.append(mosaic[dy::2, dx::2].ravel())
            want.append(rgb[dy::2, dx::2, colour].ravel())
    return np.concatenate(got), np.concatenate(want)


def test_truth_transforms_reproduce_each_frame(tmp_path):
    """Noise and blur off: warping the clean reference view by a frame's true transform gives
    that frame. This pins the transforms' direction and pixel convention."""
    options = SynthOptions(frames=4, width=160, height=120, noise="none", blur=0.0,
                           sharp_margin=0.0, moving_object=False, exposure_jitter=0.0, seed=3)
    make_burst(tmp_path, options)
    truth = load_truth(tmp_path / options.name)
    clean = truth["clean"]
    for index, frame in enumerate(truth["frames"]):
        with rawpy.imread(str(tmp_path / options.name / frame["file"])) as raw:
            values = (raw.raw_image_visible.astype(np.float32) - 256) / (4095 - 256)
        # frame pixel p sees the reference at T p: sample the clean view there
        predicted = cv2.warpAffine(clean, frame["transform"][:2], (160, 120),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        got, want = site_values(values[8:-8, 8:-8], predicted[8:-8, 8:-8], "RGGB")
        error = np.abs(got - want).mean()
        assert error < 0.01, f"frame {index}: mean error {error:.4f}"
        if index != truth["reference"]:
            shifted = site_values(values[8:-8, 8:-8], clean[8:-8, 8:-8], "RGGB")
            assert np.abs(shifted[0] - shifted[1]).mean() > 3 * error  # the motion is real


def test_deterministic_and_the_sharpest_is_known(tmp_path):
    a = make_burst(tmp_path / "a", SynthOptions(frames=6, width=64, height=48, seed=9))
    b = make_burst(tmp_path / "b", SynthOptions(frames=6, width=64, height=48, seed=9))
    assert a["frames"] == b["frames"]
    for name in ("frame_000.dng", "frame_005.dng"):
        assert (tmp_path / "a/burst_000" / name).read_bytes() == (tmp_path / "b/burst_000" / name).read_bytes()
    lengths = [f["blur"]["length_px"] for f in a["frames"]]
    others = [length for i, length in enumerate(lengths) if i != a["reference"]]
    assert min(others) >= lengths[a["reference"]] + 1.0 - 1e-9


def test_moving_object_mask_and_zoom(tmp_path):
    make_burst(tmp_path, SynthOptions(frames=3, width=64, height=48, zoom=2, seed=1, name="on"))
    make_burst(tmp_path, SynthOptions(frames=3, width=64, height=48, seed=1, moving_object=False,
                                      name="off"))
    on, off = load_truth(tmp_path / "on"), load_truth(tmp_path / "off")
    assert on["motion_mask"].any() and not off["motion_mask"].any()
    assert on["clean_hr"].shape == (96, 128, 3) and on["clean"].shape == (48, 64, 3)
    assert np.array_equal(on["clean_hr"][::2, ::2], on["clean"])


def test_cli(tmp_path):
    import click
    from click.testing import CliRunner

    from burst_synth import register_commands

    group = click.Group()
    register_commands(cli=group)
    result = CliRunner().invoke(group, ["synth", str(tmp_path), "--bursts", "2", "--frames", "3",
                                        "--size", "64x48", "--noise", "high"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["burst_000", "burst_001"]
    assert len(list((tmp_path / "burst_001").glob("*.dng"))) == 3
    bad = CliRunner().invoke(group, ["synth", str(tmp_path), "--size", "63x48"])
    assert bad.exit_code == 2
