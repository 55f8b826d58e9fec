"""Reference selection: sharpest, 001's walk, dropping frames, parameters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_blur import laplacian
from burst_select import choose_frames, select, shutter_index, walk, walk_order
from burstcli import Burst, Frame
from burstcli.errors import ConfigError, StageError


def scored(values, name="laplacian") -> Burst:
    return Burst("b", tuple(Frame(path=Path(f"f{i}"), scores={name: v}) for i, v in enumerate(values)))


def run(burst, **params):
    return select(burst, select.make_params(params))


def test_sharpest():
    out = run(scored([1.0, 3.0, 2.0]))
    assert out.reference == 1 and out.selected == (0, 1, 2)
    note = out.notes["select"]
    assert note["relative_sharpness"] == [0.3333, 1.0, 0.6667] and note["mapping"] == "ratio"
    assert note["method"] == "sharpest" and note["score"] == "laplacian" and note["dropped"] == []


def test_walk_order_is_near_to_far_earlier_first():
    assert walk_order(2, 5) == [2, 1, 3, 0, 4]
    assert walk_order(0, 3) == [0, 1, 2]
    assert walk_order(4, 5) == [4, 3, 2, 1, 0]
    assert walk_order(1, 6) == [1, 0, 2, 3, 4, 5]


def test_walk_starts_at_the_shutter_frame():
    values = [0.95, 0.5, 0.7, 0.92, 1.0]
    burst = scored(values)
    assert run(burst, method="walk", shutter=2, threshold=0.9).reference == 3  # 1 and 2 too soft
    assert run(burst, method="walk", shutter="first", threshold=0.9).reference == 0  # at start
    assert run(burst, method="walk", shutter="last", threshold=0.99).reference == 4
    assert run(burst, method="walk", shutter=1, threshold=0.9).reference == 0  # tie: earlier
    assert run(burst, method="walk", shutter="middle", threshold=0.96).reference == 4
    assert run(burst, method="walk", shutter=-2, threshold=0.9).reference == 3  # from the end
    assert run(burst, method="sharpest", shutter=2).reference == 4
    note = run(burst, method="walk", shutter=2, threshold=0.9).notes["select"]
    assert note["shutter"] == 2 and note["walk_order"] == [2, 1, 3, 0, 4]


def test_walk_falls_back_to_the_sharpest():
    assert walk(np.array([0.1, 0.2, 1.0, 0.3]), 0, 1.5) == 2
    assert run(scored([0.3, 0.5, 0.4]), method="walk", shutter=0, threshold=1.0).reference == 1


def test_shutter_index():
    assert [shutter_index(s, 5) for s in ("first", "middle", "last", 3, -1, 9)] == [0, 2, 4, 3, 4, 4]
    assert shutter_index("middle", 4) == 1


def test_dropping_and_max_frames():
    relative = np.array([0.2, 1.0, 0.8, 0.5])
    assert choose_frames(relative, 1, 0.6, 0) == [1, 2]
    assert choose_frames(relative, 1, 0.0, 2) == [1, 2]
    assert choose_frames(relative, 3, 0.0, 1) == [3]  # the reference always stays
    assert choose_frames(relative, 3, 0.9, 0) == [1, 2, 3]  # relative to the reference (0.5)
    assert choose_frames(relative, 1, 0.0, 0) == [0, 1, 2, 3]
    out = run(scored([0.2, 1.0, 0.8, 0.5]), min_relative=0.6)
    assert out.selected == (1, 2) and out.notes["select"]["dropped"] == [0, 3]
    out = run(scored([0.2, 1.0, 0.8, 0.5, 0.9]), max_frames=3)
    assert out.selected == (1, 2, 4) and out.notes["select"]["dropped"] == [0, 3]


def test_scores_that_are_not_positive_are_mapped_min_max():
    out = run(scored([-2.0, 0.0, 2.0]), method="walk", shutter=1, threshold=0.5)
    assert out.notes["select"]["relative_sharpness"] == [0.0, 0.5, 1.0]
    assert out.notes["select"]["mapping"] == "min-max" and out.reference == 1
    with pytest.raises(StageError, match="not finite"):
        run(scored([1.0, float("nan")]))


def test_score_choice_and_errors():
    burst = Burst("b", (Frame(Path("a"), scores={"frequency": 1.0, "laplacian": 5.0}),
                        Frame(Path("b"), scores={"frequency": 2.0, "laplacian": 1.0})))
    assert run(burst).reference == 1  # auto prefers frequency
    assert run(burst, score="laplacian").reference == 0
    assert run(scored([1.0, 2.0], "tenengrad")).notes["select"]["score"] == "tenengrad"
    with pytest.raises(StageError, match="no frame has the score 'tenengrad'"):
        run(burst, score="tenengrad")
    with pytest.raises(StageError, match="no scores"):
        run(Burst("b", (Frame(Path("a")),)))


@pytest.mark.parametrize("values, key", [
    ({"method": "best"}, "select.method"), ({"shutter": "centre"}, "select.shutter"),
    ({"threshold": 1.5}, "select.threshold"), ({"min_relative": -0.1}, "select.min_relative"),
    ({"max_frames": -1}, "select.max_frames"), ({"max_frames": 2.5}, "select.max_frames"),
    ({"treshold": 0.9}, "did you mean 'threshold'"),
])
def test_bad_params(values, key):
    with pytest.raises(ConfigError, match=key):
        select.make_params(values)


def test_scorer_then_select_on_pixels():
    """The stages chained as a preset chains them: the unshaken frame becomes the reference."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((128, 128), np.float32), (0, 0), 1.0)
    images = [cv2.blur(base, (k, k)) if k else base for k in (5, 3, 0, 7)]
    burst = Burst("b", tuple(Frame(Path(f"f{i}.png"), pixels=im, layout="gray")
                             for i, im in enumerate(images)))
    out = run(laplacian(burst, laplacian.params_type()), min_relative=0.35)
    assert out.reference == 2 and out.selected == (1, 2)
