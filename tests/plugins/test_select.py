"""Reference selection: sharpest, 001's walk, dropping frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from burst_select import choose_frames, select, walk, walk_order
from burstcli import Burst, Frame
from burstcli.errors import ConfigError, StageError


def scored(values, name="laplacian") -> Burst:
    return Burst("b", tuple(Frame(path=Path(f"f{i}"), scores={name: v}) for i, v in enumerate(values)))


def run(burst, **params):
    return select(burst, select.make_params(params))


def test_sharpest():
    out = run(scored([1.0, 3.0, 2.0]))
    assert out.reference == 1 and out.selected == (0, 1, 2)
    assert out.notes["select"]["relative_sharpness"] == [0.3333, 1.0, 0.6667]


def test_walk_starts_at_the_shutter_and_goes_near_to_far():
    assert walk_order(2, 5) == [2, 1, 3, 0, 4]
    assert walk_order(0, 3) == [0, 1, 2]
    values = [0.95, 0.5, 0.7, 0.92, 1.0]
    burst = scored(values)
    assert run(burst, method="walk", shutter=2, threshold=0.9).reference == 3  # 1 is too soft
    assert run(burst, method="walk", shutter="first", threshold=0.9).reference == 0
    assert run(burst, method="walk", shutter="last", threshold=0.99).reference == 4
    assert run(burst, method="walk", shutter=1, threshold=0.9).reference == 0  # earlier first
    assert walk([0.1, 0.2, 1.0], 0, 1.5) == 2  # nothing passes: the sharpest


def test_dropping_and_max_frames():
    relative = __import__("numpy").array([0.2, 1.0, 0.8, 0.5])
    assert choose_frames(relative, 1, 0.6, 0) == [1, 2]
    assert choose_frames(relative, 1, 0.0, 2) == [1, 2]
    assert choose_frames(relative, 3, 0.0, 1) == [3]  # the reference always stays
    out = run(scored([0.2, 1.0, 0.8, 0.5]), min_relative=0.6)
    assert out.selected == (1, 2) and out.notes["select"]["dropped"] == [0, 3]


def test_score_choice_and_errors():
    burst = Burst("b", (Frame(Path("a"), scores={"frequency": 1.0, "laplacian": 5.0}),
                        Frame(Path("b"), scores={"frequency": 2.0, "laplacian": 1.0})))
    assert run(burst).reference == 1  # auto prefers frequency
    assert run(burst, score="laplacian").reference == 0
    with pytest.raises(StageError, match="no frame has the score 'tenengrad'"):
        run(burst, score="tenengrad")
    with pytest.raises(StageError, match="no scores"):
        run(Burst("b", (Frame(Path("a")),)))
    with pytest.raises(ConfigError, match="select.method"):
        select.make_params({"method": "best"})
    with pytest.raises(ConfigError, match="select.shutter"):
        select.make_params({"shutter": "centre"})
