"""burst synth: real DNG files, and a truth that matches what the files hold."""

from __future__ import annotations

import datetime as dt
import json
import math

import click
import cv2
import exifread
import imageio.v3 as iio
import numpy as np
import pytest
import rawpy
from click.testing import CliRunner

from burst_synth import register_commands
from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.dng import XYZ_TO_SRGB, write_dng, write_linear_dng
from burstlib.synth.motion import STREAK_SPREAD, shake_plan
from burstlib.synth.render import CFA_OFFSETS, INTERPOLATION

BLACK, WHITE = 256, 4095
TIME = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
EXIF = {"capture_time": TIME, "exposure_time": 1 / 250, "iso": 400}


def exif_tags(path) -> dict:
    with open(path, "rb") as handle:
        return exifread.process_file(handle, details=False)


def random_camera_matrix(seed: int) -> np.ndarray:
    """A camera whose raw RGB is a mix of linear sRGB (rows sum to 1, as unprocess makes)."""
    mix = np.eye(3) + np.random.default_rng(seed).uniform(0, 0.3, (3, 3)) * (1 - np.eye(3))
    return mix / mix.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_dng_round_trip_is_exact(tmp_path, cfa):
    mosaic = np.random.default_rng(0).integers(0, 4096, (64, 96)).astype(np.uint16)
    rgb_to_cam = random_camera_matrix(1)
    write_dng(tmp_path / "f.dng", mosaic, cfa=cfa, black_level=BLACK, white_level=WHITE,
              as_shot_neutral=(0.5, 1.0, 0.8), noise_profile=(1e-3, 2e-5),
              color_matrix=rgb_to_cam @ XYZ_TO_SRGB, exif=EXIF)
    with rawpy.imread(str(tmp_path / "f.dng")) as raw:
        assert np.array_equal(raw.raw_image_visible, mosaic)
        letters = "".join(chr(raw.color_desc[c]) for c in raw.raw_colors_visible[:2, :2].ravel())
        assert letters == cfa
        assert list(raw.black_level_per_channel) == [BLACK] * 4 and raw.white_level == WHITE
        assert raw.camera_whitebalance[:3] == pytest.approx([2.0, 1.0, 1.25], rel=1e-4)
        # LibRaw's camera -> sRGB matrix undoes the camera's mix: ColorMatrix1 went through
        assert np.allclose(raw.color_matrix[:3, :3] @ rgb_to_cam, np.eye(3), atol=2e-3)
        # LibRaw finds all three: ISO only in the Exif sub-IFD, the time in IFD0's DateTime
        assert raw.other.iso_speed == 400 and raw.other.shutter_speed == pytest.approx(1 / 250)
        assert raw.other.timestamp.replace(microsecond=0) == TIME.replace(microsecond=0)
    tags = exif_tags(tmp_path / "f.dng")
    for prefix in ("Image", "EXIF"):  # IFD0 copies and the real Exif sub-IFD
        assert str(tags[f"{prefix} DateTimeOriginal"]) == "2026:01:02 03:04:05"
        assert str(tags[f"{prefix} SubSecTimeOriginal"]) == "678"
        assert str(tags[f"{prefix} ExposureTime"]) == "1/250"
        assert str(tags[f"{prefix} ISOSpeedRatings"]) == "400"
    noise = [float(v[0] if isinstance(v, tuple) else v) for v in tags["Image Tag 0xC761"].values]
    assert noise == pytest.approx([1e-3, 2e-5])


def test_dng_without_exif_and_bad_input(tmp_path):
    write_dng(tmp_path / "plain.dng", np.full((32, 48), 1000, np.uint16))
    with rawpy.imread(str(tmp_path / "plain.dng")) as raw:
        assert raw.raw_image_visible.max() == 1000 and raw.other.iso_speed == 0
    assert "EXIF ISOSpeedRatings" not in exif_tags(tmp_path / "plain.dng")
    with pytest.raises(ValueError):
        write_dng(tmp_path / "bad.dng", np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError):
        write_dng(tmp_path / "bad.dng", np.zeros((8, 8), np.uint16), cfa="RGGR")


def test_linear_dng_round_trip(tmp_path):
    rgb = np.random.default_rng(2).integers(BLACK, WHITE, (40, 56, 3)).astype(np.uint16)
    write_linear_dng(tmp_path / "l.dng", rgb, black_level=BLACK, white_level=WHITE,
                     as_shot_neutral=(0.5, 1.0, 0.8), exif=EXIF)
    with rawpy.imread(str(tmp_path / "l.dng")) as raw:
        assert raw.raw_type == rawpy.RawType.Stack
        assert np.array_equal(raw.raw_image[..., :3], rgb)
        assert list(raw.black_level_per_channel[:3]) == [BLACK] * 3 and raw.white_level == WHITE
        assert raw.camera_whitebalance[:3] == pytest.approx([2.0, 1.0, 1.25], rel=1e-4)
        assert raw.other.iso_speed == 400


def site_values(mosaic: np.ndarray, rgb: np.ndarray, cfa: str) -> tuple[np.ndarray, np.ndarray]:
    """The mosaic's values and the RGB image's values at the same sites."""
    got, want = [], []
    for colour, sites in CFA_OFFSETS[cfa].items():
        for dy, dx in sites:
            got.append(mosaic[dy::2, dx::2].ravel())
            want.append(rgb[dy::2, dx::2, colour].ravel())
    return np.concatenate(got), np.concatenate(want)


def normalised(path) -> np.ndarray:
    with rawpy.imread(str(path)) as raw:
        return (raw.raw_image_visible.astype(np.float32) - BLACK) / (WHITE - BLACK)


@pytest.mark.parametrize("zoom,cfa", [(1, "RGGB"), (2, "GBRG")])
def test_truth_transforms_reproduce_each_frame(tmp_path, zoom, cfa):
    """Noise and shake off: sampling the clean truth through a frame's true transform gives
    that frame, and the inverse transform does not. This pins the transforms' direction and
    the pixel convention (frame pixel x <-> HR pixel zoom * x)."""
    options = SynthOptions(frames=4, width=160, height=120, zoom=zoom, noise="none", blur=0.0,
                           sharp_margin=0.0, moving_object=False, exposure_jitter=0.0,
                           rotation=2.0, cfa=cfa, seed=3)
    make_burst(tmp_path, options)
    truth = load_truth(tmp_path / options.name)
    clean = truth["clean_hr"] if zoom > 1 else truth["clean"]
    to_hr = np.diag([zoom, zoom, 1.0])
    inner = (slice(10, -10), slice(10, -10))
    for index, frame in enumerate(truth["frames"]):
        values = normalised(tmp_path / options.name / frame["file"])
        errors = []
        for matrix in (frame["transform"], np.linalg.inv(frame["transform"])):
            predicted = cv2.warpAffine(clean, (to_hr @ matrix)[:2], (160, 120),
                                       flags=INTERPOLATION | cv2.WARP_INVERSE_MAP)
            got, want = site_values(values[inner], predicted[inner], cfa)
            errors.append(float(np.abs(got - want).mean()))
        assert errors[0] < 2e-3, f"frame {index}: mean error {errors[0]:.4f}"
        if index != truth["reference"]:
            assert errors[1] > 10 * errors[0]  # the motion is real and its direction right


def test_same_seed_same_files_other_seed_other_burst(tmp_path):
    a = make_burst(tmp_path / "a", SynthOptions(frames=3, width=64, height=48, seed=9))
    b = make_burst(tmp_path / "b", SynthOptions(frames=3, width=64, height=48, seed=9))
    c = make_burst(tmp_path / "c", SynthOptions(frames=3, width=64, height=48, seed=10))
    assert a == b and a["frames"] != c["frames"]
    for name in ("frame_000.dng", "frame_002.dng", "truth_clean.npy"):
        assert (tmp_path / "a/burst_000" / name).read_bytes() == \
            (tmp_path / "b/burst_000" / name).read_bytes()
    assert not np.array_equal(np.load(tmp_path / "a/burst_000/truth_clean.npy"),
                              np.load(tmp_path / "c/burst_000/truth_clean.npy"))


def test_shake_plan_makes_the_sharpest_known_and_random():
    references = set()
    for seed in range(40):
        shakes = shake_plan(np.random.default_rng(seed), 8, 3.0, 1.0)
        spreads = np.array([s.spread for s in shakes])
        sharpest = int(np.argmin(spreads))
        references.add(sharpest)
        others = np.delete(spreads, sharpest)
        assert others.min() >= spreads[sharpest] + STREAK_SPREAD - 1e-9
        assert all(abs(s.kernel.sum() - 1) < 1e-5 for s in shakes)
    assert len(references) >= 5  # the reference is not always the same frame


def laplacian_energy(path) -> float:
    green = normalised(path)[0::2, 1::2]  # one green site of RGGB: a plain sub-image
    return float(np.mean(cv2.Laplacian(green, cv2.CV_32F)[4:-4, 4:-4] ** 2))


def test_the_recorded_sharpest_frame_is_the_sharpest_in_the_files(tmp_path):
    options = SynthOptions(frames=5, width=192, height=128, noise="none", blur=4.0,
                           sharp_margin=2.0, moving_object=False, exposure_jitter=0.0, seed=4)
    truth = make_burst(tmp_path, options)
    spreads = [f["blur"]["spread_px"] for f in truth["frames"]]
    assert truth["reference"] == int(np.argmin(spreads))
    assert np.allclose(truth["frames"][truth["reference"]]["transform"], np.eye(3))
    energy = [laplacian_energy(tmp_path / options.name / f["file"]) for f in truth["frames"]]
    assert int(np.argmax(energy)) == truth["reference"]
    assert sorted(energy)[-2] < 0.9 * max(energy)  # a clear margin, visible in the pixels


def test_moving_object_and_its_mask(tmp_path):
    common = dict(frames=3, width=96, height=64, noise="none", blur=0.0, sharp_margin=0.0, seed=1)
    on = make_burst(tmp_path, SynthOptions(**common, name="on"))
    make_burst(tmp_path, SynthOptions(**common, moving_object=False, name="off"))
    mask_on = load_truth(tmp_path / "on")["motion_mask"]
    assert mask_on.dtype == bool and mask_on.shape == (64, 96)
    assert mask_on.any() and not load_truth(tmp_path / "off")["motion_mask"].any()
    # the reference frame differs from the object-free one only inside the mask
    file = on["frames"][on["reference"]]["file"]
    change = np.abs(normalised(tmp_path / "on" / file) - normalised(tmp_path / "off" / file))
    assert change[mask_on].max() > 0.05 and change[~mask_on].max() < 1e-6
    # it moves: the union of its places is well beyond one disc (radius 8% of the short side)
    assert mask_on.sum() > 1.5 * math.pi * (0.08 * 64) ** 2


def test_zoom_truth_and_truth_json(tmp_path):
    truth = make_burst(tmp_path, SynthOptions(frames=3, width=64, height=48, zoom=2, seed=5))
    loaded = load_truth(tmp_path / "burst_000")
    assert loaded["clean_hr"].shape == (96, 128, 3) and loaded["clean"].shape == (48, 64, 3)
    assert np.array_equal(loaded["clean_hr"][::2, ::2], loaded["clean"])
    assert loaded["clean"].dtype == np.float32 and 0 <= loaded["clean"].min() <= 1.0
    assert json.loads((tmp_path / "burst_000/truth.json").read_text()) == truth
    assert truth["frame_size"] == [64, 48] and 0 <= truth["shutter"] < 3
    times = [dt.datetime.fromisoformat(f["capture_time"]) for f in truth["frames"]]
    assert all(abs((b - a).total_seconds() - 1 / 30) < 2e-3 for a, b in zip(times, times[1:]))
    frame = truth["frames"][1]
    tags = exif_tags(tmp_path / "burst_000" / frame["file"])
    assert int(str(tags["EXIF ISOSpeedRatings"])) == frame["iso"]
    shot = tags["EXIF ExposureTime"].values[0]
    assert shot.num / shot.den == pytest.approx(frame["exposure_time"], rel=1e-4)
    images = {p.name for p in (tmp_path / "burst_000").iterdir() if p.suffix != ".npy"}
    assert images == {"truth.json", "frame_000.dng", "frame_001.dng", "frame_002.dng"}


def test_source_folder_images_are_the_scene(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    iio.imwrite(source / "flat.png", np.full((40, 50, 3), 128, np.uint8))  # smaller: enlarged
    make_burst(tmp_path, SynthOptions(frames=2, width=64, height=48, noise="none", source=source,
                                      moving_object=False))
    clean = load_truth(tmp_path / "burst_000")["clean"]
    assert np.ptp(clean, axis=(0, 1)).max() < 1e-5 and clean.mean() > 0.05
    with pytest.raises(FileNotFoundError):
        make_burst(tmp_path, SynthOptions(source=tmp_path / "burst_000", name="x"))


def test_cli(tmp_path):
    group = click.Group()
    register_commands(cli=group)
    result = CliRunner().invoke(group, ["synth", str(tmp_path), "--bursts", "2", "--frames", "3",
                                        "--size", "64x48", "--noise", "high", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["burst_000", "burst_001"]
    assert len(result.output.strip().splitlines()) == 2
    assert len(list((tmp_path / "burst_001").glob("*.dng"))) == 3
    assert load_truth(tmp_path / "burst_001")["seed"] == 8
    for bad in (["--size", "63x48"], ["--noise", "loud"], ["--noise", "-1"]):
        assert CliRunner().invoke(group, ["synth", str(tmp_path), *bad]).exit_code == 2
