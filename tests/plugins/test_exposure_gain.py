"""Exposure gains between registered frames come from the part of the scene both see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from burstlib.exposure import exposure_gain
from burstcli import Frame


def gradient_scene(height: int, width: int) -> np.ndarray:
    """A sky-like ramp (0.2 -> 0.8 left to right) with faint texture."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(0.2, 0.8, width, dtype=np.float32)[None, :].repeat(height, 0)
    return ramp + 0.01 * rng.standard_normal((height, width)).astype(np.float32)


def shifted_pair(shift: int, gain: float, layout: str = "gray") -> tuple[Frame, Frame]:
    """The reference and a frame that sees the scene ``shift`` px further right, its
    exposure ``gain`` times the reference's; the frame's transform says so."""
    scene = gradient_scene(96, 160 + shift)
    reference, moved = scene[:, :160], gain * scene[:, shift:shift + 160]
    transform = np.array([[1.0, 0, shift], [0, 1, 0], [0, 0, 1]])
    return (Frame(Path("ref"), pixels=reference, layout=layout, transform=np.eye(3)),
            Frame(Path("moved"), pixels=moved, layout=layout, transform=transform))


@pytest.mark.parametrize("gain", [1.0, 0.9, 1.12])
def test_gain_is_measured_where_both_frames_see_the_scene(gain: float) -> None:
    reference, moved = shifted_pair(12, gain)
    whole_frames = float(reference.pixels.mean()) / float(moved.pixels.mean())
    assert abs(whole_frames * gain - 1) > 0.05  # what a whole-frame mean would have said
    assert exposure_gain(reference, moved) == pytest.approx(1 / gain, rel=2e-3)


def test_gain_of_mosaics_and_of_a_reference_cut_to_a_window() -> None:
    reference, moved = shifted_pair(12, 0.9, layout="cfa")
    assert exposure_gain(reference, moved) == pytest.approx(1 / 0.9, rel=3e-3)
    # The reference cut to its right half: its transform maps the cut to the full frame.
    cut = reference.replace(pixels=reference.pixels[:, 80:],
                            transform=np.array([[1.0, 0, 80], [0, 1, 0], [0, 0, 1]]))
    assert exposure_gain(cut, moved) == pytest.approx(1 / 0.9, rel=3e-3)


def test_frames_that_share_nothing_fall_back_to_the_whole_frames() -> None:
    reference, moved = shifted_pair(12, 0.5)
    away = moved.replace(transform=np.array([[1.0, 0, 5000], [0, 1, 0], [0, 0, 1]]))
    expected = float(reference.pixels.mean()) / float(moved.pixels.mean())
    assert exposure_gain(reference, away) == pytest.approx(expected, rel=1e-4)
