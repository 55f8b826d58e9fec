"""`burst enhance --preset sharpest` end to end on real files: synthetic DNG bursts, the real
RAW mosaics and photographs of ../shared/data, and bad files made here."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import exifread
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from burstlib.dng import write_dng


def run_sharpest(burst_cli, shots: Path, *args: str):
    return burst_cli("enhance", shots, "--preset", "sharpest", *args)


def sidecar(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}_sharpest.json").read_text())


def test_synthetic_dng_burst_picks_the_known_sharpest(tmp_path, burst_cli, burst_synth_burst):
    folder, truth = burst_synth_burst(frames=6, width=192, height=128, seed=3, name="dngburst")
    result = run_sharpest(burst_cli, folder.parent, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    record = sidecar(tmp_path / "out", "dngburst")
    assert record["reference"] == truth["reference"]
    assert {"preset", "version", "reference", "frames", "stages"} <= set(record)
    assert all({"path", "scores"} <= set(f) and f["scores"] for f in record["frames"])
    assert [s["name"] for s in record["stages"]] == ["decode", "score.laplacian", "select", "develop"]
    image = tifffile.imread(tmp_path / "out" / "dngburst_sharpest.tiff")
    assert image.shape == (128, 192, 3) and image.dtype == np.uint16
    with open(tmp_path / "out" / "dngburst_sharpest.tiff", "rb") as handle:
        tags = exifread.process_file(handle, details=False)
    chosen_time = truth["frames"][truth["reference"]]["capture_time"]
    assert str(tags["Image DateTimeOriginal"]) == chosen_time[:19].replace("-", ":").replace("T", " ")


def blurred_copies(image: np.ndarray, sigmas: list[float]) -> list[np.ndarray]:
    return [image if s == 0 else cv2.GaussianBlur(image, (0, 0), s) for s in sigmas]


def test_16bit_tiff_burst_output_is_the_chosen_frame_exactly(tmp_path, burst_cli, shared_data):
    photo = iio.imread(shared_data / "kodak24" / sorted(p.name for p in
                                                        (shared_data / "kodak24").glob("*.png"))[0])
    base = photo[:256, :384].astype(np.uint16) * 257
    folder = tmp_path / "shots" / "tiffs"
    folder.mkdir(parents=True)
    frames = blurred_copies(base, [2.0, 1.2, 0, 1.6])
    for i, frame in enumerate(frames):
        tifffile.imwrite(folder / f"f{i}.tiff", frame)
    assert run_sharpest(burst_cli, tmp_path / "shots").exit_code == 0
    written = tifffile.imread(tmp_path / "shots_burst" / "tiffs_sharpest.tiff")
    assert written.dtype == np.uint16 and np.array_equal(written, frames[2])


def test_real_jpeg_burst(tmp_path, burst_cli, shared_data):
    result = run_sharpest(burst_cli, shared_data / "hdrplus_burst_0006_jpeg", "-o", tmp_path,
                          "-f", "png")
    assert result.exit_code == 0, result.output
    record = sidecar(tmp_path, "hdrplus_burst_0006_jpeg")
    chosen = Path(record["frames"][record["reference"]]["path"])
    assert np.array_equal(iio.imread(tmp_path / "hdrplus_burst_0006_jpeg_sharpest.png"),
                          iio.imread(chosen))
    assert len(record["frames"]) == 7


def test_real_camera_raw_kdc(tmp_path, burst_cli, shared_data):
    result = run_sharpest(burst_cli, shared_data / "raw_kodak_dc50_kdc", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    image = tifffile.imread(tmp_path / "raw_kodak_dc50_kdc_sharpest.tiff")
    assert image.ndim == 3 and image.shape[2] == 3 and 0.05 < image.mean() / 65535 < 0.95


def real_mosaic_burst(folder: Path, mosaic: np.ndarray, black: int, white: int,
                      sigmas: list[float]) -> None:
    """Windows of a real mosaic, shifted by whole Bayer cells and blurred per CFA plane."""
    folder.mkdir(parents=True)
    h, w = mosaic.shape[0] - 16, mosaic.shape[1] - 16
    for i, sigma in enumerate(sigmas):
        dy, dx = 2 * (i % 3), 2 * (i % 4)
        window = mosaic[dy:dy + h, dx:dx + w].astype(np.float32)
        if sigma:
            for y in (0, 1):
                for x in (0, 1):
                    window[y::2, x::2] = cv2.GaussianBlur(window[y::2, x::2], (0, 0), sigma)
        write_dng(folder / f"frame_{i}.dng", np.round(window).astype(np.uint16), cfa="RGGB",
                  black_level=black, white_level=white)


@pytest.mark.parametrize("name, shape, black, white", [
    ("raw_isp_rose_crop_768x512/DSC_1339_768x512_rggb.raw", (512, 768), 600, 15520),
    ("raw_openisp_chart_1080p/test.RAW", (1080, 1920), 0, 1023),
])
def test_real_bayer_mosaics_as_dng_bursts(tmp_path, burst_cli, shared_data, name, shape, black, white):
    mosaic = np.fromfile(shared_data / name, dtype="<u2").reshape(shape)
    real_mosaic_burst(tmp_path / "shots" / "real", mosaic, black, white, [1.5, 0.9, 0, 1.2, 2.0])
    result = run_sharpest(burst_cli, tmp_path / "shots", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sidecar(tmp_path / "out", "real")["reference"] == 2


def test_bad_files_get_one_line_and_the_batch_finishes(tmp_path, burst_cli, burst_synth_burst):
    folder, truth = burst_synth_burst(frames=4, width=96, height=64, seed=5, name="good")
    shots = folder.parent
    frames = sorted(folder.glob("*.dng"))
    frames[-1].write_bytes(frames[-1].read_bytes()[:2000])  # truncated: dropped with a warning
    broken = shots / "broken"
    broken.mkdir()
    (broken / "empty.dng").write_bytes(b"")
    (broken / "text.jpg").write_text("this is not a JPEG")
    result = run_sharpest(burst_cli, shots, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"warning {frames[-1]}:" in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "broken" in failed[0] and "empty.dng" in failed[0]
    assert (tmp_path / "out" / "good_sharpest.tiff").exists()


def test_demo_runs_end_to_end(tmp_path, burst_cli):
    result = burst_cli("demo", tmp_path / "demo", "--frames", "4", "--size", "160x96")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "out" / "demo_sharpest.tiff").exists()
    assert "reference frame chosen" in result.output


@pytest.mark.parametrize("fmt, ext", [("jpeg", ".jpg"), ("png", ".png")])
def test_exif_of_the_reference_is_copied(tmp_path, burst_cli, burst_synth_burst, fmt, ext):
    folder, truth = burst_synth_burst(frames=3, width=96, height=64, seed=8, name="exif")
    assert run_sharpest(burst_cli, folder.parent, "-o", tmp_path, "-f", fmt).exit_code == 0
    reference = truth["frames"][sidecar(tmp_path, "exif")["reference"]]
    with open(tmp_path / f"exif_sharpest{ext}", "rb") as handle:
        tags = exifread.process_file(handle, details=False)
    assert str(tags["Image Make"]) == "burst"
    assert str(tags["EXIF DateTimeOriginal"]) == reference["capture_time"][:19].replace("-", ":").replace("T", " ")
    assert int(str(tags["EXIF ISOSpeedRatings"])) == reference["iso"]
    exposure = tags["EXIF ExposureTime"].values[0]
    assert exposure.num / exposure.den == pytest.approx(reference["exposure_time"], rel=1e-3)


def test_many_tiny_frames_give_a_real_image_and_one_warning_at_most(tmp_path, burst_cli,
                                                                    burst_synth_burst):
    """Once: 200 frames of 64x48 through denoise wrote an all-black image reported as done
    (a degenerate homography accepted, a NaN through the merge) with 63 separate warnings."""
    folder, _ = burst_synth_burst(frames=60, width=64, height=48, seed=11, name="tiny")
    result = burst_cli("enhance", folder.parent, "-p", "denoise", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sum(line.startswith("warning") for line in result.output.splitlines()) <= 1
    image = tifffile.imread(tmp_path / "out" / "tiny_denoise.tiff").astype(np.float64)
    assert np.isfinite(image).all() and image.std() > 1000  # a photograph, not a flat field
