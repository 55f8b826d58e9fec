"""Blur scoring: right order under blur, noise, exposure and on CFA mosaics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_blur import frequency, laplacian, tenengrad
from burst_synth.render import mosaic
from burst_synth.scene import procedural_scene
from burstcli import Burst, Frame, RawInfo

SCORERS = [frequency, laplacian, tenengrad]


def texture(size: int = 256, seed: int = 0) -> np.ndarray:
    """A photograph-like grey image: flat patches, edges, strokes and fine detail in [0, 1]."""
    scene = procedural_scene(size, size, np.random.default_rng(seed))
    return scene.mean(axis=2).astype(np.float32)


def burst_of(images, layout="gray", raw=None) -> Burst:
    frames = tuple(Frame(path=Path(f"f{i}"), pixels=np.asarray(im, np.float32), layout=layout, raw=raw)
                   for i, im in enumerate(images))
    return Burst("b", frames)


def scores(stage, burst: Burst) -> list[float]:
    name = stage.name.split(".")[1]
    return [f.scores[name] for f in stage(burst, stage.params_type()).frames]


def noisy(image, sigma, seed):
    return image + np.random.default_rng(seed).normal(0, sigma, image.shape).astype(np.float32)


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_more_blur_scores_lower(stage):
    base = texture()
    blurred = [base] + [cv2.GaussianBlur(base, (0, 0), s) for s in (0.7, 1.2, 2.0)]
    values = scores(stage, burst_of([noisy(b, 0.01, i) for i, b in enumerate(blurred)]))
    assert values == sorted(values, reverse=True), values


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_brightness_does_not_win(stage):
    base = texture()
    soft = cv2.GaussianBlur(base, (0, 0), 0.6)
    values = scores(stage, burst_of([noisy(soft * 1.15, 0.002, 3), noisy(base, 0.002, 1),
                                     noisy(soft * 0.85, 0.002, 4)]))
    assert int(np.argmax(values)) == 1 and values[0] == pytest.approx(values[2], rel=0.35), values


def relative(stage, images, noise: str) -> float:
    name = stage.name.split(".")[1]
    params = dataclasses.replace(stage.params_type(), noise=noise)
    soft, sharp = (f.scores[name] for f in stage(burst_of(images), params).frames)
    return soft / sharp


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_noise_correction_restores_the_noise_free_ratio(stage):
    """Noise inflates a blurred frame's score far more than a sharp one's: uncorrected, a
    blurred frame looks almost as sharp as the sharp one; corrected, the ratio is close to
    what it is without noise (what the select stage's thresholds rely on)."""
    base = texture()
    soft = cv2.GaussianBlur(base, (0, 0), 1.2)
    truth = relative(stage, [soft, base], "none")
    pair = [noisy(soft, 0.03, 2), noisy(base, 0.03, 1)]
    corrected, ignored = relative(stage, pair, "auto"), relative(stage, pair, "none")
    assert corrected < 0.5 and abs(corrected - truth) < abs(ignored - truth), (truth, corrected, ignored)


@pytest.mark.parametrize("stage", SCORERS, ids=lambda s: s.name)
def test_cfa_mosaics(stage):
    raw = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0, 0, 0, 0),
                  white_level=1.0, white_balance=(2, 1, 1.5, 1))
    colour = np.stack([texture(seed=s) for s in (5, 6, 7)], axis=2)
    frames = [mosaic(cv2.GaussianBlur(colour, (0, 0), s) if s else colour, "RGGB")
              for s in (1.5, 0, 0.8)]
    values = scores(stage, burst_of([noisy(f, 0.005, i) for i, f in enumerate(frames)], "cfa", raw))
    assert int(np.argmax(values)) == 1 and values[2] > values[0], values


def test_noise_profile_is_used_when_present():
    raw = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0, 0, 0, 0),
                  white_level=1.0, white_balance=(1, 1, 1, 1), noise_profile=((1e-4, 1e-6),))
    burst = burst_of([np.full((64, 64), 0.5)], "cfa", raw)
    note = laplacian(burst, laplacian.params_type()).notes["score.laplacian"]
    assert note["noise_variance"][0] == pytest.approx((1e-4 * 0.5 + 1e-6) / 4)
