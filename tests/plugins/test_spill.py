"""Frames kept in a temporary file (burstlib.spill) when a burst outgrows memory."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from burst_develop import develop_frames
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import StageError
from burstlib.arrays import normalized
from burstlib.spill import is_spilled, release, spilled


def resident_file_kib() -> int:
    """This process's resident file-backed and shared pages (Linux's RssFile + RssShmem: a
    file on a tmpfs counts as the latter), KiB."""
    fields = dict(line.split(":", 1) for line in
                  Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["RssFile"].split()[0]) + int(fields["RssShmem"].split()[0])


def test_a_folder_without_room_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BURST_SPILL_DIR", str(tmp_path / "missing"))
    with pytest.raises(StageError, match="missing.*BURST_SPILL_DIR"):
        spilled(np.zeros(10, np.uint16))


def test_only_spilled_mappings_are_released(tmp_path):
    """A memory-mapped file of someone else's may hold writes that dropping its pages would
    lose (a copy-on-write np.memmap): left alone."""
    (tmp_path / "other.bin").write_bytes(bytes(4096))
    other = np.memmap(tmp_path / "other.bin", np.uint8, "c", shape=(4096,))
    other[:] = 3
    assert not is_spilled(other)
    release(other)
    assert int(other.sum()) == 3 * 4096


def test_a_spilled_array_holds_the_same_values_read_only():
    array = np.random.default_rng(0).integers(0, 65535, (300, 200, 3), dtype=np.uint16)
    copy = spilled(array)
    assert is_spilled(copy) and is_spilled(copy[10:20]) and not is_spilled(array)
    assert copy.dtype == array.dtype and np.array_equal(copy, array)
    with pytest.raises(ValueError):
        copy[0, 0, 0] = 1  # stages must not write frames in place
    release(array)  # anything not spilled is left alone


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_released_pages_leave_the_process():
    """64 MB read from a spilled array stay resident until released: then the process holds
    none of them (the file keeps the values)."""
    copy = spilled(np.full((4096, 4096, 2), 7, np.uint16))
    before = resident_file_kib()
    assert int(copy[::64, ::64].sum()) > 0 and float(copy.mean()) == 7.0  # touches every page
    assert resident_file_kib() - before > 50_000
    release(copy)
    assert resident_file_kib() - before < 5_000
    assert float(copy.mean()) == 7.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_normalized_releases_a_spilled_frame():
    frame = Frame(Path("f.dng"), pixels=spilled(np.full((4096, 2048, 3), 1000, np.uint16)),
                  layout="rgb")
    before = resident_file_kib()
    values = normalized(frame)
    assert np.allclose(values, 1000 / 65535)
    assert resident_file_kib() - before < 5_000


def test_develop_frames_spills_past_its_memory_budget():
    rng = np.random.default_rng(1)
    raw = RawInfo(cfa_pattern=((0, 1), (3, 2)), color_desc="RGBG", black_level=(0, 0, 0, 0),
                  white_level=65535, white_balance=(2.0, 1.0, 1.5, 1.0))
    frames = tuple(Frame(Path(f"f{i}.dng"), layout="cfa", raw=raw,
                         pixels=rng.integers(1000, 60000, (64, 96), dtype=np.uint16))
                   for i in range(3))
    burst = Burst(name="b", frames=frames, reference=0)
    params = develop_frames.params_type()
    kept = develop_frames(burst, params)
    assert kept.notes["develop.frames"]["kept_in_file"] is False
    filed = develop_frames(burst, dataclasses.replace(params, memory_mb=0))
    assert filed.notes["develop.frames"]["kept_in_file"] is False  # 0: never
    filed = develop_frames(burst, dataclasses.replace(params, memory_mb=1))
    assert filed.notes["develop.frames"]["kept_in_file"] is False  # 110 KB: fits
    tight = dataclasses.replace(params, memory_mb=1)
    big = Burst(name="b", reference=0, frames=tuple(
        f.replace(pixels=np.tile(f.pixels, (8, 16))) for f in frames))  # 3 x 4.7 MB
    filed = develop_frames(big, tight)
    assert filed.notes["develop.frames"]["kept_in_file"] is True
    for a, b in zip(filed.frames, develop_frames(big, params).frames):
        assert is_spilled(a.pixels) and np.array_equal(a.pixels, b.pixels)


def test_decode_spills_past_its_memory_budget(tmp_path):
    """Frames that would take more than memory_mb are read into temporary files; the burst
    is the same."""
    import imageio.v3 as iio

    from burst_decode import decode

    rng = np.random.default_rng(2)
    for index in range(3):
        iio.imwrite(tmp_path / f"f{index}.png", rng.integers(0, 255, (400, 700, 3), np.uint8))
    burst = Burst(name="b", source=tmp_path,
                  frames=tuple(Frame(p) for p in sorted(tmp_path.glob("*.png"))))
    params = decode.params_type()
    kept = decode(burst, params)
    filed = decode(burst, dataclasses.replace(params, memory_mb=1))  # 2.5 MB of frames
    assert not kept.notes["decode"]["kept_in_file"] and filed.notes["decode"]["kept_in_file"]
    for a, b in zip(kept.frames, filed.frames):
        assert is_spilled(b.pixels) and np.array_equal(a.pixels, b.pixels)


def test_colour_stages_keep_spilled_frames_spilled():
    """colour.yuv and colour.rgb keep a frame held in a file (a big JPEG burst's, a big RAW
    burst's developed frames) in a file, with the values of the frame held in memory."""
    from burst_colour import colour_rgb, colour_yuv
    rng = np.random.default_rng(3)
    codes = (rng.random((40, 50, 3)) * 65535).astype(np.uint16)

    def burst(pixels: np.ndarray) -> Burst:
        return Burst("b", (Frame(Path("a.png"), pixels=pixels, layout="rgb"),), reference=0)
    kept = colour_yuv(burst(spilled(codes)), colour_yuv.params_type())
    held = colour_yuv(burst(codes), colour_yuv.params_type())
    assert is_spilled(kept.frames[0].pixels) and not is_spilled(held.frames[0].pixels)
    assert np.array_equal(kept.frames[0].pixels, held.frames[0].pixels)
    back = colour_rgb(kept, colour_rgb.params_type()).frames[0].pixels
    assert is_spilled(back) and np.abs(back.astype(int) - codes).max() <= 1
