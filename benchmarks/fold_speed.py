"""Folded vs unfolded export of the same trained weights: speed and equality.

    python benchmarks/fold_speed.py CHECKPOINT --size 540x960 --repeats 5

Exports the checkpoint twice (every module folded into one convolution; every branch kept),
runs both ``.tflite`` files through LiteRT (XNNPACK, 2 threads) on the same random input of
the network's input channels, and prints the best-of time of each, their ratio and the
largest difference between their outputs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from burstlib.litert import TiledModel
from burst_zoom.training import export


def best_time(model: TiledModel, x: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    out = model.run_whole(x)  # allocation and first run outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = model.run_whole(x)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--size", default="540x960", help="input HxW (LR pixels)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as work:
        folded = export(args.checkpoint, Path(work) / "folded.tflite")
        unfolded = export(args.checkpoint, Path(work) / "unfolded.tflite", folded=False)
        import json
        card = json.loads(folded.with_suffix(".json").read_text())
        x = np.random.default_rng(0).random((height, width, card["input_channels"]), np.float32)
        rows = {}
        for name, path in (("folded (one conv per module)", folded),
                           ("unfolded (every branch)", unfolded)):
            seconds, out = best_time(TiledModel(path, card["scale"]), x, args.repeats)
            rows[name] = (seconds, out, path.stat().st_size)
    (t_f, out_f, size_f), (t_u, out_u, size_u) = rows.values()
    print(f"input {height}x{width}x{card['input_channels']}, x{card['scale']}, "
          f"best of {args.repeats}, LiteRT XNNPACK 2 threads")
    for name, (seconds, _, size) in rows.items():
        print(f"{name:<30} {seconds * 1000:>8.1f} ms {size / 1024:>8.1f} KiB")
    print(f"speed-up {t_u / t_f:.2f}x; largest output difference {np.abs(out_f - out_u).max():.2e}")


if __name__ == "__main__":
    main()
