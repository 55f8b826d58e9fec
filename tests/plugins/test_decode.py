"""The decode stage and its shared pixel helpers, on real files and on bad files made here."""

from __future__ import annotations

import os

import datetime as dt
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from burst_decode import burst_image_extensions, burst_read_exif, decode
from burstlib.arrays import cfa_site_indices, grey_proxy, normalized
from burst_decode.rawmeta import rgb_from_camera
from burstlib.dng import write_dng
from burstcli import Burst, ExifInfo, Frame, RawInfo
from burstcli.errors import BadFileError

KDC = Path("raw_kodak_dc50_kdc") / "RAW_KODAK_DC50.KDC"
ROSE = Path("raw_isp_rose_crop_768x512") / "DSC_1339_768x512_rggb.raw"


def run(paths, **params) -> Burst:
    burst = Burst(name="b", frames=tuple(Frame(path=Path(p)) for p in paths))
    return decode(burst, decode.params_type(**params))


def rose_mosaic(shared_data: Path) -> np.ndarray:
    return np.fromfile(shared_data / ROSE, dtype="<u2").reshape(512, 768)


# --- real files ------------------------------------------------------------------------------


def test_real_kodak_kdc_decodes_with_sane_metadata(shared_data):
    frame = run([shared_data / KDC]).frames[0]
    assert frame.layout == "cfa" and frame.pixels.dtype == np.uint16
    assert frame.pixels.shape == (512, 768) and 0 < frame.pixels.max() <= 16383
    raw = frame.raw
    assert raw.cfa_string() == "GRBG" and raw.white_level == 16383
    assert raw.black_level == (0.0,) * 4 and raw.color_matrix is None  # LibRaw knows no matrix
    assert frame.exif.iso == 84 and frame.exif.exposure_time == pytest.approx(1 / 230, rel=0.01)
    assert frame.exif.capture_time == dt.datetime(1997, 4, 23, 8, 0, 47)
    assert frame.exif.make == "Eastman Kodak Company" and frame.exif.f_number == pytest.approx(6.2)


def test_read_exif_hook_on_the_kdc_uses_libraw_header_for_iso(shared_data):
    # exifread finds no ISO in the KDC; LibRaw's header parse (no unpacking) supplies it.
    exif = burst_read_exif(path=shared_data / KDC)
    assert exif.iso == 84 and exif.capture_time == dt.datetime(1997, 4, 23, 8, 0, 47)
    assert exif.exposure_time == pytest.approx(1 / 230, rel=0.01)


def test_real_rose_mosaic_wrapped_in_dng_decodes_value_for_value(tmp_path, shared_data):
    mosaic = rose_mosaic(shared_data)
    camera_from_xyz = np.array([[0.9, -0.3, -0.1], [-0.4, 1.3, 0.1], [-0.05, 0.2, 0.6]])
    taken = dt.datetime(2021, 5, 6, 7, 8, 9, 250000)
    write_dng(tmp_path / "rose.dng", mosaic, cfa="RGGB", black_level=600, white_level=15520,
              as_shot_neutral=(0.5, 1.0, 0.8), color_matrix=camera_from_xyz,
              noise_profile=(2e-4, 1e-6), exif={"capture_time": taken, "exposure_time": 0.01,
                                                 "iso": 400})
    frame = run([tmp_path / "rose.dng"]).frames[0]
    assert frame.layout == "cfa" and frame.pixels.dtype == np.uint16
    assert np.array_equal(frame.pixels, mosaic)
    raw = frame.raw
    assert raw.cfa_string() == "RGGB" and raw.black_level == (600.0,) * 4
    assert raw.white_level == 15520 and raw.noise_profile == ((2e-4, 1e-6),)
    assert raw.white_balance[:3] == pytest.approx((2.0, 1.0, 1.25), rel=1e-4)
    assert np.allclose(raw.color_matrix, rgb_from_camera(camera_from_xyz), atol=1e-4)
    assert np.allclose(np.sum(raw.color_matrix, axis=1), 1.0, atol=1e-4)  # white stays white
    assert frame.exif.capture_time == taken and frame.exif.iso == 400
    assert burst_read_exif(path=tmp_path / "rose.dng").capture_time == taken


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_every_bayer_phase_is_reported(tmp_path, cfa):
    write_dng(tmp_path / "p.dng", np.full((32, 48), 1000, np.uint16), cfa=cfa)
    assert run([tmp_path / "p.dng"]).frames[0].raw.cfa_string() == cfa


def test_linear_raw_dng_becomes_linear_raw_layout(tmp_path):
    planes = np.random.default_rng(1).integers(64, 4095, (32, 48, 3), dtype=np.uint16)
    write_linear_raw_dng(tmp_path / "linear.dng", planes)
    frame = run([tmp_path / "linear.dng"]).frames[0]
    assert frame.layout == "linear_raw" and frame.pixels.shape == (32, 48, 3)
    assert np.array_equal(frame.pixels, planes) and frame.raw.white_level == 4095


def write_linear_raw_dng(path: Path, planes: np.ndarray) -> None:
    """A minimal LinearRaw DNG (photometric 34892) with an identity-like sRGB camera."""
    xyz_to_srgb = (32404542, -15371385, -4985314, -9692660, 18760108, 415560,
                   556434, -2040259, 10572252)
    tags = [(50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "test linear", True),
            (50714, "I", 1, 64, True), (50717, "I", 1, 4095, True),
            (50721, "2i", 9, tuple(v for n in xyz_to_srgb for v in (n, 10_000_000)), True),
            (50778, "H", 1, 21, True), (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True)]
    tifffile.imwrite(path, planes, photometric=34892, planarconfig="contig", subfiletype=0,
                     metadata=None, extratags=tags)


def test_real_hdrplus_jpegs_keep_their_values(shared_data):
    paths = sorted((shared_data / "hdrplus_burst_0006_jpeg").glob("frame-*.jpg"))
    burst = run(paths)
    assert len(burst.frames) == 7 and not burst.warnings
    first = burst.frames[0]
    assert first.layout == "rgb" and first.pixels.dtype == np.uint8
    assert first.pixels.shape == (1200, 1600, 3) and first.raw is None
    assert np.array_equal(first.pixels, iio.imread(paths[0]))


def test_16bit_tiff_grey_png_and_rgba_keep_values(tmp_path):
    rng = np.random.default_rng(0)
    rgb16 = rng.integers(0, 65535, (20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "t.tiff", rgb16)
    grey16 = rng.integers(0, 65535, (20, 30), dtype=np.uint16)
    iio.imwrite(tmp_path / "g.png", grey16)
    rgba = rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", rgba)
    tiff, grey, alpha = (run([tmp_path / n]).frames[0] for n in ("t.tiff", "g.png", "a.png"))
    assert tiff.layout == "rgb" and tiff.pixels.dtype == np.uint16
    assert np.array_equal(tiff.pixels, rgb16)
    assert grey.layout == "gray" and np.array_equal(grey.pixels, grey16)
    assert alpha.layout == "rgb" and np.array_equal(alpha.pixels, rgba[..., :3])  # alpha dropped


def test_exif_the_collector_read_is_kept(tmp_path):
    write_dng(tmp_path / "a.dng", np.full((32, 48), 1000, np.uint16), exif={"iso": 100})
    known = ExifInfo(capture_time=dt.datetime(2000, 1, 1), iso=50)
    burst = Burst(name="b", frames=(Frame(path=tmp_path / "a.dng", exif=known),))
    exif = decode(burst, decode.params_type()).frames[0].exif
    assert exif.capture_time == dt.datetime(2000, 1, 1) and exif.iso == 50
    assert exif.make == "burst"  # what the collector lacked is filled in


# --- bad files -----------------------------------------------------------------------------


@pytest.fixture
def good_dng(tmp_path) -> Path:
    path = tmp_path / "good.dng"
    write_dng(path, np.full((32, 48), 1000, np.uint16), black_level=64, white_level=4095)
    return path


def make_bad(tmp_path: Path, good: Path, name: str) -> Path:
    bad = tmp_path / name
    if name == "empty.dng":
        bad.write_bytes(b"")
    elif name == "cut.dng":
        data = good.read_bytes()
        bad.write_bytes(data[:len(data) // 2])
    elif name == "text.jpg":
        bad.write_text("these are holiday notes, not a photograph\n")
    elif name == "image.nef":
        iio.imwrite(bad, np.zeros((8, 8, 3), np.uint8), extension=".png")
    elif name == "notes.cr2":
        bad.write_text("shot list for Saturday\n" * 20)
    elif name == "dump.raw":  # a headerless sensor dump LibRaw would size by its length
        np.random.default_rng(0).integers(0, 4096, (480, 640)).astype("<u2").tofile(bad)
    elif name == "hot.dng":  # every sample above the white level the file states
        write_dng(bad, np.full((32, 48), 9000, np.uint16), black_level=64, white_level=4095)
    return bad


BAD_FILES = [
    ("empty.dng", r"empty file$"),
    ("cut.dng", r"truncated or corrupt RAW data \(LibRaw: "),
    ("text.jpg", r"not a JPG file \(it is text\)$"),
    ("image.nef", r"not a NEF RAW file \(it is a PNG image\)$"),
    ("notes.cr2", r"not a CR2 RAW file \(it is text\)$"),
    ("dump.raw", r"no RAW header LibRaw knows and no capture metadata"),
    ("hot.dng", r"100.0 % of the samples are far above the white level the file states \(4095\)"),
]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads any file: permissions cannot be tested")
def test_an_unreadable_file_says_so(tmp_path, good_dng):
    locked = tmp_path / "locked.dng"
    locked.write_bytes(good_dng.read_bytes())
    locked.chmod(0)
    with pytest.raises(BadFileError, match=r"permission denied"):
        run([good_dng, locked], on_bad_frame="fail")


@pytest.mark.parametrize("name, reason", BAD_FILES)
def test_bad_file_fails_with_one_clear_line(tmp_path, good_dng, name, reason):
    bad = make_bad(tmp_path, good_dng, name)
    with pytest.raises(BadFileError, match=reason) as caught:
        run([good_dng, bad], on_bad_frame="fail")
    assert caught.value.path == bad and "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{bad}: ")


@pytest.mark.parametrize("name, reason", BAD_FILES)
def test_bad_file_is_skipped_with_a_warning(tmp_path, good_dng, name, reason):
    bad = make_bad(tmp_path, good_dng, name)
    burst = run([bad, good_dng])
    assert [f.path for f in burst.frames] == [good_dng] and burst.frames[0].pixels is not None
    assert len(burst.warnings) == 1 and burst.warnings[0].startswith(f"{bad}: ")
    skipped = burst.notes["decode"]["skipped"]
    assert [s["path"] for s in skipped] == [str(bad)]


def test_no_frame_left_raises_the_first_bad_file(tmp_path, good_dng):
    empty = make_bad(tmp_path, good_dng, "empty.dng")
    text = make_bad(tmp_path, good_dng, "text.jpg")
    with pytest.raises(BadFileError, match="empty file") as caught:
        run([empty, text])
    assert caught.value.path == empty


def test_frames_of_another_size_are_dropped_or_fail(tmp_path, good_dng):
    write_dng(tmp_path / "small.dng", np.full((32, 32), 1000, np.uint16))
    twin = tmp_path / "twin.dng"
    twin.write_bytes(good_dng.read_bytes())
    burst = run([good_dng, tmp_path / "small.dng", twin])
    assert [f.path for f in burst.frames] == [good_dng, twin]
    assert "32x32" in burst.warnings[0] and "differs from the burst's 48x32" in burst.warnings[0]
    with pytest.raises(BadFileError, match="small.dng: 32x32"):
        run([good_dng, tmp_path / "small.dng", twin], on_bad_frame="fail")


def test_read_exif_hook_never_raises(tmp_path, good_dng):
    for name in ("empty.dng", "text.jpg", "image.nef"):
        assert burst_read_exif(path=make_bad(tmp_path, good_dng, name)) is None
    # A truncated file still has its header: what it says is returned.
    assert burst_read_exif(path=make_bad(tmp_path, good_dng, "cut.dng")).make == "burst"
    assert burst_read_exif(path=tmp_path / "missing.dng") is None


def test_extensions_cover_raw_and_images():
    extensions = set(burst_image_extensions())
    assert {".dng", ".cr3", ".nef", ".arw", ".raf", ".kdc", ".x3f", ".iiq"} <= extensions
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"} <= extensions
    assert all(e == e.lower() and e.startswith(".") for e in extensions)


# --- shared pixel helpers ------------------------------------------------------------------

RGGB_PER_SITE = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG",
                        black_level=(100, 110, 120, 130), white_level=1100,
                        white_balance=(2, 1, 1.5, 1))


def test_cfa_site_indices_follow_the_pattern():
    assert cfa_site_indices(RGGB_PER_SITE, (3, 5)).tolist() == [
        [0, 1, 0, 1, 0], [3, 2, 3, 2, 3], [0, 1, 0, 1, 0]]


def test_normalized_uses_each_sites_black_level():
    mosaic = np.array([[600, 610, 1100], [630, 620, 130], [100, 1100, 600]], np.uint16)
    frame = Frame(path=Path("m.dng"), pixels=mosaic, layout="cfa", raw=RGGB_PER_SITE)
    # Sites: R G R / G2 B G2 / R G R with blacks R 100, G 110, B 120, G2 130.
    expected = np.array([[500 / 1000, 500 / 990, 1000 / 1000],
                         [500 / 970, 500 / 980, 0 / 970],
                         [0 / 1000, 990 / 990, 500 / 1000]], np.float32)
    out = normalized(frame)
    assert out.dtype == np.float32 and np.allclose(out, expected, atol=1e-6)


def test_normalized_images_and_floats():
    rgb8 = np.array([[[0, 51, 255]]], np.uint8)
    assert np.allclose(normalized(Frame(Path("a"), pixels=rgb8, layout="rgb")), [[[0, 0.2, 1]]])
    grey16 = np.array([[65535, 0]], np.uint16)
    assert np.allclose(normalized(Frame(Path("a"), pixels=grey16, layout="gray")), [[1, 0]])
    floats = np.array([[0.25, 1.5]], np.float32)
    assert normalized(Frame(Path("a"), pixels=floats, layout="cfa", raw=RGGB_PER_SITE)) is floats


def test_grey_proxy_is_the_mean_of_each_bayer_cell():
    mosaic = np.array([[600, 610, 100, 110], [630, 620, 130, 120]], np.uint16)
    frame = Frame(path=Path("m.dng"), pixels=mosaic, layout="cfa", raw=RGGB_PER_SITE)
    expected = [[np.mean([500 / 1000, 500 / 990, 500 / 970, 500 / 980]), 0.0]]
    proxy = grey_proxy(frame)
    assert proxy.dtype == np.float32 and np.allclose(proxy, expected, atol=1e-6)


def test_grey_proxy_of_colour_grey_and_linear_raw():
    rgb = np.array([[[0, 51, 102], [255, 255, 255]]], np.uint8)
    assert np.allclose(grey_proxy(Frame(Path("a"), pixels=rgb, layout="rgb")), [[0.2, 1.0]])
    grey = np.array([[0, 255]], np.uint8)
    assert np.allclose(grey_proxy(Frame(Path("a"), pixels=grey, layout="gray")), [[0, 1]])
    raw = RawInfo(cfa_pattern=((0, 1, 2),), color_desc="RGBG", black_level=(100, 110, 120, 0),
                  white_level=1100, white_balance=(1, 1, 1, 0))
    planes = np.array([[[600, 600, 600]]], np.uint16)
    frame = Frame(Path("l.dng"), pixels=planes, layout="linear_raw", raw=raw)
    assert np.allclose(normalized(frame), [[[500 / 1000, 490 / 990, 480 / 980]]])
    assert np.allclose(grey_proxy(frame), np.mean([500 / 1000, 490 / 990, 480 / 980]))


@pytest.mark.skipif(os.name != "posix", reason="file names as raw bytes: POSIX only")
def test_a_name_that_is_not_utf8_decodes_and_prints(tmp_path, good_dng):
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/frame_\xff.dng"))
    odd.write_bytes(good_dng.read_bytes())
    burst = run([good_dng, odd], on_bad_frame="fail")
    assert burst.frames[1].pixels is not None and burst.frames[1].path == odd
    message = str(BadFileError(odd, "a reason"))
    message.encode("utf-8")  # printable: no surrogates left
    assert message.endswith("frame_\ufffd.dng: a reason")
