"""``-f dng``: RAW bursts written as DNG files that LibRaw reads back as RAW (CFA or
LinearRaw) and develops, with the settings of our develop stage, to the TIFF output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rawpy
import tifffile

from burstcli.errors import EXIT_FAILED
from burstcli.model import Burst, Frame

NOISE_PROFILE, BASELINE_EXPOSURE = 51041, 50730
LINEAR_RAW, CFA = 34892, 32803


def libraw_develop(path: Path) -> np.ndarray:
    """LibRaw's development with the develop stage's settings (burst_develop.libraw): camera
    white balance, no auto-brightness, no maximum adjustment, highlights clipped, AHD, no
    flip; sRGB primaries and curve. float64 in [0, 1]."""
    with rawpy.imread(str(path)) as raw:
        rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, bright=1.0,
                              adjust_maximum_thr=0.0, highlight_mode=rawpy.HighlightMode.Clip,
                              demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD, user_flip=0,
                              output_bps=16, output_color=rawpy.ColorSpace.sRGB,
                              gamma=(2.4, 12.92))
    return rgb.astype(np.float64) / 65535.0


def enhance_both(burst_cli, folder: Path, out: Path, preset: str) -> tuple[Path, Path, dict]:
    """The burst enhanced as TIFF and as DNG: the two files and the DNG run's sidecar."""
    for fmt in ("tiff", "dng"):
        result = burst_cli("enhance", folder, "--preset", preset, "-f", fmt, "-o", out)
        assert result.exit_code == 0, result.output
    stem = f"{folder.name}_{preset}"
    sidecar = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    return out / f"{stem}.tiff", out / f"{stem}.dng", sidecar


def reference_file(sidecar: dict) -> Path:
    return Path(sidecar["frames"][sidecar["reference"]]["path"])


def raw_ifd(path: Path) -> dict:
    """The RAW image's tags (IFD0's SubIFD) and IFD0's, by code, with what a test checks."""
    with tifffile.TiffFile(path) as tif:
        first = tif.pages.first
        assert first.tags["NewSubfileType"].value == 1  # IFD0 is the preview
        preview = first.asarray()
        (raw_page,) = first.pages
        assert raw_page.tags["NewSubfileType"].value == 0
        return {"ifd0": {t.code: t.value for t in first.tags.values()},
                "raw": {t.code: t.value for t in raw_page.tags.values()},
                "exif": dict(first.tags["ExifTag"].value), "preview": preview,
                "photometric": int(raw_page.photometric), "dtype": raw_page.dtype}


def exif_of(path: Path) -> dict:
    with tifffile.TiffFile(path) as tif:
        return dict(tif.pages.first.tags["ExifTag"].value)


def assert_same_camera(dng: Path, reference: Path) -> None:
    """LibRaw makes of the DNG's colour what it made of the reference frame."""
    with rawpy.imread(str(reference)) as raw:
        matrix, balance = raw.color_matrix.copy(), list(raw.camera_whitebalance)
    with rawpy.imread(str(dng)) as raw:
        np.testing.assert_allclose(raw.color_matrix, matrix, atol=1e-4)
        np.testing.assert_allclose(raw.camera_whitebalance[:3], balance[:3], rtol=1e-5)
        assert raw.color_desc == b"RGBG"


def assert_same_exif(dng: Path, reference: Path) -> None:
    ours, theirs = exif_of(dng), exif_of(reference)
    for name in ("ExposureTime", "ISOSpeedRatings", "DateTimeOriginal"):
        assert ours[name] == theirs[name], name
    with tifffile.TiffFile(dng) as a, tifffile.TiffFile(reference) as b:
        for name in ("Make", "Model", "UniqueCameraModel"):
            assert a.pages.first.tags[name].value == b.pages.first.tags[name].value


@pytest.mark.parametrize("preset", ["denoise", "zoom2x-classical", "zoom2x"])
def test_merged_and_zoomed_results_are_linear_raw_that_develops_to_the_tiff(
        tmp_path, burst_cli, burst_synth_burst, preset):
    """denoise undoes develop.frames's linear development of the merge, zoom2x the sRGB one
    of the network's output, zoom2x-classical stores the planes develop read: all three
    LinearRaw, developed by LibRaw to the TIFF within 1 %."""
    folder, _ = burst_synth_burst(frames=4, width=160, height=120, seed=3, name="b")
    tiff, dng, sidecar = enhance_both(burst_cli, folder, tmp_path / "out", preset)
    reference = reference_file(sidecar)
    with rawpy.imread(str(dng)) as raw:
        assert raw.raw_type == rawpy.RawType.Stack
        assert raw.raw_image_visible.shape[:2] == (120, 160)
        assert list(raw.black_level_per_channel[:3]) == [0, 0, 0]
        assert raw.white_level == 65535
    assert_same_camera(dng, reference)
    assert_same_exif(dng, reference)
    developed, expected = libraw_develop(dng), tifffile.imread(tiff) / 65535.0
    assert developed.shape == expected.shape
    assert np.abs(developed - expected).max() < 0.01  # measured: 0.0004-0.0006

    tags = raw_ifd(dng)
    assert tags["photometric"] == LINEAR_RAW and tags["dtype"] == np.uint16
    assert tags["preview"].dtype == np.uint8 and tags["preview"].shape == (120, 160, 3)
    assert tags["ifd0"][BASELINE_EXPOSURE] == (0, 1)  # the merge kept the reference's scale
    with tifffile.TiffFile(reference) as tif:
        frame_profile = np.array(tif.pages.first.tags[NOISE_PROFILE].value)
    profile = np.array(tags["ifd0"][NOISE_PROFILE])  # where Adobe's DNG SDK reads it
    assert NOISE_PROFILE not in tags["raw"]
    if preset == "denoise":  # four frames that all agree: about a quarter of the variance
        assert np.all(profile < 0.3 * frame_profile) and np.all(profile > 0.2 * frame_profile)
    else:  # 4 frames spread over a 2x finer grid: a frame's worth per pixel
        np.testing.assert_allclose(profile, frame_profile)


@pytest.mark.parametrize("preset", ["sharpest", "denoise-hdrplus"])
def test_mosaic_results_stay_cfa_with_the_reference_pattern_and_levels(
        tmp_path, burst_cli, burst_synth_burst, preset):
    """A result that is still a mosaic is a CFA DNG: the reference's own sensor numbers and
    levels (sharpest), or the merged mosaic on 16 bits (denoise-hdrplus). LibRaw's AHD is
    not our develop stage's (square-root domain, padded), so pixels differ at edges; the
    colour and levels agree within 1 % on average, and our develop stage, reading the DNG
    through LibRaw, gives the TIFF back within 1 % (AHD's choice of direction flips at a few
    pixels for a merged mosaic's 16-bit rounding: 99 % of the values)."""
    folder, _ = burst_synth_burst(frames=4, width=192, height=128, seed=5, noise="low",
                                  optics=1.0, name="m")
    tiff, dng, sidecar = enhance_both(burst_cli, folder, tmp_path / "out", preset)
    reference = reference_file(sidecar)
    with rawpy.imread(str(reference)) as raw:
        pattern, mosaic = raw.raw_pattern.copy(), raw.raw_image_visible.copy()
    with rawpy.imread(str(dng)) as raw:
        assert raw.raw_type == rawpy.RawType.Flat
        np.testing.assert_array_equal(raw.raw_pattern, pattern)
        levels = (list(raw.black_level_per_channel), raw.white_level)
        stored = raw.raw_image_visible.copy()
    assert_same_camera(dng, reference)
    assert_same_exif(dng, reference)
    tags = raw_ifd(dng)
    assert tags["photometric"] == CFA and tags["raw"][33422] == b"\x00\x01\x01\x02"  # RGGB
    if preset == "sharpest":  # the reference frame itself, number for number
        assert levels == ([256] * 4, 4095)
        np.testing.assert_array_equal(stored, mosaic)
        np.testing.assert_array_equal(libraw_develop(dng), libraw_develop(reference))
    else:
        assert levels == ([0] * 4, 65535)
    expected = tifffile.imread(tiff) / 65535.0
    developed = libraw_develop(dng)
    assert np.abs(developed - expected).mean() < 0.01  # measured: 0.002-0.003
    np.testing.assert_allclose(developed.mean(axis=(0, 1)), expected.mean(axis=(0, 1)),
                               atol=0.002)
    # burst itself reading the DNG (through LibRaw) and developing it as the TIFF was
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(dng, again / "result.dng")
    result = burst_cli("enhance", again, "--preset", "sharpest", "-o", tmp_path / "out2")
    assert result.exit_code == 0, result.output
    redeveloped = tifffile.imread(tmp_path / "out2" / "again_sharpest.tiff") / 65535.0
    assert np.percentile(np.abs(redeveloped - expected), 99) < 0.01


def test_an_image_changed_after_develop_is_undeveloped_again(burst_run_stage,
                                                            burst_synth_burst):
    """While the product is the image ``develop`` made, the DNG holds what it read (the
    mosaic); once a later stage replaced it (a deblur), the development is undone instead:
    developing the undone planes gives the image back."""
    from burst_develop.dngout import raw_result

    folder, _ = burst_synth_burst(frames=1, width=64, height=48, seed=4, noise="low",
                                  name="u")
    decoded = burst_run_stage("decode", Burst("u", (Frame(folder / "frame_000.dng"),)))
    developed = burst_run_stage("develop", decoded)
    assert developed.image is not None
    kept = raw_result(developed, developed.image, "rgb")
    assert kept.layout == "cfa" and kept.values is decoded.frames[0].pixels
    changed = developed.replace(image=developed.image.copy())
    undone = raw_result(changed, changed.image, "rgb")
    assert undone.layout == "linear_raw" and undone.values.shape == (48, 64, 3)
    again = burst_run_stage("develop", changed.replace(image=undone.values,
                                                       image_layout="linear_raw"))
    assert np.abs(again.image - developed.image).max() < 1e-3


def test_rgb_bursts_are_refused_in_one_line_before_they_are_read(
        tmp_path, burst_cli, monkeypatch):
    import imageio.v3 as iio

    import burst_decode

    shots = tmp_path / "shots"
    shots.mkdir()
    ramp = np.linspace(0, 255, 48 * 32 * 3).reshape(32, 48, 3).astype(np.uint8)
    for i in range(3):
        iio.imwrite(shots / f"f{i}.png", ramp)

    def never(path):  # type: ignore[no-untyped-def]
        raise AssertionError(f"{path} was decoded")
    monkeypatch.setattr(burst_decode, "read_file", never)
    result = burst_cli("enhance", shots, "-f", "dng", "-o", tmp_path / "out")
    assert result.exit_code == EXIT_FAILED
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert failed == ["FAILED  shots: -f dng stores RAW data and these frames are PNG, not "
                      "RAW: write them with -f tiff, png or jpeg"]
    assert not list((tmp_path / "out").glob("*"))  # no output, no sidecar


def test_the_check_lets_a_burst_with_raw_frames_through():
    from burst_develop.dngout import check_raw_files
    assert check_raw_files([Path("a.JPG"), Path("b.DNG")]) is None
    assert "JPG/TIFF" in (check_raw_files([Path("a.jpg"), Path("b.tiff")]) or "")


def test_variance_factor_reads_what_each_merge_records():
    from burst_develop.dngout import variance_factor
    robust = {"mean_weight": {1: 1.0, 2: 1.0, 3: 1.0}, "kept": {"merge": [1.0, 1.0]}}
    assert variance_factor({"merge.robust": robust}) == pytest.approx(0.25)
    unkept = {**robust, "kept": {"merge": [0.0, 0.0]}}  # validation kept the reference
    assert variance_factor({"merge.robust": unkept}) == pytest.approx(1.0)
    half = {"mean_weight": {1: 0.5, 2: 0.5}}  # weights 1, .5, .5 of 2: (1 + .25 + .25) / 4
    assert variance_factor({"merge.kernel": half}) == pytest.approx(0.375)
    assert variance_factor({"merge.wiener": {"agreement": {1: 1.0, 2: 1.0}}}) == \
        pytest.approx(1 / 3)
    assert variance_factor({"merge.wiener": {"agreement": {1: 0.0}}}) == pytest.approx(1.0)
    assert variance_factor({"merge.mean": {"frames": [0, 1, 2, 3]}}) == pytest.approx(0.25)
    zoom = {"frames": list(range(8)), "scale": 2}
    assert variance_factor({"zoom.classical": zoom}) == pytest.approx(0.5)
    # the last merge counts; a count that is not a list of frames is no merge
    assert variance_factor({"merge.mean": {"frames": [0, 1]}, "colour.yuv": {"frames": 2},
                            "develop": {"action": "developed"}}) == pytest.approx(0.5)
    assert variance_factor({"decode": {"skipped": []}}) == 1.0


def test_a_reference_without_dng_colour_tags_gets_a_matrix_libraw_reads_back(
        tmp_path, burst_synth_burst):
    """A RAW reference that is no DNG (a CR2, say): ColorMatrix1 and AsShotNeutral derived
    from LibRaw's matrix and multipliers give them back; a chain ending undeveloped is stored
    as it is."""
    from burst_decode.readers import read_file
    from burst_develop.dngout import write_dng

    folder, _ = burst_synth_burst(frames=1, width=64, height=48, seed=2, name="one")
    decoded = read_file(folder / "frame_000.dng")
    assert decoded.raw is not None and decoded.raw.color_matrix is not None
    frame = Frame(tmp_path / "frame_000.cr2", pixels=decoded.pixels, layout="cfa",
                  raw=decoded.raw, exif=decoded.exif)
    out = tmp_path / "out.dng"
    write_dng(out, decoded.pixels, "cfa", decoded.exif, Burst("one", (frame,)))
    with rawpy.imread(str(out)) as raw:
        np.testing.assert_allclose(raw.color_matrix[:, :3], decoded.raw.color_matrix, atol=1e-4)
        np.testing.assert_allclose(raw.camera_whitebalance[:3], decoded.raw.white_balance[:3],
                                   rtol=1e-5)
        np.testing.assert_array_equal(raw.raw_image_visible, decoded.pixels)


def test_a_kodak_kdc_burst_as_dng(tmp_path, burst_cli, shared_data):
    """A real non-DNG RAW (no colour matrix LibRaw knows: developed as if sRGB)."""
    folder = tmp_path / "kdc"
    folder.mkdir()
    shutil.copy(shared_data / "raw_kodak_dc50_kdc" / "RAW_KODAK_DC50.KDC", folder)
    tiff, dng, _ = enhance_both(burst_cli, folder, tmp_path / "out", "sharpest")
    developed, expected = libraw_develop(dng), tifffile.imread(tiff) / 65535.0
    assert np.abs(developed - expected).mean() < 0.01
    np.testing.assert_allclose(developed.mean(axis=(0, 1)), expected.mean(axis=(0, 1)),
                               atol=0.002)
    assert exif_of(dng)["FNumber"] == (31, 5)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
@pytest.mark.parametrize("preset", ["sharpest", "denoise"])
def test_exiftool_reads_the_tags_without_warnings(tmp_path, burst_cli, burst_synth_burst,
                                                  preset):
    folder, _ = burst_synth_burst(frames=3, width=96, height=64, seed=1, name="x")
    result = burst_cli("enhance", folder, "--preset", preset, "-f", "dng", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    report = subprocess.run(["exiftool", "-validate", "-warning", "-a",
                             str(tmp_path / f"x_{preset}.dng")],
                            capture_output=True, text=True, check=True).stdout
    assert report.split() == ["Validate", ":", "OK"], report
