"""burstlib.realpairs (photometric fit, resolution ratio, native pairs, the City100 split) and
``burst bench zoom --sets city100``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from burstlib.realpairs import (HELD_OUT, TRAIN, apply_gain_offset, city100_names,
                                city100_pairs, fit_gain_offset, measure_ratio, native_pair,
                                residual_shift)

CITY100 = Path(__file__).resolve().parents[3] / "shared" / "data" / "city100_iphonex"


@pytest.fixture
def city100() -> Path:
    if not CITY100.is_dir():
        pytest.skip(f"City100 pairs not found at {CITY100} (../shared/data/city100_iphonex)")
    return CITY100


def textured(size: int = 240, seed: int = 0) -> np.ndarray:
    """An RGB image with detail at several scales, in [0, 1]."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.float32)
    for sigma in (1.0, 3.0, 9.0):
        layer = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)).astype(np.float32), (0, 0),
                                 sigma)
        image += layer / float(layer.std()) * 0.08
    return np.clip(image + 0.5, 0, 1)


def test_fit_gain_offset_recovers_a_known_fit_despite_outliers():
    rng = np.random.default_rng(1)
    source = textured()
    gain, offset = np.array([1.2, 0.9, 0.7]), np.array([-0.05, 0.02, 0.1])
    target = source * gain + offset + rng.normal(0, 0.005, source.shape)
    target[40:80, 40:80] = 1.0  # a glint
    target[150:170, 10:200] = rng.random((20, 190, 3))  # a ghost
    fitted_gain, fitted_offset = fit_gain_offset(source, target)
    assert fitted_gain.shape == (3,) and fitted_offset.shape == (3,)
    assert np.allclose(fitted_gain, gain, atol=0.01)
    assert np.allclose(fitted_offset, offset, atol=0.005)
    plain_gain, _ = fit_gain_offset(source, target, iterations=0)
    assert np.abs(plain_gain - gain).max() > 0.05  # the outliers do pull a plain fit
    corrected = apply_gain_offset(source, fitted_gain, fitted_offset)
    assert corrected.dtype == np.float32 and np.abs(corrected - target)[:30].max() < 0.03


def test_fit_gain_offset_on_grey_with_a_mask():
    source = textured()[..., 1]
    target = 0.8 * source + 0.1
    mask = np.zeros(source.shape, bool)
    mask[:100] = True
    target[100:] = 0.0  # outside the mask: ignored
    gain, offset = fit_gain_offset(source, target, mask)
    assert gain.shape == () and abs(float(gain) - 0.8) < 1e-4 and abs(float(offset) - 0.1) < 1e-4


@pytest.mark.parametrize("factor", [2.5, 3.2])
def test_measure_ratio_recovers_a_known_factor(factor):
    high = textured(300, seed=2)
    size = (round(300 / factor), round(300 / factor))
    low = cv2.resize(cv2.resize(high, size, interpolation=cv2.INTER_AREA), (300, 300),
                     interpolation=cv2.INTER_CUBIC)
    assert abs(measure_ratio(low, high) - factor) < 0.1


def test_native_pair_sizes():
    low = high = np.zeros((600, 840, 3), np.float32)
    lr, target = native_pair(low, high, 2, 2.9)  # scale below the ratio: LR at native size
    assert lr.shape == (207, 290, 3) and target.shape == (414, 580, 3)
    lr, target = native_pair(low, high, 4, 2.9)  # above: LR below native, target = H's grid
    assert lr.shape == (150, 210, 3) and target.shape == (600, 840, 3)
    lr, target = native_pair(low[..., 0], high[..., 0], 3, 3.5)
    assert lr.shape == (171, 240) and target.shape == (513, 720)


def test_residual_shift_measures_a_translation():
    image = textured(200, seed=3)
    moved = np.roll(image[..., 0], (2, -3), axis=(0, 1))  # content 3 px left, 2 px down
    dx, dy = residual_shift(image[..., 0], moved)
    assert abs(dx + 3) < 0.05 and abs(dy - 2) < 0.05
    move = np.float32([[1, 0, 1.3], [0, 1, -0.4]])  # sub-pixel, on RGB
    moved = cv2.warpAffine(image, move, (200, 200), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    dx, dy = residual_shift(image, moved)
    assert abs(dx - 1.3) < 0.1 and abs(dy + 0.4) < 0.1


def test_split_is_disjoint_and_complete():
    assert len(HELD_OUT) == 15 and len(TRAIN) == 35
    assert not set(HELD_OUT) & set(TRAIN)
    assert sorted(HELD_OUT + TRAIN) == [f"{i:03d}" for i in range(1, 51)]


def test_city100_split_on_the_data(city100, tmp_path):
    train, held = city100_names(city100, "train"), city100_names(city100, "held_out")
    assert len(train) == 35 and len(held) == 15 and not set(train) & set(held)
    assert sorted(train + held) == city100_names(city100, "all")
    for name in ("001H", "001L", "036H", "036L", "040H"):  # 040 lacks its far capture
        (tmp_path / f"{name}.png").symlink_to(city100 / f"{name}.png")
    [(name, low, high)] = city100_pairs(tmp_path, "held_out")
    assert name == "036" and low.shape == high.shape == (600, 840, 3)
    assert low.dtype == np.float32 and 0 <= low.min() and high.max() <= 1 and high.max() > 0.5
    assert [n for n, _, _ in city100_pairs(tmp_path, "train")] == ["001"]
    with pytest.raises(ValueError):
        city100_names(city100, "test")  # type: ignore[arg-type]


def test_bench_zoom_city100_runs(city100, tmp_path):
    from click.testing import CliRunner

    from burstcli.cli import cli
    (tmp_path / "city100_iphonex").symlink_to(city100)
    result = CliRunner().invoke(cli, ["bench", "zoom", "--sets", "city100", "--limit", "2",
                                      "--scale", "2", "--data", str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "036" in out and "037" in out and "038" not in out
    assert "ratio: mean" in out and "old protocol" in out
    assert "bicubic" in out and "(single-image)" in out
