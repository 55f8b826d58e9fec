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
  city100  real optics: City100's iPhone X far/near pairs (held-out scenes only), the far
           capture brought back to its native resolution and zoomed, against the near
           capture after one photometric fit per scene (see :func:`bench_city100`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

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
    compare: tuple[LoadedModel, ...] = ()  # more models, each run as it is (city100)


def _table(title: str, rows: dict[str, list[float]], seconds: dict[str, float]) -> None:
    base = float(np.mean(rows["bicubic"]))
    print(f"\n== {title} ==")
    width = max(30, *(len(name) for name in rows))
    print(f"{'method':<{width}} {'Y-PSNR':>8} {'vs bicubic':>11} {'s/image':>8}")
    for name, values in rows.items():
        mean = float(np.mean(values))
        print(f"{name:<{width}} {mean:>8.2f} {mean - base:>+11.2f} "
              f"{seconds[name] / len(values):>8.2f}")
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
    for other in methods.compare:  # each --compare model, on the reference alone
        from .network import super_resolve_luma
        calls[f"{other.name}, reference only"] = functools.partial(
            super_resolve_luma, other, frames[:1], transforms[:1], (0, 0), frames[0].shape,
            methods.ensemble)
    return calls


#: City100's iPhone X pairs, under the data folder.
CITY100 = "city100_iphonex"
#: Border (output px per unit of scale) left out of the city100 PSNR and photometric fit.
CITY100_BORDER = 4
#: Blur (output px per unit of scale) before the photometric fit: it sees low frequencies only.
CITY100_FIT_SIGMA = 2.0

Zoomer = Callable[[np.ndarray], np.ndarray]


def bench_city100(data: Path, methods: Methods, limit: int | None) -> None:
    """Zoom against real optics: City100's held-out far/near pairs (scenes 036-050, never
    trained on; ``burstlib.realpairs``).

    Per scene: the resolution ratio is measured (``measure_ratio``); the far capture is
    brought back to its native resolution and the near capture to the zoom's output grid
    (``native_pair``); the far capture is zoomed by each method (bicubic; the single-image
    model; the shipped multi-frame model, run on the one frame as it is; each ``--compare``
    model, also as it is), networks on Y with U and V bicubic, as ``zoom.network`` makes RGB.
    One photometric fit per scene, gain and offset per channel, robust, from the bicubic
    zoom to the target on low frequencies only (both blurred), corrects every method's
    output alike; then Y-PSNR against the target, ``CITY100_BORDER`` x scale px of border
    left out. The residual shift of the bicubic zoom against the target (phase correlation,
    output px) shows the misalignment that remains. At x2, the issue's old protocol too (far
    capture halved by area, zoomed x2, against the near capture itself)."""
    folder = data / CITY100
    if not folder.is_dir():
        print(f"(skipped city100: {folder} not found)")
        return
    from burstlib.realpairs import city100_names, load_city100_pair
    s = methods.scale
    zoomers = _city100_zoomers(methods)
    names = city100_names(folder, "held_out")[:limit]
    print(f"\n== City100 iPhone X, held-out scenes, x{s}: far capture at its native resolution, "
          f"zoomed, against the near capture (one photometric fit per scene) ==")
    print("columns: " + ", ".join(f"[{i}] {label}" for i, label in enumerate(zoomers)))
    print(f"{'scene':<6} {'ratio':>5} {'LR':>9} {'dx':>6} {'dy':>6} "
          + " ".join(f"{f'[{i}]':>7}" for i in range(len(zoomers))))
    rows: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    old: dict[str, list[tuple[float, float]]] = {}
    ratios: list[float] = []
    shifts: list[float] = []
    for name in names:
        low, high = load_city100_pair(folder, name)
        ratio, lr, (dx, dy), scores = _city100_scene(low, high, zoomers, s, seconds)
        ratios.append(ratio)
        shifts.append(math.hypot(dx, dy))
        for label, value in scores.items():
            rows.setdefault(label, []).append(value)
        print(f"{name:<6} {ratio:>5.2f} {f'{lr[1]}x{lr[0]}':>9} {dx:>+6.2f} {dy:>+6.2f} "
              + " ".join(f"{scores[label]:>7.2f}" for label in zoomers))
        if s == 2:
            for label, pair in _old_protocol_scene(low, high, methods).items():
                old.setdefault(label, []).append(pair)
    if not names:
        print("(no held-out scene found)")
        return
    print(f"ratio: mean {np.mean(ratios):.3f}, range {min(ratios):.2f}-{max(ratios):.2f} "
          f"(std {np.std(ratios):.2f}); residual shift of the bicubic zoom against the target: "
          f"mean {np.mean(shifts):.2f}, largest {max(shifts):.2f} output px")
    _table(f"City100 held-out x{s}, real optics, photometric fit per scene "
           f"({len(names)} scenes)", rows, seconds)
    if s == 2:
        _old_table(old, len(names))
    else:
        print("(the issue's old protocol, far capture halved and zoomed x2, is at --scale 2)")


def _city100_zoomers(methods: Methods) -> dict[str, Zoomer | None]:
    """The rows: bicubic (None), then each network as it is run on one frame."""
    from burstcli.errors import StageError

    from .network import load_model
    s = methods.scale
    zoomers: dict[str, Zoomer | None] = {"bicubic": None}
    try:
        single = load_model(f"x{s}_single", tile=256)
        zoomers[f"{single.name} (single-image)"] = _network_zoomer(single, methods.ensemble)
    except StageError as error:
        print(f"(no single-image model for x{s}: {error})")
    if methods.model is not None:
        zoomers[f"{methods.model.name} (multi-frame model, one frame)"] = _network_zoomer(
            methods.model, methods.ensemble)
    for model in methods.compare:
        label = f"{model.name} (--compare)"
        while label in zoomers:
            label += "'"
        zoomers[label] = _network_zoomer(model, methods.ensemble)
    return zoomers


def _network_zoomer(model: LoadedModel, ensemble: int, fallback: bool = False) -> Zoomer:
    """RGB in, RGB out: the network's Y (the file itself on the one frame, unless
    ``fallback``: then its single-image fallback, as ``zoom.network`` does) with U and V
    bicubic (``zoom.network``'s colour handling)."""
    from burstlib.colour import rgb_to_yuv, upsample_chroma, yuv_to_rgb

    from .network import super_resolve_luma
    run = model if fallback else dataclasses.replace(model, single=None)

    def zoom(rgb: np.ndarray) -> np.ndarray:
        y = _full_range_y(rgb)
        out = super_resolve_luma(run, [y], [np.eye(3)], (0, 0), y.shape, ensemble)
        return np.clip(yuv_to_rgb(upsample_chroma(rgb_to_yuv(rgb), out)), 0, 1)
    return zoom


def _zoomed(zoomers: dict[str, Zoomer | None], lr: np.ndarray, scale: int,
            seconds: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Every row's zoom of ``lr`` (RGB), timed into ``seconds``."""
    out: dict[str, np.ndarray] = {}
    for label, zoom in zoomers.items():
        start = time.perf_counter()
        out[label] = np.clip(bicubic(lr, scale), 0, 1) if zoom is None else zoom(lr)
        if seconds is not None:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start
    return out


def _fitted_scores(outputs: dict[str, np.ndarray], target: np.ndarray, scale: int
                   ) -> dict[str, tuple[float, float]]:
    """Y-PSNR of every output against ``target`` (as it is, and corrected by the one
    photometric fit of the bicubic output to the target)."""
    from burstlib.realpairs import apply_gain_offset, photometric_fit
    border = CITY100_BORDER * scale
    gain, offset = photometric_fit(outputs["bicubic"], target, CITY100_FIT_SIGMA * scale, border)
    truth = protocol_y(target)
    return {label: (psnr(protocol_y(image), truth, border),
                    psnr(protocol_y(np.clip(apply_gain_offset(image, gain, offset), 0, 1)),
                         truth, border))
            for label, image in outputs.items()}


def _city100_scene(low: np.ndarray, high: np.ndarray, zoomers: dict[str, Zoomer | None],
                   scale: int, seconds: dict[str, float]
                   ) -> tuple[float, tuple[int, int], tuple[float, float], dict[str, float]]:
    """(ratio, LR size, residual shift, scores) of one registered pair."""
    from burstlib.realpairs import measure_ratio, native_pair, residual_shift
    ratio = measure_ratio(low, high)
    lr, target = native_pair(low, high, scale, ratio)
    outputs = _zoomed(zoomers, lr, scale, seconds)
    shift = residual_shift(outputs["bicubic"], target)
    fitted = {label: both[1] for label, both in _fitted_scores(outputs, target, scale).items()}
    return ratio, lr.shape[:2], shift, fitted


def _old_protocol_scene(low: np.ndarray, high: np.ndarray,
                        methods: Methods) -> dict[str, tuple[float, float]]:
    """(Y-PSNR as it is, after the photometric fit) per row on the issue's old protocol: the
    far capture (on the near capture's grid) halved by area, zoomed x2, against the near
    capture itself."""
    from burstlib.realpairs import area_resize
    zoomers: dict[str, Zoomer | None] = {"bicubic": None}
    if methods.model is not None:
        model = methods.model
        zoomers[f"{model.name} as zoom.network runs one frame "
                f"({model.for_frames(1).name})"] = _network_zoomer(model, methods.ensemble, True)
        zoomers[f"{model.name} (multi-frame model, one frame)"] = _network_zoomer(
            model, methods.ensemble)
    for model in methods.compare:
        zoomers[f"{model.name} (--compare)"] = _network_zoomer(model, methods.ensemble)
    lr = area_resize(low, high.shape[0] // 2, high.shape[1] // 2)
    target = high[:lr.shape[0] * 2, :lr.shape[1] * 2]
    return _fitted_scores(_zoomed(zoomers, lr, 2), target, 2)


def _old_table(old: dict[str, list[tuple[float, float]]], count: int) -> None:
    base_plain = float(np.mean([p for p, _ in old["bicubic"]]))
    base_fitted = float(np.mean([f for _, f in old["bicubic"]]))
    print(f"\n== City100 held-out, the issue's old protocol: far capture halved (area), x2, "
          f"against the near capture ({count} scenes) ==")
    width = max(30, *(len(label) for label in old))
    print(f"{'method':<{width}} {'as is':>7} {'vs bic.':>8} {'fitted':>7} {'vs bic.':>8}")
    for label, pairs in old.items():
        plain = float(np.mean([p for p, _ in pairs]))
        fitted = float(np.mean([f for _, f in pairs]))
        print(f"{label:<{width}} {plain:>7.2f} {plain - base_plain:>+8.2f} {fitted:>7.2f} "
              f"{fitted - base_fitted:>+8.2f}")


def _registered(frame: Frame) -> np.ndarray:
    assert frame.transform is not None  # align.global gives every frame of the burst one
    return frame.transform


def _image(burst: Burst) -> np.ndarray:
    assert burst.image is not None  # what develop and the zoom stages make
    return burst.image
