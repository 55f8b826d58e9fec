"""``burst plugins``, ``burst stages``, ``burst presets`` and ``burst models``: what is installed,
documented."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from typing import Any

import click

from burstcli.errors import BurstError
from burstcli.presets import find_preset, load_preset, read_preset_file
from burstcli.stage import StageSpec, did_you_mean

from .context import complete_stages, fail, get_state


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def plugins_command(as_json: bool) -> None:
    """List the loaded plugins, where they come from and the hooks they implement."""
    infos = get_state().pm.describe()
    if as_json:
        _echo_json([dataclasses.asdict(info) for info in infos])
        return
    rows = []
    for info in infos:
        where = f"{info.distribution} {info.version}" if info.distribution else info.origin
        rows.append((info.name, f"{where}: {', '.join(info.hooks)}"))
    _echo_columns(rows)


def _echo_columns(rows: list[tuple[str, str]]) -> None:
    """Names in a column as wide as the longest, texts wrapped to the terminal beside them."""
    if not rows:
        return
    width = max(len(name) for name, _ in rows) + 2
    columns = shutil.get_terminal_size((100, 24)).columns
    for name, text in rows:
        wrapped = textwrap.wrap(text, max(30, columns - width - 1)) or [""]
        click.echo(f"{name:<{width}}{wrapped[0]}")
        for line in wrapped[1:]:
            click.echo(f"{'':<{width}}{line}")


def stage_record(spec: StageSpec) -> dict[str, Any]:
    """A stage as ``burst stages --json`` prints it."""
    return {
        "name": spec.name, "plugin": spec.plugin, "summary": spec.summary, "doc": spec.doc,
        "params": [dataclasses.asdict(p) for p in spec.params_info()],
        # null: the stage declares nothing and its place in a pipeline is not checked
        "needs": list(spec.needs) if spec.needs is not None else None,
        "provides": list(spec.provides) if spec.provides is not None else None,
        "before": list(spec.before),
    }


@click.command("stages")
@click.argument("name", required=False, shell_complete=complete_stages)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def stages_command(name: str | None, as_json: bool) -> None:
    """List the stages, or show one stage's documentation and parameters.

    Each parameter is shown with its type, its default and the values it accepts (a range
    such as "in (0, 1]", a set of choices or a rule); presets and --set are checked against
    them before any file is read. A stage also says what it needs from the stages before it
    and what it provides to those after it (the order a preset's pipeline is checked for).
    """
    stages = get_state().registry.stages
    if name is not None and name not in stages:
        fail(f"unknown stage {name!r}{did_you_mean(name, list(stages))}")
    chosen = [stages[name]] if name else [stages[n] for n in sorted(stages)]
    if as_json:
        _echo_json([stage_record(spec) for spec in chosen])
    elif name:
        _print_stage(chosen[0])
    else:
        _echo_columns([(spec.name, spec.summary) for spec in chosen])


def _print_stage(spec: StageSpec) -> None:
    click.echo(f"{spec.name}  (plugin: {spec.plugin})\n")
    click.echo(spec.doc)
    if spec.declared:
        click.echo(f"\nNeeds: {', '.join(spec.needs or ()) or 'nothing'}; provides: "
                   f"{', '.join(spec.provides or ()) or 'nothing'}"
                   + (f"; goes before: {', '.join(spec.before)}" if spec.before else ""))
    params = spec.params_info()
    click.echo("\nParameters:" if params else "\nParameters: none")
    for p in params:
        accepts = f", {p.range}" if p.range else ""
        click.echo(f"  {p.name} ({p.type}, default {p.default!r}{accepts})\n      {p.help}")


@click.group("presets")
def presets_group() -> None:
    """List the presets or show one."""


@presets_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def presets_list(as_json: bool) -> None:
    """List the presets found by name, with their descriptions."""
    records = []
    for name, path in sorted(get_state().registry.presets.items()):
        try:
            description = read_preset_file(path).get("description", "")
        except BurstError as exc:
            description = f"(broken: {exc})"
        records.append({"name": name, "path": str(path), "description": description})
    if as_json:
        _echo_json(records)
        return
    _echo_columns([(record["name"], record["description"]) for record in records])


@presets_group.command("show")
@click.argument("name")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              help="Override a parameter, as `burst enhance` does.")
def presets_show(name: str, overrides: tuple[str, ...]) -> None:
    """Show a preset (a name or a path) fully resolved: its file, pipeline and parameters."""
    registry = get_state().registry
    try:
        path = find_preset(name, registry.presets)
        preset = load_preset(name, presets=registry.presets, stages=registry.stages,
                             overrides=overrides, models=registry.models)
    except BurstError as exc:
        fail(str(exc))
    click.echo(f"# {preset.name}: {preset.description}\n# file: {path}")
    for step in preset.steps:
        click.echo(f"- {step.stage}")
        for key, value in step.params_json().items():
            click.echo(f"    {key}: {value!r}")


@click.command("models")
@click.option("--task", help="Only the models of this task (zoom, deblur, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def models_command(task: str | None, as_json: bool) -> None:
    """List the registered models: name, task, scale, planes, size and file.

    A stage's model parameter takes these names (or the path of a .tflite with its .json
    card); each model's .md card says how it was trained and what it measured."""
    models = [card for card in get_state().registry.models.values()
              if task is None or card.task == task]
    if as_json:
        _echo_json([dataclasses.asdict(card) for card in models])
        return
    _echo_columns([(card.name, card.describe()) for card in sorted(models, key=lambda c: c.name)])

