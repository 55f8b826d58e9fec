"""Where the time goes: each stage's seconds and peak memory in the sidecar, and `burst enhance
--profile`'s table (per stage, per frame), serial and with -j workers.

Structure only, never timings (machines are noisy): rows are there, numbers positive and finite.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path

from rich.console import Console

from burstcli import profiling
from burstcli.default_plugins.reporters import profile_table
from burstcli.errors import EXIT_OK
from burstcli.profiling import BurstProfile, StageMeter, StageProfile, frame_timer
from burstcli.runner import BurstOutcome
from test_enhance import make_shots

# A row of the table as plain output prints it: label, seconds, share, [memory].
ROW = re.compile(r"^(?P<indent>\s*)(?P<label>\S.*?)\s+(?P<seconds>\d+\.\d+)\s+"
                 r"(?P<share>\d+\.\d) %(?:\s+(?P<memory>\d+\.\d+) (?P<unit>MiB|GiB))?\s*$")


def profile_rows(output: str) -> dict[str, list[dict[str, str]]]:
    """Each burst's profile table as rows, by burst name."""
    tables: dict[str, list[dict[str, str]]] = {}
    current: list[dict[str, str]] | None = None
    for line in output.splitlines():
        title = re.match(r"^profile (\S+)\s*$", line)
        if title:
            current = tables.setdefault(title[1], [])
            continue
        match = ROW.match(line)
        if current is not None and match:
            current.append(match.groupdict())
    return tables


def stage_rows(rows: list[dict[str, str]]) -> list[str]:
    """The stage rows' labels (frames are indented below their stage)."""
    return [r["label"] for r in rows if len(r["indent"]) <= 2]


def frames_of(rows: list[dict[str, str]], stage: str) -> list[str]:
    """The frame rows listed under ``stage``."""
    labels = [(len(r["indent"]) > 2, r["label"]) for r in rows]
    start = labels.index((False, stage)) + 1
    frames = []
    for indented, label in labels[start:]:
        if not indented:
            break
        frames.append(label)
    return frames


def assert_numbers(rows: list[dict[str, str]]) -> None:
    for row in rows:
        seconds = float(row["seconds"])
        assert math.isfinite(seconds) and seconds >= 0, row
        if len(row["indent"]) <= 2:  # stages, writing and the whole burst: a memory figure
            assert row["memory"] is not None and float(row["memory"]) > 0, row
    assert float(rows[-1]["seconds"]) > 0 and rows[-1]["label"] == "whole burst"


def assert_sidecar(sidecar: dict, stages: list[str]) -> None:
    assert [s["name"] for s in sidecar["stages"]] == stages
    for stage in sidecar["stages"]:
        assert math.isfinite(stage["seconds"]) and stage["seconds"] >= 0
        assert stage["peak_rss_mib"] > 0
    assert sidecar["peak_rss_mib"] == max(s["peak_rss_mib"] for s in sidecar["stages"])
    assert sidecar["peak_rss_scope"] in ("stage", "process")


def test_profile_prints_a_row_per_stage_and_the_sidecar_has_the_memory(tmp_path, npy_cli):
    shots = make_shots(tmp_path, bursts=2)
    result = npy_cli("enhance", shots, "--preset", "npy-brightest", "--profile")
    assert result.exit_code == EXIT_OK, result.output
    tables = profile_rows(result.output)
    assert sorted(tables) == ["b0", "b1"]
    for name, rows in tables.items():
        assert stage_rows(rows) == ["npy.load", "npy.pick", "write output", "whole burst"]
        assert_numbers(rows)
        sidecar = json.loads((tmp_path / "shots_burst" / f"{name}_npy-brightest.json").read_text())
        assert_sidecar(sidecar, ["npy.load", "npy.pick"])
        assert sidecar["peak_rss_scope"] == "stage"  # Linux, clear_refs allowed (the CI's case)
    # Without --profile: no table, the sidecar still has the memory.
    again = npy_cli("enhance", shots, "--preset", "npy-brightest", "--overwrite")
    assert again.exit_code == EXIT_OK and profile_rows(again.output) == {}
    assert "peak memory" not in again.output


def test_dng_bursts_with_two_workers_profile_every_stage_and_frame(tmp_path, burst_cli,
                                                                   burst_synth_burst):
    """Real decode, registration and development in -j 2 worker processes: the profiles
    come back to the main process and print, with the frames of the per-frame stages."""
    for index, name in enumerate(("first", "second")):
        folder, _ = burst_synth_burst(frames=3, width=96, height=64, seed=20 + index, name=name)
    shots, out = folder.parent, tmp_path / "out"
    result = burst_cli("enhance", shots, "--preset", "denoise", "-o", out, "-j", "2",
                       "--profile")
    assert result.exit_code == EXIT_OK, result.output
    tables = profile_rows(result.output)
    assert sorted(tables) == ["first", "second"]
    preset = ["decode", "score.laplacian", "select", "align.global", "develop.frames",
              "merge.robust", "develop.encode"]
    for name, rows in tables.items():
        assert stage_rows(rows) == [*preset, "write output", "whole burst"]
        assert_numbers(rows)
        frames = [f"frame_{i:03d}.dng" for i in range(3)]
        assert sorted(frames_of(rows, "decode")) == frames
        assert frames_of(rows, "decode") == frames  # in the order they were read
        assert sorted(frames_of(rows, "align.global")) == frames  # the reference first
        assert sorted(frames_of(rows, "develop.frames")) == frames
        assert frames_of(rows, "score.laplacian") == []
        sidecar = json.loads((out / f"{name}_denoise.json").read_text())
        assert_sidecar(sidecar, preset)
        by_stage = {s["name"]: s for s in sidecar["stages"]}
        assert sorted(by_stage["decode"]["frame_seconds"]) == frames
        assert all(math.isfinite(s) and s >= 0
                   for s in by_stage["align.global"]["frame_seconds"].values())
        assert "frame_seconds" not in by_stage["select"]


def test_without_clear_refs_the_figures_are_the_process_peak_and_say_so(tmp_path, npy_cli,
                                                                        monkeypatch):
    monkeypatch.setattr(profiling, "reset_peak_rss", lambda: False)
    profiling.memory_scope.cache_clear()
    monkeypatch.setattr(profiling, "_status_peak", lambda: None)  # ru_maxrss alone
    try:
        shots = make_shots(tmp_path, bursts=1)
        result = npy_cli("enhance", shots, "--preset", "npy-brightest", "--profile")
    finally:
        profiling.memory_scope.cache_clear()
    assert result.exit_code == EXIT_OK, result.output
    assert_numbers(profile_rows(result.output)["b0"])
    assert "peak resident set since it started" in " ".join(result.output.split())
    sidecar = json.loads((tmp_path / "shots_burst" / "b0_npy-brightest.json").read_text())
    assert_sidecar(sidecar, ["npy.load", "npy.pick"])
    assert sidecar["peak_rss_scope"] == "process"


def test_frame_timer_records_inside_a_stage_from_any_thread_and_nothing_outside():
    outside = frame_timer()
    with outside.time("a.dng"):
        pass
    assert outside.times() == ()
    with StageMeter("demo") as meter:
        timer = frame_timer()
        with timer.time("a.dng"):
            pass
        worker = threading.Thread(target=lambda: timer.record("b.dng", 0.5))
        worker.start()
        worker.join()
        timer.record("a.dng", 1.0)  # the same frame timed again adds up
    assert frame_timer() is outside  # the stage's timer is gone once it ended
    labels = dict(meter.profile.frames)
    assert list(labels) == ["a.dng", "b.dng"] and labels["a.dng"] >= 1.0
    assert labels["b.dng"] == 0.5
    assert meter.profile.seconds >= 0 and (meter.profile.peak_rss or 0) > 0


def test_a_table_names_no_markup_and_a_burst_without_profile_has_none():
    stages = (StageProfile("decode", 0.5, 200 * profiling.MIB, (("[bold]x.dng", 0.2),)),
              StageProfile("merge", 1.5, 3 * 1024 * profiling.MIB))
    outcome = BurstOutcome("b[red]", "done", Path("o.tiff"), seconds=2.0,
                           profile=BurstProfile(stages, "stage", StageProfile("write output",
                                                                              0.1, None)))
    console = Console(record=True, width=100, no_color=True)
    table = profile_table(outcome)
    assert table is not None
    console.print(table)
    text = console.export_text()
    assert "profile b[red]" in text and "[bold]x.dng" in text
    assert "3.00 GiB" in text and "200.0 MiB" in text and "75.0 %" in text
    assert profile_table(BurstOutcome("b", "failed", message="no")) is None
