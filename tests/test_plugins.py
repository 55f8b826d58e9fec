"""The plugin system: loading, controls, listing, duplicate names, documented hooks."""

from __future__ import annotations

import inspect
import json

import pytest

from burstcli import hookimpl, hookspecs
from burstcli.errors import ConfigError
from burstcli.plugins import PluginSettings, make_plugin_manager
from burstcli.registry import build_registry
from conftest import LOCAL_PLUGINS

FIRST_PARTY = {"decode", "develop", "blur", "select", "synth"}


def test_every_hook_is_documented_with_its_parameters():
    for name, spec in inspect.getmembers(hookspecs, inspect.isfunction):
        if not hasattr(spec, "burst_spec"):
            continue
        doc = inspect.getdoc(spec)
        assert doc, f"hook {name} has no docstring"
        for param in inspect.signature(spec).parameters:
            assert f":param {param}:" in doc, f"hook {name} does not document {param}"


def test_first_party_plugins_come_through_entry_points():
    infos = {info.name: info for info in make_plugin_manager().describe()}
    for name in FIRST_PARTY:
        assert infos[name].origin == "entry point" and infos[name].distribution == "burstcli"
    assert infos["writers"].origin == "builtin"


def test_blocking_and_subsets(monkeypatch):
    assert "blur" not in make_plugin_manager(PluginSettings(blocked=("blur",))).origins
    monkeypatch.setenv("BURST_PLUGINS", "decode")
    loaded = make_plugin_manager().origins
    assert "decode" in loaded and "blur" not in loaded


def test_local_plugin_files(tmp_path):
    registry = build_registry(make_plugin_manager(PluginSettings(plugin_paths=(LOCAL_PLUGINS,))))
    assert {"npy.load", "npy.pick"} <= set(registry.stages)
    assert registry.stages["npy.load"].plugin == "local:burst_local_npy_frames"
    with pytest.raises(ConfigError, match="not a .py file"):
        make_plugin_manager(PluginSettings(plugin_paths=(tmp_path / "x.txt",)))


def test_duplicate_stage_names_are_a_loud_error():
    pm = make_plugin_manager(PluginSettings(plugin_paths=(LOCAL_PLUGINS,)))

    class Again:
        @hookimpl
        def register_stages(self, register):
            from burst_local_npy_frames import load
            register(load)

    pm.register(Again(), name="again")
    with pytest.raises(ConfigError, match="'npy.load' is registered by both"):
        build_registry(pm)


def test_plugins_json_lists_objects_with_names(burst_cli):
    result = burst_cli("plugins", "--json")
    records = json.loads(result.output)
    assert FIRST_PARTY <= {r["name"] for r in records}
    assert all({"name", "origin", "hooks"} <= set(r) for r in records)


def test_stages_listing_and_detail(burst_cli):
    listed = json.loads(burst_cli("stages", "--json").output)
    by_name = {r["name"]: r for r in listed}
    for name in ("decode", "score.frequency", "score.laplacian", "score.tenengrad", "select",
                 "develop"):
        assert by_name[name]["doc"], f"stage {name} is undocumented"
        assert all(p["help"] for p in by_name[name]["params"]), f"{name} has a param without help"
    detail = burst_cli("stages", "select")
    assert "Parameters:" in detail.output and "method" in detail.output
    unknown = burst_cli("stages", "selct")
    assert unknown.exit_code == 2 and "did you mean 'select'" in unknown.output


def test_no_autoload_keeps_first_party(burst_cli, monkeypatch):
    monkeypatch.setenv("BURST_DISABLE_PLUGIN_AUTOLOAD", "1")
    names = {r["name"] for r in json.loads(burst_cli("plugins", "--json").output)}
    assert FIRST_PARTY <= names


def test_run_stage_calls_an_installed_stage_by_name(burst_synth_burst):
    """What a benchmark or training recipe uses instead of importing another plugin."""
    from burstcli.model import Burst, Frame
    from burstcli.registry import find_stage, run_stage

    folder, truth = burst_synth_burst(frames=3, width=96, height=64, seed=2, name="rs")
    files = sorted(folder.glob("*.dng"))
    decoded = run_stage("decode", Burst("rs", tuple(Frame(f) for f in files)))
    assert all(f.layout == "cfa" and f.pixels is not None for f in decoded.frames)
    aligned = run_stage("align.global", decoded.replace(reference=truth["reference"]))
    assert all(f.transform is not None for f in aligned.frames)
    assert find_stage("align.global").plugin == "align"
    with pytest.raises(ConfigError, match="no installed stage"):
        find_stage("align.nowhere")
    with pytest.raises(ConfigError, match="min_correlation"):
        run_stage("align.global", decoded, min_correlation=5)


def test_train_takes_a_config_and_picks_the_recipe_by_its_task(tmp_path, burst_cli):
    """`burst train CONFIG` dispatches on the file's task (zoom when it names none)."""
    for task, expected in (("deblur", "train deblur [OPTIONS]"), (None, "train zoom [OPTIONS]")):
        config = tmp_path / f"{task}.yaml"
        config.write_text(f"task: {task}\n" if task else "scale: 2\n")
        result = burst_cli("train", config, "--help")
        assert result.exit_code == 0 and expected in result.output, result.output
    config = tmp_path / "odd.yaml"
    config.write_text("task: nope\n")
    result = burst_cli("train", config)
    assert result.exit_code == 2 and "task 'nope' has no train command" in result.output
