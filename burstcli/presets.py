"""Presets: YAML files naming a pipeline of stages and their parameters.

A preset file::

    description: Pick the sharpest frame of each burst, pixels unchanged.
    extends: base            # optional: a preset name or a path relative to this file
    pipeline: [decode, score.frequency, select, develop]
    params:
      score.frequency: {crop: 0.5}

Values layer: stage defaults < the ``extends`` chain < the preset < ``--set stage.param=value``.
A child inherits its parent's pipeline unless it gives its own; ``params`` merge per stage.
Everything is validated here, before any image is read: the file's shape, the stage names,
the pipeline's order (what each stage ``needs`` some earlier stage ``provides``), and every
parameter's type and range. Errors are one line naming the file (or ``--set``) and the key.
YAML is only ever loaded with ``yaml.safe_load``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .models import ModelCard, resolve_model
from .stage import CAPABILITIES, StageSpec, did_you_mean

PRESET_KEYS = ("description", "extends", "pipeline", "params")


@dataclasses.dataclass(frozen=True)
class Step:
    """One stage of a resolved pipeline, with its validated parameter object."""

    stage: str
    params: Any

    def params_json(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self.params).items()}


@dataclasses.dataclass(frozen=True)
class Preset:
    """A preset resolved against the registered stages, ready to run."""

    name: str
    source: Path
    description: str
    steps: tuple[Step, ...]


def find_preset(name_or_path: str, presets: Mapping[str, Path]) -> Path:
    """A registered preset's file by name, or an existing YAML file by path."""
    if name_or_path in presets:
        return presets[name_or_path]
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("no such preset file", source=path)
        return path
    raise ConfigError(f"unknown preset {name_or_path!r}{did_you_mean(name_or_path, list(presets))}"
                      f"; `burst presets list` shows them", key="--preset")


def load_preset(name_or_path: str, *, presets: Mapping[str, Path],
                stages: Mapping[str, StageSpec], overrides: Sequence[str] = (),
                models: Mapping[str, ModelCard] | None = None) -> Preset:
    """Find, layer and validate a preset; ``overrides`` are ``stage.param=value`` strings.

    With ``models`` (the registered ones), a parameter declared with ``model_task`` must name
    one of them of that task, or a ``.tflite`` with its card."""
    path = find_preset(name_or_path, presets)
    layered = _layered(path, presets, chain=())
    extra = parse_overrides(overrides)
    _validate_overrides(extra, stages)
    params = _merge_params(layered.get("params", {}), extra)
    pipeline = layered.get("pipeline")
    if not pipeline:
        raise ConfigError("no pipeline (in the file or what it extends)", source=path, key="pipeline")
    steps = _validate(pipeline, params, stages, layered["_sources"])
    if models is not None:
        _check_models(steps, stages, models, layered["_sources"], extra)
    return Preset(name=path.stem, source=path, description=layered.get("description", ""),
                  steps=steps)


def read_preset_file(path: Path) -> dict[str, Any]:
    """One preset file, parsed and checked for shape (not yet against the stages)."""
    text = ""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=path) from None
    except yaml.YAMLError as exc:
        line, problem = _yaml_problem(exc, text)
        raise ConfigError(f"not valid YAML: {problem}", source=path, key=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a preset must be a mapping of keys", source=path)
    _check_shape(data, path)
    return data


def _yaml_problem(exc: yaml.YAMLError, source: str) -> tuple[str | None, str]:
    """``("line N", problem)`` of a YAML error in the text ``source``, on one line.

    ``str(exc)`` is several lines (the context, the problem, a copy of the line and a caret
    under the column): the user needs the line number and the problem only."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    text = ", ".join(p for p in parts if p) or str(exc).splitlines()[0]
    if "constructor for the tag" in text:  # !!python/object and friends: say why
        text += " (presets are plain YAML: no tags)"
    if mark is not None:
        line: str | None = f"line {mark.line + 1}"
    elif isinstance(getattr(exc, "position", None), int):  # the reader's errors: a position
        line = f"line {source.count(chr(10), 0, exc.position) + 1}"
    else:
        line = None
    return line, " ".join(text.split())


def _check_shape(data: dict[str, Any], path: Path) -> None:
    for key in data:
        if key not in PRESET_KEYS:
            raise ConfigError(f"unknown key{did_you_mean(str(key), list(PRESET_KEYS))}",
                              source=path, key=str(key))
    for key in ("description", "extends"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError("must be a string", source=path, key=key)
    pipeline = data.get("pipeline", [])
    if not isinstance(pipeline, list) or not all(isinstance(s, str) for s in pipeline):
        raise ConfigError("must be a list of stage names", source=path, key="pipeline")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("must map stage names to parameter mappings", source=path, key="params")
    for stage_name, values in params.items():
        if not isinstance(values, dict):
            raise ConfigError("must be a mapping of parameters", source=path,
                              key=f"params.{stage_name}")


def _layered(path: Path, presets: Mapping[str, Path], chain: tuple[Path, ...]) -> dict[str, Any]:
    """The file's data on top of its ``extends`` chain; ``_sources`` remembers which file
    set each stage's parameters, so errors point at the right file."""
    resolved = path.resolve()
    if resolved in chain:
        raise ConfigError("extends itself (a cycle: " + " -> ".join(p.name for p in (*chain, resolved))
                          + ")", source=path, key="extends")
    data = read_preset_file(path)
    sources = {f"params.{stage}": str(path) for stage in data.get("params", {})}
    sources["pipeline"] = str(path)
    if "extends" not in data:
        return {**data, "_sources": sources}
    parent_path = _extends_path(data["extends"], path, presets)
    parent = _layered(parent_path, presets, (*chain, resolved))
    merged = {**parent, **{k: v for k, v in data.items() if k != "params"}}
    inherited = parent.get("params", {})
    pipeline = data.get("pipeline")
    if isinstance(pipeline, list) and isinstance(inherited, dict):
        # A file that gives its own pipeline keeps the parent's parameters of the stages it
        # still runs: those of stages it dropped were the parent's pipeline's, not errors.
        inherited = {stage: values for stage, values in inherited.items() if stage in pipeline}
    merged["params"] = _merge_params(inherited, data.get("params", {}))
    merged["_sources"] = {**parent["_sources"], **sources}
    if "pipeline" not in data:
        merged["_sources"]["pipeline"] = parent["_sources"]["pipeline"]
    return merged


def _extends_path(target: str, child: Path, presets: Mapping[str, Path]) -> Path:
    relative = child.parent / target
    if relative.is_file():
        return relative
    if target in presets:
        return presets[target]
    raise ConfigError(f"no preset or file {target!r}{did_you_mean(target, list(presets))}",
                      source=child, key="extends")


def _merge_params(base: Mapping[str, Mapping[str, Any]],
                  top: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged = {stage: dict(values) for stage, values in base.items()}
    for stage, values in top.items():
        merged.setdefault(stage, {}).update(values)
    return merged


def parse_overrides(overrides: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["score.frequency.crop=0.5"]`` -> ``{"score.frequency": {"crop": 0.5}}``.

    The value is read as YAML, so ``3`` is an int, ``0.5`` a float, ``true`` a bool and
    ``[1, 2]`` a list; anything else is a string.
    """
    params: dict[str, dict[str, Any]] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        stage, dot, name = key.strip().rpartition(".")
        if not sep or not dot or not stage or not name:
            raise ConfigError(f"expected stage.param=value, got {item!r}", source="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        params.setdefault(stage, {})[name] = value
    return params


def _validate_overrides(extra: Mapping[str, Mapping[str, Any]],
                        stages: Mapping[str, StageSpec]) -> None:
    """Check ``--set`` values on their own first, so an error there names ``--set``."""
    for name, values in extra.items():
        if name not in stages:
            raise ConfigError(f"unknown stage {name!r}{did_you_mean(name, list(stages))}",
                              source="--set", key=name)
        stages[name].make_params(values, source="--set")


def _validate(pipeline: Sequence[str], params: Mapping[str, Mapping[str, Any]],
              stages: Mapping[str, StageSpec], sources: Mapping[str, str]) -> tuple[Step, ...]:
    for name in pipeline:
        if name not in stages:
            raise ConfigError(f"unknown stage {name!r}{did_you_mean(name, list(stages))}"
                              "; `burst stages` lists them",
                              source=sources["pipeline"], key="pipeline")
    check_order(pipeline, stages, sources["pipeline"])
    for name in params:
        if name not in pipeline:
            source = sources.get(f"params.{name}", "--set")
            raise ConfigError(f"stage is not in the pipeline{did_you_mean(name, list(pipeline))}",
                              source=source, key=f"params.{name}")
    return tuple(
        Step(name, stages[name].make_params(params.get(name, {}),
                                            source=sources.get(f"params.{name}", "--set")))
        for name in pipeline
    )


def _check_models(steps: Sequence[Step], stages: Mapping[str, StageSpec],
                  models: Mapping[str, ModelCard], sources: Mapping[str, str],
                  overrides: Mapping[str, Mapping[str, Any]]) -> None:
    """Every parameter declared with ``model_task`` names a model of that task."""
    for step in steps:
        for name, rule in stages[step.stage].constraints().items():
            value = getattr(step.params, name)
            if rule.model_task is None or value is None:
                continue
            found = resolve_model(str(value), rule.model_task, models)
            if isinstance(found, str):
                source = ("--set" if name in overrides.get(step.stage, {})
                          else sources.get(f"params.{step.stage}", "--set"))
                raise ConfigError(found, source=source, key=f"{step.stage}.{name}")


def check_order(pipeline: Sequence[str], stages: Mapping[str, StageSpec],
                source: str | Path | None = None) -> None:
    """Check that every stage gets what it ``needs`` from the stages before it.

    Raises :class:`ConfigError` (``source``, key ``pipeline``) for the first stage whose need
    no earlier stage provides, saying which stages provide it, or which comes too late for a
    stage's ``before``. Stages that declare nothing are not checked, and since they may
    provide anything, no need is reported after one of them (older plugins keep working).
    """
    provided: dict[str, str] = {}  # capability -> the first stage that provided it, where
    undeclared = False
    for position, name in enumerate(pipeline, start=1):
        spec = stages[name]
        if not spec.declared:
            undeclared = True
            continue
        where = f"{name} (stage {position})"
        missing = [need for need in spec.needs or () if need not in provided]
        if missing and not undeclared:
            need = missing[0]
            raise ConfigError(f"{where} needs {CAPABILITIES[need]} ({need}): put "
                              f"{_providers(need, stages)} before it", source=source,
                              key="pipeline")
        early = [cap for cap in spec.before if cap in provided]
        if early:
            raise ConfigError(f"{where} must come before {provided[early[0]]}, which "
                              f"provides {CAPABILITIES[early[0]]}", source=source, key="pipeline")
        for capability in spec.provides or ():
            provided.setdefault(capability, where)


def _providers(capability: str, stages: Mapping[str, StageSpec], most: int = 3) -> str:
    """``"a or b"``: the registered stages that provide ``capability``; when there are many,
    families of them as ``merge.*``."""
    names = sorted(n for n, s in stages.items() if capability in (s.provides or ()))
    if not names:
        return f"a stage that provides {capability!r}"
    if len(names) <= most:
        return " or ".join(names)
    families: dict[str, list[str]] = {}
    for name in names:
        families.setdefault(name.split(".")[0], []).append(name)
    shown = [group[0] if len(group) == 1 else f"{family}.*" for family, group in families.items()]
    return "one of " + ", ".join(shown)
