"""State shared by the sub-commands: plugin settings, the manager and the registry."""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import click
import click.shell_completion
import yaml

from burstcli.errors import EXIT_USAGE, BurstError
from burstcli.plugins import BurstPluginManager, PluginSettings, make_plugin_manager
from burstcli.registry import Registry, build_registry


class AppState:
    """Built once per invocation; the manager and registry are made on first use."""

    def __init__(self, settings: PluginSettings):
        self.settings = settings

    @functools.cached_property
    def pm(self) -> BurstPluginManager:
        """The plugin manager for this invocation."""
        try:
            return make_plugin_manager(self.settings)
        except BurstError as exc:
            fail(str(exc))

    @functools.cached_property
    def registry(self) -> Registry:
        """What the plugins registered."""
        try:
            return build_registry(self.pm)
        except BurstError as exc:
            fail(str(exc))


def settings_from_params(params: Mapping[str, Any]) -> PluginSettings:
    """Plugin settings from the group's parsed global options."""
    return PluginSettings(
        autoload=not params.get("no_autoload", False),
        blocked=tuple(params.get("blocked", ())),
        plugin_paths=tuple(Path(p) for p in params.get("plugin_paths", ())),
    )


def get_state(ctx: click.Context | None = None) -> AppState:
    """The invocation's state, made on first use from the root command's options."""
    root = (ctx or click.get_current_context()).find_root()
    if "burst_state" not in root.meta:
        root.meta["burst_state"] = AppState(settings_from_params(root.params))
    return root.meta["burst_state"]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``burst: error: message`` on stderr, on one line, and exit with ``code``."""
    # One line whatever the message holds (a library's multi-line text must not slip through).
    message = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    click.echo(f"burst: error: {message}", err=True)
    sys.exit(code)


def complete_presets(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[Any]:
    """Shell completion of ``--preset``: the preset names the plugins register, then YAML
    files."""
    names = [click.shell_completion.CompletionItem(name)
             for name in sorted(get_state(ctx).registry.presets) if name.startswith(incomplete)]
    return names or [click.shell_completion.CompletionItem(incomplete, type="file")]


def complete_stages(ctx: click.Context, param: click.Parameter,
                    incomplete: str) -> list[Any]:
    """Shell completion of a stage name (``burst stages NAME``, ``--set STAGE.``)."""
    return [click.shell_completion.CompletionItem(name)
            for name in sorted(get_state(ctx).registry.stages) if name.startswith(incomplete)]


def complete_settings(ctx: click.Context, param: click.Parameter,
                      incomplete: str) -> list[Any]:
    """Shell completion of ``--set``: ``stage.param=`` for every stage parameter."""
    import dataclasses

    keys = [f"{name}.{field.name}="
            for name, spec in sorted(get_state(ctx).registry.stages.items())
            for field in dataclasses.fields(spec.params_type)]
    return [click.shell_completion.CompletionItem(key, type="plain")
            for key in keys if key.startswith(incomplete)]


class TaskGroup(click.Group):
    """A group of one subcommand per task (``burst train zoom CONFIG``) that also takes the
    config file first (``burst train CONFIG``): the file's ``task:`` key (``zoom`` when it has
    none, as the first configs) names the subcommand."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[
            str | None, click.Command | None, list[str]]:
        first = args[0] if args else ""
        if first not in self.commands and first.endswith((".yaml", ".yml")):
            task = _task_of(Path(first))
            if task not in self.commands:
                fail(f"{first}: task {task!r} has no {self.name} command "
                     f"({', '.join(sorted(self.commands)) or 'none installed'})")
            return task, self.commands[task], args
        return super().resolve_command(ctx, args)


def _task_of(path: Path) -> str:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"{path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    return str(data.get("task", "zoom")) if isinstance(data, dict) else "zoom"


#: The command groups several plugins add to (the first plugin to ask makes it): help, class.
SHARED_GROUPS: dict[str, tuple[str, type[click.Group]]] = {
    "bench": ("Benchmarks that print every figure beside its peers (same code, same run).",
              click.Group),
    "train": ("Train a network: `burst train CONFIG` (the file's task: picks the recipe) or "
              "`burst train TASK CONFIG`.", TaskGroup),
}


def shared_group(cli: click.Group, name: str) -> click.Group:
    """The command group ``name`` (``bench``, ``train``) of ``cli``, made if no
    plugin made it yet: for a plugin's ``register_commands`` to add its subcommands to,
    whichever plugins load."""
    group = cli.commands.get(name)
    if not isinstance(group, click.Group):
        text, kind = SHARED_GROUPS.get(name, ("", click.Group))
        group = kind(name, help=text)
        cli.add_command(group)
    return group
