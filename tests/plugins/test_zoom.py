"""Classical multi-frame super-resolution: geometry, and detail beyond bicubic."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_zoom import window, zoom_classical
from burstcli import Burst, Frame
from burstcli.errors import StageError


def aliased_burst(scale: int, frames: int, seed: int = 1) -> tuple[Burst, np.ndarray]:
    """Frames box-sampled from a procedural scene at random sub-pixel motion (known)."""
    from burstlib.synth.scene import procedural_scene
    from burstlib.synth.sensor import sensor_burst
    rng = np.random.default_rng(seed)
    scene = procedural_scene(224, 224, rng).mean(axis=2).astype(np.float32)
    scene = cv2.GaussianBlur(scene, (0, 0), 1.2)  # a lens: detail near, not beyond, the HR grid
    made = sensor_burst(scene, scale, frames, rng, noise=0.0005)
    out = tuple(Frame(Path(f"{k}.tiff"), pixels=low, layout="gray", transform=t)
                for k, (low, t) in enumerate(zip(made.frames, made.transforms)))
    return Burst("b", out, reference=0), made.clean


def psnr(image, truth, border):
    inner = np.s_[border:-border, border:-border]
    return 10 * np.log10(1 / np.mean((image[inner] - truth[inner]) ** 2))


def test_multi_frame_zoom_beats_bicubic_and_a_single_frame():
    burst, truth = aliased_burst(scale=4, frames=8)
    params = dataclasses.replace(zoom_classical.params_type(), scale=4)
    multi = zoom_classical(burst, params)
    assert multi.image.shape == truth.shape and multi.image_layout == "gray"
    single = zoom_classical(burst.replace(frames=burst.frames[:1], selected=None), params).image
    bicubic = cv2.resize(burst.frames[0].pixels, truth.shape[::-1], interpolation=cv2.INTER_CUBIC)
    assert psnr(multi.image, truth, 4) > psnr(bicubic, truth, 4) + 1.0
    assert psnr(multi.image, truth, 4) > psnr(single, truth, 4) + 1.0


def test_zoom_field_center_and_window():
    assert window("full", 2, 100, 200) == (0.0, 0.0, 200, 100)
    assert window("center", 4, 100, 200) == (75.0, 37.5, 50, 25)
    assert window("10,20,30,40", 2, 100, 200) == (10.0, 20.0, 30, 40)
    from burstcli.errors import StageError
    with pytest.raises(StageError, match="inside"):
        window("190,0,30,40", 2, 100, 200)
    burst, truth = aliased_burst(scale=2, frames=4)
    params = dataclasses.replace(zoom_classical.params_type(), scale=2, field="center")
    zoomed = zoom_classical(burst, params).image
    h, w = burst.frames[0].pixels.shape
    assert zoomed.shape == (2 * round(h / 2), 2 * round(w / 2))  # the central half, at 2x
    top, left = (truth.shape[0] - zoomed.shape[0]) // 2, (truth.shape[1] - zoomed.shape[1]) // 2
    assert psnr(zoomed, truth[top:top + zoomed.shape[0], left:left + zoomed.shape[1]], 4) > 25


def test_raw_burst_zooms_to_linear_rgb(tmp_path):
    from burst_align import align_global
    from burst_decode import decode
    from burstlib.synth.api import SynthOptions, make_burst
    opts = SynthOptions(frames=4, width=160, height=120, blur=0.0, sharp_margin=0.0, seed=3)
    make_burst(tmp_path, opts)
    files = sorted((tmp_path / opts.name).glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type()).replace(reference=0)
    burst = align_global(burst, align_global.params_type())
    params = dataclasses.replace(zoom_classical.params_type(), scale=2, iterations=5)
    out = zoom_classical(burst, params)
    assert out.image.shape == (240, 320, 3) and out.image_layout == "linear_raw"
    assert np.isfinite(out.image).all() and 0.02 < out.image.mean() < 1.0


def test_sensor_bursts_and_the_back_projection_model_agree():
    """The sensor model zoom.classical inverts reproduces burstlib.synth.sensor's frames from the
    clean image (same geometry, same box sampling): a mismatch would cap every SR figure."""
    from burstlib.synth.sensor import sensor_burst
    from burst_zoom.classical import Grid, SensorModel, box_average
    from burstlib.synth.scene import procedural_scene
    rng = np.random.default_rng(4)
    scene = cv2.GaussianBlur(procedural_scene(160, 160, rng).mean(axis=2), (0, 0), 1.5)
    made = sensor_burst(scene.astype(np.float32), 4, 4, rng, noise="none")
    height, width = made.frames[0].shape
    grid = Grid(4, (0.0, 0.0), (height, width))
    for low, transform in zip(made.frames, made.transforms):
        model = SensorModel(Frame(Path("f.tiff"), pixels=low, layout="gray", transform=transform),
                            grid, 1.0)
        simulated = model.simulate(box_average(made.clean[..., None], 4))[..., 0]
        assert np.abs(simulated - low)[3:-3, 3:-3].mean() < 0.003  # 0.012 at a 1/4 px error


@pytest.mark.parametrize("frames", [4, 1])
def test_zoom_preset_on_a_raw_burst_end_to_end(tmp_path, burst_cli, burst_synth_burst, frames):
    """zoom2x-classical on DNG files: the central half at 2x, about the input's pixel count;
    a burst of one frame goes through the same preset."""
    import tifffile
    folder, _ = burst_synth_burst(frames=frames, width=160, height=120, seed=6, name="z")
    result = burst_cli("enhance", folder.parent, "--preset", "zoom2x-classical", "-o",
                       tmp_path / "out", "--set", "zoom.classical.iterations=5")
    assert result.exit_code == 0, result.output
    image = tifffile.imread(tmp_path / "out" / "z_zoom2x-classical.tiff")
    assert image.shape == (120, 160, 3) and image.dtype == np.uint16 and image.mean() > 1000


def test_network_features_place_samples_where_they_belong():
    from burst_zoom.features import depth_to_space, input_channels, network_input, space_to_depth
    rng = np.random.default_rng(0)
    image = rng.random((12, 20)).astype(np.float32)
    assert np.array_equal(depth_to_space(space_to_depth(image, 4), 4), image)
    low = rng.random((6, 8)).astype(np.float32)
    # A second frame shifted by exactly one HR pixel (a quarter LR pixel) to the right.
    shifted = np.array([[1, 0, 0.25], [0, 1, 0], [0, 0, 1.0]])
    features, base = network_input([low, low], [np.eye(3), shifted], 4)
    assert features.shape == (6, 8, input_channels(4)) and base.shape == (24, 32)
    assert np.array_equal(features[..., 0], low)
    mean = depth_to_space(features[..., 1:17], 4)
    density = depth_to_space(features[..., 17:], 4)
    # LR pixel (r, c) lands between HR pixels 4c+1 and 4c+2 (centre 4c + 1.5): the reference
    # splits over columns 1, 2, the shifted frame over 2, 3 of each 4-pixel cell.
    cell = density[8:12, 8:12]
    assert cell[:, 0].max() < 1e-6 and cell[1:3, 2].min() > cell[1:3, 1].min() > cell[1:3, 3].min() > 0
    assert np.allclose(mean[5, 9], low[1, 2], atol=1e-6)


def test_classical_input_is_sharper_than_the_splat_on_a_clean_burst():
    """The classical planes are back-projection through the sensor model: on a noise-free
    8-frame burst they are closer to the truth than the splatted mean they start from."""
    from burstlib.synth.scene import procedural_scene
    from burstlib.synth.sensor import sensor_burst
    from burst_zoom.features import depth_to_space, input_channels, network_input
    rng = np.random.default_rng(8)
    scene = cv2.GaussianBlur(procedural_scene(160, 160, rng).mean(axis=2), (0, 0), 1.2)
    scene = scene.astype(np.float32)
    burst = sensor_burst(scene, 4, 8, rng, shift=2.0, rotation=0.3, noise=0.0)
    features, _ = network_input(burst.frames, burst.transforms, 4, classical_iterations=4)
    assert features.shape[2] == input_channels(4, classical=True) == 49
    plain, _ = network_input(burst.frames, burst.transforms, 4)
    assert np.array_equal(features[..., :33], plain)

    def error(planes: np.ndarray) -> float:
        return float(np.mean((depth_to_space(planes, 4) - burst.clean)[16:-16, 16:-16] ** 2))

    assert error(features[..., 33:]) < 0.7 * error(features[..., 1:17])


def test_bench_zoom_prints_peers_side_by_side(tmp_path, burst_cli):
    import imageio.v3 as iio
    from burstlib.synth.scene import procedural_scene
    rng = np.random.default_rng(2)
    for name in ("set5", "b100"):
        (tmp_path / name).mkdir()
        image = cv2.GaussianBlur(procedural_scene(96, 128, rng), (0, 0), 1.0)
        iio.imwrite(tmp_path / name / "a.png", (np.clip(image, 0, 1) * 255).astype(np.uint8))
    result = burst_cli("bench", "zoom", "--scale", "2", "--data", tmp_path, "--model", "",
                       "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "single image x2, set5" in result.output and "8-frame bursts x2" in result.output
    burst_rows = result.output.split("8-frame bursts x2, light")[1]
    bicubic = float(burst_rows.split("\nbicubic")[1].split()[0])
    classical = max(float(burst_rows.split(f"classical, {n} it.")[1].split()[0]) for n in (4, 15))
    assert classical > bicubic + 0.5


def test_network_features_of_a_window_equal_the_whole_frames_cut():
    """Splatting only the part of each frame that lands in a zoom window changes nothing."""
    from burst_zoom.features import network_input
    rng = np.random.default_rng(3)
    frames = [rng.random((40, 60)).astype(np.float32) for _ in range(3)]
    transforms = [np.eye(3), np.array([[1, 0.01, 1.3], [-0.01, 1, -0.7], [0, 0, 1.0]]),
                  np.array([[1, 0, -2.2], [0, 1, 1.6], [0, 0, 1.0]])]
    whole, _ = network_input(frames, transforms, 2)
    window, _ = network_input(frames, transforms, 2, origin=(15, 10), size=(20, 30))
    assert np.allclose(window, whole[10:30, 15:45], atol=1e-5)


def _flip_transform(width: int) -> np.ndarray:
    return np.array([[-1, 0, width - 1], [0, 1, 0], [0, 0, 1.0]])


@pytest.mark.parametrize("classical", [0, 3])
@pytest.mark.parametrize("orientation", range(8))
def test_self_ensemble_orientations_equal_the_burst_turned(orientation, classical):
    """The network input of a flipped/transposed burst is the input turned on both grids,
    so the self-ensemble undoes exactly what it did. (The classical planes: away from the
    border, where the sensor model's replicated edge is not symmetric.)"""
    from burst_zoom.features import network_input
    from burst_zoom.network import orient, oriented_features
    rng = np.random.default_rng(5)
    h, w = 14, 18
    frames = [rng.random((h, w)).astype(np.float32) for _ in range(3)]
    transforms = [np.eye(3), np.array([[1, 0, 0.3], [0, 1, -0.45], [0, 0, 1.0]]),
                  np.array([[1, 0.02, -0.6], [-0.02, 1, 0.2], [0, 0, 1.0]])]
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1.0]])
    turned_frames, turned_transforms = [], []
    for frame, transform in zip(frames, transforms):
        # Pixel maps of orient(): transpose, then flip rows, then flip columns.
        frame_map, ref_map = np.eye(3), np.eye(3)
        fh, fw, rh, rw = h, w, h, w
        if orientation & 4:
            frame_map, ref_map, fh, fw, rh, rw = swap, swap, w, h, w, h
        if orientation & 2:
            frame_map = swap @ _flip_transform(fh) @ swap @ frame_map
            ref_map = swap @ _flip_transform(rh) @ swap @ ref_map
        if orientation & 1:
            frame_map, ref_map = _flip_transform(fw) @ frame_map, _flip_transform(rw) @ ref_map
        turned_frames.append(np.ascontiguousarray(orient(frame, orientation)))
        turned_transforms.append(ref_map @ transform @ np.linalg.inv(frame_map))
    original, _ = network_input(frames, transforms, 2, classical_iterations=classical)
    turned, _ = network_input(turned_frames, turned_transforms, 2, classical_iterations=classical)
    expected = oriented_features(original, 2, orientation)
    assert np.allclose(expected[..., :9], turned[..., :9], atol=1e-5)
    assert np.allclose(expected[3:-3, 3:-3, 9:], turned[3:-3, 3:-3, 9:], atol=1e-5)


def test_zoom_window_cuts_frames_and_the_zoom_reads_field_in_decoded_pixels():
    from burst_zoom import zoom_window
    from burst_zoom.field import burst_window
    rng = np.random.default_rng(7)
    frames = tuple(Frame(Path(f"{i}.dng"), pixels=rng.integers(0, 4000, (600, 800), np.uint16),
                         layout="cfa") for i in range(2))
    burst = Burst("w", frames)
    params = dataclasses.replace(zoom_window.params_type(), scale=4, field="center", margin=0.5)
    cut = zoom_window(burst, params)
    # centre window 200x150 at (300, 225); 100 px around it, left/top rounded down to even.
    assert cut.notes["zoom.window"]["origin"] == [200, 124]
    assert cut.frames[0].pixels.shape == (475 - 124, 600 - 200)
    assert np.array_equal(cut.frames[1].pixels, frames[1].pixels[124:475, 200:600])
    assert burst_window(cut, "center", 4, 351, 400) == (100.0, 101.0, 200, 150)
    assert burst_window(cut, "250,150,20,10", 4, 351, 400) == (50.0, 26.0, 20, 10)
    with pytest.raises(StageError, match="outside the part"):
        burst_window(cut, "0,0,20,10", 4, 351, 400)
    with pytest.raises(StageError, match="before align"):
        zoom_window(Burst("w", (frames[0].replace(transform=np.eye(3)),)), params)


def test_crop_option_sets_every_zoom_field(tmp_path, burst_cli, burst_synth_burst):
    import json

    import tifffile
    folder, _ = burst_synth_burst(frames=3, width=160, height=120, seed=9, name="c")
    result = burst_cli("enhance", folder.parent, "--preset", "zoom2x-classical", "-o",
                       tmp_path / "out", "--crop", "30,20,50,40",
                       "--set", "zoom.classical.iterations=3")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((tmp_path / "out" / "c_zoom2x-classical.json").read_text())
    assert sidecar["notes"]["zoom.classical"]["window"] == [30.0, 20.0, 50, 40]
    assert tifffile.imread(tmp_path / "out" / "c_zoom2x-classical.tiff").shape == (80, 100, 3)
    bad = burst_cli("enhance", folder.parent, "--preset", "zoom2x", "--crop", "30,20,50")
    assert bad.exit_code == 2 and "X,Y,W,H" in bad.output
    none = burst_cli("enhance", folder.parent, "--preset", "sharpest", "--crop", "1,1,5,5")
    assert none.exit_code == 2 and "no stage with a `field`" in none.output


def test_registration_on_the_zoom_window_is_sub_pixel(tmp_path):
    """zoom.window's default context keeps registration exact on the cut frames (with a
    64 px margin, one frame of this burst came out 6 px off)."""
    import json

    from burst_align import align_global
    from burst_decode import decode
    from burstlib.synth.api import SynthOptions, make_burst
    from burst_zoom import zoom_window
    make_burst(tmp_path, SynthOptions(frames=6, width=1600, height=1200, blur=0.0,
                                      sharp_margin=0.0, seed=5, name="b"))
    truth = json.loads((tmp_path / "b" / "truth.json").read_text())["frames"]
    files = sorted((tmp_path / "b").glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type())
    cut = zoom_window(burst.replace(reference=0), zoom_window.params_type())
    registered = align_global(cut, align_global.params_type())
    left, top = cut.notes["zoom.window"]["origin"]
    to_cut = np.array([[1, 0, left], [0, 1, top], [0, 0, 1.0]])
    height, width = cut.frames[0].pixels.shape
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1.0]]).T
    for frame, facts in zip(registered.frames[1:], truth[1:]):
        expected = np.linalg.inv(to_cut) @ np.array(facts["transform"]) @ to_cut
        found, true = frame.transform @ corners, expected @ corners
        assert np.abs(found[:2] / found[2] - true[:2] / true[2]).max() < 0.4


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_box_spread_equals_fine_grid_upsampling_then_bilinear(scale):
    """The back-projection's one-remap spread is the nearest-neighbour upsampling of the
    error onto the frame's fine grid, sampled bilinearly (without making the fine grid)."""
    from burst_zoom.classical import box_positions
    rng = np.random.default_rng(scale)
    error = rng.normal(size=(9, 11)).astype(np.float32)
    positions_x = rng.uniform(-1.2, 11.2, (20, 30))
    positions_y = rng.uniform(-1.2, 9.2, (20, 30))
    fine = cv2.resize(error, (11 * scale, 9 * scale), interpolation=cv2.INTER_NEAREST)
    offset = (scale - 1) / 2
    expected = cv2.remap(fine, (positions_x * scale + offset).astype(np.float32),
                         (positions_y * scale + offset).astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    found = cv2.remap(error, box_positions(positions_x, scale), box_positions(positions_y, scale),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    assert np.abs(found - expected).max() < 0.05  # OpenCV's 1/32 interpolation steps
    assert np.abs(found - expected).mean() < 0.01


@pytest.mark.parametrize("classical", [0, 4])
def test_network_input_built_block_by_block_equals_the_whole_window(monkeypatch, classical):
    """Memory stays bounded because the input is built a block at a time, and that changes
    nothing: each block's kept part has more context than the back-projection reaches."""
    import burst_zoom.network as network
    from burstlib.synth.scene import procedural_scene
    from burstlib.synth.sensor import sensor_burst
    rng = np.random.default_rng(1)
    scene = cv2.GaussianBlur(procedural_scene(400, 480, rng).mean(axis=2), (0, 0), 1.0)
    burst = sensor_burst(scene.astype(np.float32), 2, 6, rng, shift=2.0, rotation=0.3, noise=1e-3)
    model = network.LoadedModel("planes", 2, lambda x: x[..., -4:], Path("."), classical)
    results = []
    for block in (512, 64):
        monkeypatch.setattr(network, "INPUT_BLOCK", block)
        results.append(network.super_resolve_luma(model, burst.frames, burst.transforms, (0, 0),
                                                  burst.frames[0].shape))
    assert np.abs(results[0] - results[1]).max() < 1e-5
