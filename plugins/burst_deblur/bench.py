"""``burst bench deblur``: the deblur network beside deconvolution given the true kernel.

Shaken frames are made from photographs no model was trained on (Kodak24, McMaster18,
Urban100, Set14; the shipped model saw T91 and B100 only) by :func:`burstlib.synth.shake.blur_pair`:
camera-shake trajectories, defocus and frame averaging in linear light, clipped highlights,
shot + read noise, the sRGB curve. Every figure is the PSNR (RGB, sRGB-encoded, a border of 16
px left out) against the sharp truth, beside, from the same run on the same frames:

- the blurry frame itself;
- ``network``: the network on every frame; ``gated``: as the stage runs it by default, only on
  frames whose 001 eq. 1 sharpness is under ``skip_sharper_than`` (0.05). A model that takes
  a noise plane gets it as the stage makes it for a developed frame (measured from the image's
  own noise level function), and one more column, ``net σ*``, runs it told the TRUE noise
  (the frame's shot and read variance, as a RAW noise profile would give it);
- Wiener deconvolution and Richardson-Lucy with the TRUE kernel (an oracle the network does
  not get), in linear light where the blur happened: as the textbook does them (Wiener's
  noise-to-signal ratio from the true noise variance over the frame's own variance; 30 RL
  iterations) and tuned for each frame against its truth (the best of a grid of ratios and
  of iteration counts: a second oracle, an upper bound on what tuning could give).

Rows per source, blur band (none; mild: trajectories of 2-8 px; strong: 8-24 px, both with
some defocus) and noise band (shot variance, log-uniform: low 1e-5 to 1e-4, moderate 1e-4 to
1e-3, high 1e-3 to 6e-3; read noise from it as the synthetic-burst recipe draws it).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from burstlib import metrics
from burstlib.colour import srgb_decode, srgb_encode
from burstlib.images import image_files, read_rgb
from burstlib.spectrum import encoded_sharpness
from burstlib.synth.shake import BlurRecipe, blur_pair, random_kernel

from . import SKIP_SHARPER_THAN
from .noise_plane import from_shot_read

T = TypeVar("T")
#: The network on a gamma-encoded frame, given its noise plane (None: as the stage makes it).
Network = Callable[[np.ndarray, np.ndarray | None], np.ndarray]

SOURCES = ("kodak24", "mcmaster18", "urban100_subset", "set14")
BLUR_BANDS = {"none": None, "mild": (2.0, 8.0), "strong": (8.0, 24.0)}
NOISE_BANDS = {"low": (1e-5, 1e-4), "moderate": (1e-4, 1e-3), "high": (1e-3, 6e-3)}
WIENER_NSR = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
RL_ITERATIONS = (5, 10, 20, 30, 50)
RL_TEXTBOOK = 30
METHODS = ("blurry", "Wiener", "Wiener*", "RL 30", "RL*", "network", "gated")
KNOWN_NOISE = "net σ*"  # the column of a noise-plane model told the true noise
PEERS = METHODS[1:5]
BORDER = 16
SIDE = 256  # frames are cut to this (centre crop): the oracles' grids cost many deconvolutions


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of [0, 1] images, the border left out."""
    return metrics.psnr(a, b, BORDER)


def _otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The kernel's transfer function on a ``shape`` grid, its centre moved to the origin."""
    padded = np.zeros(shape, np.float64)
    k = kernel.shape[0]
    padded[:k, :k] = kernel
    padded = np.roll(padded, (-(k // 2), -(k // 2)), axis=(0, 1))
    return np.fft.rfft2(padded)


def wiener(blurry_srgb: np.ndarray, kernel: np.ndarray, nsr: float) -> np.ndarray:
    """Wiener deconvolution in linear light with a constant noise-to-signal ratio; the frame
    is mirrored first, so its edges do not wrap around."""
    linear = srgb_decode(blurry_srgb).astype(np.float64)
    h, w = linear.shape[:2]
    mirrored = np.concatenate([linear, linear[::-1]], axis=0)
    mirrored = np.concatenate([mirrored, mirrored[:, ::-1]], axis=1)
    otf = _otf(kernel, mirrored.shape[:2])
    gain = np.conj(otf) / (np.abs(otf) ** 2 + nsr)
    out = np.stack([np.fft.irfft2(np.fft.rfft2(mirrored[..., c]) * gain, mirrored.shape[:2])
                    for c in range(linear.shape[2])], axis=2)
    return srgb_encode(out[:h, :w].astype(np.float32))


def richardson_lucy(blurry_srgb: np.ndarray, kernel: np.ndarray,
                    checkpoints: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Richardson-Lucy in linear light; the estimate after each count in ``checkpoints``."""
    observed = np.maximum(srgb_decode(blurry_srgb), 1e-4)
    flipped = kernel[::-1, ::-1]
    estimate = observed.copy()
    out = {}
    for iteration in range(1, max(checkpoints) + 1):
        # filter2D correlates: correlating with the flipped kernel convolves with the kernel.
        predicted = cv2.filter2D(estimate, -1, flipped, borderType=cv2.BORDER_REFLECT)
        ratio = observed / np.maximum(predicted, 1e-4)
        estimate = estimate * cv2.filter2D(ratio, -1, kernel, borderType=cv2.BORDER_REFLECT)
        if iteration in checkpoints:
            out[iteration] = srgb_encode(estimate)
    return out


@dataclasses.dataclass
class Row:
    """PSNRs of each method over the frames of one (source, blur, noise) cell."""

    values: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, method: str, value: float) -> None:
        self.values.setdefault(method, []).append(value)

    def mean(self, method: str) -> float:
        return float(np.mean(self.values[method]))


def load_images(folder: Path, limit: int | None) -> list[np.ndarray]:
    """The images of ``folder``, centre-cut to SIDE x SIDE (float32 RGB in [0, 1])."""
    out = []
    for path in list(image_files([folder]))[: None if limit is None else 4 * limit]:
        image = read_rgb(path)
        if image is None or min(image.shape[:2]) < SIDE:
            continue
        y, x = (image.shape[0] - SIDE) // 2, (image.shape[1] - SIDE) // 2
        out.append(image[y:y + SIDE, x:x + SIDE])
    return out[:limit]


def textbook_nsr(blurry_srgb: np.ndarray, shot: float, read: float) -> float:
    """Wiener's classic ratio: the noise variance (known) over the frame's signal variance,
    both in linear light."""
    linear = srgb_decode(blurry_srgb)
    noise = float(np.mean(linear)) * shot + read
    return noise / max(float(np.var(linear)) - noise, 1e-6)


def _timed(seconds: dict[str, float], name: str, run: Callable[[], T]) -> T:
    start = time.perf_counter()
    value = run()
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
    return value


def measure_frame(sharp: np.ndarray, kernel: np.ndarray, noise: tuple[float, float],
                  rng: np.random.Generator, network: Network, row: Row,
                  seconds: dict[str, float], known_noise: bool = False) -> None:
    """One frame: blur it, then every method, into ``row`` (``known_noise``: also the network
    given the plane of the true noise)."""
    pair = blur_pair(sharp, rng, BlurRecipe(brightness=(1.0, 1.0)), kernel=kernel, noise=noise)
    truth, blurry = pair.sharp, pair.blurry
    row.add("blurry", psnr(blurry, truth))
    nsr = textbook_nsr(blurry, *noise)
    row.add("Wiener", _timed(seconds, "Wiener", lambda: psnr(wiener(blurry, kernel, nsr), truth)))
    row.add("Wiener*", max(psnr(wiener(blurry, kernel, r), truth) for r in WIENER_NSR))
    estimates = _timed(seconds, "RL 30",
                       lambda: richardson_lucy(blurry, kernel, RL_ITERATIONS))
    row.add("RL 30", psnr(estimates[RL_TEXTBOOK], truth))
    row.add("RL*", max(psnr(e, truth) for e in estimates.values()))
    restored = _timed(seconds, "network", lambda: network(blurry, None))
    row.add("network", psnr(restored, truth))
    # What the stage does by default: the network only where the frame is not already sharp.
    skipped = encoded_sharpness(blurry) >= SKIP_SHARPER_THAN
    row.add("gated", psnr(blurry if skipped else restored, truth))
    if known_noise:
        row.add(KNOWN_NOISE, psnr(network(blurry, from_shot_read(blurry, *noise)), truth))


def kernel_for(band: tuple[float, float] | None, rng: np.random.Generator) -> np.ndarray:
    """A kernel of the band: none is the identity; shake of the band's lengths otherwise."""
    if band is None:
        return np.ones((1, 1), np.float32)
    return random_kernel(rng, BlurRecipe(sharp_share=0.0, length=band, defocus_share=0.2,
                                         averaging_share=0.0))


def run_bench(data: Path, network: Network, limit: int | None, seed: int,
              echo: Callable[[str], None],
              known_noise: bool = False) -> dict[tuple[str, str, str], Row]:
    """Every (source, blur band, noise band) cell; prints each as it completes.
    ``known_noise``: the model takes a noise plane; add the column of it told the truth."""
    rows: dict[tuple[str, str, str], Row] = {}
    seconds: dict[str, float] = {}
    methods = (*METHODS, KNOWN_NOISE) if known_noise else METHODS
    echo("PSNR (dB) vs the sharp truth. Wiener, RL 30: the textbook with the TRUE kernel; "
         "Wiener*, RL*: also tuned per frame on its truth." +
         (f" {KNOWN_NOISE}: the network told the TRUE noise level." if known_noise else ""))
    echo(f"{'source':<16}{'blur':<7}{'noise':<9}{'n':>3} " +
         "".join(f"{m:>9}" for m in methods) + "  net-blurry  gated-blur  net-best peer")
    for source in SOURCES:
        folder = data / source
        if not folder.is_dir():
            echo(f"(skipped {source}: {folder} not found)")
            continue
        images = load_images(folder, limit)
        for blur, band in BLUR_BANDS.items():
            for noise_name, noise_band in NOISE_BANDS.items():
                rng = np.random.default_rng([seed, SOURCES.index(source),
                                             list(BLUR_BANDS).index(blur),
                                             list(NOISE_BANDS).index(noise_name)])
                row = rows.setdefault((source, blur, noise_name), Row())
                for sharp in images:
                    shot = float(np.exp(rng.uniform(*np.log(noise_band))))
                    read = float(np.exp(2.18 * np.log(shot) + 1.20))
                    measure_frame(sharp, kernel_for(band, rng), (shot, read), rng, network,
                                  row, seconds, known_noise)
                echo(_line(f"{source:<16}{blur:<7}{noise_name:<9}{len(images):>3} ", row))
    _summary(rows, methods, echo)
    frames = sum(len(r.values["blurry"]) for r in rows.values())
    echo("seconds per frame (256 x 256): " + ", ".join(
        f"{m} {s / max(frames, 1):.3f}" for m, s in seconds.items()))
    return rows


def _line(label: str, row: Row) -> str:
    best = max(row.mean(m) for m in PEERS)
    return (label + "".join(f"{row.mean(m):>9.2f}" for m in row.values) +
            f"  {row.mean('network') - row.mean('blurry'):>+10.2f}"
            f"  {row.mean('gated') - row.mean('blurry'):>+10.2f}"
            f"  {row.mean('network') - best:>+13.2f}")


def _summary(rows: dict[tuple[str, str, str], Row], methods: tuple[str, ...],
             echo: Callable[[str], None]) -> None:
    """Means over sources per blur band and noise band, and per blur band: the issue's
    figures."""
    echo("\nall sources:")
    for blur in BLUR_BANDS:
        for noise in [*NOISE_BANDS, "all"]:
            cells = [r for (_, b, n), r in rows.items() if b == blur and noise in (n, "all")]
            if cells:
                merged = Row({m: [v for r in cells for v in r.values[m]] for m in methods})
                echo(_line(f"{'all':<16}{blur:<7}{noise:<9}{len(merged.values['blurry']):>3} ",
                           merged))
