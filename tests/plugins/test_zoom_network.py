"""The learned zoom: training a few steps, exact export, tiled inference, the stage."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch", reason="the train extra (burstcli[train]) is not installed")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")

from burstcli import Burst, Frame  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A x2 network trained for a few steps on tiny generated images, exported."""
    import imageio.v3 as iio
    from click.testing import CliRunner
    from burstlib.synth.scene import procedural_scene
    from burstcli.cli import cli
    root = tmp_path_factory.mktemp("train")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        image = cv2.GaussianBlur(procedural_scene(96, 96, rng), (0, 0), 1.0)
        iio.imwrite(root / "images" / f"{i}.png", (np.clip(image, 0, 1) * 255).astype(np.uint8))
    (root / "tiny.yaml").write_text(
        "scale: 2\ndata: [images]\nsteps: 3\nbatch: 2\npatch: 12\n"
        "network: {features: 8, modules: 2}\ncheckpoint_every: 3\n")
    result = CliRunner().invoke(cli, ["train", str(root / "tiny.yaml"), "--export",
                                       str(root / "tiny.tflite")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "step 3:" in result.output and (root / "tiny.pt").is_file()
    return root / "tiny.tflite"


def test_export_is_exact_and_tiling_changes_nothing(trained):
    import torch
    from burstlib.litert import TiledModel
    from burst_zoom.training import load_trained
    card = json.loads(trained.with_suffix(".json").read_text())
    assert card["scale"] == 2 and card["folded"] and card["steps"] == 3
    model, config, _ = load_trained(trained.with_suffix(".pt"))
    x = np.random.default_rng(1).random((37, 45, card["input_channels"])).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x.transpose(2, 0, 1)[None]))[0, 0].numpy()
    runner = TiledModel(trained, 2, tile=24, overlap=8)
    whole = runner.run_whole(x)[..., 0]
    tiled = runner(x)[..., 0]
    assert np.abs(whole - expected).max() < 1e-4
    assert np.abs(tiled - whole).max() < 1e-4  # 8 px of overlap covers the receptive field


def test_zoom_network_stage_on_a_burst_and_on_one_frame(trained):
    from burst_zoom import zoom_network
    rng = np.random.default_rng(2)
    frames = tuple(Frame(Path(f"{i}.png"), pixels=rng.random((30, 40, 3)).astype(np.float32),
                         layout="rgb", transform=np.eye(3)) for i in range(3))
    params = dataclasses.replace(zoom_network.params_type(), model=str(trained))
    out = zoom_network(Burst("b", frames, reference=0), params)
    assert out.image.shape == (60, 80, 3) and out.image_layout == "rgb"
    one = zoom_network(Burst("b", frames[:1], reference=0),
                       dataclasses.replace(params, field="center"))
    assert one.image.shape == (30, 40, 3)


def test_unfolded_export_gives_the_same_output(trained):
    from burstlib.litert import TiledModel
    from burst_zoom.training import export
    slow = export(trained.with_suffix(".pt"), trained.with_name("slow.tflite"), folded=False)
    x = np.random.default_rng(3).random((20, 20, 9)).astype(np.float32)
    fast_out = TiledModel(trained, 2).run_whole(x)
    slow_out = TiledModel(slow, 2).run_whole(x)
    assert np.abs(fast_out - slow_out).max() < 1e-4


def test_warm_start_adds_the_classical_input_without_changing_the_network(trained, tmp_path):
    """A run started from a checkpoint with fewer input channels begins as exactly that
    network (new channels at zero weight), then trains and ships with the classical input."""
    import torch
    from click.testing import CliRunner
    from burstcli.cli import cli
    from burst_zoom import zoom_network
    from burst_zoom.training import build_network, load_config, load_trained, warm_start
    config_path = trained.with_name("tiny.yaml")
    text = config_path.read_text() + "samples: {classical_iterations: 2}\n"
    (tmp_path / "images").symlink_to(trained.parent / "images")
    (tmp_path / "classical.yaml").write_text(text)
    config = load_config(tmp_path / "classical.yaml")
    assert config.input_channels == 13  # 1 + 3 * 2 * 2
    old, _, _ = load_trained(trained.with_suffix(".pt"))
    new = build_network(config)
    warm_start(new, trained.with_suffix(".pt"))
    new.set_mode("branches").eval()
    x = torch.from_numpy(np.random.default_rng(4).random((1, 13, 16, 16)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(new(x), old(x[:, :9]), atol=1e-6)
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "classical.yaml"), "--init",
                                      str(trained.with_suffix(".pt")), "--export",
                                      str(tmp_path / "classical.tflite")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "classical.json").read_text())
    assert card["input_channels"] == 13 and card["classical_iterations"] == 2
    assert card["training"]["init"] == "tiny.pt"
    rng = np.random.default_rng(2)
    frames = tuple(Frame(Path(f"{i}.png"), pixels=rng.random((30, 40)).astype(np.float32),
                         layout="gray", transform=np.eye(3)) for i in range(3))
    params = dataclasses.replace(zoom_network.params_type(), model=str(tmp_path / "classical.tflite"))
    out = zoom_network(Burst("b", frames, reference=0), params)
    assert out.image.shape == (60, 80) and np.isfinite(out.image).all()


def test_zoom_chroma_comes_from_all_frames_and_keeps_what_moved():
    """U and V are the median of the registered frames' (blotches average out), and a
    coloured object that moved in one frame keeps the reference's colour."""
    from burstlib.colour import rgb_to_yuv
    from burst_zoom.network import merged_chroma
    rng = np.random.default_rng(3)
    clean = np.full((40, 48, 3), 0.5, np.float32)
    frames = [np.clip(clean + rng.normal(0, 0.03, clean.shape), 0, 1).astype(np.float32)
              for _ in range(8)]
    frames[3][10:20, 10:20] = (1.0, 0.0, 0.0)  # something red passed in one frame only
    burst = [Frame(Path(f"{i}.tiff"), pixels=f, layout="rgb") for i, f in enumerate(frames)]
    merged = merged_chroma(burst, [np.eye(3)] * 8, (0, 0), (40, 48))
    reference = rgb_to_yuv(frames[0])
    assert np.allclose(merged[..., 0], reference[..., 0])  # Y stays the reference's
    assert merged[..., 1:].std() < 0.6 * reference[..., 1:].std()
    assert abs(float(merged[10:20, 10:20, 2].mean()) - 0.5) < 0.02  # no red ghost


def test_a_grid_repeating_every_output_cell_is_removed_and_detail_kept():
    """What the network gets wrong alike in every cell of a neighbourhood (a period-`scale`
    pattern, invisible to the box sensor) goes; detail that does not repeat stays."""
    from burst_zoom.network import without_grid
    rng = np.random.default_rng(0)
    scale, cells = 4, 48
    detail = cv2.GaussianBlur(rng.normal(0, 0.05, (cells * scale, cells * scale)).astype(
        np.float32), (0, 0), 1.0)
    grid = np.tile(rng.normal(0, 0.01, (scale, scale)).astype(np.float32), (cells, cells))
    cleaned = without_grid(detail + grid, scale)
    inner = np.s_[32:-32, 32:-32]  # away from the reflected borders of the neighbourhood
    left = cleaned[inner] - detail[inner]
    assert np.sqrt(np.mean(left ** 2)) < 0.15 * np.sqrt(np.mean(grid[inner] ** 2))
    assert np.sqrt(np.mean((without_grid(detail, scale) - detail)[inner] ** 2)) \
        < 0.1 * np.sqrt(np.mean(detail[inner] ** 2))


def test_the_runtime_prints_nothing_on_stderr():
    """LiteRT's C++ side announces its XNNPACK delegate on descriptor 2 (once per process,
    hence a fresh one): not in a user's log."""
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from burst_zoom.features import input_channels\n"
            "from burst_zoom.network import MODELS\n"
            "from burstlib.litert import TiledModel\n"
            "runner = TiledModel(MODELS / 'zoom_x2.tflite', 2, tile=32)\n"
            "print(runner(np.zeros((24, 24, input_channels(2, True)), np.float32)).shape)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "(48, 48" in done.stdout, done.stderr
    assert "XNNPACK" not in done.stderr
