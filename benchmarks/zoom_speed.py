"""Time of the zoom presets on a large RAW burst, beside rawpy's plain decode of its frames.

    python benchmarks/zoom_speed.py --frames 8 --size 4000x3000

Writes a synthetic DNG burst, then in one run times rawpy's decode of every frame (imread +
mosaic copy), and ``burst enhance`` with each preset named (default: zoom4x, its classical
variant) as a user runs it (a subprocess: everything from reading the files to writing the
16-bit TIFF and its sidecar), with each stage's seconds from the sidecar.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rawpy

from burstlib.synth.api import SynthOptions, make_burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--presets", default="zoom4x,zoom4x-classical")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="burst-zoomspeed-"))
    try:
        make_burst(work / "shots", SynthOptions(frames=args.frames, width=width, height=height,
                                                blur=0.0, sharp_margin=0.0, seed=5, name="b"))
        files = sorted((work / "shots" / "b").glob("*.dng"))
        start = time.perf_counter()
        for path in files:
            with rawpy.imread(str(path)) as raw:
                raw.raw_image_visible.copy()
        decode = time.perf_counter() - start
        print(f"{args.frames} frames of {width}x{height}")
        print(f"{'rawpy decode of all frames':<34} {decode:>8.2f} s {1.0:>7.1f}x")
        burst = Path(sys.executable).with_name("burst")
        for preset in args.presets.split(","):
            start = time.perf_counter()
            subprocess.run([str(burst), "enhance", str(work / "shots"), "--preset", preset,
                            "-o", str(work / preset)], check=True, capture_output=True)
            seconds = time.perf_counter() - start
            print(f"{'burst enhance --preset ' + preset:<34} {seconds:>8.2f} s "
                  f"{seconds / decode:>7.1f}x")
            sidecar = json.loads(next((work / preset).glob("*.json")).read_text())
            print("    " + ", ".join(f"{s['name']} {s['seconds']:.2f}" for s in sidecar["stages"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
