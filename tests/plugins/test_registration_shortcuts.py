"""The registration's shortcuts give what the long way gave: the strongest points per tile
without a sort of every tile, fits whose result comes from the sampling they already made,
and SIFT asked only when the cheap starts leave more than a moving object unexplained (it
still rescues a rotation they cannot reach)."""

from __future__ import annotations

import numpy as np
import pytest

import burstlib.registration.lk as lk
import burstlib.registration.register as register_module
from burstlib.registration.register import DESCENT_POINTS, build_pyramid, prepare, register

from test_registration import FINE, errors, noisy, render, rotation, texture


def _stable_sort_choice(magnitude: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The choice by a stable sort of every row (what _top_per_row must reproduce)."""
    order = np.argsort(-magnitude, axis=1, kind="stable")
    chosen = np.zeros(magnitude.shape, bool)
    for row, count in enumerate(keep):
        chosen[row, order[row, :count]] = True
    return chosen


def test_the_strongest_per_row_match_a_stable_sort_ties_included():
    rng = np.random.default_rng(0)
    magnitude = rng.integers(0, 6, size=(40, 64)).astype(np.float32)  # many ties
    magnitude[3] = -1.0  # a row of padding only
    keep = rng.integers(0, 65, size=40)
    keep[3] = 0
    keep[5] = 64
    assert np.array_equal(lk._top_per_row(magnitude, keep), _stable_sort_choice(magnitude, keep))


@pytest.mark.parametrize("shape", [(150, 260), (97, 61)])
def test_points_of_a_level_are_the_strongest_of_every_tile(shape):
    """Tiles cut by the level's edges and its border margin keep their own share."""
    rng = np.random.default_rng(1)
    level = lk.make_level(rng.random(shape).astype(np.float32), 1.0)
    points = lk.make_points(level, limit=2000)
    h, w = shape
    t = lk.POINT_TILE
    border = level.margin + 1
    keep = np.zeros(shape, bool)
    keep[border:h - border, border:w - border] = True
    strength = np.where(keep, level.gx ** 2 + level.gy ** 2, -1.0).astype(np.float32)
    padded = np.full((-(-h // t) * t, -(-w // t) * t), -1.0, np.float32)
    padded[:h, :w] = strength
    present = np.zeros(padded.shape, bool)
    present[:h, :w] = keep
    counts = lk._by_tile(present, t).sum(axis=1)
    share = 2000 / keep.sum()
    chosen = _stable_sort_choice(lk._by_tile(padded, t), np.ceil(share * counts).astype(int))
    rows, cols = padded.shape[0] // t, padded.shape[1] // t
    image = chosen.reshape(rows, cols, t, t).transpose(0, 2, 1, 3).reshape(padded.shape)
    assert np.array_equal(points.index, np.flatnonzero(image[:h, :w]))


def test_coarser_levels_keep_fewer_points_than_the_finest():
    rng = np.random.default_rng(2)
    reference = prepare(rng.random((800, 900)).astype(np.float32))
    assert reference.points[0].size > 100_000
    assert all(p.size <= DESCENT_POINTS * 1.1 for p in reference.points[1:])


def test_a_fit_is_evaluated_from_its_own_sampling_and_samples_no_more_than_it_must(
        monkeypatch: pytest.MonkeyPatch):
    """The fit's result is its evaluation at the warp it returns, made from the sampling
    its last step already did when it ends at a state it sampled."""
    size = 160
    scene = texture((size + 16) * FINE, seed=11)
    truth = rotation(0.3, (1.4, -0.8), (size, size))
    rng = np.random.default_rng(11)
    reference = prepare(noisy(render(scene, np.eye(3), (size, size)), 0.01, rng))
    moving = build_pyramid(noisy(render(scene, truth, (size, size)), 0.01, rng))
    calls: list[int] = []
    sample = lk.sample

    def counted(level: lk.Level, warp: np.ndarray, points: lk.Points
                ) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return sample(level, warp, points)

    monkeypatch.setattr(lk, "sample", counted)
    found = lk.fit(reference.points[0], moving.levels[0], np.linalg.inv(truth), "euclidean",
                   iterations=30, floor=1e-4)
    assert len(calls) <= found.iterations + 1
    again = lk.evaluate(reference.points[0], moving.levels[0], found.warp, found.model,
                        found.gain, found.offset, 1e-4)
    assert found.cost == again.cost
    assert np.array_equal(found.residual, again.residual)
    assert np.array_equal(found.values, again.values)
    homography = np.linalg.inv(found.warp)
    assert errors(homography / homography[2, 2], truth, (size, size)).max() < 0.05


def _counting_features(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of the SIFT fallback (it runs as before)."""
    calls: list[int] = []
    feature_homography = register_module.feature_homography

    def counted(features: register_module.Features, moving: np.ndarray
                ) -> tuple[np.ndarray, int]:
        calls.append(1)
        return feature_homography(features, moving)

    monkeypatch.setattr(register_module, "feature_homography", counted)
    return calls


def test_no_sift_for_a_moving_object_the_start_explains_around(monkeypatch: pytest.MonkeyPatch):
    """A textured object over a quarter of a 192 px frame: the best start explains less
    than EXPLAINED of the frame, all of it around the object; SIFT is not asked and the
    registration stays sub-pixel off the object."""
    calls = _counting_features(monkeypatch)
    size, rng = 192, np.random.default_rng(3)
    scene = texture((size + 16) * FINE, seed=7)
    blob = texture(int(np.sqrt(0.25) * size) * FINE, seed=4, scales=(0.7, 1.5))
    truth = rotation(0.5, (2.0, -1.5), (size, size))
    reference = noisy(render(scene, np.eye(3), (size, size)), 0.01, rng)
    moving = noisy(render(scene, truth, (size, size), (blob, (30.0, 40.0))), 0.01, rng)
    found = register(reference, moving)
    assert calls == []
    assert found.trusted and found.matches == 0
    skip = np.zeros((size, size), bool)
    side = blob.shape[0] // FINE
    skip[30:40 + side + 8, 22:30 + side + 8] = True  # the object in either frame, and its rim
    assert errors(found.homography, truth, (size, size), skip).max() < 0.1


def test_sift_still_rescues_a_rotation_the_starts_cannot_reach(monkeypatch: pytest.MonkeyPatch):
    """8 degrees: the translations the cheap starts try leave most of the frame
    unexplained, everywhere, so SIFT is asked, and the registration is exact."""
    calls = _counting_features(monkeypatch)
    size, rng = 400, np.random.default_rng(1)
    scene = texture((size + 16) * FINE, seed=7)
    truth = rotation(8.0, (2.0, -1.5), (size, size))
    reference = noisy(render(scene, np.eye(3), (size, size)), 0.01, rng)
    moving = noisy(render(scene, truth, (size, size)), 0.01, rng)
    found = register(reference, moving)
    assert calls == [1] and found.matches >= register_module.TRUSTED_MATCHES
    assert found.trusted
    assert errors(found.homography, truth, (size, size)).max() < 0.05


def test_a_step_taken_back_is_not_retried_unchanged():
    """After a rejected step the damping grows past the values that leave the step as it
    was: the next step tried moves the corners differently by more than RETRY_CHANGE."""
    rng = np.random.default_rng(4)
    jacobian = rng.normal(size=(500, 5))
    sums = np.zeros((6, 5))
    sums[:5, :5] = jacobian.T @ jacobian
    sums[5, :5] = jacobian.T @ rng.normal(size=500) * 1e-3
    norm = lk.normaliser((100, 120))
    corners = lk._corners((100, 120))
    first = lk._damped_step(sums, "euclidean", lk.DAMPING, np.eye(3), norm, corners, None)
    assert first[0] is not None and first[1] == lk.DAMPING
    again = lk._damped_step(sums, "euclidean", lk.DAMPING * 10, np.eye(3), norm, corners,
                            first[3])
    assert again[0] is not None and again[1] > lk.DAMPING * 10
    change = np.max(np.abs(again[3] - first[3]))
    assert change > lk.RETRY_CHANGE * np.max(np.abs(first[3]))


def test_a_large_frame_is_finished_off_a_moving_object():
    """400 px (the finest level has more points than model selection takes): the blobs of
    the level above's fit, evaluated on the finest level, keep a textured object covering
    a fifth of the frame out of its fit."""
    size, rng = 400, np.random.default_rng(6)
    scene = texture((size + 16) * FINE, seed=8, scales=(2.0, 4.0, 8.0))
    scene = 0.3 + 0.4 * scene  # lower contrast than the object
    blob = texture(int(np.sqrt(0.2) * size) * FINE, seed=9, scales=(0.7, 1.5))
    truth = rotation(-0.4, (1.7, 2.3), (size, size))
    reference = noisy(render(scene, np.eye(3), (size, size), (blob, (40.0, 60.0))), 0.01, rng)
    moving = noisy(render(scene, truth, (size, size), (blob, (70.0, 90.0))), 0.01, rng)
    found = register(reference, moving)
    assert found.trusted and found.model == "homography"
    skip = np.zeros((size, size), bool)
    side = blob.shape[0] // FINE
    skip[52:90 + side + 8, 32:70 + side + 8] = True  # the object in either frame, and its rim
    assert errors(found.homography, truth, (size, size), skip).max() < 0.1


@pytest.mark.parametrize("degrees", [3.0, 8.0])
def test_a_rotated_small_frame_keeps_its_working_fit_through_model_selection(degrees):
    """A frame small enough to choose its model (256 px) rotated a few degrees: the model
    chain once started from the translation's fit only and ended 9-27 px off, from a working
    fit 0.01 px off; each model now also starts from the working fit itself."""
    size, rng = 256, np.random.default_rng(1)
    scene = texture((size + 16) * FINE, seed=7)
    truth = rotation(degrees, (2.0, -1.5), (size, size))
    reference = noisy(render(scene, np.eye(3), (size, size)), 0.01, rng)
    moving = noisy(render(scene, truth, (size, size)), 0.01, rng)
    found = register(reference, moving)
    assert found.trusted and found.correlation > 0.9
    assert errors(found.homography, truth, (size, size)).max() < 0.05


def test_sift_is_asked_for_a_rotated_frame_of_sparse_texture(monkeypatch: pytest.MonkeyPatch):
    """Texture in a few discs on flat grey, rotated 4 degrees: the flat part sets the start's
    robust scale, so all the texture becomes outlier blobs over a small area. Judged by area
    alone they passed for a moving object, SIFT was skipped and the frame ended 22 px off,
    trusted; judged by the texture they hold, SIFT is asked and the registration is exact."""
    import cv2
    calls = _counting_features(monkeypatch)
    size, rng = 400, np.random.default_rng(1)
    scene = texture((size + 16) * FINE, seed=7)
    n = scene.shape[0]
    yy, xx = np.mgrid[0:n, 0:n]
    mask = np.zeros((n, n), np.float32)
    for cy, cx, radius in rng.random((6, 3)):
        mask[(yy - cy * n) ** 2 + (xx - cx * n) ** 2 < (0.08 + 0.05 * radius) ** 2 * n * n] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), 4)
    scene = (0.5 + (scene - 0.5) * mask).astype(np.float32)
    truth = rotation(4.0, (2.0, -1.5), (size, size))
    reference = noisy(render(scene, np.eye(3), (size, size)), 0.01, rng)
    moving = noisy(render(scene, truth, (size, size)), 0.01, rng)
    found = register(reference, moving)
    assert calls == [1]
    assert errors(found.homography, truth, (size, size)).max() < 0.1
