"""Collect what the plugins register: stages, presets, writers, groupers, extensions,
executors."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from .collect import Grouper
from .errors import ConfigError
from .model import Burst
from .models import ModelCard, resolve_model
from .stage import StageSpec
from .writers import Writer

if TYPE_CHECKING:  # the runner imports this module
    from .runner import Executor

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Registry:
    """Everything the plugins of one manager registered, by name."""

    stages: dict[str, StageSpec]
    presets: dict[str, Path]
    writers: dict[str, Writer]
    groupers: dict[str, Grouper]
    extensions: frozenset[str]
    executors: dict[str, Executor] = dataclasses.field(default_factory=dict)
    models: dict[str, ModelCard] = dataclasses.field(default_factory=dict)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook once and index the results by name.

    A name registered twice is a loud error naming both plugins: silently letting one win
    would run a different stage than the preset's author tested.
    """
    found_stages: dict[str, tuple[StageSpec, str]] = _collect(pm.hook.register_stages,
                                                              lambda s: s.name, "stage")
    stages = {name: dataclasses.replace(spec, plugin=plugin)
              for name, (spec, plugin) in found_stages.items()}
    writers: dict[str, tuple[Writer, str]] = _collect(pm.hook.register_writers,
                                                      lambda w: w.name, "writer")
    groupers: dict[str, tuple[Grouper, str]] = _collect(pm.hook.register_groupers,
                                                        lambda g: g.name, "grouper")
    extensions = frozenset(ext.lower() for exts in pm.hook.burst_image_extensions() for ext in exts)
    executors: dict[str, tuple[Executor, str]] = _collect(pm.hook.register_executors,
                                                          lambda e: e.name, "executor")
    models: dict[str, tuple[ModelCard, str]] = _collect(pm.hook.register_models,
                                                        lambda m: m.name, "model")
    registry = Registry(
        stages=stages,
        presets=_collect_presets(pm),
        writers={name: writer for name, (writer, _) in writers.items()},
        groupers={name: grouper for name, (grouper, _) in groupers.items()},
        extensions=extensions,
        executors={name: executor for name, (executor, _) in executors.items()},
        models={name: dataclasses.replace(card, plugin=plugin)
                for name, (card, plugin) in models.items()},
    )
    return registry


#: The registry of the chain running now (set by the runner around its stage calls): what
#: its stages find models in, whatever other registries the process holds (a Dask worker
#: keeps one per job, each with its own plugins).
current_registry: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "current_registry", default=None)


def _collect(hook: Any, key: Callable[[T], str], what: str) -> dict[str, tuple[T, str]]:
    found: dict[str, tuple[T, str]] = {}
    for impl in hook.get_hookimpls():
        def register(item: T, plugin: str = impl.plugin_name) -> None:
            name = key(item)
            if name in found:
                raise ConfigError(f"{what} {name!r} is registered by both "
                                  f"{found[name][1]!r} and {plugin!r}")
            found[name] = (item, plugin)
        impl.function(register=register)
    return found


def _collect_presets(pm: pluggy.PluginManager) -> dict[str, Path]:
    presets: dict[str, Path] = {}

    def register(path: Path) -> None:
        path = Path(path)
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        for file in files:
            presets.setdefault(file.stem, file)  # the first plugin to name a preset wins

    pm.hook.register_presets(register=register)
    return presets


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[pluggy.PluginManager, Registry]:
    from .plugins import make_plugin_manager  # the plugin manager imports this module
    pm = make_plugin_manager()
    return pm, build_registry(pm)


def find_stage(name: str) -> StageSpec:
    """The installed stage called ``name`` (e.g. ``"align.global"``), as a preset names it."""
    return _stage(_installed()[1], name)


def _stage(registry: Registry, name: str) -> StageSpec:
    if name not in registry.stages:
        raise ConfigError(f"no installed stage is called {name!r}")
    return registry.stages[name]


def find_model(value: str, task: str) -> ModelCard:
    """The model ``value`` names for ``task``: a registered name or a ``.tflite`` path with its
    ``.json`` card (presets were checked when loaded, so a stage rarely sees this fail)."""
    registry = current_registry.get() or _installed()[1]
    found = resolve_model(value, task, registry.models)
    if isinstance(found, str):
        raise ConfigError(found)
    return found


def call_stage(pm: pluggy.PluginManager, registry: Registry, name: str, burst: Burst,
               source: str, **params: Any) -> Burst:
    """Stage ``name`` of ``registry`` on ``burst`` with ``params`` validated as ``--set``
    values are (errors naming ``source``), through ``pm``'s ``burst_run_stage`` hook."""
    spec = _stage(registry, name)
    return pm.hook.burst_run_stage(spec=spec, burst=burst,
                                   params=spec.make_params(params, source=source))


def run_stage(name: str, burst: Burst, **params: Any) -> Burst:
    """Run the installed stage ``name`` on ``burst`` with ``params`` (validated as ``--set``
    values are), through the ``burst_run_stage`` hook as the runner calls it.

    For plugins that drive other plugins' stages (benchmarks, training recipes) without
    importing them: a plugin imports :mod:`burstcli` and :mod:`burstlib`, never another
    plugin, so it works whichever plugin provides the stage."""
    pm, registry = _installed()
    return call_stage(pm, registry, name, burst, f"run_stage({name!r})", **params)
