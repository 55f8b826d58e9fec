"""The colour stages: RGB <-> YUV (BT.601 full range) and the zoom running on Y."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from burstcli import Burst, Frame
from burstcli.errors import StageError
from burst_colour import colour_rgb, colour_yuv, rgb_to_yuv, yuv_to_rgb


def _rgb_burst(count: int = 3, seed: int = 0) -> Burst:
    rng = np.random.default_rng(seed)
    frames = tuple(Frame(Path(f"{i}.png"), pixels=rng.random((24, 32, 3)).astype(np.float32),
                         layout="rgb", transform=np.eye(3)) for i in range(count))
    return Burst("b", frames, reference=0)


def test_yuv_is_bt601_and_round_trips():
    rgb = np.random.default_rng(1).random((8, 9, 3)).astype(np.float32)
    yuv = rgb_to_yuv(rgb)
    assert np.allclose(yuv[..., 0], rgb @ np.float32([0.299, 0.587, 0.114]), atol=1e-5)
    assert np.allclose(yuv[..., 1], (rgb[..., 2] - yuv[..., 0]) * 0.564 + 0.5, atol=1e-3)
    assert np.allclose(yuv[..., 2], (rgb[..., 0] - yuv[..., 0]) * 0.713 + 0.5, atol=1e-3)
    assert np.allclose(yuv_to_rgb(yuv), rgb, atol=1e-5)
    grey = rgb_to_yuv(np.full((2, 2, 3), 0.3, np.float32))
    assert np.allclose(grey[..., 1:], 0.5, atol=1e-6)


def test_colour_stages_convert_frames_and_back():
    burst = _rgb_burst()
    yuv = colour_yuv(burst, colour_yuv.params_type())
    assert all(f.layout == "yuv" for f in yuv.frames) and yuv.notes["colour.yuv"]["frames"] == 3
    back = colour_rgb(yuv, colour_rgb.params_type())
    for before, after in zip(burst.frames, back.frames):
        assert after.layout == "rgb" and np.allclose(after.pixels, before.pixels, atol=1e-5)
    grey = Burst("g", (Frame(Path("g.png"), pixels=np.zeros((4, 4), np.float32), layout="gray"),))
    assert colour_yuv(grey, colour_yuv.params_type()).frames[0].layout == "gray"
    raw = Burst("r", (Frame(Path("r.dng"), pixels=np.zeros((4, 4), np.uint16), layout="cfa"),))
    with pytest.raises(StageError, match="develop"):
        colour_yuv(raw, colour_yuv.params_type())


def test_a_yuv_product_is_not_written():
    from burstcli.default_plugins.writers import displayable
    with pytest.raises(StageError, match="colour.rgb"):
        displayable(np.zeros((4, 4, 3), np.float32), "yuv")


def test_zoom_on_yuv_frames_equals_zoom_on_rgb_frames():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from burst_zoom import zoom_network
    burst = _rgb_burst(seed=4)
    params = dataclasses.replace(zoom_network.params_type(), model="x2")
    direct = zoom_network(burst, params)
    via_yuv = zoom_network(colour_yuv(burst, colour_yuv.params_type()), params)
    assert via_yuv.image_layout == "yuv" and direct.image_layout == "rgb"
    rgb = colour_rgb(via_yuv, colour_rgb.params_type()).image
    assert rgb.shape == (48, 64, 3) and np.abs(rgb - direct.image).max() < 1e-5
