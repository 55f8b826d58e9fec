"""Executors: the ``register_executors`` hook, the core that ``--disable-plugin`` cannot
remove, and Dask (burst_dask) giving what ``-j`` gives, also when a worker is killed.

The Dask tests skip when ``distributed`` is not installed (``pip install 'burstcli[dask]'``).
They run the test-only .npy plugin (tests/local_plugins), which the workers load from the
``JobSpec``'s plugin settings, as ``-j`` workers do.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile

from burstcli import hookimpl
from burstcli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError
from burstcli.plugins import CORE_PLUGINS, PluginSettings, make_plugin_manager
from burstcli.registry import build_registry
from burstcli.runner import DEFAULT_EXECUTOR, Executor, burst_run_stage, choose_executor
from burstcli.workers import descendant_pids
from conftest import LOCAL_PLUGINS
from test_enhance import make_shots

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK,
                                reason="Dask is not installed (pip install 'burstcli[dask]')")
PRESET = "npy-brightest"
SLOW = ("--set", "npy.load.sleep=0.2")  # 3 frames: 0.6 s a burst


def registry(*blocked: str):
    return build_registry(make_plugin_manager(PluginSettings(blocked=blocked,
                                                             plugin_paths=(LOCAL_PLUGINS,))))


def images(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: tifffile.imread(p) for p in sorted(folder.glob("*.tiff"))}


def leftovers(folder: Path) -> list[str]:
    """Temp files of atomic_path, and sidecars without their image."""
    temps = [p.name for p in folder.iterdir() if ".tmp" in p.name]
    orphans = [p.name for p in folder.glob("*.json") if not p.with_suffix(".tiff").exists()]
    return temps + orphans


def assert_same_as_serial(result, out: Path, serial: Path, bursts: int) -> None:
    assert result.exit_code == EXIT_OK, result.output
    assert f"{bursts} done, 0 skipped, 0 failed" in result.output, result.output
    for b in range(bursts):  # every burst reported exactly once
        assert result.output.count(f"done    b{b} ") == 1, result.output
    expected = images(serial)
    got = images(out)
    assert list(got) == list(expected) == [f"b{b}_{PRESET}.tiff" for b in range(bursts)]
    for name, image in expected.items():
        assert np.array_equal(got[name], image), name
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.name for p in serial.glob("*.json"))
    assert leftovers(out) == []


@pytest.fixture
def serial_run(tmp_path, npy_cli):
    """Six bursts and their outputs from a serial run (the reference)."""
    shots = make_shots(tmp_path, bursts=6)
    result = npy_cli("enhance", shots, "-p", PRESET, "-o", tmp_path / "serial")
    assert result.exit_code == EXIT_OK, result.output
    return shots, tmp_path / "serial"


# --- the hook ------------------------------------------------------------------------------


def test_the_hook_lists_the_processes_executor_and_dask():
    executors = registry().executors
    assert DEFAULT_EXECUTOR == "processes" and isinstance(executors["processes"], Executor)
    assert "dask" in executors  # burst_dask is first-party: registered with or without Dask
    assert executors["dask"].accepts("tcp://10.0.0.1:8786")
    assert executors["dask"].accepts("local:2") and executors["dask"].accepts("local")
    assert not executors["dask"].accepts("local:0") and not executors["dask"].accepts("slurm")
    assert (executors["dask"].unavailable() is None) == HAVE_DASK
    assert choose_executor(executors, None) is executors["processes"]
    assert choose_executor(executors, "local:2") is executors["dask"] or not HAVE_DASK


def test_an_executor_plugin_is_chosen_by_its_scheduler_string():
    pm = make_plugin_manager(PluginSettings(plugin_paths=(LOCAL_PLUGINS,)))

    class Echo(Executor):
        name = "echo"
        schedulers = "echo:"

        def accepts(self, scheduler):
            return scheduler.startswith("echo:")

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(Echo())

    pm.register(Plugin(), name="echo-plugin")
    executors = build_registry(pm).executors
    assert isinstance(choose_executor(executors, "echo:x"), Echo)
    with pytest.raises(ConfigError, match="no executor takes it.*echo: echo:"):
        choose_executor(executors, "nope://x")


@pytest.mark.parametrize("name", sorted(
    {*CORE_PLUGINS, "writers", "groupers", "presets", "dask", "decode", "local:burst_local_npy_frames"}))
def test_disabling_any_plugin_keeps_stage_calls_and_the_default_executor(name):
    if name in CORE_PLUGINS:
        with pytest.raises(ConfigError, match="part of the core"):
            make_plugin_manager(PluginSettings(blocked=(name,)))
        return
    pm = make_plugin_manager(PluginSettings(blocked=(name,), plugin_paths=(LOCAL_PLUGINS,)))
    assert burst_run_stage in [impl.function for impl in pm.hook.burst_run_stage.get_hookimpls()]
    assert DEFAULT_EXECUTOR in build_registry(pm).executors
    with pytest.raises(ConfigError, match="part of the core"):  # nor later, from code
        pm.set_blocked("runner")


def test_disable_plugin_of_the_core_is_refused_on_the_command_line(tmp_path, burst_cli):
    shots = make_shots(tmp_path, bursts=1)
    for name in CORE_PLUGINS:
        result = burst_cli("--plugins-dir", LOCAL_PLUGINS, "--disable-plugin", name, "enhance",
                           shots, "-p", PRESET)
        assert result.exit_code == EXIT_USAGE and "part of the core" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_disabling_dask_leaves_processes_working(tmp_path, npy_cli):
    shots = make_shots(tmp_path, bursts=2)
    result = npy_cli("--disable-plugin", "dask", "enhance", shots, "-p", PRESET, "-j", "2")
    assert result.exit_code == EXIT_OK and "2 done" in result.output
    refused = npy_cli("--disable-plugin", "dask", "enhance", shots, "-p", PRESET,
                      "--scheduler", "local:2")
    assert refused.exit_code == EXIT_USAGE and "no executor takes it" in refused.output


@pytest.mark.parametrize("args, fragment", [
    (["--scheduler", "slurm://x"], "--scheduler slurm://x: no executor takes it"),
    (["--scheduler", "local:2", "-j", "2"], "-j and --scheduler do not go together"),
])
def test_scheduler_usage_errors(tmp_path, npy_cli, args, fragment):
    shots = make_shots(tmp_path, bursts=1)
    result = npy_cli("enhance", shots, "-p", PRESET, *args)
    assert result.exit_code == EXIT_USAGE and fragment in result.output, result.output
    assert not (tmp_path / "shots_burst").exists()


def test_without_dask_the_core_imports_and_scheduler_says_what_to_install(tmp_path):
    """Dask hidden from the interpreter: the CLI and every plugin load, --scheduler explains."""
    shots = make_shots(tmp_path, bursts=1)
    code = (
        "import sys, importlib.abc\n"
        "class NoDask(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dask', 'distributed'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoDask())\n"
        "from burstcli.cli import main\n"
        "sys.argv = ['burst'] + sys.argv[1:]\n"
        "main()\n")
    common = [sys.executable, "-c", code, "--plugins-dir", str(LOCAL_PLUGINS), "enhance",
              str(shots), "-p", PRESET, "-o", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    refused = subprocess.run([*common, "--scheduler", "local:2"], capture_output=True,
                             text=True, env=env, timeout=60)
    assert refused.returncode == EXIT_USAGE, refused.stderr
    assert "pip install 'burstcli[dask]'" in refused.stderr
    works = subprocess.run(common, capture_output=True, text=True, env=env, timeout=60)
    assert works.returncode == EXIT_OK and "1 done" in works.stdout, works.stderr
    assert "distributed" not in works.stderr


# --- Dask ------------------------------------------------------------------------------------


@needs_dask
def test_dask_local_cluster_gives_the_serial_outputs(tmp_path, npy_cli, serial_run):
    shots, serial = serial_run
    out = tmp_path / "dask"
    result = npy_cli("enhance", shots, "-p", PRESET, "-o", out, "--scheduler", "local:2", *SLOW)
    assert_same_as_serial(result, out, serial, 6)
    again = npy_cli("enhance", shots, "-p", PRESET, "-o", out, "--scheduler", "local:2")
    assert again.exit_code == EXIT_OK and "0 done, 6 skipped" in again.output


@pytest.fixture
def dask_cluster():
    """A LocalCluster of two single-thread worker processes with little memory."""
    if not HAVE_DASK:
        pytest.skip("Dask is not installed (pip install 'burstcli[dask]')")
    import logging

    from distributed import LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           memory_limit="1GiB", dashboard_address=None,
                           silence_logs=logging.ERROR)
    try:
        yield cluster
    finally:
        cluster.close(timeout=10)


def worker_pids(cluster) -> list[int]:
    return [nanny.process.process.pid for nanny in list(cluster.workers.values())
            if nanny.process is not None and nanny.process.process is not None]


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path, npy_cli, serial_run, dask_cluster):
    """One worker is SIGKILLed while it runs a burst: the scheduler runs that burst again on
    another worker; every output is there once, as in the serial run, and no temp file."""
    shots, serial = serial_run
    out = tmp_path / "dask"
    killed: list[int] = []

    def kill_one_worker() -> None:  # once the batch is under way (one output written)
        deadline = time.monotonic() + 25
        while not list(out.glob("*.tiff")) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the next bursts have started: the kill falls in the middle of one
        pid = worker_pids(dask_cluster)[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    began = time.monotonic()
    result = npy_cli("enhance", shots, "-p", PRESET, "-o", out,
                     "--scheduler", dask_cluster.scheduler_address, *SLOW)
    killer.join(timeout=5)
    assert killed, "no worker was killed"
    started = Counter(key for key, _, finish, *_ in dask_cluster.scheduler.transition_log
                      if finish == "processing" and str(key).startswith("burst-"))
    assert max(started.values()) == 2, f"no burst was running on the killed worker: {started}"
    assert len(list(out.glob("*.tiff"))) == 6 and time.monotonic() - began < 30
    assert_same_as_serial(result, out, serial, 6)


@needs_dask
def test_an_unreachable_scheduler_is_one_error_line(tmp_path, npy_cli, monkeypatch):
    import burst_dask.dask_side as dask_side
    monkeypatch.setattr(dask_side, "CONNECT_TIMEOUT", "1s")
    shots = make_shots(tmp_path, bursts=1)
    result = npy_cli("enhance", shots, "-p", PRESET, "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == EXIT_FAILED, result.output
    assert "burst: error: --scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler" \
        in result.output and "Traceback" not in result.output


@needs_dask
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc as on Linux")
@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_dask_local_workers_stop_with_the_batch(tmp_path, how):
    """local:N as -j: Ctrl-C stops at once with a summary matching the disk; kill -9 of
    ``burst`` leaves no worker running; either way no temp file is left after a rerun."""
    from test_faults_kill import (EXIT_INTERRUPTED, counts, digest, kill_all, make_bursts,
                                  outputs, start, temps, wait_for_outputs, wait_until_gone)
    shots, out = make_bursts(tmp_path, bursts=8, frames=8), tmp_path / "out"
    before = digest(shots)
    process = start(shots, out, "--scheduler", "local:2", "--set", "npy.load.sleep=0.4")
    wait_for_outputs(process, out, 1, timeout=25)
    workers = descendant_pids(process.pid)
    sent = time.monotonic()
    try:
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=10)
            seconds = time.monotonic() - sent
            text = process.communicate(timeout=5)[0]
            assert seconds < 3.0, f"Ctrl-C took {seconds:.1f} s"
            assert process.returncode == EXIT_INTERRUPTED, text
            assert "(interrupted)" in text and "Traceback" not in text, text
            assert counts(text)[0] == len(outputs(out)) < 8, text
            assert sorted(p.stem for p in out.glob("*.json")) == \
                [Path(n).stem for n in outputs(out)]
            assert temps(out) == []
        else:
            process.kill()
            process.wait(timeout=5)
        assert wait_until_gone(workers, timeout=5.0) == set(), "Dask workers still running"
    finally:
        process.kill()
        kill_all(workers)
        process.stdout.close()
    rerun = start(shots, out)
    text = rerun.communicate(timeout=60)[0]
    assert rerun.returncode == EXIT_OK and counts(text)[1] == len(outputs(out)) - counts(text)[0]
    assert len(outputs(out)) == 8 and temps(out) == [] and digest(shots) == before


def test_relative_paths_reach_workers_with_another_working_folder(tmp_path, npy_cli,
                                                                   dask_cluster, monkeypatch):
    """Workers of a running cluster do not share our working folder: bursts, outputs,
    --plugins-dir and a preset file given relative still reach them (made absolute)."""
    shots = make_shots(tmp_path / "work", bursts=2)
    preset = tmp_path / "work" / "mine.yaml"
    preset.write_text("description: a preset file\npipeline: [npy.load, npy.pick]\n")
    monkeypatch.chdir(tmp_path / "work")  # after the cluster's workers started elsewhere
    result = npy_cli("enhance", shots.name, "-p", preset.name, "-o", "out",
                     "--scheduler", dask_cluster.scheduler_address)
    assert result.exit_code == EXIT_OK and "2 done" in result.output, result.output
    assert sorted(p.name for p in (tmp_path / "work" / "out").glob("*.tiff")) == [
        "b0_mine.tiff", "b1_mine.tiff"]
