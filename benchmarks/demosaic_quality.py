"""Demosaicking quality and speed of every ``develop`` method on real photographs.

    python benchmarks/demosaic_quality.py                 # kodak24, mcmaster18, b100[:10]
    python benchmarks/demosaic_quality.py --frame-mp 0    # without the 12 MP timing

Every image is taken to linear light (the sRGB curve inverted), sampled through an RGGB mosaic
(noise-free, white-balanced: what ``develop`` demosaics after its white balance) and
demosaicked by each method through ``burst_develop.demosaic_bayer``, the function the stage
calls (16-bit quantisation included); each LibRaw algorithm also "linear-fed" (the values
themselves rather than their square roots, see ``burst_develop.libraw``). PSNR against the
original linear image, 8 px from the borders, in linear light (the stage's working space) and
after the sRGB curve (what is seen), averaged per set. Speed: seconds per megapixel over the
whole run (small images, so LibRaw's per-call overhead is in it), and wall and CPU seconds for
one frame of --frame-mp megapixels (a 4:3 mosaic tiled from the first image), the size a
camera gives. The machine's load shows in the wall times: compare methods in one run.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Callable

import imageio.v3 as iio
import numpy as np

from burst_develop import demosaic_bayer
from burst_develop.libraw import ALGORITHMS, libraw_demosaic
from burstcli import RawInfo

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BORDER = 8
RGGB = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0, 0, 0, 0),
               white_level=1.0, white_balance=(1.0, 1.0, 1.0, 1.0))
Demosaic = Callable[[np.ndarray], np.ndarray]


def _stage_method(name: str) -> Demosaic:
    return lambda mosaic: demosaic_bayer(mosaic, RGGB, name)


def _linear_fed(name: str) -> Demosaic:
    return lambda mosaic: libraw_demosaic(mosaic, "RGGB", name, domain="linear")


#: Every ``demosaic`` choice as the stage runs it (LibRaw's fed square roots), LibRaw's
#: LINEAR, and each LibRaw algorithm fed the linear values themselves (the obvious way).
METHODS: dict[str, Demosaic] = {
    **{name: _stage_method(name) for name in ("ea", "bilinear", "vng", *ALGORITHMS)},
    **{f"{name} linear-fed": _linear_fed(name) for name in ALGORITHMS},
}


def sets(data: Path, b100: int) -> dict[str, list[Path]]:
    """The images of each set, sorted by name."""
    def images(folder: str) -> list[Path]:
        return sorted(p for p in (data / folder).iterdir() if p.suffix.lower() in (".png", ".tif"))
    return {"kodak24": images("kodak24"), "mcmaster18": images("mcmaster18"),
            f"b100[:{b100}]": images("b100")[:b100]}


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] -> linear light."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> the sRGB curve."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * np.power(np.maximum(linear, 0.0031308), 1 / 2.4) - 0.055)


def load_linear(path: Path) -> np.ndarray:
    """An 8- or 16-bit RGB image as float32 linear light."""
    pixels = iio.imread(path)[..., :3]
    return to_linear(pixels.astype(np.float64) / np.iinfo(pixels.dtype).max).astype(np.float32)


def rggb(linear: np.ndarray) -> np.ndarray:
    """The RGGB mosaic of an RGB image (R at even rows and columns)."""
    mosaic = linear[..., 1].copy()
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    return mosaic


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """PSNR for a peak of 1, :data:`BORDER` px from every side."""
    inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    error = float(np.mean((estimate[inner].astype(np.float64) - truth[inner]) ** 2))
    return 10 * math.log10(1.0 / max(error, 1e-20))


def measure(images: dict[str, list[Path]]) -> tuple[dict, dict]:
    """Mean (linear, sRGB) PSNR per method and set, and seconds per megapixel per method."""
    scores = {m: {name: [] for name in images} for m in METHODS}
    seconds = dict.fromkeys(METHODS, 0.0)
    megapixels = 0.0
    for name, paths in images.items():
        for path in paths:
            truth = load_linear(path)
            mosaic = rggb(truth)
            megapixels += mosaic.size / 1e6
            truth_srgb = to_srgb(truth)
            for method in METHODS:
                start = time.perf_counter()
                rgb = METHODS[method](mosaic)
                seconds[method] += time.perf_counter() - start
                scores[method][name].append((psnr(rgb, truth), psnr(to_srgb(rgb), truth_srgb)))
    means = {m: {name: tuple(np.mean(v, axis=0)) for name, v in per_set.items()}
             for m, per_set in scores.items()}
    return means, {m: s / megapixels for m, s in seconds.items()}


def frame_seconds(first: Path, megapixels: float, repeat: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per method for one 4:3 mosaic of ``megapixels`` tiled from
    ``first``, each the least of ``repeat`` runs (the machine may be shared: CPU time is the
    steadier figure; LibRaw runs on both cores through OpenMP)."""
    height = int(round(math.sqrt(megapixels * 1e6 * 3 / 4))) // 2 * 2
    width = height * 4 // 3 // 2 * 2
    tile = rggb(load_linear(first))
    tile = tile[: tile.shape[0] // 2 * 2, : tile.shape[1] // 2 * 2]  # even: the phase repeats
    mosaic = np.tile(tile, (-(-height // tile.shape[0]), -(-width // tile.shape[1])))
    mosaic = np.ascontiguousarray(mosaic[:height, :width])
    out = {}
    for method in METHODS:
        runs = []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            METHODS[method](mosaic)
            runs.append((time.perf_counter() - wall, time.process_time() - cpu))
        out[method] = (min(r[0] for r in runs), min(r[1] for r in runs))
    return out


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--b100", type=int, default=10, help="how many b100 images")
    parser.add_argument("--frame-mp", type=float, default=12.0,
                        help="megapixels of the timed frame (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (least)")
    args = parser.parse_args()
    images = sets(args.data, args.b100)
    means, per_mp = measure(images)
    frame = (frame_seconds(images["kodak24"][0], args.frame_mp, args.repeat)
             if args.frame_mp > 0 else {})
    names = list(images)
    print("PSNR in dB, linear light / sRGB, mean per set; " + ", ".join(
        f"{n}: {len(p)} images" for n, p in images.items()))
    header = f"{'method':26s}" + "".join(f"{n:>18s}" for n in names) + f"{'s/MP':>8s}"
    if frame:
        header += f"{f's/{args.frame_mp:g}MP':>9s}{'cpu s':>8s}"
    print(header)
    for method in sorted(METHODS, key=lambda m: -np.mean([means[m][n][0] for n in names])):
        row = f"{method:26s}" + "".join(
            f"{means[method][n][0]:9.2f}/{means[method][n][1]:<8.2f}" for n in names)
        row += f"{per_mp[method]:8.3f}"
        if frame:
            row += f"{frame[method][0]:9.2f}{frame[method][1]:8.2f}"
        print(row)


if __name__ == "__main__":
    main()
