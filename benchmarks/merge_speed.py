"""Throughput of registration + robust merge on large RAW frames, beside rawpy's decode.

    python benchmarks/merge_speed.py --frames 4 --size 4000x3000

Writes a synthetic DNG burst, then in one run times rawpy's plain decode of its frames, our
decode stage, align.global and merge.robust (the denoise preset), align.local and merge.wiener
(denoise-hdrplus), and merge.kernel with --kernel, and prints
seconds per frame and megapixels per second. Peak memory (ru_maxrss) is printed too.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import rawpy

from burst_align import align_global, align_local
from burst_decode import decode
from burst_merge import merge_kernel, merge_robust, merge_wiener
from burstlib.synth.api import SynthOptions, make_burst
from burstcli import Burst, Frame


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--kernel", action="store_true", help="also time merge.kernel")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="burst-speed-"))
    try:
        make_burst(work, SynthOptions(frames=args.frames, width=width, height=height, blur=0.0,
                                      sharp_margin=0.0, seed=5, name="b"))
        files = sorted((work / "b").glob("*.dng"))
        rows = [("rawpy decode (imread + mosaic copy)", timed(lambda: [_unpack(f) for f in files])[1])]
        burst, seconds = timed(lambda: decode(Burst("b", tuple(Frame(f) for f in files)),
                                              decode.params_type()).replace(reference=0))
        rows.append(("decode stage", seconds))
        burst, seconds = timed(lambda: align_global(burst, align_global.params_type()))
        rows.append(("align.global", seconds))
        _, seconds = timed(lambda: merge_robust(burst, merge_robust.params_type()))
        rows.append(("merge.robust", seconds))
        rows.append(("align.global + merge.robust", rows[-1][1] + rows[-2][1]))
        local, seconds = timed(lambda: align_local(burst, align_local.params_type()))
        rows.append(("align.local", seconds))
        _, seconds = timed(lambda: merge_wiener(local, merge_wiener.params_type()))
        rows.append(("merge.wiener (after align.local)", seconds))
        rows.append(("denoise-hdrplus: global + local + wiener",
                     rows[-1][1] + rows[-2][1] + rows[-5][1]))
        del local
        if args.kernel:
            rows.append(("merge.kernel", timed(lambda: merge_kernel(burst, merge_kernel.params_type()))[1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    megapixels = width * height / 1e6
    print(f"{args.frames} frames of {width}x{height} ({megapixels:.1f} MP)")
    print(f"{'what':<38} {'s/frame':>8} {'MPix/s':>8} {'x rawpy':>8}")
    for name, seconds in rows:
        per_frame = seconds / args.frames
        print(f"{name:<38} {per_frame:>8.3f} {megapixels / per_frame:>8.1f} {seconds / rows[0][1]:>8.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MB")


def _unpack(path: Path) -> None:
    with rawpy.imread(str(path)) as raw:
        raw.raw_image_visible.copy()


if __name__ == "__main__":
    main()
