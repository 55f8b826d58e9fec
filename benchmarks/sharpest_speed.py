"""Time `burst enhance --preset sharpest` per frame beside rawpy's own decode of the same frames.

    python benchmarks/sharpest_speed.py --frames 4 --size 4000x3000

Writes a synthetic DNG burst (12 MP frames by default), then in one run and on the same files:
rawpy's plain decode (open + unpack + copy of the mosaic), rawpy's full development
(`postprocess`, demosaic + colour, 16-bit), and the whole `sharpest` batch through the CLI
(decode, score, select, develop, write TIFF + sidecar). Each is repeated and the best time kept,
as timings on a shared machine only get slower, never faster, than the truth.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import rawpy
from click.testing import CliRunner

from burstlib.synth.api import SynthOptions, make_burst
from burstcli.cli import cli


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``action``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def rawpy_unpack(files: list[Path]) -> None:
    for path in files:
        with rawpy.imread(str(path)) as raw:
            raw.raw_image_visible.copy()


def rawpy_postprocess(files: list[Path]) -> None:
    for path in files:
        with rawpy.imread(str(path)) as raw:
            raw.postprocess(output_bps=16)


def burst_sharpest(shots: Path, out: Path) -> None:
    result = CliRunner().invoke(cli, ["enhance", str(shots), "-p", "sharpest", "-o", str(out),
                                      "--overwrite"])
    if result.exit_code != 0:
        raise SystemExit(f"burst enhance failed:\n{result.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", default="4000x3000", help="WxH of each frame")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="burst-bench-"))
    try:
        make_burst(work / "shots", SynthOptions(frames=args.frames, width=width, height=height,
                                                seed=1, name="bench"))
        files = sorted((work / "shots" / "bench").glob("*.dng"))
        rows: list[tuple[str, float]] = [
            ("rawpy unpack (imread + mosaic copy)", best_of(args.repeats, lambda: rawpy_unpack(files))),
            ("rawpy postprocess (full develop, 16-bit)",
             best_of(args.repeats, lambda: rawpy_postprocess(files))),
            ("burst enhance --preset sharpest (all stages + write)",
             best_of(args.repeats, lambda: burst_sharpest(work / "shots", work / "out"))),
        ]
        sidecar = json.loads((work / "out" / "bench_sharpest.json").read_text())
        rows += [(f"  of which stage {s['name']} (last run)", s["seconds"]) for s in sidecar["stages"]]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    megapixels = width * height / 1e6
    print(f"{args.frames} frames of {width}x{height} ({megapixels:.1f} MP), best of {args.repeats}")
    print(f"{'what':<55} {'s/frame':>8} {'x unpack':>9}")
    for name, seconds in rows:
        per_frame = seconds / args.frames
        print(f"{name:<55} {per_frame:>8.3f} {seconds / rows[0][1]:>9.2f}")


if __name__ == "__main__":
    main()
