"""Throughput of the executors side by side: processes -j 1, -j 2, Dask local:1, local:2.

    python benchmarks/executors.py --bursts 12 --sleep 0.2 --repeats 2

Writes a batch of small .npy bursts (the test-only plugin in tests/local_plugins, whose
``npy.load.sleep`` makes each frame take that long, so a burst's time is known and the
executors' own overhead shows), then runs ``burst enhance`` on it once per executor, as a
subprocess, into a fresh output folder each time, best of ``--repeats``. Printed per
executor: the wall time of the whole command, the batch time from its summary line (cluster
start included), bursts per second over the batch and its ratio to -j 1, and the peak
resident memory (VmHWM, from /proc: Linux only) of the main process and of the largest
worker. Set ``--sleep 0`` and bigger ``--size`` to weigh the CPU instead.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from burstcli.workers import descendant_pids

REPO = Path(__file__).resolve().parents[1]
LOCAL_PLUGINS = REPO / "tests" / "local_plugins"
PRESET = "npy-brightest"
EXECUTORS = {
    "processes -j 1": ["-j", "1"],
    "processes -j 2": ["-j", "2"],
    "dask local:1": ["--scheduler", "local:1"],
    "dask local:2": ["--scheduler", "local:2"],
}


def make_batch(root: Path, bursts: int, frames: int, size: int) -> Path:
    rng = np.random.default_rng(0)
    for b in range(bursts):
        folder = root / "shots" / f"b{b:03d}"
        folder.mkdir(parents=True)
        for i in range(frames):
            np.save(folder / f"f{i}.npy", rng.integers(0, 60000, (size, size)).astype(np.uint16))
    return root / "shots"


def peak_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of ``pid`` in KiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def is_worker(pid: int) -> bool:
    """A worker process (not multiprocessing's resource tracker)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


def run_once(shots: Path, out: Path, args: list[str], sleep: float) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "burstcli", "--plugins-dir", str(LOCAL_PLUGINS), "enhance",
               str(shots), "-p", PRESET, "-o", str(out), "--set", f"npy.load.sleep={sleep}",
               *args]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    peaks: dict[int, int] = {}
    main_peak = 0
    while process.poll() is None:  # sample until it ends: a worker's VmHWM goes with it
        main_peak = max(main_peak, peak_kib(process.pid) or 0)
        for pid in descendant_pids(process.pid):
            if pid not in peaks and not is_worker(pid):
                continue
            peak = peak_kib(pid)
            if peak is not None:
                peaks[pid] = max(peaks.get(pid, 0), peak)
        time.sleep(0.05)
    wall = time.perf_counter() - began
    text = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise SystemExit(f"burst enhance {' '.join(args)} failed:\n{text}")
    match = re.search(r"(\d+) done, .* in ([0-9.]+) s", text)
    assert match, text
    return {"wall": wall, "batch": float(match[2]), "done": int(match[1]),
            "main_mib": main_peak / 1024, "worker_mib": max(peaks.values(), default=0) / 1024,
            "workers": len(peaks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=12)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds per frame")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", choices=sorted(EXECUTORS), default=None)
    options = parser.parse_args()
    names = options.only or list(EXECUTORS)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shots = make_batch(root, options.bursts, options.frames, options.size)
        results = {}
        for name in names:
            runs = [run_once(shots, root / f"out-{len(results)}-{r}", EXECUTORS[name],
                             options.sleep) for r in range(options.repeats)]
            results[name] = min(runs, key=lambda run: run["batch"])
            assert results[name]["done"] == options.bursts, results[name]
    work = options.bursts * options.frames * options.sleep
    print(f"{options.bursts} bursts x {options.frames} frames of {options.size}x{options.size}, "
          f"{options.sleep} s a frame ({work:.1f} s of work), best of {options.repeats}, "
          f"{os.cpu_count()} CPUs")
    base = results[names[0]]["done"] / results[names[0]]["batch"]
    header = (f"{'executor':<16}{'wall s':>8}{'batch s':>9}{'bursts/s':>10}{'x ' + names[0]:>18}"
              f"{'main MiB':>10}{'worker MiB':>12}{'workers':>9}")
    print(header)
    print("-" * len(header))
    for name in names:
        r = results[name]
        rate = r["done"] / r["batch"]
        print(f"{name:<16}{r['wall']:>8.2f}{r['batch']:>9.2f}{rate:>10.2f}{rate / base:>18.2f}"
              f"{r['main_mib']:>10.0f}{r['worker_mib']:>12.0f}{r['workers']:>9}")


if __name__ == "__main__":
    main()
