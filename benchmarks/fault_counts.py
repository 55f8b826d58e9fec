"""The fault suite's mutation counts: damaged DNG, JPEG and PNG files decoded in a child
process, per seed (what tests/test_faults_mutation.py asserts, counted).

    python benchmarks/fault_counts.py 2026 7 11 12 13

Per seed: 150 mutations of each of three files (a synthetic DNG, a JPEG, a PNG); the child's
exit status (a crash of a decoder would show there), its seconds (a hang would hit the
timeout), and how many files decoded, were refused in one line, or raised anything else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_faults_mutation import BATCH_SECONDS, CHILD, MUTATIONS, mutate  # noqa: E402

from burstlib.synth.api import SynthOptions, make_burst  # noqa: E402


def sources(folder: Path) -> list[Path]:
    """The three files the test mutates."""
    make_burst(folder, SynthOptions(frames=1, width=64, height=48, seed=3, name="m"))
    image = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    jpeg, png = folder / "frame.jpg", folder / "frame.png"
    cv2.imwrite(str(jpeg), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(png), image)
    return [next((folder / "m").glob("*.dng")), jpeg, png]


def count(seed: int, files: list[Path], folder: Path) -> str:
    rng = np.random.default_rng(seed)
    names = []
    for source in files:
        data = source.read_bytes()
        for index in range(MUTATIONS):
            path = folder / f"seed{seed}" / f"{source.stem}_{index:03d}{source.suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(mutate(data, rng))
            names.append(str(path))
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, *names], capture_output=True,
                              text=True, timeout=BATCH_SECONDS)
    except subprocess.TimeoutExpired:
        return f"seed {seed}: HANG (over {BATCH_SECONDS} s)"
    if done.returncode != 0:
        return f"seed {seed}: CRASH (exit {done.returncode})"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    kinds = {k: sum(r[1] == k for r in results) for k in ("ok", "bad", "error")}
    return (f"seed {seed}: {len(results)} mutations in {time.perf_counter() - start:.1f} s, "
            f"crashes 0, hangs 0; decoded {kinds['ok']}, refused in one line {kinds['bad']}, "
            f"other exceptions {kinds['error']}")


def main() -> None:
    seeds = [int(s) for s in sys.argv[1:]] or [2026, 7]
    with tempfile.TemporaryDirectory(prefix="burst-fault-counts-") as work:
        folder = Path(work)
        files = sources(folder)
        for seed in seeds:
            print(count(seed, files, folder), flush=True)


if __name__ == "__main__":
    main()
