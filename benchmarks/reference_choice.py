"""How often is the known sharpest frame chosen as the reference? Synthetic DNG bursts.

    python benchmarks/reference_choice.py --bursts 200 --frames 8 --size 640x480 --noise recipe

Each burst comes from `burst synth` (real DNG files: noise from the published range, camera
shake trajectories of up to --blur px per frame, every other frame's PSF at least
--margin / sqrt(12) px RMS wider than the sharpest's (what a straight streak --margin px long
adds), exposure jitter, a moving object). Every scorer runs through the same decode and select
stages as `burst enhance`; peers in the same run: each scorer with its noise measured from the pixels
instead of read from the DNG noise profile, each without noise correction, and a random pick
(seeded; chance is 1 / frames). Also prints the scoring time per frame beside the decode time of
the same frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from burst_blur import frequency, laplacian, tenengrad
from burst_decode import decode
from burst_select import select
from burstlib.synth.api import SynthOptions, make_burst
from burstcli import Burst, Frame

SCORERS = {"frequency": frequency, "laplacian": laplacian, "tenengrad": tenengrad}
NOISE_MODES = {"auto": "noise from profile", "estimate": "noise estimated", "none": "noise ignored"}


def choose(burst: Burst, scorer, noise: str) -> tuple[int, float]:
    """The reference the sharpest-frame selection picks, and the scoring time."""
    start = time.perf_counter()
    scored = scorer(burst, dataclasses.replace(scorer.params_type(), noise=noise))
    seconds = time.perf_counter() - start
    chosen = select(scored, select.params_type(score=scorer.name.split(".")[1]))
    return chosen.reference, seconds


def run(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    hits: dict[str, int] = {"random pick": 0}
    seconds: dict[str, float] = {}
    decode_seconds = 0.0
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="burst-refbench-") as work:
        for index in range(args.bursts):
            options = SynthOptions(frames=args.frames, width=width, height=height,
                                   noise=args.noise, blur=args.blur, sharp_margin=args.margin,
                                   seed=args.seed + index, name=f"b{index:04d}")
            truth = make_burst(Path(work), options)
            files = sorted((Path(work) / options.name).glob("*.dng"))
            start = time.perf_counter()
            burst = decode(Burst(options.name, tuple(Frame(f) for f in files)), decode.params_type())
            decode_seconds += time.perf_counter() - start
            hits["random pick"] += int(rng.integers(len(burst.frames))) == truth["reference"]
            for name, scorer in SCORERS.items():
                for noise, label in NOISE_MODES.items():
                    key = f"{name} ({label})"
                    picked, spent = choose(burst, scorer, noise)
                    hits[key] = hits.get(key, 0) + (picked == truth["reference"])
                    seconds[key] = seconds.get(key, 0.0) + spent
    report(args, hits, seconds, decode_seconds)


def report(args: argparse.Namespace, hits: dict[str, int], seconds: dict[str, float],
           decode_seconds: float) -> None:
    frames = args.bursts * args.frames
    print("python " + " ".join(sys.argv))
    print(f"{args.bursts} bursts x {args.frames} frames of {args.size}, noise {args.noise}, "
          f"shake up to {args.blur} px, others' PSF >= {args.margin / 12 ** 0.5:.2f} px RMS "
          f"wider than the sharpest's (--margin {args.margin}), seed {args.seed}")
    print(f"{'scorer':<38} {'right':>7} {'ms/frame':>9}")
    for key in sorted(hits, key=lambda k: -hits[k]):
        timing = f"{1000 * seconds[key] / frames:>9.2f}" if key in seconds else ""
        print(f"{key:<38} {100 * hits[key] / args.bursts:>6.1f}% {timing}")
    print(f"{'(chance: 1 / frames)':<38} {100 / args.frames:>6.1f}%")
    print(f"{'decode stage (same frames, for scale)':<38} {'':>7} {1000 * decode_seconds / frames:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=200)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--noise", default="recipe")
    parser.add_argument("--blur", type=float, default=3.0)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1000)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
