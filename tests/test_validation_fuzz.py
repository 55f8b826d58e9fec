"""Hypothesis fuzzing of what a user can type: ``--set`` strings and whole preset files.

Whatever is drawn, loading a preset either succeeds or raises ConfigError in one line that
names where (``--set`` or the file); nothing else ever escapes, so the CLI can never print a
traceback for bad input."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from burstcli.errors import ConfigError  # noqa: E402
from burstcli.plugins import make_plugin_manager  # noqa: E402
from burstcli.presets import load_preset  # noqa: E402
from burstcli.registry import build_registry  # noqa: E402

REGISTRY = build_registry(make_plugin_manager())
STAGES = sorted(REGISTRY.stages)
FIELDS = {name: [f.name for f in dataclasses.fields(spec.params_type)] or ["x"]
          for name, spec in REGISTRY.stages.items()}
PRESETS = sorted(REGISTRY.presets)

#: What a value may look like on the command line: numbers of every kind, words, YAML.
RAW_VALUE = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([".nan", ".inf", "-.inf", "true", "null", "[]", "{}", "[1, 2]", "x2",
                     "x4", "center", "full", "1,2,3,4", "!!python/object:os.system", "[", "'"]),
    st.text(max_size=12),
)


@st.composite
def set_strings(draw) -> str:
    stage = draw(st.sampled_from(STAGES + ["no.such.stage"]))
    key = draw(st.sampled_from(FIELDS.get(stage, ["x"]) + ["typo"]))
    return f"{stage}.{key}={draw(RAW_VALUE)}"


def load(preset: str, overrides: list[str]) -> None:
    load_preset(preset, presets=REGISTRY.presets, stages=REGISTRY.stages, overrides=overrides)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preset=st.sampled_from(PRESETS), overrides=st.lists(set_strings(), max_size=3))
def test_set_strings_are_accepted_or_refused_in_one_line(preset, overrides):
    try:
        load(preset, overrides)
    except ConfigError as exc:
        assert "\n" not in str(exc), str(exc)


def preset_values():
    """Any YAML-ish value a hand-written preset file might hold."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9),
                        st.floats(allow_nan=True), st.text(max_size=10))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
        max_leaves=10)


@st.composite
def preset_documents(draw) -> dict:
    pipeline = draw(st.one_of(st.lists(st.sampled_from(STAGES + ["nope"]), max_size=8),
                              preset_values()))
    params = draw(st.one_of(
        st.dictionaries(st.sampled_from(STAGES),
                        st.dictionaries(st.sampled_from(sum(FIELDS.values(), [])),
                                        preset_values(), max_size=3), max_size=3),
        preset_values()))
    document = {"description": draw(preset_values()), "pipeline": pipeline, "params": params}
    if draw(st.booleans()):
        document["extends"] = draw(st.one_of(st.sampled_from(PRESETS), st.text(max_size=8)))
    if draw(st.booleans()):
        document[draw(st.text(max_size=6))] = draw(preset_values())
    return document


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=preset_documents())
def test_preset_files_are_accepted_or_refused_in_one_line(tmp_path, document):
    path = tmp_path / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        load(str(path), [])
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
