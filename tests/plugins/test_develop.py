"""Develop: RGB passes through exactly; Bayer mosaics come out with the right colours."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from burst_decode import decode
from burst_develop import develop
from burst_synth.dng import write_dng
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import StageError

#: Colour indices into "RGBG" (index 3 is the second green) for each 2x2 Bayer pattern.
PATTERNS = {"RGGB": ((0, 1), (3, 2)), "BGGR": ((2, 3), (1, 0)), "GRBG": ((1, 0), (2, 3)),
            "GBRG": ((3, 2), (0, 1))}
CHANNEL = {"R": 0, "G": 1, "B": 2}
BLACK, WHITE = 256, 4095


def bayer(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """Sample an H x W x 3 image through the 2x2 pattern ``cfa`` (written out by hand here, so
    the test does not share the code it checks)."""
    out = np.empty(rgb.shape[:2], rgb.dtype)
    for site, letter in enumerate(cfa):
        dy, dx = divmod(site, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, CHANNEL[letter]]
    return out


def sensor(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """Linear [0, 1] RGB -> 12-bit sensor numbers with a black level."""
    return np.round(BLACK + bayer(rgb, cfa) * (WHITE - BLACK)).astype(np.uint16)


def raw_info(cfa: str, wb=(1.0, 1.0, 1.0, 1.0), matrix=None) -> RawInfo:
    return RawInfo(cfa_pattern=PATTERNS[cfa], color_desc="RGBG", black_level=(BLACK,) * 4,
                   white_level=WHITE, white_balance=wb, color_matrix=matrix)


def develop_mosaic(values: np.ndarray, raw: RawInfo, **params) -> Burst:
    frame = Frame(Path("f.dng"), pixels=values, layout="cfa", raw=raw)
    out = develop(Burst(name="b", frames=(frame,)), develop.params_type(**params))
    assert out.image_layout == "rgb" and out.image.dtype == np.float32
    assert out.image.shape == values.shape + (3,)
    return out


def flat(colour, size=(16, 16)) -> np.ndarray:
    return np.broadcast_to(np.float32(colour), (*size, 3)).copy()


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
@pytest.mark.parametrize("demosaic", ["bilinear", "vng", "ea"])
def test_every_bayer_phase_gives_the_right_colour(cfa, demosaic):
    colour = [0.8, 0.4, 0.1]  # R, G and B all differ: a swapped phase cannot pass
    image = develop_mosaic(sensor(flat(colour), cfa), raw_info(cfa), output="linear",
                           demosaic=demosaic).image
    assert np.allclose(image[2:-2, 2:-2], colour, atol=1e-3)


def test_vng_beats_bilinear_on_a_real_photograph(shared_data):
    truth = iio.imread(shared_data / "kodak24" / "kodim19.png")[:256, :256].astype(np.float32) / 255
    errors = {}
    for method in ("bilinear", "vng"):
        image = develop_mosaic(sensor(truth, "GRBG"), raw_info("GRBG"), output="linear",
                               demosaic=method).image
        errors[method] = float(np.mean((image - truth)[4:-4, 4:-4] ** 2))
    gain_db = 10 * np.log10(errors["bilinear"] / errors["vng"])
    assert gain_db > 2.0  # measured: +3.2 to +3.4 dB on the whole image, all four phases


def test_white_balance_makes_grey_neutral():
    grey_under_tungsten = flat([0.5, 0.25, 0.125], (8, 8))
    out = develop_mosaic(sensor(grey_under_tungsten, "RGGB"),
                         raw_info("RGGB", wb=(1.0, 2.0, 4.0, 0.0)), output="linear")
    centre = out.image[2:-2, 2:-2].reshape(-1, 3)
    # As-shot multipliers are normalised to green (2): R x 0.5, B x 2; G2's 0 takes G's.
    assert np.allclose(centre, 0.25, atol=1e-3)


def test_colour_matrix_maps_camera_rgb_to_srgb():
    matrix = ((1.5, -0.3, -0.2), (-0.2, 1.4, -0.2), (0.0, -0.5, 1.5))
    camera = [0.4, 0.3, 0.2]
    out = develop_mosaic(sensor(flat(camera), "BGGR"), raw_info("BGGR", matrix=matrix),
                         output="linear")
    assert np.allclose(out.image[8, 8], np.array(matrix) @ camera, atol=1e-3)
    assert out.notes["develop"]["color_matrix"] is True


def test_output_is_clipped_and_srgb_encoded():
    values = np.full((8, 8), BLACK + (WHITE - BLACK) // 5, np.uint16)
    linear = develop_mosaic(values, raw_info("RGGB"), output="linear").image[4, 4, 1]
    encoded = develop_mosaic(values, raw_info("RGGB")).image[4, 4, 1]
    assert encoded == pytest.approx(1.055 * linear ** (1 / 2.4) - 0.055, abs=1e-4)
    saturated = develop_mosaic(np.full((8, 8), WHITE, np.uint16),
                               raw_info("RGGB", wb=(2.0, 1.0, 2.0, 1.0))).image
    assert saturated.max() == pytest.approx(1.0) and saturated.min() == pytest.approx(1.0)


@pytest.mark.parametrize("pixels, layout", [
    (np.random.default_rng(0).integers(0, 65535, (6, 5, 3), dtype=np.uint16), "rgb"),
    (np.random.default_rng(1).integers(0, 255, (6, 5), dtype=np.uint8), "gray"),
])
def test_rgb_and_grey_pass_through_exactly(pixels, layout):
    burst = Burst(name="b", frames=(Frame(Path("a.tiff"), pixels=pixels, layout=layout),))
    out = develop(burst, develop.params_type())
    product, product_layout = out.product()
    assert out.image is None and product_layout == layout
    assert product.dtype == pixels.dtype and np.array_equal(product, pixels)


def test_linear_raw_skips_demosaicking():
    raw = RawInfo(cfa_pattern=((0, 1, 2),), color_desc="RGBG", black_level=(BLACK,) * 4,
                  white_level=WHITE, white_balance=(2.0, 1.0, 1.0, 0.0))
    planes = np.round(BLACK + flat([0.2, 0.4, 0.6], (4, 4)) * (WHITE - BLACK)).astype(np.uint16)
    frame = Frame(Path("l.dng"), pixels=planes, layout="linear_raw", raw=raw)
    out = develop(Burst(name="b", frames=(frame,)), develop.params_type(output="linear"))
    assert np.allclose(out.image, [0.4, 0.4, 0.6], atol=1e-3)


def test_processed_non_bayer_mosaic_is_an_error():
    xtrans = tuple(tuple((r + c) % 3 for c in range(6)) for r in range(6))
    raw = RawInfo(cfa_pattern=xtrans, color_desc="RGBG", black_level=(0,) * 4,
                  white_level=WHITE, white_balance=(1, 1, 1, 1))
    frame = Frame(Path("x.raf"), pixels=np.zeros((12, 12), np.uint16), layout="cfa", raw=raw)
    burst = Burst(name="b", frames=(frame,), image=np.zeros((12, 12), np.float32),
                  image_layout="cfa")
    with pytest.raises(StageError, match="only 2x2 Bayer"):
        develop(burst, develop.params_type())


def test_real_rose_dng_develops_to_a_plausible_image(tmp_path, shared_data):
    mosaic = np.fromfile(shared_data / "raw_isp_rose_crop_768x512" / "DSC_1339_768x512_rggb.raw",
                         dtype="<u2").reshape(512, 768)
    write_dng(tmp_path / "rose.dng", mosaic, cfa="RGGB", black_level=600, white_level=15520)
    burst = decode(Burst(name="rose", frames=(Frame(path=tmp_path / "rose.dng"),)),
                   decode.params_type())
    out = develop(burst, develop.params_type())
    assert out.image.shape == (512, 768, 3) and 0.0 <= out.image.min() and out.image.max() <= 1.0
    assert 0.05 < out.image.mean() < 0.95 and out.notes["develop"]["pattern"] == "RGGB"


def test_real_kodak_kdc_develops(shared_data):
    path = shared_data / "raw_kodak_dc50_kdc" / "RAW_KODAK_DC50.KDC"
    burst = decode(Burst(name="kdc", frames=(Frame(path=path),)), decode.params_type())
    out = develop(burst, develop.params_type(demosaic="bilinear"))
    assert out.image.shape == (512, 768, 3) and out.notes["develop"]["pattern"] == "GRBG"
    assert out.notes["develop"]["color_matrix"] is False and 0.02 < out.image.mean() < 0.98
