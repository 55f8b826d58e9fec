"""Registration against known transforms, and fusion without ghosts (synthetic DNG bursts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from burst_align import align_global, align_local
from burstlib.warps import positions_in_frame
from burst_decode import decode
from burst_merge import merge_kernel, merge_mean, merge_robust, merge_sequential, merge_wiener
from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.synth.render import mosaic
from burstcli import Burst, Frame


def registered(tmp_path: Path, **options) -> tuple[Burst, dict]:
    opts = SynthOptions(frames=5, width=320, height=240, blur=0.0, sharp_margin=0.0, **options)
    make_burst(tmp_path, opts)
    truth = load_truth(tmp_path / opts.name)
    files = sorted((tmp_path / opts.name).glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type())
    burst = burst.replace(reference=truth["reference"])
    return align_global(burst, align_global.params_type()), truth


def rms_error(burst: Burst, truth: dict) -> float:
    ys, xs = np.mgrid[0:240:8, 0:320:8]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    errors = []
    for frame, true in zip(burst.frames, truth["frames"]):
        a, b = frame.transform @ points, true["transform"] @ points
        errors.append(np.mean(np.sum((a[:2] / a[2] - b[:2] / b[2]) ** 2, axis=0)))
    return float(np.sqrt(np.mean(errors)))


def psnr(image, clean, region):
    return 10 * np.log10(1 / np.mean((image[region] - clean[region]) ** 2))


def test_registration_is_sub_pixel_on_static_raw_bursts(tmp_path):
    burst, truth = registered(tmp_path, noise="recipe", moving_object=False, seed=21)
    assert rms_error(burst, truth) < 0.1
    assert np.allclose(burst.frames[truth["reference"]].transform, np.eye(3))
    assert all(c > 0.8 for c in burst.notes["align.global"]["correlation"].values())


def test_merges_denoise_and_robust_merge_leaves_no_ghost(tmp_path):
    burst, truth = registered(tmp_path, noise="high", moving_object=True, seed=22)
    clean = mosaic(truth["clean"], "RGGB")
    inner = np.zeros(clean.shape, bool)
    inner[12:-12, 12:-12] = True
    moving, static = inner & truth["motion_mask"], inner & ~truth["motion_mask"]
    reference = (burst.reference_frame.pixels.astype(np.float32) - 256) / (4095 - 256)
    robust = merge_robust(burst, merge_robust.params_type()).image
    mean = merge_mean(burst, merge_mean.params_type()).image
    sequential = merge_sequential(burst, merge_sequential.params_type()).image
    assert robust.dtype == np.float32 and robust.shape == reference.shape
    base = psnr(reference, clean, static)
    assert psnr(robust, clean, static) > base + 2.0
    assert psnr(mean, clean, static) > base and psnr(sequential, clean, static) > base
    # the plain mean smears the object; the robust merge takes it from the reference
    assert psnr(mean, clean, moving) < psnr(reference, clean, moving) - 3.0
    assert psnr(robust, clean, moving) > psnr(reference, clean, moving) - 0.5
    wiener = merge_wiener(burst, merge_wiener.params_type()).image
    assert psnr(wiener, clean, static) > base + 2.0
    assert psnr(wiener, clean, moving) > psnr(reference, clean, moving) - 0.5
    kernel = merge_kernel(burst, merge_kernel.params_type())
    assert kernel.image.shape == (*reference.shape, 3) and kernel.image_layout == "linear_raw"
    assert psnr(mosaic(kernel.image, "RGGB"), clean, static) > base + 2.0
    assert psnr(mosaic(kernel.image, "RGGB"), clean, moving) > psnr(reference, clean, moving) - 1.0


def test_merge_needs_registration(tmp_path):
    from burstcli.errors import StageError
    frames = tuple(Frame(Path(f"{i}.png"), pixels=np.zeros((8, 8, 3), np.uint8), layout="rgb")
                   for i in range(2))
    with pytest.raises(StageError, match="align"):
        merge_mean(Burst("b", frames, reference=0), merge_mean.params_type())


def test_denoise_preset_end_to_end(tmp_path, burst_cli, burst_synth_burst):
    folder, truth = burst_synth_burst(frames=4, width=160, height=120, seed=4, name="dn")
    result = burst_cli("enhance", folder.parent, "--preset", "denoise", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    import json
    sidecar = json.loads((tmp_path / "out" / "dn_denoise.json").read_text())
    assert len(sidecar["frames"]) == 4 and all("transform" in f for f in sidecar["frames"])
    assert np.allclose(sidecar["frames"][sidecar["reference"]]["transform"], np.eye(3))


def test_real_jpeg_burst_denoises_without_losing_detail(tmp_path, burst_cli, shared_data):
    """The real HDR+ burst (hand-held, moving leaves), shrunk to keep the test quick."""
    import cv2
    import imageio.v3 as iio
    shots = tmp_path / "shots" / "hdrplus"
    shots.mkdir(parents=True)
    for source in sorted((shared_data / "hdrplus_burst_0006_jpeg").glob("*.jpg"))[:5]:
        image = iio.imread(source)[300:780, 400:1040]
        iio.imwrite(shots / f"{source.stem}.png", image)
    result = burst_cli("enhance", shots.parent, "--preset", "denoise", "-o", tmp_path / "out",
                       "-f", "png")
    assert result.exit_code == 0, result.output
    out = cv2.imread(str(tmp_path / "out" / "hdrplus_denoise.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (480, 640, 3)
    from burstlib.noise import noise_variance_estimate
    import json
    record = json.loads((tmp_path / "out" / "hdrplus_denoise.json").read_text())
    reference = iio.imread(record["frames"][record["reference"]]["path"]).astype(np.float32) / 255
    merged = out[..., ::-1].astype(np.float32) / 65535
    assert noise_variance_estimate(merged.mean(axis=2)) < noise_variance_estimate(reference.mean(axis=2))
    assert np.abs(merged - reference).mean() < 0.02  # the same picture: no ghost, no shift
    assert all(w > 0.1 for w in record["notes"]["merge.robust"]["mean_weight"].values())


def test_fourier_burst_accumulation_beats_the_mean_on_crossed_shake():
    """Two frames shaken in crossed directions: each keeps the frequencies the other lost."""
    import cv2
    from burst_merge import deblur_fourier
    from burstlib.synth.scene import procedural_scene
    clean = procedural_scene(128, 128, np.random.default_rng(3)).mean(axis=2)
    kernels = [np.full((1, 7), 1 / 7, np.float32), np.full((7, 1), 1 / 7, np.float32)]
    frames = tuple(Frame(Path(f"{i}.tiff"), pixels=cv2.filter2D(clean, -1, k, borderType=cv2.BORDER_REFLECT),
                         layout="gray", transform=np.eye(3)) for i, k in enumerate(kernels))
    burst = Burst("b", frames, reference=0)
    fba = deblur_fourier(burst, deblur_fourier.make_params({"deghost": 0.0})).image
    mean = merge_mean(burst, merge_mean.params_type()).image
    inner = np.s_[8:-8, 8:-8]
    def error(image):
        return float(np.mean((image[inner] - clean[inner]) ** 2))
    assert error(fba) < 0.9 * error(mean)  # diagonal frequencies are lost in both frames


def _grey_frames(clean: np.ndarray, moved: np.ndarray) -> Burst:
    frames = tuple(Frame(Path(f"{i}.tiff"), pixels=image, layout="gray")
                   for i, image in enumerate((clean, moved)))
    return Burst("b", frames, reference=0)


def test_local_alignment_follows_what_one_homography_cannot():
    """A smooth non-rigid warp (lens distortion, parallax): the global fit leaves residual
    motion of up to 2 px, align.local takes it out."""
    import cv2
    from burstlib.warps import warp_to_reference
    from burstlib.synth.scene import procedural_scene
    rng = np.random.default_rng(5)
    clean = procedural_scene(256, 256, rng).mean(axis=2).astype(np.float32)
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float32)
    bend = 2.0 * np.sin(2 * np.pi * ys / 256)  # reference x is seen at x + bend in the frame
    moved = cv2.remap(clean, xs - bend, ys, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    noisy = moved + rng.normal(0, 0.01, moved.shape).astype(np.float32)
    burst = align_global(_grey_frames(clean, noisy), align_global.params_type())
    local = align_local(burst, align_local.params_type())
    inner = np.s_[24:-24, 24:-24]
    def error(b):
        warped, _ = warp_to_reference(b.frames[1], clean.shape, "cubic")
        return float(np.sqrt(np.mean((warped[inner] - clean[inner]) ** 2)))
    assert local.frames[1].flow is not None and burst.frames[1].flow is None
    assert error(local) < 0.6 * error(burst)
    assert local.notes["align.local"]["flow"][1]["max_px"] > 1.0


def effective_rms(burst: Burst, truth: dict, shape: tuple[int, int] = (240, 320),
                  step: int = 8) -> float:
    """RMS distance between where the registration (transform and flow) looks in each frame
    for a reference pixel and where the truth says that scene point is."""
    ys, xs = np.mgrid[0:shape[0]:step, 0:shape[1]:step].astype(np.float64)
    errors = []
    for frame, true in zip(burst.frames, truth["frames"]):
        u, v = positions_in_frame(frame, xs, ys, shape)
        tu, tv = positions_in_frame(Frame(frame.path, transform=true["transform"]), xs, ys, shape)
        errors.append(np.mean((u - tu) ** 2 + (v - tv) ** 2))
    return float(np.sqrt(np.mean(errors)))


def test_local_alignment_leaves_a_static_raw_burst_alone(tmp_path):
    """Where one homography explains the scene, local flow stays small and only corrects what
    the global fit got wrong (it must not add noise to a good registration); a moving object
    gets flow."""
    static, truth = registered(tmp_path, noise="recipe", moving_object=False, optics=0.8, seed=23)
    local = align_local(static, align_local.params_type())
    assert local.frames[truth["reference"]].flow is None
    for index, frame in enumerate(local.frames):
        if index != truth["reference"]:
            length = np.hypot(frame.flow[..., 0], frame.flow[..., 1])
            assert length.mean() < 0.05 and np.percentile(length, 99) < 0.5
    assert effective_rms(local, truth) <= effective_rms(static, truth) + 0.005
    assert effective_rms(local, truth) < 0.1
    moving, _ = registered(tmp_path / "m", noise="recipe", moving_object=True, seed=23)
    local = align_local(moving, align_local.params_type())
    assert max(s["max_px"] for s in local.notes["align.local"]["flow"].values()) > 1.0


def test_a_moving_object_on_a_photo_does_not_pull_the_registration(tmp_path, shared_data):
    """A textured object crossing a photograph whose background is mostly smooth (Kodak's
    parrots): unmasked ECC followed the object (1.5 px RMS); the masked fit must win."""
    opts = SynthOptions(frames=5, width=640, height=480, blur=0.0, sharp_margin=0.0, noise=0.002,
                        optics=1.0, moving_object=True, source=shared_data / "kodak24", seed=2000)
    make_burst(tmp_path, opts)
    truth = load_truth(tmp_path / opts.name)
    files = sorted((tmp_path / opts.name).glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type())
    burst = align_global(burst.replace(reference=truth["reference"]), align_global.params_type())
    assert effective_rms(burst, truth, (480, 640), 16) < 0.1
