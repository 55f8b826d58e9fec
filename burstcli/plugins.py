"""Build a plugin manager: built-ins, entry points, local plugin files, and the controls.

Every run gets a fresh manager (tests too), never a module-level global. First-party stages
are loaded through the ``burst`` entry-point group exactly like third-party ones.

Controls (all optional):

* ``autoload=False`` or ``BURST_DISABLE_PLUGIN_AUTOLOAD=1``: load only the entry points that
  ship with burst itself, no third-party ones.
* ``BURST_PLUGINS=name,name``: load only these entry-point plugins (first-party included).
* ``blocked=("name",)`` (``--disable-plugin NAME``): never register that plugin. The core
  plugins (``CORE_PLUGINS``: what calls the stages, and the default executor) cannot be
  blocked: asking is a ``ConfigError``.
* ``plugin_paths=(path,)`` (``--plugins-dir PATH``): a ``.py`` file, or a folder whose
  ``*.py`` files are each loaded, for one-off local plugins.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import ConfigError

ENTRY_POINT_GROUP = "burst"
FIRST_PARTY_DISTRIBUTION = "burstcli"
#: What every batch needs, by the name ``burst plugins`` shows: the ``burst_run_stage``
#: implementation that calls the stages, and the default ``processes`` executor.
#: Registered first and never blocked.
CORE_PLUGINS = {
    "runner": "burstcli.runner",
    "executors": "burstcli.default_plugins.executors",
}
DEFAULT_PLUGINS = (
    "burstcli.default_plugins.writers",
    "burstcli.default_plugins.groupers",
    "burstcli.default_plugins.presets",
)


@dataclasses.dataclass(frozen=True)
class PluginSettings:
    """How to build a plugin manager; picklable, so worker processes rebuild the same one."""

    autoload: bool = True
    blocked: tuple[str, ...] = ()
    plugin_paths: tuple[Path, ...] = ()


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """What ``burst plugins`` shows about one registered plugin."""

    name: str
    origin: str  # "core", "builtin", "entry point", "local"
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


class BurstPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, tuple[str, str | None, str | None]] = {}

    def set_blocked(self, name: str) -> None:
        """Block ``name`` (and unregister it); a core plugin is refused with a ConfigError."""
        if name in CORE_PLUGINS:
            raise ConfigError(f"{name!r} is part of the core (it runs the stages and the "
                              "default executor) and cannot be disabled",
                              key="--disable-plugin")
        super().set_blocked(name)

    def register_from(self, plugin: object, name: str, origin: str,
                      dist: tuple[str | None, str | None] = (None, None)) -> None:
        """Register ``plugin`` under ``name`` unless it is blocked, recording its origin."""
        if self.is_blocked(name):
            return
        self.register(plugin, name=name)
        self.origins[name] = (origin, *dist)

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its origin and the hooks it implements."""
        infos = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:  # blocked
                continue
            origin, dist, version = self.origins.get(name, ("builtin", None, None))
            hooks = tuple(sorted(h.name for h in self.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, origin, dist, version, hooks))
        return infos


def make_plugin_manager(settings: PluginSettings = PluginSettings()) -> BurstPluginManager:
    """A fresh manager with built-ins, entry points and local plugins per ``settings``."""
    pm = BurstPluginManager()
    for name, module_name in CORE_PLUGINS.items():
        pm.register_from(importlib.import_module(module_name), name, "core")
    for name in settings.blocked:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register_from(module, module_name.rsplit(".", 1)[-1], "builtin")
    _load_entry_points(pm, settings.autoload)
    for path in settings.plugin_paths:
        for module in _load_local(path):
            pm.register_from(module, f"local:{module.__name__}", "local", (str(path), None))
    return pm


def _load_entry_points(pm: BurstPluginManager, autoload: bool) -> None:
    wanted = _wanted_names()
    autoload = autoload and os.environ.get("BURST_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
    for ep in _burst_entry_points():
        dist = ep.dist.name if ep.dist else None
        if wanted is not None and ep.name not in wanted:
            continue
        if not autoload and dist != FIRST_PARTY_DISTRIBUTION:
            continue
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        pm.register_from(ep.load(), ep.name, "entry point",
                         (dist, ep.dist.version if ep.dist else None))


def _burst_entry_points() -> Iterable[EntryPoint]:
    # Sorted so the order of registration (and so of hook calls) does not depend on the
    # order site-packages happens to list distributions in.
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _wanted_names() -> set[str] | None:
    raw = os.environ.get("BURST_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_local(path: Path) -> list[ModuleType]:
    path = Path(path)
    if path.is_dir():
        files: Sequence[Path] = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
    elif path.suffix == ".py" and path.is_file():
        files = [path]
    else:
        raise ConfigError("not a .py file or a folder of them", source=path, key="--plugins-dir")
    return [_import_file(file) for file in files]


def _import_file(file: Path) -> ModuleType:
    name = f"burst_local_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError("cannot be imported", source=file, key="--plugins-dir")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so spawn workers and pickling can find it again
    spec.loader.exec_module(module)
    return module
