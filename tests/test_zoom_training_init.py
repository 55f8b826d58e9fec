"""Warm starts from a shipped folded .tflite, and the wider training samples."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

pytest.importorskip("torch", reason="the train extra (burstcli[train]) is not installed")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")

import torch  # noqa: E402

from burstlib.nn.fold import fold_model  # noqa: E402
from burstlib.nn.tflite_export import run_tflite  # noqa: E402
from burstlib.nn.tflite_import import from_tflite, load_folded  # noqa: E402
from burst_zoom.network import MODELS  # noqa: E402
from burst_zoom.samples import SampleOptions, make_sample  # noqa: E402
from burst_zoom.training import TrainConfig, build_network, warm_start  # noqa: E402


@pytest.mark.parametrize("scale", [2, 4])
def test_a_shipped_tflite_warm_starts_exactly(scale):
    torch.set_num_threads(1)
    path = MODELS / f"zoom_x{scale}.tflite"
    config = TrainConfig(scale=scale, samples={"classical_iterations": 6})
    net = build_network(config)
    warm_start(net, path)
    assert torch.all(net.input_scale == 1)
    x = np.random.default_rng(scale).random((19, 23, config.input_channels), dtype=np.float32)
    expected = run_tflite(path, x, num_threads=1)
    for mode in ("branches", "fused"):
        with torch.no_grad():
            out = net.set_mode(mode).eval()(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))
        np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), expected, atol=1e-4)
    original, again = from_tflite(path), fold_model(net, "all")
    assert [n.op for n in original.nodes] == [n.op for n in again.nodes]
    for a, b in zip(original.nodes, again.nodes):
        for key, value in a.params.items():
            np.testing.assert_allclose(b.params[key], value, atol=1e-6)


def test_the_warm_started_net_trains():
    """The silent branches get gradients through the loss (the start is not a dead end)."""
    config = TrainConfig(scale=2, samples={"classical_iterations": 6})
    net = build_network(config).set_mode("fused")
    load_folded(net, from_tflite(MODELS / "zoom_x2.tflite"))
    x = torch.rand(2, config.input_channels, 12, 12)
    net.train()(x).square().mean().backward()
    edge = [b for b in net.body[0].branches if b.kind == "sobelx"][0]
    assert edge.stages[-1].scale.grad.abs().sum() > 0


def _sample(options, seed=0, frames=None):
    image = np.random.default_rng(99).random((300, 300), dtype=np.float32)
    image = cv2.GaussianBlur(image, (0, 0), 2.0)
    return make_sample(image, options, np.random.default_rng(seed), frames)


def test_wider_options_default_off():
    base = SampleOptions(scale=2, patch=16, bicubic_share=0.0)
    off = dataclasses.replace(base, clean_share=0.0, gaussian_share=0.0, quantize_share=0.0,
                              jpeg_share=0.0, blur=0.0)
    for a, b in zip(_sample(base), _sample(off)):
        np.testing.assert_array_equal(a, b)


def test_wider_samples():
    options = SampleOptions(scale=2, patch=16, bicubic_share=0.0, max_frames=14, shift=4.0,
                            rotation=1.5, noise=(1e-6, 2e-2), clean_share=0.2,
                            gaussian_share=0.5, quantize_share=1.0, jpeg_share=0.5, blur=1.0)
    for seed in range(6):
        features, target, base = _sample(options, seed)
        assert features.shape[:2] == (16, 16) and target.shape == base.shape == (32, 32)
        assert np.isfinite(features).all() and np.isfinite(target).all()
        reference = features[..., 0]  # stored in 8 bits
        np.testing.assert_allclose(reference * 255, np.rint(reference * 255), atol=1e-3)


def test_lens_blur_softens_frames_and_truth_alike():
    sharp = SampleOptions(scale=2, patch=16, bicubic_share=0.0, single_frame_share=0.0,
                          noise=(1e-9, 1e-9), moving_patch_share=0.0, registration_error=0.0)
    soft = dataclasses.replace(sharp, blur=1.0)
    _, target_sharp, base_sharp = _sample(sharp, 3)
    _, target_soft, base_soft = _sample(soft, 3)
    # the same crop, through a lens: the truth is the blurred scene, not the sharp one
    clean_sharp, clean_soft = target_sharp + base_sharp, target_soft + base_soft

    def detail(image):
        return float(np.abs(np.diff(image, axis=1)).mean())
    assert detail(clean_soft) < 0.9 * detail(clean_sharp)
    assert detail(base_soft) < 0.9 * detail(base_sharp)
