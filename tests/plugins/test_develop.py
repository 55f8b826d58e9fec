"""Develop: RGB passes through exactly; Bayer mosaics come out with the right colours."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from burst_decode import decode
from burst_develop import develop, develop_frames
from burst_develop.libraw import ALGORITHMS, libraw_demosaic
from burstlib.colour import srgb_decode
from burstlib.arrays import normalized
from burstlib.dng import write_dng
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import StageError

#: Colour indices into "RGBG" (index 3 is the second green) for each 2x2 Bayer pattern.
PATTERNS = {"RGGB": ((0, 1), (3, 2)), "BGGR": ((2, 3), (1, 0)), "GRBG": ((1, 0), (2, 3)),
            "GBRG": ((3, 2), (0, 1))}
CHANNEL = {"R": 0, "G": 1, "B": 2}
BLACK, WHITE = 256, 4095
LIBRAW = ["ahd", "aahd", "dht", "dcb", "ppg", "libraw-vng"]
#: The LibRaw path quantises the square root of each value to 16 bits and squares the result:
#: for x in [0, 1] that is at most sqrt(x) / 65535 off, 1.5e-5.
LIBRAW_EXACT = 2e-5
#: DHT interpolates colour ratios in floating point and rounds them: 2 LSB off (GRBG, GBRG).
DHT_EXACT = 4e-5


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
@pytest.mark.parametrize("demosaic", ["bilinear", "vng", "ea", *LIBRAW])
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


def linear_psnr(image: np.ndarray, truth: np.ndarray, border: int = 8) -> float:
    inner = (slice(border, -border), slice(border, -border))
    return float(-10 * np.log10(np.mean((image[inner] - truth[inner]) ** 2)))


def develop_linear(truth: np.ndarray, cfa: str, demosaic: str | None = None) -> np.ndarray:
    """``truth`` (linear [0, 1] RGB) through a 12-bit ``cfa`` sensor and develop, linear out."""
    params = {"demosaic": demosaic} if demosaic else {}
    return develop_mosaic(sensor(truth, cfa), raw_info(cfa), output="linear", **params).image


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
@pytest.mark.parametrize("shape", [(16, 16), (23, 31), (40, 7)])
def test_libraw_reproduces_a_flat_colour_exactly(cfa, shape):
    """Every pixel, borders included: no crop, shift, flip, rescale or channel swap, and the
    odd sizes and tiny sides (LibRaw refuses < 22 px) come back whole."""
    colour = np.array([0.8, 0.4, 0.1], np.float32)
    mosaic = bayer(flat(colour, shape), cfa)
    for method in LIBRAW:
        rgb = libraw_demosaic(mosaic, cfa, method)
        assert rgb.shape == shape + (3,) and rgb.dtype == np.float32
        tolerance = DHT_EXACT if method == "dht" else LIBRAW_EXACT
        assert np.abs(rgb - colour).max() < tolerance, method
    for domain in ("sqrt", "linear"):
        grey = libraw_demosaic(np.full(shape, 0.25, np.float32), cfa, "ahd", domain=domain)
        assert np.abs(grey - 0.25).max() < LIBRAW_EXACT, domain


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
def test_libraw_keeps_a_colour_chart_in_place_and_value(cfa):
    """6 x 4 patches from black to full scale, each of its own colour: output = input inside
    every patch (a flip or a shift would move patches; a scale would change values)."""
    rng = np.random.default_rng(7)
    colours = rng.uniform(0.0, 1.0, (4, 6, 3)).astype(np.float32)
    colours[0, 0], colours[0, 1], colours[0, 2] = 0.0, 1.0, (1.0, 0.0, 0.0)
    colours[1, 0] = (0.002, 0.001, 0.003)  # deep shadow: the square-root path keeps it
    chart = np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)
    rgb = libraw_demosaic(bayer(chart, cfa), cfa, "ahd")
    assert rgb.shape == chart.shape
    inner = rgb.reshape(4, 16, 6, 16, 3)[:, 4:12, :, 4:12]
    assert np.abs(inner - colours[:, None, :, None]).max() < LIBRAW_EXACT


def test_default_demosaic_beats_edge_aware_on_a_real_photograph(shared_data):
    srgb = iio.imread(shared_data / "kodak24" / "kodim19.png")[256:512, 128:384]  # the fence
    truth = srgb_decode(srgb.astype(np.float32) / 255)
    psnr = {m: linear_psnr(develop_linear(truth, "GRBG", m), truth) for m in ("ea", None)}
    assert develop.params_type().demosaic == "ahd"
    assert psnr[None] - psnr["ea"] > 5.0  # measured: +9.6 dB on this crop


def test_square_root_domain_and_padding_pay_on_a_real_photograph(shared_data):
    """Why the LibRaw path feeds square roots and pads the mosaic: each is measured here."""
    srgb = iio.imread(shared_data / "kodak24" / "kodim19.png")[256:512, 128:384]
    truth = srgb_decode(srgb.astype(np.float32) / 255)
    mosaic = bayer(truth, "BGGR")
    rgb = libraw_demosaic(mosaic, "BGGR", "ahd")
    linear_fed = libraw_demosaic(mosaic, "BGGR", "ahd", domain="linear")
    assert linear_psnr(rgb, truth) - linear_psnr(linear_fed, truth) > 1.0  # measured: +1.7 dB
    band = np.ones(truth.shape[:2], bool)
    band[8:-8, 8:-8] = False
    border_psnr = float(-10 * np.log10(np.mean((rgb[band] - truth[band]) ** 2)))
    # LibRaw's own border (unpadded) is 9.7 dB worse than the inside here; padded: 0.4 dB.
    assert border_psnr > linear_psnr(rgb, truth) - 3.0


def textured(size: int = 160) -> np.ndarray:
    """A procedural scene (always available): smooth colour fields under sharp oriented edges,
    stripes and a zone plate, with the highs and lows of a photograph, in linear light."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([0.5 + 0.4 * np.sin(3 * x + 1), 0.5 + 0.4 * np.cos(2 * y),
                     0.5 + 0.4 * np.sin(2 * (x + y))], axis=-1)
    stripes = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * (4 * x + 7 * y)))
    zone = 0.5 + 0.5 * np.cos(40 * ((x - 0.5) ** 2 + (y - 0.5) ** 2))
    edges = np.where(x + 0.3 * y > 0.6, 1.0, 0.25)
    lum = (0.3 + 0.7 * stripes * (y < 0.5) + 0.7 * zone * (y >= 0.5)) * edges / 1.7
    return np.clip(base * lum[..., None], 0.0, 1.0).astype(np.float32) ** 2.2


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
def test_default_demosaic_beats_edge_aware_on_a_textured_scene(cfa):
    truth = textured()
    gain = linear_psnr(develop_linear(truth, cfa), truth) - linear_psnr(
        develop_linear(truth, cfa, "ea"), truth)
    assert gain > 3.0  # measured: +5.1 to +5.3 dB


def test_develop_and_develop_frames_agree():
    truth = textured(64)
    raw = raw_info("GBRG", wb=(2.0, 1.0, 1.5, 0.0),
                   matrix=((1.5, -0.3, -0.2), (-0.2, 1.4, -0.2), (0.0, -0.5, 1.5)))
    frames = tuple(Frame(Path(f"f{i}.dng"), pixels=sensor(np.roll(truth, i, axis=1), "GBRG"),
                         layout="cfa", raw=raw) for i in range(3))
    burst = Burst(name="b", frames=frames, reference=1)
    product = develop(burst, develop.params_type()).image
    each = develop_frames(burst, develop_frames.params_type())
    assert each.frames[1].layout == "rgb" and each.frames[1].raw is None
    # frames are kept as 16-bit codes (as a 16-bit TIFF's): the same values, rounded
    assert each.frames[1].pixels.dtype == np.uint16
    assert np.abs(normalized(each.frames[1]) - product).max() <= 0.5 / 65535 + 1e-7
    assert not np.array_equal(normalized(each.frames[0]), product)  # each frame its own
    assert each.notes["develop.frames"]["demosaic"] == "ahd"


def test_develop_frames_others_apply_to_every_frame_but_the_reference():
    truth = textured(64)
    raw = raw_info("RGGB", wb=(2.0, 1.0, 1.5, 0.0))
    frames = tuple(Frame(Path(f"f{i}.dng"), pixels=sensor(np.roll(truth, i, axis=1), "RGGB"),
                         layout="cfa", raw=raw) for i in range(3))
    burst = Burst(name="b", frames=frames, reference=1)
    params = develop_frames.params_type()
    same = develop_frames(burst, params)
    mixed = develop_frames(burst, dataclasses.replace(params, others="ppg"))
    assert np.array_equal(mixed.frames[1].pixels, same.frames[1].pixels)  # ahd, the reference
    for index in (0, 2):
        assert not np.array_equal(mixed.frames[index].pixels, same.frames[index].pixels)
        # another demosaic of the same mosaic: close, not equal
        assert np.abs(normalized(mixed.frames[index]) - normalized(same.frames[index])).mean() \
            < 0.02


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


@pytest.mark.parametrize("method", sorted(set(ALGORITHMS) | {"bilinear", "ea", "vng"}))
def test_develop_frames_in_bands_gives_the_whole_frames_values(monkeypatch, method):
    """Frames are developed band by band (bounded memory): with bands of a few rows, each
    demosaicked with its margin of context, every value is the whole frame's (methods that
    need the whole image get it)."""
    import burst_develop

    truth = textured(96)
    raw = raw_info("GRBG", wb=(2.0, 1.0, 1.5, 0.0),
                   matrix=((1.5, -0.3, -0.2), (-0.2, 1.4, -0.2), (0.0, -0.5, 1.5)))
    noise = np.random.default_rng(3).integers(0, 200, (96, 90))
    mosaic = np.minimum(sensor(truth, "GRBG")[:, :90] + noise, WHITE).astype(np.uint16)
    frame = Frame(Path("f.dng"), pixels=mosaic, layout="cfa", raw=raw)
    burst = Burst(name="b", frames=(frame,), reference=0)
    params = dataclasses.replace(develop_frames.params_type(), demosaic=method)
    whole = develop_frames(burst, params).frames[0].pixels
    monkeypatch.setattr(burst_develop, "BAND_PIXELS", 10 * 90)  # bands of 10 rows
    assert np.array_equal(develop_frames(burst, params).frames[0].pixels, whole)
