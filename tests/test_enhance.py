"""`burst enhance` as a batch: outputs, sidecars, resume, atomicity, errors, exit codes.

Uses the test-only .npy plugin (tests/local_plugins) so that only the core is exercised.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from burstcli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE


def make_shots(root: Path, bursts: int = 2, frames: int = 3) -> Path:
    """Bursts of 16-bit frames where frame 1 is the brightest."""
    rng = np.random.default_rng(0)
    for b in range(bursts):
        folder = root / "shots" / f"b{b}"
        folder.mkdir(parents=True)
        for i in range(frames):
            level = 30000 if i == 1 else 10000
            np.save(folder / f"f{i}.npy", (rng.integers(0, 2000, (8, 10)) + level).astype(np.uint16))
        (folder / "notes.txt").write_text("not an image")
    return root / "shots"


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_outputs_sidecar_and_untouched_originals(tmp_path, npy_cli):
    shots = make_shots(tmp_path)
    before = digest(shots)
    result = npy_cli("enhance", shots, "--preset", "npy-brightest")
    assert result.exit_code == EXIT_OK, result.output
    out = tmp_path / "shots_burst"
    assert sorted(p.name for p in out.iterdir() if p.name != ".burst-output") == [
        "b0_npy-brightest.json", "b0_npy-brightest.tiff", "b1_npy-brightest.json",
        "b1_npy-brightest.tiff"]
    chosen = np.load(shots / "b0" / "f1.npy")
    assert np.array_equal(tifffile.imread(out / "b0_npy-brightest.tiff"), chosen)
    sidecar = json.loads((out / "b0_npy-brightest.json").read_text())
    assert sidecar["reference"] == 1 and sidecar["preset"] == "npy-brightest"
    assert sidecar["version"] and [s["name"] for s in sidecar["stages"]] == ["npy.load", "npy.pick"]
    assert sidecar["stages"][1]["params"] == {"brightest": True, "gain": 1.0, "mode": "a"}
    assert [Path(f["path"]).name for f in sidecar["frames"]] == ["f0.npy", "f1.npy", "f2.npy"]
    assert all("mean" in f["scores"] for f in sidecar["frames"])
    assert digest(shots) == before
    assert "2 done, 0 skipped, 0 failed" in result.output
    assert "2 non-image files ignored" in result.output


def test_rerun_skips_and_overwrite_redoes(tmp_path, npy_cli):
    shots = make_shots(tmp_path)
    assert npy_cli("enhance", shots, "-p", "npy-brightest").exit_code == EXIT_OK
    output = tmp_path / "shots_burst" / "b0_npy-brightest.tiff"
    stamp = output.stat().st_mtime_ns
    again = npy_cli("enhance", shots, "-p", "npy-brightest")
    assert again.exit_code == EXIT_OK and "0 done, 2 skipped" in again.output
    assert output.stat().st_mtime_ns == stamp
    forced = npy_cli("enhance", shots, "-p", "npy-brightest", "--overwrite")
    assert "2 done, 0 skipped" in forced.output


def test_dry_run_writes_nothing(tmp_path, npy_cli):
    shots = make_shots(tmp_path)
    result = npy_cli("enhance", shots, "-p", "npy-brightest", "--dry-run", "-o", tmp_path / "o")
    assert result.exit_code == EXIT_OK
    assert "b0: 3 frames" in result.output and "2 non-image files ignored" in result.output
    assert not (tmp_path / "o").exists()


def test_bad_file_is_one_line_and_the_batch_goes_on(tmp_path, npy_cli):
    shots = make_shots(tmp_path)
    (shots / "b0" / "f0.npy").write_bytes(b"")  # empty: dropped, the burst goes on
    for f in (shots / "b1").glob("*.npy"):
        f.write_text("garbage")  # every frame bad: the burst fails
    result = npy_cli("enhance", shots, "-p", "npy-brightest")
    assert result.exit_code == EXIT_FAILED
    assert f"warning {shots / 'b0' / 'f0.npy'}: not a .npy array" in result.output
    assert f"FAILED  b1: {shots / 'b1' / 'f0.npy'}: no readable frame" in result.output
    assert (tmp_path / "shots_burst" / "b0_npy-brightest.tiff").exists()
    assert "1 done, 0 skipped, 1 failed, 1 warning " in result.output


@pytest.mark.parametrize("args, fragment", [
    (["-p", "nope"], "unknown preset 'nope'"),
    (["-p", "npy-brightest", "--set", "npy.pick.gain=loud"], "--set: npy.pick.gain: expected float"),
    (["-p", "npy-brightest", "--format", "gif"], "--format: 'gif' is not one of"),
    (["-p", "npy-brightest", "--group", "count"], "--count N"),
])
def test_usage_errors_exit_2_before_reading(tmp_path, npy_cli, args, fragment):
    shots = make_shots(tmp_path)
    result = npy_cli("enhance", shots, *args)
    assert result.exit_code == EXIT_USAGE and fragment in result.output
    assert not (tmp_path / "shots_burst").exists()


def test_no_images_is_a_usage_error(tmp_path, npy_cli):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    result = npy_cli("enhance", tmp_path / "empty", "-p", "npy-brightest")
    assert result.exit_code == EXIT_USAGE and "no image files found" in result.output


def test_output_inside_a_burst_is_refused(tmp_path, npy_cli):
    shots = make_shots(tmp_path, bursts=1)
    result = npy_cli("enhance", shots / "b0", "-p", "npy-brightest", "-o", shots / "b0" / "out")
    assert result.exit_code == EXIT_USAGE and "never go among the inputs" in result.output


def test_interrupt_exits_130_and_leaves_no_partial_output(tmp_path, npy_cli, monkeypatch):
    shots = make_shots(tmp_path, bursts=3)
    monkeypatch.setenv("NPY_INTERRUPT_ON", "f2.npy")
    result = npy_cli("enhance", shots, "-p", "npy-brightest")
    assert result.exit_code == EXIT_INTERRUPTED and "(interrupted)" in result.output
    out = tmp_path / "shots_burst"
    assert not out.exists() or not [p for p in out.iterdir() if p.name != ".burst-output"]


def test_parallel_jobs_give_the_same_outputs(tmp_path, npy_cli):
    shots = make_shots(tmp_path, bursts=3)
    serial = npy_cli("enhance", shots, "-p", "npy-brightest", "-o", tmp_path / "serial")
    parallel = npy_cli("enhance", shots, "-p", "npy-brightest", "-o", tmp_path / "par", "-j", "2")
    assert serial.exit_code == parallel.exit_code == EXIT_OK, parallel.output
    for tiff in (tmp_path / "serial").glob("*.tiff"):
        assert np.array_equal(tifffile.imread(tiff), tifffile.imread(tmp_path / "par" / tiff.name))
    assert not [p for p in (tmp_path / "par").iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("fmt, ext", [("png", ".png"), ("jpeg", ".jpg")])
def test_other_formats(tmp_path, npy_cli, fmt, ext):
    import imageio.v3 as iio
    shots = make_shots(tmp_path, bursts=1)
    assert npy_cli("enhance", shots, "-p", "npy-brightest", "-f", fmt).exit_code == EXIT_OK
    written = iio.imread(tmp_path / "shots_burst" / f"b0_npy-brightest{ext}")
    chosen = np.load(shots / "b0" / "f1.npy")
    if fmt == "png":
        assert written.dtype == np.uint16 and np.array_equal(written, chosen)
    else:
        assert written.dtype == np.uint8 and np.abs(written.astype(int) - chosen / 257).mean() < 1.5


def test_outputs_are_never_collected_as_inputs_later(tmp_path, npy_cli):
    shots = make_shots(tmp_path, bursts=1)
    assert npy_cli("enhance", shots / "b0", "-p", "npy-brightest").exit_code == EXIT_OK
    assert (shots / "b0_burst" / ".burst-output").exists()  # beside the burst, inside shots/
    result = npy_cli("enhance", shots, "-p", "npy-brightest", "--dry-run")
    assert "1 burst," in result.output and "b0_burst" not in result.output.split("output folder")[1]


@pytest.mark.parametrize("value,reason", [
    ("nan", "the output holds NaN or Inf values (a stage let them through)"),
    ("flat", "the output is one flat value (0) although the reference frame is not"),
    ("empty", "the output is empty")])
def test_a_spoilt_output_fails_its_burst_and_is_never_written(tmp_path, npy_cli, value, reason):
    shots = make_shots(tmp_path / "shots", bursts=1)
    preset = tmp_path / "spoil.yaml"
    preset.write_text("description: a buggy stage\n"
                      "pipeline: [npy.load, npy.pick, npy.spoil]\n"
                      f"params: {{npy.spoil: {{value: {value}}}}}\n")
    result = npy_cli("enhance", shots, "-p", preset, "-o", tmp_path / "out")
    assert result.exit_code == EXIT_FAILED, result.output
    assert f"FAILED  b0: {reason}; nothing was written" in result.output
    assert not list((tmp_path / "out").glob("b0_*"))


def test_an_output_folder_that_cannot_be_made_fails_once_up_front(tmp_path, npy_cli):
    shots = make_shots(tmp_path / "shots", bursts=2)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = npy_cli("enhance", shots, "-p", "npy-brightest", "-o", blocker / "out")
    assert result.exit_code == EXIT_USAGE
    assert result.output.count("error") == 1 and "is not a folder" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: permissions untestable")
def test_a_read_only_output_folder_fails_once_up_front(tmp_path, npy_cli):
    shots = make_shots(tmp_path / "shots", bursts=2)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    result = npy_cli("enhance", shots, "-p", "npy-brightest", "-o", locked)
    assert result.exit_code == EXIT_USAGE and "not writable" in result.output


@pytest.mark.parametrize("words,expected", [
    ("burst enhance shots --preset zoom4", "zoom4x"),
    ("burst stages merge.rob", "merge.robust"),
    ("burst enhance shots --set merge.robust.thr", "merge.robust.threshold="),
])
def test_shell_completion_knows_presets_stages_and_parameters(burst_cli, words, expected):
    environment = {"_BURST_COMPLETE": "bash_complete", "COMP_WORDS": words,
                   "COMP_CWORD": str(len(words.split()) - 1)}
    result = burst_cli(prog_name="burst", env=environment)
    assert f"plain,{expected}" in result.output.splitlines(), result.output


def test_ctrl_c_before_the_batch_starts_exits_130_in_one_line(monkeypatch, capsys):
    """While plugins load or files are collected, click would say "Aborted!" and exit 1."""
    import burstcli.cli as cli_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_module.cli, "main", interrupted)
    with pytest.raises(SystemExit) as stopped:
        cli_module.main()
    assert stopped.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "burst: interrupted\n"


def test_a_full_disk_fails_the_burst_in_one_line_and_leaves_nothing_half_written(
        tmp_path, npy_cli, monkeypatch):
    """The writer runs out of space halfway through the image: one line naming the output and
    the reason, no temp file, no sidecar without its image, the earlier output untouched."""
    import errno

    import burstcli.default_plugins.writers as writers

    shots = make_shots(tmp_path / "shots", bursts=2)
    out = tmp_path / "out"
    assert npy_cli("enhance", shots / "b0", "-p", "npy-brightest", "-o", out).exit_code == EXIT_OK
    before = {p.name: p.read_bytes() for p in out.glob("b0_*")}

    def full(path, *args, **kwargs):
        Path(path).write_bytes(b"II*\0 partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(writers.tifffile, "imwrite", full)
    result = npy_cli("enhance", shots, "-p", "npy-brightest", "-o", out, "--overwrite")
    assert result.exit_code == EXIT_FAILED
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all("No space left on device" in line for line in failed)
    assert f"cannot write {out / 'b1_npy-brightest.tiff'}" in result.output
    assert sorted(p.name for p in out.iterdir()) == [".burst-output", *sorted(before)]
    assert {p.name: p.read_bytes() for p in out.glob("b0_*")} == before
