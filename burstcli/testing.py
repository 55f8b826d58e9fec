"""A pytest plugin for stage authors (entry point ``pytest11``: active wherever burst is installed).

Fixtures, all named ``burst_*`` so they never clash with a project's own:

* ``burst_pm``: a fresh plugin manager with every installed plugin (yours included).
* ``burst_registry``: the stages, presets, writers and groupers it registered.
* ``burst_run_stage``: ``burst_run_stage("score.laplacian", burst, crop=0.5)`` runs a stage by
  name through the hook, with parameters validated exactly as a preset's are.
* ``burst_frames``: ``burst_frames([array, ...], layout="rgb")`` builds a :class:`Burst`.
* ``burst_synth_burst``: ``burst_synth_burst(frames=4, width=96, height=64)`` writes a small
  synthetic DNG burst (real files rawpy reads) and returns its folder and truth.
* ``burst_cli``: ``burst_cli("enhance", folder, "--preset", "sharpest")`` runs the command line
  in-process and returns click's ``Result`` (``exit_code``, ``output``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .model import Burst, Frame, Layout
from .plugins import BurstPluginManager, make_plugin_manager
from .registry import Registry, build_registry, call_stage


@pytest.fixture
def burst_pm() -> BurstPluginManager:
    """A fresh plugin manager with all installed plugins."""
    return make_plugin_manager()


@pytest.fixture
def burst_registry(burst_pm: BurstPluginManager) -> Registry:
    """What the installed plugins registered."""
    return build_registry(burst_pm)


@pytest.fixture
def burst_run_stage(burst_pm: BurstPluginManager,
                    burst_registry: Registry) -> Callable[..., Burst]:
    """Run a registered stage by name: ``burst_run_stage(name, burst, **params)``."""
    def run(name: str, burst: Burst, **params: Any) -> Burst:
        return call_stage(burst_pm, burst_registry, name, burst, "test", **params)
    return run


@pytest.fixture
def burst_frames(tmp_path: Path) -> Callable[..., Burst]:
    """Build a burst from arrays: ``burst_frames([a, b], layout="gray", name="b")``."""
    def make(arrays: Sequence[np.ndarray], layout: Layout = "rgb", name: str = "burst") -> Burst:
        frames = tuple(Frame(path=tmp_path / f"frame_{i:03d}.png", pixels=np.asarray(a),
                             layout=layout) for i, a in enumerate(arrays))
        return Burst(name=name, frames=frames, source=tmp_path)
    return make


@pytest.fixture
def burst_synth_burst(tmp_path: Path) -> Callable[..., tuple[Path, dict]]:
    """Write a synthetic DNG burst: returns (its folder, its truth dict)."""
    synth = pytest.importorskip("burstlib.synth.api",
                                reason="burstlib (the shared library) is not installed")

    def make(**options: Any) -> tuple[Path, dict]:
        options.setdefault("name", "synthetic")
        truth = synth.make_burst(tmp_path / "synth", synth.SynthOptions(**options))
        return tmp_path / "synth" / options["name"], truth
    return make


@pytest.fixture
def burst_cli() -> Callable[..., Any]:
    """Invoke ``burst ARGS...`` in-process; returns click's Result."""
    from click.testing import CliRunner

    from .cli import cli

    def invoke(*args: Any, **kwargs: Any) -> Any:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)
    return invoke
