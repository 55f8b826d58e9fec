"""Registration accuracy and merge quality on synthetic DNG bursts with ground truth.

    python benchmarks/merge_quality.py --bursts 10 --frames 8 --size 640x480

Three sets, each burst made by `burst synth` (real DNG files):
  static  noise only: no shake, no moving object (the 10*log10(N) dB limit applies);
  moving  the same plus a textured object crossing the scene;
  shaken  camera shake up to --shake px per frame (the truth is the unshaken view), where the
          burst deblur should beat every average.
For every burst: the frames are decoded, registered to the known reference (align.global) and
merged by each fusion stage (an RGB result is sampled back to the mosaic); PSNR is measured on
the mosaic in linear sensor units (1.0 = white)
against the clean reference view, 16 px from the borders, and split into the moving object's
region and the rest. Registration error is the RMS distance between the found and the true
transforms over a grid of points. Peers in the same run: the reference frame alone, and the
plain aligned mean (001's second way).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from burst_align import align_global, align_local
from burstlib.warps import positions_in_frame
from burst_decode import decode
from burst_merge import (deblur_fourier, merge_kernel, merge_mean, merge_robust, merge_sequential,
                         merge_wiener)
from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.synth.render import mosaic
from burstcli import Burst, Frame

BORDER = 16
MERGES = {"aligned mean (001 way 2)": merge_mean, "sequential (001 way 1)": merge_sequential,
          "wiener (merge.wiener)": merge_wiener,
          "robust (merge.robust)": merge_robust, "kernel (merge.kernel)": merge_kernel,
          "burst deblur (deblur.fourier)": deblur_fourier}


def psnr(estimate: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    error = float(np.mean((estimate[region] - truth[region]) ** 2))
    return 10 * math.log10(1.0 / max(error, 1e-20))


def registration_error(burst: Burst, truth: dict) -> float:
    """RMS distance, over a grid of reference pixels, between where the registration
    (transform, and flow after align.local) and the truth put each scene point in each frame;
    points near the moving object in the reference are left out."""
    height, width = burst.frames[0].pixels.shape[:2]
    ys, xs = np.mgrid[0:height:16, 0:width:16].astype(np.float64)
    if truth.get("motion_mask") is not None:  # what moved is not the camera's motion
        still = ~cv2.dilate(truth["motion_mask"].astype(np.uint8), np.ones((33, 33), np.uint8)
                            ).astype(bool)[ys.astype(int), xs.astype(int)]
        ys, xs = ys[still], xs[still]
    errors = []
    for frame, true in zip(burst.frames, truth["frames"]):
        u, v = positions_in_frame(frame, xs, ys, (height, width))
        tu, tv = positions_in_frame(Frame(frame.path, transform=true["transform"]), xs, ys,
                                    (height, width))
        errors.append(np.mean((u - tu) ** 2 + (v - tv) ** 2))
    return float(np.sqrt(np.mean(errors)))


LOCAL_MERGES = {"robust after align.local": merge_robust, "wiener after align.local": merge_wiener}


def measure(folder: Path, truth: dict) -> dict[str, float]:
    files = sorted(folder.glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type())
    burst = burst.replace(reference=truth["reference"])
    start = time.perf_counter()
    burst = align_global(burst, align_global.params_type())
    results = {"registration rms px": registration_error(burst, truth),
               "align s": time.perf_counter() - start}
    start = time.perf_counter()
    local = align_local(burst, align_local.params_type())
    results["local registration rms px"] = registration_error(local, truth)
    results["local s"] = time.perf_counter() - start
    clean = mosaic(truth["clean"], truth["cfa"])
    inner = np.zeros(clean.shape, bool)
    inner[BORDER:-BORDER, BORDER:-BORDER] = True
    moving = inner & truth["motion_mask"]
    static = inner & ~truth["motion_mask"]
    reference = (burst.reference_frame.pixels.astype(np.float32) - truth["black_level"]) / (
        truth["white_level"] - truth["black_level"])
    outputs = {"reference frame alone": reference}
    for name, stage in MERGES.items():
        start = time.perf_counter()
        image = stage(burst, stage.params_type()).image
        outputs[name] = mosaic(image, truth["cfa"]) if image.ndim == 3 else image
        results[f"{name} s"] = time.perf_counter() - start
    for name, stage in LOCAL_MERGES.items():
        start = time.perf_counter()
        outputs[name] = stage(local, stage.params_type()).image
        results[f"{name} s"] = time.perf_counter() - start
    for name, image in outputs.items():
        results[f"{name} static"] = psnr(image, clean, static)
        if moving.any():
            results[f"{name} moving"] = psnr(image, clean, moving)
    return results


def run_set(label: str, options: list[SynthOptions], work: Path) -> None:
    rows = []
    for opts in options:
        make_burst(work, opts)
        rows.append(measure(work / opts.name, load_truth(work / opts.name)))
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    base = mean["reference frame alone static"]
    print(f"\n== {label}: {len(rows)} bursts x {options[0].frames} frames "
          f"{options[0].width}x{options[0].height}, noise {options[0].noise}, "
          f"optics {options[0].optics}, scenes {options[0].source or 'procedural'} ==")
    print(f"registration RMS error {mean['registration rms px']:.3f} px align.global "
          f"({mean['align s']:.2f} s/burst), {mean['local registration rms px']:.3f} px "
          f"after align.local (+{mean['local s']:.2f} s/burst)")
    print(f"{'method':<28} {'static dB':>10} {'gain':>7} {'moving dB':>10} {'s/burst':>8}")
    for name in ["reference frame alone", *MERGES, *LOCAL_MERGES]:
        moving = mean.get(f"{name} moving")
        print(f"{name:<28} {mean[f'{name} static']:>10.2f} {mean[f'{name} static'] - base:>+7.2f} "
              f"{'' if moving is None else f'{moving:10.2f}':>10} "
              f"{mean.get(f'{name} s', 0.0):>8.2f}")
    print(f"{'limit for N frames':<28} {'':>10} {10 * math.log10(options[0].frames):>+7.2f}")


REAL_MOSAICS = {  # file, shape, black, white (see each folder's SOURCE.md)
    "rose": ("raw_isp_rose_crop_768x512/DSC_1339_768x512_rggb.raw", (512, 768), 600, 15520),
    "chart": ("raw_openisp_chart_1080p/test.RAW", (1080, 1920), 0, 1023),
}


def real_raw_burst(folder: Path, name: str, frames: int, shot: float, seed: int) -> dict:
    """A DNG burst cut from a real Bayer mosaic: windows shifted by whole Bayer cells (known
    transforms), with noise added on top of the sensor's own (the truth is the noiseless
    reference window, i.e. the real capture)."""
    from burstlib.dng import write_dng
    from burstlib.synth.render import add_noise, quantise

    file, shape, black, white = REAL_MOSAICS[name]
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / file
    mosaic_data = np.fromfile(data, dtype="<u2").reshape(shape).astype(np.float32)
    values = (mosaic_data - black) / (white - black)
    rng = np.random.default_rng(seed)
    margin = 16
    h, w = shape[0] - 2 * margin, shape[1] - 2 * margin
    offsets = [(0, 0)] + [tuple(2 * rng.integers(-margin // 2, margin // 2 + 1, 2)) for _ in range(frames - 1)]
    folder.mkdir(parents=True, exist_ok=True)
    transforms = []
    for index, (dy, dx) in enumerate(offsets):
        window = values[margin + dy:margin + dy + h, margin + dx:margin + dx + w]
        noisy = add_noise(window, shot, shot * 0.01, rng)
        write_dng(folder / f"frame_{index:03d}.dng", quantise(noisy, black, white), cfa="RGGB",
                  black_level=black, white_level=white, noise_profile=(shot, shot * 0.01))
        transforms.append(np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], float))
    clean = values[margin:margin + h, margin:margin + w]
    return {"clean_mosaic": clean, "transforms": transforms, "black": black, "white": white}


def run_real(name: str, frames: int, shot: float, work: Path) -> None:
    truth = real_raw_burst(work / name, name, frames, shot, seed=7)
    files = sorted((work / name).glob("*.dng"))
    burst = decode(Burst(name, tuple(Frame(f) for f in files)), decode.params_type()).replace(reference=0)
    burst = align_global(burst, align_global.params_type())
    fake = {"frames": [{"transform": t} for t in truth["transforms"]]}
    clean = truth["clean_mosaic"]
    inner = np.zeros(clean.shape, bool)
    inner[BORDER:-BORDER, BORDER:-BORDER] = True
    reference = (burst.reference_frame.pixels.astype(np.float32) - truth["black"]) / (
        truth["white"] - truth["black"])
    print(f"\n== real RAW mosaic '{name}' {clean.shape[1]}x{clean.shape[0]}, {frames} frames, "
          f"added shot noise {shot} ==")
    print(f"registration RMS error {registration_error(burst, fake):.3f} px")
    base = psnr(reference, clean, inner)
    print(f"{'reference frame alone':<30} {base:>8.2f} dB")
    for label, stage in MERGES.items():
        image = stage(burst, stage.params_type()).image
        image = mosaic(image, "RGGB") if image.ndim == 3 else image
        value = psnr(image, clean, inner)
        print(f"{label:<30} {value:>8.2f} dB {value - base:>+7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--noise", default="recipe")
    parser.add_argument("--optics", type=float, default=0.0,
                        help="lens blur sigma in pixels (0: the recipe's pure aliasing)")
    parser.add_argument("--shake", type=float, default=4.0,
                        help="largest camera-shake length of the shaken set, pixels")
    parser.add_argument("--source", type=Path,
                        help="a folder of photographs to use as scenes (default: procedural)")
    parser.add_argument("--real", action="store_true",
                        help="also the real Bayer mosaics of ../shared/data as shifted bursts")
    parser.add_argument("--seed", type=int, default=2000)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    common = dict(frames=args.frames, width=width, height=height, noise=args.noise, blur=0.0,
                  sharp_margin=0.0, optics=args.optics, source=args.source)
    sets = (("static", {"moving_object": False}), ("moving object", {"moving_object": True}),
            ("shaken", {"moving_object": False, "blur": args.shake, "sharp_margin": 0.5}))
    with tempfile.TemporaryDirectory(prefix="burst-mergebench-") as work:
        for label, extra in sets:
            options = [SynthOptions(**{**common, **extra}, seed=args.seed + i,
                                    name=f"{label[:3]}{i:03d}") for i in range(args.bursts)]
            run_set(label, options, Path(work))
        if args.real:
            for name in REAL_MOSAICS:
                run_real(name, args.frames, 0.004, Path(work))


if __name__ == "__main__":
    main()
