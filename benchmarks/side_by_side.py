"""Two installations of burst timed on the same 12 MP RAW burst, run after run (ratios of a
shared, noisy machine mean something only when measured side by side).

    python benchmarks/side_by_side.py OLD_BURST NEW_BURST --presets denoise,zoom4x

OLD_BURST / NEW_BURST are the ``burst`` executables of two environments (e.g. a worktree of
the previous release installed in its own venv). Prints each preset's wall time and every
stage's seconds (from the sidecars) for both, and the ratios new / old.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from burstlib.synth.api import SynthOptions, make_burst


def run(burst: str, preset: str, shots: Path, out: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    subprocess.run([burst, "enhance", str(shots), "--preset", preset, "-o", str(out),
                    "--overwrite"], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    sidecar = json.loads(next(out.glob(f"*_{preset}.json")).read_text())
    return seconds, {s["name"]: s["seconds"] for s in sidecar["stages"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--presets", default="denoise,zoom4x,zoom4x-classical")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="4000x3000")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="burst-sidebyside-"))
    make_burst(work / "shots", SynthOptions(frames=args.frames, width=width, height=height,
                                            blur=0.0, sharp_margin=0.0, seed=5, name="b"))
    for preset in args.presets.split(","):
        old_s, old_stages = run(args.old, preset, work / "shots" / "b", work / "old")
        new_s, new_stages = run(args.new, preset, work / "shots" / "b", work / "new")
        print(f"\n{preset}: old {old_s:.1f} s, new {new_s:.1f} s, new/old {new_s / old_s:.2f}")
        for stage in dict.fromkeys([*old_stages, *new_stages]):
            o, n = old_stages.get(stage), new_stages.get(stage)
            ratio = f"{n / o:.2f}" if o and n else "-"
            print(f"  {stage:<18} old {'-' if o is None else f'{o:7.2f}'}  "
                  f"new {'-' if n is None else f'{n:7.2f}'}  new/old {ratio}")


if __name__ == "__main__":
    main()
