"""Presets: layering, validation before any image is read, errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from burstcli.errors import ConfigError
from burstcli.plugins import PluginSettings, make_plugin_manager
from burstcli.presets import load_preset, parse_overrides
from burstcli.registry import build_registry
from conftest import LOCAL_PLUGINS


@pytest.fixture
def registry():
    return build_registry(make_plugin_manager(PluginSettings(plugin_paths=(LOCAL_PLUGINS,))))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def load(path, registry, overrides=()):
    return load_preset(str(path), presets=registry.presets, stages=registry.stages,
                       overrides=overrides)


def params_of(preset, stage):
    return next(step.params for step in preset.steps if step.stage == stage)


def test_values_layer_defaults_extends_preset_set(tmp_path, registry):
    write(tmp_path / "base.yaml", "pipeline: [npy.load, npy.pick]\n"
          "params: {npy.pick: {gain: 2.0, mode: base}}\n")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nparams: {npy.pick: {gain: 3}}\n")
    preset = load(child, registry)
    pick = params_of(preset, "npy.pick")
    assert (pick.brightest, pick.gain, pick.mode) == (True, 3.0, "base")
    pick = params_of(load(child, registry, ["npy.pick.mode=cli", "npy.pick.brightest=false"]),
                     "npy.pick")
    assert (pick.brightest, pick.gain, pick.mode) == (False, 3.0, "cli")
    assert [s.stage for s in preset.steps] == ["npy.load", "npy.pick"]


def test_extends_by_registered_name(tmp_path, registry):
    child = write(tmp_path / "c.yaml", "extends: npy-brightest\n")
    assert [s.stage for s in load(child, registry).steps] == ["npy.load", "npy.pick"]


@pytest.mark.parametrize("text, key, fragment", [
    ("pipeline: [npy.lod]\n", "pipeline", "did you mean 'npy.load'"),
    ("pipeline: [npy.load]\nparams: {npy.load: {slep: 1}}\n", "npy.load.slep", "did you mean 'sleep'"),
    ("pipeline: [npy.load]\nparams: {npy.load: {sleep: fast}}\n", "npy.load.sleep", "expected float"),
    ("pipeline: [npy.load]\nparams: {npy.pick: {gain: 1}}\n", "params.npy.pick", "not in the pipeline"),
    ("pipelin: [npy.load]\n", "pipelin", "did you mean 'pipeline'"),
    ("pipeline: npy.load\n", "pipeline", "list of stage names"),
    ("description: x\n", "pipeline", "no pipeline"),
    ("extends: nowhere\npipeline: [npy.load]\n", "extends", "no preset or file"),
])
def test_errors_name_file_and_key(tmp_path, registry, text, key, fragment):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load(path, registry)
    assert str(path) in str(info.value) and key in str(info.value) and fragment in str(info.value)


def test_bool_is_not_an_int_and_int_is_a_float(tmp_path, registry):
    path = write(tmp_path / "p.yaml", "pipeline: [npy.load, npy.pick]\n")
    assert params_of(load(path, registry, ["npy.pick.gain=2"]), "npy.pick").gain == 2.0
    with pytest.raises(ConfigError, match="--set: npy.pick.brightest: expected bool"):
        load(path, registry, ["npy.pick.brightest=1"])


def test_set_errors_name_set(tmp_path, registry):
    path = write(tmp_path / "p.yaml", "pipeline: [npy.load]\n")
    with pytest.raises(ConfigError, match="--set: npy.lod: unknown stage"):
        load(path, registry, ["npy.lod.sleep=1"])
    with pytest.raises(ConfigError, match="--set: expected stage.param=value"):
        parse_overrides(["sleep"])


def test_extends_cycle_is_reported(tmp_path, registry):
    write(tmp_path / "a.yaml", "extends: b.yaml\npipeline: [npy.load]\n")
    b = write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load(b, registry)


def test_only_safe_yaml(tmp_path, registry):
    path = write(tmp_path / "evil.yaml", "pipeline: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load(path, registry)
    # one line with the file and the line number, not yaml's four (context, copy, caret)
    assert "\n" not in str(info.value) and f"{path}: line 1: " in str(info.value)


def test_unknown_preset_name_suggests(registry):
    with pytest.raises(ConfigError, match="did you mean 'npy-brightest'"):
        load("npy-brigtest", registry)


def test_a_preset_with_its_own_pipeline_drops_the_parents_params_of_stages_it_left_out(
        tmp_path):
    from burstcli.runner import BurstProcessor, JobSpec
    path = tmp_path / "mine.yaml"
    path.write_text("extends: burst-deblur\npipeline: [decode, score.laplacian, select, "
                    "develop]\n", encoding="utf-8")
    steps = BurstProcessor(JobSpec(str(path), (), "tiff")).preset.steps
    assert [step.stage for step in steps] == ["decode", "score.laplacian", "select", "develop"]
