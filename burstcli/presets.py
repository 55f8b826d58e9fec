"""Presets: YAML files naming a pipeline of stages and their parameters.

A preset file::

    description: Pick the sharpest frame of each burst, pixels unchanged.
    extends: base            # optional: a preset name or a path relative to this file
    pipeline: [decode, score.frequency, select, develop]
    params:
      score.frequency: {crop: 0.5}

Values layer: stage defaults < the ``extends`` chain < the preset < ``--set stage.param=value``.
A child inherits its parent's pipeline unless it gives its own; ``params`` merge per stage.
Everything is validated here, before any image is read; errors name the file and the key.
YAML is only ever loaded with ``yaml.safe_load``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .stage import StageSpec, did_you_mean

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
                stages: Mapping[str, StageSpec], overrides: Sequence[str] = ()) -> Preset:
    """Find, layer and validate a preset; ``overrides`` are ``stage.param=value`` strings."""
    path = find_preset(name_or_path, presets)
    layered = _layered(path, presets, chain=())
    extra = parse_overrides(overrides)
    _validate_overrides(extra, stages)
    params = _merge_params(layered.get("params", {}), extra)
    pipeline = layered.get("pipeline")
    if not pipeline:
        raise ConfigError("no pipeline (in the file or what it extends)", source=path, key="pipeline")
    steps = _validate(pipeline, params, stages, layered["_sources"])
    return Preset(name=path.stem, source=path, description=layered.get("description", ""),
                  steps=steps)


def read_preset_file(path: Path) -> dict[str, Any]:
    """One preset file, parsed and checked for shape (not yet against the stages)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a preset must be a mapping of keys", source=path)
    _check_shape(data, path)
    return data


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
    merged["params"] = _merge_params(parent.get("params", {}), data.get("params", {}))
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
