"""The decode stage on real files and on bad files made here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import tifffile

from burst_decode import burst_read_exif, decode
from burst_decode.arrays import cfa_site_indices, grey_proxy, normalized
from burst_synth.dng import write_dng
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import BadFileError


def run(paths, **params):
    burst = Burst("b", tuple(Frame(path=p) for p in paths))
    return decode(burst, decode.params_type(**params))


def test_real_camera_raw(shared_data):
    path = shared_data / "raw_kodak_dc50_kdc" / "RAW_KODAK_DC50.KDC"
    frame = run([path]).frames[0]
    assert frame.layout == "cfa" and frame.pixels.dtype == np.uint16 and frame.pixels.shape == (512, 768)
    assert frame.raw.white_level == 16383 and len(frame.raw.cfa_pattern) == 2
    assert frame.exif.iso == 84 and frame.exif.exposure_time == pytest.approx(1 / 230, rel=0.01)
    assert frame.exif.capture_time == dt.datetime(1997, 4, 23, 8, 0, 47)
    assert burst_read_exif(path=path).make == "Eastman Kodak Company"


def test_real_mosaic_wrapped_as_dng_decodes_value_for_value(tmp_path, shared_data):
    mosaic = np.fromfile(shared_data / "raw_isp_rose_crop_768x512" / "DSC_1339_768x512_rggb.raw",
                         dtype="<u2").reshape(512, 768)
    write_dng(tmp_path / "rose.dng", mosaic, cfa="RGGB", black_level=600, white_level=15520,
              noise_profile=(2e-4, 1e-6))
    frame = run([tmp_path / "rose.dng"]).frames[0]
    assert np.array_equal(frame.pixels, mosaic)
    assert frame.raw.cfa_string() == "RGGB" and frame.raw.black_level[0] == 600
    assert frame.raw.white_level == 15520 and frame.raw.noise_profile == ((2e-4, 1e-6),)


def test_real_jpeg_and_16bit_tiff_values_unchanged(tmp_path, shared_data):
    import imageio.v3 as iio
    jpeg = shared_data / "hdrplus_burst_0006_jpeg" / "frame-000.jpg"
    frame = run([jpeg]).frames[0]
    assert frame.layout == "rgb" and np.array_equal(frame.pixels, iio.imread(jpeg))
    tiff = np.random.default_rng(0).integers(0, 65535, (20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "t.tiff", tiff)
    frame = run([tmp_path / "t.tiff"]).frames[0]
    assert frame.pixels.dtype == np.uint16 and np.array_equal(frame.pixels, tiff)


@pytest.fixture
def good_dng(tmp_path):
    path = tmp_path / "good.dng"
    write_dng(path, np.full((32, 48), 1000, np.uint16), black_level=64, white_level=4095)
    return path


@pytest.mark.parametrize("name, content, reason", [
    ("empty.dng", b"", "empty file"),
    ("text.jpg", b"this is not a JPEG at all", "cannot be read as JPG"),
    ("fake.nef", None, "not a RAW file LibRaw can read"),
])
def test_bad_files_give_a_clear_reason(tmp_path, good_dng, name, content, reason):
    import imageio.v3 as iio
    bad = tmp_path / name
    if content is None:
        iio.imwrite(bad, np.zeros((8, 8, 3), np.uint8), extension=".png")
    else:
        bad.write_bytes(content)
    with pytest.raises(BadFileError, match=reason):
        run([bad], on_bad_frame="fail")
    skipped = run([bad, good_dng])
    assert [f.path for f in skipped.frames] == [good_dng]
    assert len(skipped.warnings) == 1 and str(bad) in skipped.warnings[0]
    assert skipped.notes["decode"]["skipped"][0]["path"] == str(bad)


def test_truncated_dng(tmp_path, good_dng):
    data = good_dng.read_bytes()
    (tmp_path / "cut.dng").write_bytes(data[:len(data) // 3])
    with pytest.raises(BadFileError):
        run([tmp_path / "cut.dng"], on_bad_frame="fail")


def test_all_bad_fails_and_mismatched_sizes_are_dropped(tmp_path, good_dng):
    (tmp_path / "e.dng").write_bytes(b"")
    with pytest.raises(BadFileError, match="empty file"):
        run([tmp_path / "e.dng"])
    write_dng(tmp_path / "small.dng", np.full((32, 32), 1000, np.uint16))
    other = tmp_path / "good2.dng"
    other.write_bytes(good_dng.read_bytes())
    out = run([good_dng, tmp_path / "small.dng", other])
    assert len(out.frames) == 2 and "differs from the burst's" in out.warnings[0]


def test_arrays_helpers():
    raw = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(100, 110, 120, 110),
                  white_level=1100, white_balance=(2, 1, 1.5, 1))
    mosaic = np.array([[600, 610, 600, 610], [610, 620, 610, 620]], np.uint16)
    assert cfa_site_indices(raw, (2, 4)).tolist() == [[0, 1, 0, 1], [3, 2, 3, 2]]
    frame = Frame(path=None, pixels=mosaic, layout="cfa", raw=raw)  # type: ignore[arg-type]
    expected = np.array([[500 / 1000, 500 / 990], [500 / 990, 500 / 980]], np.float32)
    assert np.allclose(normalized(frame)[:2, :2], expected)
    assert grey_proxy(frame).shape == (1, 2)
    assert np.allclose(grey_proxy(frame), expected.mean())
