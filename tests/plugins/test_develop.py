"""Develop: RGB passes through exactly; Bayer mosaics come out with the right colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from burst_develop import develop
from burst_synth.render import mosaic
from burstcli import Burst, Frame, RawInfo

PATTERNS = {"RGGB": ((0, 1), (3, 2)), "BGGR": ((2, 3), (1, 0)), "GRBG": ((1, 0), (2, 3)),
            "GBRG": ((3, 2), (0, 1))}


def raw_info(cfa: str, wb=(1.0, 1.0, 1.0, 1.0)) -> RawInfo:
    return RawInfo(cfa_pattern=PATTERNS[cfa], color_desc="RGBG", black_level=(256,) * 4,
                   white_level=4095, white_balance=wb)


def develop_mosaic(values: np.ndarray, raw: RawInfo, **params) -> np.ndarray:
    frame = Frame(Path("f.dng"), pixels=values, layout="cfa", raw=raw)
    out = develop(Burst("b", (frame,)), develop.params_type(**params))
    assert out.image_layout == "rgb" and out.image.dtype == np.float32
    return out.image


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
@pytest.mark.parametrize("demosaic", ["bilinear", "ea"])
def test_every_bayer_phase_gives_the_right_colour(cfa, demosaic):
    colour = np.array([0.8, 0.4, 0.1], np.float32)
    rgb = np.broadcast_to(colour, (16, 16, 3)).copy()
    sensor = np.round(256 + mosaic(rgb, cfa) * (4095 - 256)).astype(np.uint16)
    image = develop_mosaic(sensor, raw_info(cfa), output="linear", demosaic=demosaic)
    assert np.allclose(image[4:-4, 4:-4], colour, atol=2e-3)


def test_white_balance_makes_grey_neutral():
    grey_under_tungsten = np.broadcast_to(np.float32([0.5, 0.25, 0.125]), (8, 8, 3)).copy()
    sensor = np.round(256 + mosaic(grey_under_tungsten, "RGGB") * 3839).astype(np.uint16)
    image = develop_mosaic(sensor, raw_info("RGGB", wb=(1.0, 2.0, 4.0, 2.0)), output="linear")
    centre = image[2:-2, 2:-2].reshape(-1, 3)
    assert np.allclose(centre, centre[0]) and np.ptp(centre[0]) < 1e-3  # neutral


def test_srgb_curve_and_rgb_pass_through():
    sensor = np.full((8, 8), 256 + 3839 // 5, np.uint16)
    linear = develop_mosaic(sensor, raw_info("RGGB"), output="linear")[4, 4, 1]
    encoded = develop_mosaic(sensor, raw_info("RGGB"))[4, 4, 1]
    assert encoded == pytest.approx(1.055 * linear ** (1 / 2.4) - 0.055, abs=1e-4)
    pixels = np.random.default_rng(0).integers(0, 65535, (6, 5, 3), dtype=np.uint16)
    burst = Burst("b", (Frame(Path("a.tiff"), pixels=pixels, layout="rgb"),))
    out = develop(burst, develop.params_type())
    assert out.image is None and np.array_equal(out.product()[0], pixels)
