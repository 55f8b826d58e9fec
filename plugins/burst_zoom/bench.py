"""``burst bench zoom``: super-resolution quality, every figure beside its peers.

Protocol (the usual one): PSNR on Y (BT.601, 16-235), ``scale`` pixels of border cropped,
the high-resolution (HR) image cropped to a multiple of the scale. Peers computed by the same
code in the same run: bicubic upsampling of the reference (the network's own base), the
classical multi-frame stage (``zoom.classical`` at 4 and at 15 iterations: the margin is
over the better of the two), and the network on the reference alone (the single-image
model, where the model has one).

Sets:
  single   LR = bicubic downsampling (Pillow, antialiased) of Set5 / Set14 / B100 /
           Urban100: single-image SR as published.
  burst    8-frame bursts of B100 and Set14 images made by burstlib.synth.sensor (random
           sub-pixel shifts and rotations, box sampling, light and heavier noise), with the
           true transforms perturbed by a registration-sized error (0.03 LR px).
  vid4     Vid4 city: 8 consecutive real video frames, downscaled, registered by
           align.global (real sub-pixel motion, real aliasing).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from burstcli import Burst, Frame
from burstcli.registry import run_stage
from burstlib.images import image_files

from .features import bicubic
from .samples import SampleOptions, _as_estimated, bicubic_downscale

if TYPE_CHECKING:  # not at run time: the network module loads only when a model is given
    from .network import LoadedModel

SINGLE_SETS = ("set5", "set14", "b100", "urban100_subset")
BURST_SETS = ("set14", "b100")
BURST_NOISE = {"light": 5e-4, "noisier": 3e-3}
#: The classical peer at two iteration counts: back-projection amplifies noise, so noisier
#: bursts want fewer iterations; the network is compared with the better of the two.
CLASSICAL_ITERATIONS = (4, 15)


def protocol_y(rgb_or_y: np.ndarray) -> np.ndarray:
    """Y in [16, 235] / 255 of an RGB image in [0, 1] (a grey image is taken as full-range Y)."""
    if rgb_or_y.ndim == 2:
        return 16 / 255 + rgb_or_y * (219 / 255)
    r, g, b = (rgb_or_y[..., i] for i in range(3))
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255


def psnr(estimate: np.ndarray, truth: np.ndarray, border: int) -> float:
    inner = np.s_[border:-border, border:-border]
    error = float(np.mean((estimate[inner].astype(np.float64) - truth[inner]) ** 2))
    return 10 * math.log10(1.0 / max(error, 1e-12))


def _images(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
            for path in image_files([folder])]


def _full_range_y(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


@dataclasses.dataclass
class Methods:
    """The scale, and the network (a ``burst_zoom.network.LoadedModel``) if there is one."""

    scale: int
    model: LoadedModel | None
    ensemble: int = 1  # the network's self-ensemble


def _table(title: str, rows: dict[str, list[float]], seconds: dict[str, float]) -> None:
    base = float(np.mean(rows["bicubic"]))
    print(f"\n== {title} ==")
    print(f"{'method':<30} {'Y-PSNR':>8} {'vs bicubic':>11} {'s/image':>8}")
    for name, values in rows.items():
        mean = float(np.mean(values))
        print(f"{name:<30} {mean:>8.2f} {mean - base:>+11.2f} {seconds[name] / len(values):>8.2f}")
    classical = [float(np.mean(v)) for k, v in rows.items() if k.startswith("classical")]
    if classical and "network, all frames" in rows:
        margin = float(np.mean(rows["network, all frames"])) - max(classical)
        print(f"network, all frames over the best classical row: {margin:+.2f} dB")


def bench_single(data: Path, methods: Methods, limit: int | None) -> None:
    """Single-image SR on the usual sets (LR by antialiased bicubic)."""
    s = methods.scale
    for name in SINGLE_SETS:
        folder = data / name
        if not folder.is_dir():
            print(f"(skipped {name}: {folder} not found)")
            continue
        rows: dict[str, list[float]] = {}
        seconds: dict[str, float] = {}
        for rgb in _images(folder)[:limit]:
            h, w = rgb.shape[0] // s * s, rgb.shape[1] // s * s
            y = _full_range_y(rgb[:h, :w])
            low = bicubic_downscale(y, s)
            _timed_rows(methods, [low], [np.eye(3)], y, rows, seconds)
        _table(f"single image x{s}, {name} ({len(rows['bicubic'])} images)", rows, seconds)


def bench_bursts(data: Path, methods: Methods, limit: int | None, seed: int = 0) -> None:
    """8-frame sensor bursts of images no model was trained on."""
    from burstlib.synth.sensor import sensor_burst
    s = methods.scale
    for label, shot in BURST_NOISE.items():
        rng = np.random.default_rng(seed)
        rows: dict[str, list[float]] = {}
        seconds: dict[str, float] = {}
        count = 0
        for name in BURST_SETS:
            folder = data / name
            if not folder.is_dir():
                continue
            for rgb in _images(folder)[:limit]:
                y = _full_range_y(rgb)
                made = sensor_burst(y, s, 8, rng, noise=shot)
                estimated = _as_estimated(made, SampleOptions(scale=s), rng)
                _timed_rows(methods, made.frames, estimated, made.clean, rows, seconds)
                count += 1
        if count:
            _table(f"8-frame bursts x{s}, {label} noise (shot {shot}), {'+'.join(BURST_SETS)} "
                   f"({count} bursts)", rows, seconds)


def bench_vid4(data: Path, methods: Methods, limit: int | None) -> None:
    """Real video with real sub-pixel motion (Vid4 city): 8 consecutive HR frames downscaled
    (antialiased bicubic), registered by ``align.global``, the 4th frame the reference."""
    folder = data / "vid4_city"
    if not folder.is_dir():
        print(f"(skipped vid4: {folder} not found)")
        return
    s = methods.scale
    lumas = [_full_range_y(rgb) for rgb in _images(folder)]
    rows: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    starts = list(range(0, len(lumas) - 7, 8))[:limit]
    for start in starts:
        window = lumas[start:start + 8]
        order = [3, 0, 1, 2, 4, 5, 6, 7]  # the reference first
        h, w = window[0].shape[0] // s * s, window[0].shape[1] // s * s
        lows = [bicubic_downscale(window[i][:h, :w], s) for i in order]
        burst = Burst("v", tuple(Frame(Path(f"{i}.png"), pixels=low, layout="gray")
                                 for i, low in enumerate(lows)), reference=0)
        burst = run_stage("align.global", burst)
        transforms = [_registered(f) for f in burst.frames]
        _timed_rows(methods, lows, transforms, window[3][:h, :w], rows, seconds)
    _table(f"Vid4 city x{s}, real motion, {len(starts)} bursts of 8 frames", rows, seconds)


def bench_dng(methods: Methods, count: int, seed: int = 0) -> None:
    """``burst synth`` DNG bursts (zoom = scale, 8 frames, low noise) through the whole RAW
    path, against their clean HR truth developed by the same ``develop`` stage."""
    import tempfile

    import cv2

    from burstlib.synth.api import SynthOptions, load_truth, make_burst

    from . import zoom_classical, zoom_network
    s = methods.scale
    rows: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="burst-bench-dng-") as work:
        for index in range(count):
            opts = SynthOptions(frames=8, width=240, height=180, zoom=s, noise="low", blur=0.0,
                                sharp_margin=0.0, seed=seed + index, name=f"d{index}")
            make_burst(Path(work), opts)
            truth = load_truth(Path(work) / opts.name)
            files = sorted((Path(work) / opts.name).glob("*.dng"))
            burst = run_stage("decode", Burst("d", tuple(Frame(f) for f in files)))
            burst = run_stage("align.global", burst.replace(reference=truth["reference"]))
            # Truth pixel k sits at LR position k / s; ours at (k - (s - 1) / 2) / s.
            shift = np.array([[1, 0, -(s - 1) / 2], [0, 1, -(s - 1) / 2]], np.float32)
            hr = cv2.warpAffine(truth["clean_hr"], shift, truth["clean_hr"].shape[1::-1],
                                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REFLECT)
            target = _image(run_stage("develop",
                                      burst.replace(image=hr, image_layout="linear_raw")))
            calls = _dng_calls(burst, s, methods, zoom_classical, zoom_network)
            for name, run in calls.items():
                start = time.perf_counter()
                image = run()
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                rows.setdefault(name, []).append(
                    psnr(protocol_y(np.clip(image, 0, 1)), protocol_y(target), 4 * s))
    _table(f"burst synth DNG bursts x{s} through the RAW path ({count} bursts of 8 frames)",
           rows, seconds)


def _dng_calls(burst, s, methods, zoom_classical, zoom_network):  # type: ignore[no-untyped-def]
    def developed(b: Burst) -> np.ndarray:
        return _image(run_stage("develop", b))

    def bicubic_rgb() -> np.ndarray:
        return bicubic(developed(burst), s)

    def classical(iterations: int) -> np.ndarray:
        params = dataclasses.replace(zoom_classical.params_type(), scale=s,
                                     iterations=iterations, validation=0.0)
        return developed(zoom_classical(burst, params))

    calls = {"bicubic": bicubic_rgb}
    for iterations in CLASSICAL_ITERATIONS:
        calls[f"classical, {iterations} it."] = functools.partial(classical, iterations)
    if methods.model is not None:
        params = dataclasses.replace(zoom_network.params_type(), ensemble=methods.ensemble,
                                     model=str(methods.model.runner_path))
        rgb = run_stage("develop.frames", burst)
        one = rgb.replace(selected=(burst.reference,))
        calls["network, all frames"] = lambda: zoom_network(rgb, params).image
        calls["network, reference only"] = lambda: zoom_network(one, params).image
    return calls


def _timed_rows(methods: Methods, frames: list[np.ndarray], transforms: list[np.ndarray],
                truth: np.ndarray, rows: dict[str, list[float]], seconds: dict[str, float]) -> None:
    timings: dict[str, float] = {}
    results: dict[str, np.ndarray] = {}
    for name, run in _method_calls(methods, frames, transforms).items():
        start = time.perf_counter()
        results[name] = run()
        timings[name] = time.perf_counter() - start
    for name, image in results.items():
        rows.setdefault(name, []).append(psnr(protocol_y(np.clip(image, 0, 1)),
                                              protocol_y(truth), methods.scale))
        seconds[name] = seconds.get(name, 0.0) + timings[name]


def _method_calls(methods: Methods, frames: list[np.ndarray], transforms: list[np.ndarray]):  # type: ignore[no-untyped-def]
    from . import zoom_classical
    s = methods.scale
    calls = {"bicubic": lambda: bicubic(frames[0], s)}
    if len(frames) > 1:
        burst = Burst("b", tuple(Frame(Path(f"{i}.tiff"), pixels=f, layout="gray", transform=t)
                                 for i, (f, t) in enumerate(zip(frames, transforms))), reference=0)
        for iterations in CLASSICAL_ITERATIONS:  # fewer suit noisier bursts: show both
            params = dataclasses.replace(zoom_classical.params_type(), scale=s,
                                         iterations=iterations, validation=0.0)
            calls[f"classical, {iterations} it."] = functools.partial(
                lambda p: _image(zoom_classical(burst, p)), params)
    model = methods.model
    if model is not None:
        from .network import super_resolve_luma
        size = frames[0].shape
        if len(frames) > 1:
            calls["network, all frames"] = lambda: super_resolve_luma(
                model, frames, transforms, (0, 0), size, methods.ensemble)
        calls["network, reference only"] = lambda: super_resolve_luma(
            model, frames[:1], transforms[:1], (0, 0), size, methods.ensemble)
    return calls


def _registered(frame: Frame) -> np.ndarray:
    assert frame.transform is not None  # align.global gives every frame of the burst one
    return frame.transform


def _image(burst: Burst) -> np.ndarray:
    assert burst.image is not None  # what develop and the zoom stages make
    return burst.image
