"""The fault suite's file half: a few hundred mutations of real burst files (DNG from the
synth, JPEG and PNG from a rendered frame) must each decode or give one line naming the
file and the reason: never a crash of the process, a hang or another exception.

Each batch of mutations is decoded in a child process: a crash inside LibRaw or a decoder
would otherwise take the test runner with it, and a hang could not be interrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

#: Mutations per source file (three sources: a few hundred in all).
MUTATIONS = 150
#: Seconds a child may take for its whole batch (a small file decodes in milliseconds).
BATCH_SECONDS = 120

CHILD = r"""
import json, sys
from pathlib import Path
from burst_decode.readers import read_file
from burstcli.errors import BadFileError
results = []
for name in sys.argv[1:]:
    print(name, file=sys.stderr, flush=True)  # the last name says where a crash happened
    try:
        decoded = read_file(Path(name))
        results.append([name, "ok", list(decoded.pixels.shape)])
    except BadFileError as exc:
        results.append([name, "bad", str(exc)])
    except Exception as exc:  # what must never happen
        results.append([name, "error", f"{type(exc).__name__}: {exc}"])
print(json.dumps(results))
"""


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random damage: bytes overwritten (header or body), a cut, a hole, a duplication."""
    kind = int(rng.integers(5))
    raw = bytearray(data)
    if kind == 0:  # a few bytes in the first kilobyte (headers, IFDs, markers)
        for _ in range(int(rng.integers(1, 9))):
            raw[int(rng.integers(min(1024, len(raw))))] = int(rng.integers(256))
    elif kind == 1:  # anywhere
        for _ in range(int(rng.integers(1, 33))):
            raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
    elif kind == 2:  # cut short
        raw = raw[:int(rng.integers(1, len(raw)))]
    elif kind == 3:  # a run of zeros
        start = int(rng.integers(len(raw)))
        raw[start:start + int(rng.integers(1, 512))] = bytes(min(512, len(raw) - start))
    else:  # a block repeated
        start = int(rng.integers(len(raw)))
        raw[start:start] = raw[start:start + int(rng.integers(1, 256))]
    return bytes(raw)


@pytest.fixture
def sources(tmp_path, burst_synth_burst) -> list[Path]:
    folder, _ = burst_synth_burst(frames=1, width=64, height=48, seed=3, name="m")
    dng = next(folder.glob("*.dng"))
    image = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    jpeg, png = tmp_path / "frame.jpg", tmp_path / "frame.png"
    cv2.imwrite(str(jpeg), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(png), image)
    return [dng, jpeg, png]


@pytest.mark.parametrize("seed", [2026, int(os.environ.get("BURST_FAULT_SEED", "7"))])
def test_mutated_files_decode_or_fail_in_one_line(tmp_path, sources, seed):
    """(``BURST_FAULT_SEED`` draws another set of mutations for a longer hunt.)"""
    rng = np.random.default_rng(seed)
    names = []
    for source in sources:
        data = source.read_bytes()
        for index in range(MUTATIONS):
            path = tmp_path / "mutated" / f"{source.stem}_{index:03d}{source.suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(mutate(data, rng))
            names.append(str(path))
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, *names], capture_output=True,
                              text=True, timeout=BATCH_SECONDS)
    except subprocess.TimeoutExpired as exc:
        last = (exc.stderr or b"").splitlines()[-1:] if exc.stderr else []
        pytest.fail(f"decoding hung (last file: {last})")
    last = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
    assert done.returncode == 0, f"the decoder crashed (rc {done.returncode}) on {last}"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == len(names) == 3 * MUTATIONS
    errors = [r for r in results if r[1] == "error"]
    assert not errors, errors[:5]
    for name, status, detail in results:
        if status == "bad":
            assert "\n" not in detail and detail.startswith(f"{name}: "), detail
    refused = sum(r[1] == "bad" for r in results)
    assert refused > len(results) // 4  # the mutations really damage most files


def test_a_batch_of_damaged_bursts_finishes_with_one_line_per_problem(tmp_path, burst_cli,
                                                                     burst_synth_burst):
    """Bursts whose frames were damaged (some still decode, to values no stage expected)
    through the whole denoise chain: every burst ends done or failed with one line, the
    batch finishes, the originals are left as they were."""
    rng = np.random.default_rng(5)
    shots = tmp_path / "shots"
    for index in range(4):
        folder, _ = burst_synth_burst(frames=5, width=96, height=64, seed=index, name=f"b{index}")
        target = shots / folder.name
        target.mkdir(parents=True)
        for k, frame in enumerate(sorted(folder.glob("*.dng"))):
            data = frame.read_bytes()
            (target / frame.name).write_bytes(mutate(data, rng) if k % 2 else data)
    before = {p: p.read_bytes() for p in shots.rglob("*.dng")}
    result = burst_cli("enhance", shots, "-p", "denoise", "-o", tmp_path / "out")
    assert result.exit_code in (0, 1), result.output
    lines = result.output.splitlines()
    assert "Traceback" not in result.output
    finished = [line for line in lines if line.startswith(("done", "FAILED"))]
    assert len(finished) == 4, result.output
    assert all(p.read_bytes() == data for p, data in before.items())
