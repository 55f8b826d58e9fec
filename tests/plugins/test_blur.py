"""Blur scoring: right order under blur, noise, exposure and on CFA mosaics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_blur import frequency, laplacian, tenengrad
from burstlib.noise import noise_variance_estimate
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import ConfigError

SCORERS = [frequency, laplacian, tenengrad]
RGGB = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0, 0, 0, 0),
               white_level=1.0, white_balance=(2, 1, 1.5, 1))


def texture(size: int = 256, seed: int = 0) -> np.ndarray:
    """A photograph-like grey image in [0, 1]: flat patches, sharp edges, thin strokes and
    finely grained objects, drawn with OpenCV."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 0.4, np.float32)
    for _ in range(25):
        x, y, r = (int(v) for v in rng.integers(0, size, 3) // (1, 1, 4))
        colour = float(rng.uniform(0.1, 0.9))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), r + 3, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(image, (x, y), (x + r + 3, y + r // 2 + 3), colour, -1)
    for _ in range(12):
        start, end = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(image, tuple(map(int, start)), tuple(map(int, end)),
                 float(rng.uniform(0, 1)), 1, cv2.LINE_AA)
    grain = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 0.7)
    textured = np.zeros((size, size), np.float32)  # grain on some objects, as on foliage or cloth
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, size * 3 // 4, 2))
        cv2.rectangle(textured, (x, y), (x + size // 6, y + size // 8), 1.0, -1)
    return np.clip(image + 0.3 * textured * (grain - grain.mean()), 0, 1)


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """An RGGB Bayer mosaic of an H x W x 3 image."""
    out = rgb[..., 1].copy()
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


def shake(image: np.ndarray, length: int, angle: float = 30.0) -> np.ndarray:
    """Blur by a straight motion kernel ``length`` pixels long (0: unchanged)."""
    if length == 0:
        return image
    size = length + 2
    kernel = np.zeros((size * 8, size * 8), np.float32)  # drawn at 1/8 px, then reduced
    dx, dy = np.cos(np.radians(angle)) * length * 4, np.sin(np.radians(angle)) * length * 4
    centre = size * 4
    cv2.line(kernel, (int(centre - dx), int(centre - dy)), (int(centre + dx), int(centre + dy)), 1.0, 8)
    kernel = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def burst_of(images, layout="gray", raw=None) -> Burst:
    frames = tuple(Frame(path=Path(f"f{i}.png"), pixels=np.asarray(im, np.float32), layout=layout,
                         raw=raw) for i, im in enumerate(images))
    return Burst("b", frames)


def scores(stage, burst: Burst, **params) -> list[float]:
    name = stage.name.split(".")[1]
    out = stage(burst, dataclasses.replace(stage.params_type(), **params))
    return [f.scores[name] for f in out.frames]


def noisy(image, sigma, seed):
    return image + np.random.default_rng(seed).normal(0, sigma, image.shape).astype(np.float32)


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_more_blur_scores_lower(stage):
    base = texture()
    shaken = [shake(base, n) for n in (0, 2, 4, 7)] + [cv2.GaussianBlur(base, (0, 0), 3.0)]
    order = [3, 0, 4, 1, 2]  # shuffled, so "first is best" cannot pass by accident
    values = scores(stage, burst_of([noisy(shaken[i], 0.01, i) for i in order]))
    assert [order[i] for i in np.argsort(values)[::-1]] == [0, 1, 2, 3, 4], values


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_a_noisier_equally_sharp_frame_does_not_win(stage):
    """Noise adds high-frequency energy: uncorrected it wins, corrected it must not."""
    base = texture(seed=2)
    images = [noisy(base, 0.004, 1), noisy(base, 0.04, 2), noisy(shake(base, 2), 0.004, 3)]
    corrected = scores(stage, burst_of(images))
    ignored = scores(stage, burst_of(images), noise="none")
    assert ignored[1] > ignored[0], ignored  # the test's noise is strong enough to matter
    assert corrected[1] <= corrected[0] * 1.03 and corrected[1] > corrected[2], corrected


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_a_brighter_frame_does_not_win(stage):
    base = texture()
    soft = shake(base, 2)
    values = scores(stage, burst_of([noisy(soft * 1.3, 0.002, 3), noisy(base * 0.7, 0.002, 1),
                                     noisy(soft * 0.7, 0.002, 4)]))
    assert int(np.argmax(values)) == 1 and values[0] == pytest.approx(values[2], rel=0.1), values


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_noise_correction_restores_the_noise_free_ratio(stage):
    """What select's thresholds rely on: with noise corrected, a blurred frame's score relative
    to the sharp one is close to what it is without noise; uncorrected, noise pulls it to 1."""
    base = texture()
    soft = shake(base, 4)
    truth = np.divide(*scores(stage, burst_of([soft, base]), noise="none"))
    pair = burst_of([noisy(soft, 0.03, 2), noisy(base, 0.03, 1)])
    corrected = np.divide(*scores(stage, pair))
    ignored = np.divide(*scores(stage, pair, noise="none"))
    assert abs(corrected - truth) < min(0.05, abs(ignored - truth) / 3), (truth, corrected, ignored)


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_cfa_mosaics(stage):
    colour = np.stack([texture(seed=s) for s in (5, 6, 7)], axis=2)
    frames = [mosaic(shake(colour, n)) for n in (4, 0, 2)]
    values = scores(stage, burst_of([noisy(f, 0.005, i) for i, f in enumerate(frames)], "cfa", RGGB))
    assert values[1] > values[2] > values[0], values


def test_uint16_cfa_with_black_level_and_noise_profile():
    """Decoded RAW as the decode stage leaves it: sensor numbers with a black level."""
    raw = dataclasses.replace(RGGB, black_level=(256,) * 4, white_level=4095.0,
                              noise_profile=((4e-4, 1e-5),) * 4)
    colour = np.stack([texture(seed=s) for s in (5, 6, 7)], axis=2)
    rng = np.random.default_rng(0)
    mosaics = []
    for n, gain in ((3, 1.2), (0, 0.8), (6, 1.0)):
        clean = mosaic(shake(colour, n)) * gain * 0.7
        values = clean + np.sqrt(clean * 4e-4 + 1e-5) * rng.standard_normal(clean.shape)
        mosaics.append(np.clip(256 + values * 3839, 0, 4095).astype(np.uint16))
    burst = Burst("b", tuple(Frame(Path(f"f{i}.dng"), pixels=m, layout="cfa", raw=raw)
                             for i, m in enumerate(mosaics)))
    for stage in SCORERS:
        out = stage(burst, stage.params_type())
        values = [f.scores[stage.name.split(".")[1]] for f in out.frames]
        assert values[1] > values[0] > values[2], (stage.name, values)
        assert out.notes[stage.name]["noise_source"] == "profile"


def test_noise_profile_is_used_when_present():
    raw = dataclasses.replace(RGGB, white_balance=(1, 1, 1, 1), noise_profile=((1e-4, 1e-6),))
    burst = burst_of([np.full((64, 64), 0.5)], "cfa", raw)
    note = laplacian(burst, laplacian.params_type()).notes["score.laplacian"]
    assert note["noise_variance"][0] == pytest.approx((1e-4 * 0.5 + 1e-6) / 4, rel=1e-3)
    assert note["noise_source"] == "profile" and note["noise"] == "auto" and note["crop"] == 1.0


def test_noise_estimate_follows_signal_dependent_noise():
    """RAW noise grows with the level; the estimate is the image average, not the darkest part's."""
    base = texture(512, seed=3) * 0.8 + 0.05
    rng = np.random.default_rng(4)
    shot, read = 2e-3, 1e-5
    image = base + np.sqrt(base * shot + read) * rng.standard_normal(base.shape).astype(np.float32)
    expected = shot * float(base.mean()) + read
    assert noise_variance_estimate(image) == pytest.approx(expected, rel=0.2)


def test_crop_scores_the_centre():
    base = texture()
    soft_centre = base.copy()
    soft_centre[64:192, 64:192] = shake(base, 6)[64:192, 64:192]
    images = [soft_centre, shake(base, 1)]
    whole, centre = scores(laplacian, burst_of(images)), scores(laplacian, burst_of(images), crop=0.5)
    assert whole[0] > whole[1] and centre[0] < centre[1], (whole, centre)


@pytest.mark.parametrize("values", [
    {"low_band": [0.1, 0.05]}, {"low_band": [0.02, 0.3], "high_band": [0.2, 0.45]},
    {"high_band": [0.2, 0.9]}, {"tile": 8}, {"crop": 0.0}, {"noise": "guess"}, {"tile": 64.5},
])
def test_bad_frequency_params(values):
    with pytest.raises(ConfigError, match="score.frequency"):
        frequency.make_params(values)


def test_bad_gradient_params():
    with pytest.raises(ConfigError, match="crop"):
        laplacian.make_params({"crop": 1.5})
    with pytest.raises(ConfigError, match="score.tenengrad.noise"):
        tenengrad.make_params({"noise": "profiles"})
    assert tenengrad.make_params({"crop": 0.5, "noise": "estimate"}).crop == 0.5
