"""The zoom's faster paths give what the plain ones gave (issue 16: the shipped networks were
trained on these inputs, so a speed-up must not change them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("burst_zoom")


def _burst(size: tuple[int, int] = (120, 160), frames: int = 5, seed: int = 2):
    from burstlib.synth.scene import procedural_scene
    from burstlib.synth.sensor import sensor_burst
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(procedural_scene(size[0] * 2, size[1] * 2, rng).mean(axis=2),
                             (0, 0), 1.0)
    return sensor_burst(scene.astype(np.float32), 2, frames, rng, shift=2.0, rotation=0.5,
                        noise=1e-3)


def _bincount_splat(frames, transforms, scale, origin, size, weights=None):
    """The splat as it was first written: one bincount per frame over all four corners."""
    from burst_zoom.classical import Grid
    from burst_zoom.features import REFERENCE_WEIGHT, within_window
    height, width = size[0] * scale, size[1] * scale
    to_hr = Grid(scale, (float(origin[0]), float(origin[1])), size).from_reference()
    value_sum = np.zeros(height * width)
    weight_sum = np.zeros(height * width)
    for index, (frame, transform) in enumerate(zip(frames, transforms)):
        frame, transform, kept = within_window(frame, transform, origin, size)
        ys, xs = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
        mapped = (to_hr @ transform) @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
        px, py = mapped[0] / mapped[2], mapped[1] / mapped[2]
        base = REFERENCE_WEIGHT if index == 0 else 1.0
        w = np.full(px.size, base) if weights is None else base * weights[index][kept].ravel()
        x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
        fx, fy = px - x0, py - y0
        tx = np.concatenate([x0, x0 + 1, x0, x0 + 1])
        ty = np.concatenate([y0, y0, y0 + 1, y0 + 1])
        ww = np.concatenate([w * (1 - fx) * (1 - fy), w * fx * (1 - fy),
                             w * (1 - fx) * fy, w * fx * fy])
        inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
        idx, ww = (ty * width + tx)[inside], ww[inside]
        weight_sum += np.bincount(idx, ww, minlength=weight_sum.size)
        value_sum += np.bincount(idx, ww * np.tile(frame.ravel().astype(np.float64), 4)[inside],
                                 minlength=value_sum.size)
    return value_sum.reshape(height, width), weight_sum.reshape(height, width)


@pytest.mark.parametrize("scale", [2, 4])
def test_splat_adds_up_what_one_bincount_per_frame_did(scale):
    from burst_zoom.features import splat
    burst = _burst()
    rng = np.random.default_rng(0)
    weights = [rng.random(f.shape).astype(np.float32) for f in burst.frames]
    for origin, size in (((0, 0), burst.frames[0].shape), ((30, 20), (50, 70))):
        found = splat(burst.frames, burst.transforms, scale, origin, size, weights)
        expected = _bincount_splat(burst.frames, burst.transforms, scale, origin, size, weights)
        for a, b in zip(found, expected):
            assert a.shape == b.shape
            assert np.abs(a - b).max() < 1e-9


@pytest.mark.parametrize("scale", [2, 4])
def test_box_positions_equal_the_fine_grid_formula_to_the_bit(scale):
    from burst_zoom.classical import box_positions
    rng = np.random.default_rng(1)
    position = (rng.random(200_000) * 3000 - 20).astype(np.float32)
    position[:2000] = np.round(position[:2000] * scale * 2) / (scale * 2)  # box edges exactly
    fine = position * np.float32(scale) + np.float32((scale - 1) / 2)
    left = np.floor(fine)
    box = np.floor(left / np.float32(scale))
    fraction = fine - left
    fraction *= (left - box * np.float32(scale)) == scale - 1
    found = box_positions(position, scale)
    # To the bit from a pixel on (positions with finer float32 steps than the box's offset
    # (s - 1) / 2s, below it, round differently: 1e-7).
    assert np.array_equal(found[position >= 1], (box + fraction)[position >= 1])
    assert np.abs(found - (box + fraction)).max() < 1e-6


def test_nan_median_is_numpys():
    from burst_zoom.network import nan_median
    rng = np.random.default_rng(2)
    for frames in (1, 2, 5, 8):
        values = rng.random((40, 50, 2, frames), dtype=np.float32)
        values[..., 1:][rng.random(values[..., 1:].shape) < 0.4] = np.nan
        expected = np.nanmedian(values, axis=-1)
        count = np.count_nonzero(~np.isnan(values), axis=-1).astype(np.uint8)
        assert np.array_equal(nan_median(values.copy()), expected)
        assert np.array_equal(nan_median(values.copy(), count), expected)


class _LastPlanes:
    """A stand-in network (tiled or at once alike): the input's last four planes."""

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return features[..., -4:]

    run_whole = __call__


@pytest.mark.parametrize("classical", [0, 6])
def test_window_built_whole_equals_the_block_wise_build(monkeypatch, classical):
    """In one piece (its sensor models shared with the refinement) or block by block, with
    frames that reach beyond the window on every side: the same up to float32 rounding."""
    import burst_zoom.network as network
    burst = _burst((140, 180), frames=6, seed=3)
    model = network.LoadedModel("planes", 2, _LastPlanes(), Path("."), classical)
    monkeypatch.setattr(network, "INPUT_BLOCK", 64)
    origin, size = (10, 12), (110, 150)
    weights = [np.ones(f.shape, np.float32) for f in burst.frames]
    results = []
    for whole in (0, network.WHOLE_WINDOW_PIXELS):
        monkeypatch.setattr(network, "WHOLE_WINDOW_PIXELS", whole)
        results.append(network.super_resolve_luma(model, burst.frames, burst.transforms,
                                                  origin, size, weights=weights))
    assert np.abs(results[0] - results[1]).max() < 1e-4


def test_back_projection_stops_where_it_did(monkeypatch):
    """Validation that stops early skips the step it would throw away: the same estimate and
    iterations as running every step."""
    from burst_zoom import classical
    from burst_zoom.features import window_models
    burst = _burst(frames=6, seed=4)
    size = burst.frames[0].shape
    models = window_models(burst.frames, burst.transforms, 2, (0, 0), size)
    start = cv2.resize(burst.frames[0], (size[1] * 2, size[0] * 2),
                       interpolation=cv2.INTER_CUBIC)[..., None]
    for patience in (1, 3):
        classical.hold_out(models, 0.125, reference=True)
        found = classical.back_project_validated(models, start, 12, 1.0, 0.125,
                                                 patience=patience)
        estimate, errors = start.astype(np.float32), []
        for _ in range(13):  # every step, every held-out error
            step_errors, error = classical._errors(models, estimate)
            errors.append((error, estimate))
            estimate, coverage = classical._update(models, estimate, step_errors, 1.0, None)
        best_error, best_at = float("inf"), 0
        for done, (error, _) in enumerate(errors[:12]):
            if error < best_error * (1 - classical.MIN_GAIN):
                best_error, best_at = error, done
            elif done - best_at >= patience:
                break
        else:
            if errors[12][0] < best_error:
                best_error, best_at = errors[12][0], 12
        assert found[1] == best_at
        assert found[2] == pytest.approx(best_error, rel=1e-12)
        assert np.array_equal(found[0], errors[best_at][1])


@pytest.mark.parametrize("iterations", [1, 5, 12])
def test_back_projection_in_blocks_equals_the_whole_windows(monkeypatch, iterations):
    """A window beyond WHOLE_WINDOW_PIXELS is back-projected block by block, each block's
    sensor models made for it alone, with the context the iterations reach: the same as the
    whole window's, frames reaching beyond it on every side."""
    import burst_zoom.network as network
    from burst_zoom.classical import back_project
    from burst_zoom.features import window_models
    burst = _burst((140, 180), frames=6, seed=5)
    monkeypatch.setattr(network, "INPUT_BLOCK", 24)
    origin, size = (10, 12), (110, 150)
    rng = np.random.default_rng(0)
    weights = [rng.random(f.shape).astype(np.float32) for f in burst.frames]
    start = cv2.resize(burst.frames[0][12:122, 10:160], (300, 220),
                       interpolation=cv2.INTER_CUBIC)
    whole = back_project(window_models(burst.frames, burst.transforms, 2, origin, size,
                                       weights), start[..., None], iterations, 1.0)[..., 0]
    blocks = network.back_project_in_blocks(start, burst.frames, burst.transforms, 2, origin,
                                            size, iterations, weights)
    assert np.abs(whole - blocks).max() < 1e-4


def test_a_large_window_is_refined_in_blocks_from_its_central_part(monkeypatch):
    """Past WHOLE_WINDOW_PIXELS the refinement decides its iterations on the central part and
    runs them block by block; on a clean burst it keeps some, and the result is the whole
    window's back-projection with that many iterations."""
    import burst_zoom.network as network
    from burst_zoom.classical import back_project
    from burst_zoom.features import window_models
    burst = _burst((140, 180), frames=6, seed=6)
    origin, size = (10, 12), (110, 150)
    start = cv2.resize(burst.frames[0][12:122, 10:160], (300, 220),
                       interpolation=cv2.INTER_CUBIC)
    monkeypatch.setattr(network, "WHOLE_WINDOW_PIXELS", 0)
    monkeypatch.setattr(network, "REFINE_SAMPLE_PIXELS", 120 * 120)
    monkeypatch.setattr(network, "INPUT_BLOCK", 40)
    refined, iterations = network.refine_luma(start, burst.frames, burst.transforms, 2, origin,
                                              size, 0.125)
    assert iterations > 0
    expected = back_project(window_models(burst.frames, burst.transforms, 2, origin, size),
                            start[..., None], iterations, 1.0)[..., 0]
    assert np.abs(refined - expected).max() < 1e-4
    part_origin, part_size = network.central_part(origin, size, 2, 120 * 120)
    assert part_size[0] * part_size[1] * 4 <= 120 * 120 and part_size[0] / part_size[1] == \
        pytest.approx(size[0] / size[1], rel=0.05)
    assert part_origin == (origin[0] + (size[1] - part_size[1]) // 2,
                           origin[1] + (size[0] - part_size[0]) // 2)


def test_chroma_merged_in_bands_equals_the_whole_windows(monkeypatch):
    import burst_zoom.network as network
    from burstcli import Frame
    rng = np.random.default_rng(7)
    frames = [Frame(Path(f"{i}.png"), pixels=rng.random((60, 70, 3)).astype(np.float32),
                    layout="rgb") for i in range(5)]
    transforms = [np.eye(3), *(np.array([[1, 0.01, rng.uniform(-3, 3)],
                                         [-0.01, 1, rng.uniform(-3, 3)], [0, 0, 1]])
                               for _ in range(4))]
    origin, size = (5, 4), (50, 60)
    whole = network.merged_chroma(frames, transforms, origin, size)
    monkeypatch.setattr(network, "CHROMA_BAND", 7)
    banded = network.merged_chroma(frames, transforms, origin, size)
    assert np.abs(whole - banded).max() < 1e-5


def test_yuv_codes_zoom_as_float_yuv():
    """colour.yuv keeps integer frames as 16-bit YUV codes: the zoom's result is the one from
    float YUV frames to the codes' rounding, and colour.rgb brings the codes back."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    import dataclasses
    from burstcli import Burst, Frame
    from burst_colour import colour_rgb, colour_yuv
    from burst_zoom import zoom_network
    rng = np.random.default_rng(8)
    base = rng.random((32, 40, 3))
    codes = [np.clip((np.roll(base, i, axis=1) + rng.normal(0, 0.01, base.shape)) * 65535, 0,
                     65535).astype(np.uint16) for i in range(4)]
    transforms = [np.array([[1, 0, i], [0, 1, 0], [0, 0, 1.0]]) for i in range(4)]

    def burst(pixels):
        return Burst("b", tuple(Frame(Path(f"{i}.png"), pixels=p, layout="rgb", transform=t)
                                for i, (p, t) in enumerate(zip(pixels, transforms))),
                     reference=0)
    as_codes = colour_yuv(burst(codes), colour_yuv.params_type())
    as_float = colour_yuv(burst([c / np.float32(65535) for c in codes]),
                          colour_yuv.params_type())
    assert as_codes.frames[0].pixels.dtype == np.uint16
    assert as_float.frames[0].pixels.dtype == np.float32
    params = dataclasses.replace(zoom_network.params_type(), model="x2")
    zoomed = [zoom_network(b, params).image for b in (as_codes, as_float)]
    assert np.abs(zoomed[0] - zoomed[1]).max() < 1e-4
    back = colour_rgb(as_codes, colour_rgb.params_type()).frames
    assert all(f.pixels.dtype == np.uint16 for f in back)
    assert max(np.abs(f.pixels.astype(int) - c).max() for f, c in zip(back, codes)) <= 1
