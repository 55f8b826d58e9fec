"""Everything a preset or ``--set`` can get wrong is found before the first file is read.

Exit 2 and exactly one line naming the file (or ``--set``) and the key; never a traceback.
Covers parameter ranges, choices and checks (declared with ``param(...)`` in the plugins),
the pipeline's order (``@stage(..., needs=..., provides=...)``) and unreadable preset files.

Beside the hypothesis fuzzing (tests/test_validation_fuzz.py), a deterministic sweep of bad
values over every parameter of every first-party stage and a seeded random sample through the
CLI.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import random
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml

from burstcli import Burst, param, stage
from burstcli.errors import EXIT_OK, EXIT_USAGE, ConfigError
from burstcli.plugins import PluginSettings, make_plugin_manager
from burstcli.presets import check_order, load_preset, parse_overrides
from burstcli.registry import build_registry
from burstcli.stage import CAPABILITIES, Constraint
from conftest import LOCAL_PLUGINS


@pytest.fixture(scope="module")
def registry():
    """The installed plugins and the test-only .npy plugin (stages that declare nothing)."""
    return build_registry(make_plugin_manager(PluginSettings(plugin_paths=(LOCAL_PLUGINS,))))


@pytest.fixture(scope="module")
def first_party(registry):
    """The stages shipped with burst (their plugins come from the burstcli distribution)."""
    ours = {info.name for info in make_plugin_manager().describe()
            if info.distribution == "burstcli"}
    return {name: spec for name, spec in registry.stages.items() if spec.plugin in ours}


@pytest.fixture
def shots(tmp_path):
    """A burst of three PNG frames (what a run would read, if it got that far)."""
    import cv2
    folder = tmp_path / "shots"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), rng.integers(0, 255, (48, 64, 3), np.uint8))
    return folder


@pytest.fixture
def no_reading(monkeypatch):
    """Fail the test if `burst enhance` gets as far as looking at the input files."""
    enhance = importlib.import_module("burstcli.cli.enhance")  # the module, not the command

    def refuse(*args, **kwargs):
        raise AssertionError("the input files were looked at before the preset was refused")

    monkeypatch.setattr(enhance, "collect", refuse)  # lists the folders, reads EXIF headers
    monkeypatch.setattr(enhance, "run_batch", refuse)


def refused(result, *fragments):
    """Exit 2 and one line, naming every fragment; no traceback."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == EXIT_USAGE, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("burst: error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- the cases measured on main -------------------------------------------------------

BAD_SETS = [
    ("zoom4x", "zoom.network.ensemble=3", "one of 1, 2, 4, 8 (got 3)"),
    ("denoise", "merge.robust.window=0", "must be in [1, 255] (got 0)"),
    ("denoise", "align.global.min_correlation=5", "must be in [0, 1]"),
    ("denoise", "merge.robust.threshold=-1", "must be > 0"),
    ("zoom4x", "zoom.network.model=x3", "no zoom model 'x3'"),
    ("zoom4x", "zoom.network.field=centre", "'centre' is not full, center or x,y,w,h"),
    ("zoom4x-classical", "zoom.classical.field=centre", "'centre' is not full, center"),
    ("zoom4x", "zoom.window.field=centre", "'centre' is not full, center"),
    ("zoom4x", "zoom.network.tile=0", "must be in [32, 4096]"),
    ("zoom4x", "zoom.network.refine=1", "must be in [0, 1)"),
    ("zoom4x-classical", "zoom.classical.scale=0", "must be in [1, 16]"),
    ("zoom4x-classical", "zoom.classical.step=0", "must be in (0, 2)"),
    ("zoom4x-classical", "zoom.classical.field=10,10,0,5", "w and h >= 1"),
    ("zoom4x-classical", "zoom.window.margin=-0.5", "must be >= 0"),
    ("denoise-hdrplus", "merge.wiener.strength=0", "must be > 0"),
    ("denoise-hdrplus", "align.local.smoothness=0", "must be > 0"),
    ("burst-deblur", "deblur.fourier.power=-1", "must be >= 0"),
    ("sharpest", "select.threshold=.nan", "must be in [0, 1] (got nan)"),
    ("sharpest", "select.max_frames=-1", "must be >= 0"),
    ("sharpest", "score.laplacian.crop=0", "must be in (0, 1]"),
    ("sharpest", "score.frequency.low_band=[0.1, 0.05]", "low_band[0] < low_band[1]"),
    ("sharpest", "score.frequency.high_band=[0.3, 0.9]", "must be in (0, 0.707107]"),
    ("sharpest", "decode.on_bad_frame=never", "is not one of 'skip', 'fail'"),
    ("sharpest", "select.method=best", "is not one of"),
    ("sharpest", "develop.demosaic=amaze", "is not one of"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("preset, setting, message", BAD_SETS, ids=[s for _, s, _ in BAD_SETS])
def test_bad_set_values_exit_2_in_one_line(burst_cli, shots, no_reading, preset, setting,
                                            message, dry_run):
    key = setting.split("=")[0]
    result = burst_cli("enhance", shots, "--preset", preset, "--set", setting,
                       *(["--dry-run"] if dry_run else []))
    refused(result, "--set", key, message)


BAD_FILES = [
    ("pipeline: [decode, score.laplacian, select, merge.robust, develop]\n",
     "merge.robust (stage 4) needs frames registered", "put align.global or align.local before it"),
    ("pipeline: [develop, decode]\n", "develop (stage 1) needs decoded frames", "put decode"),
    ("pipeline: [decode, select, develop]\n", "select (stage 2) needs a sharpness score",
     "score.laplacian"),
    ("pipeline: [decode, score.laplacian, select, align.global, zoom.window, zoom.classical]\n",
     "zoom.window (stage 5) must come before align.global (stage 4)", "registered"),
    ("pipeline: [decode, score.laplacian, select, align.global, colour.yuv, zoom.network, "
     "colour.rgb]\n", "colour.yuv (stage 5) needs frames developed", "develop.frames"),
    ("pipeline: [decode, develop.encode]\n", "develop.encode (stage 2) needs an image",
     "put one of deblur.fourier, merge.*, zoom.* before it"),
    ("pipeline: [decode, score.laplacian, select, align.global, develop.frames, zoom.network]\n"
     "params: {zoom.network: {model: x3}}\n", "zoom.network.model", "no zoom model 'x3'"),
    ("pipeline: [decode, score.laplacian, select, align.global, zoom.classical, develop]\n"
     "params: {zoom.classical: {field: centre}}\n", "zoom.classical.field", "'centre'"),
    ("pipeline: [decode, zoom.window, score.laplacian, select, align.global, zoom.classical]\n"
     "params: {zoom.window: {field: centre}}\n", "zoom.window.field", "'centre'"),
    ("pipeline: [decode, score.laplacian, select, align.global, merge.robust, develop]\n"
     "params: {merge.robust: {window: 0}}\n", "merge.robust.window", "(got 0)"),
    ("pipeline: !!python/object/apply:os.system ['true']\n", "line 1", "no tags"),
    ("pipeline: [decode, select\n", "line 2", "not valid YAML"),
    ("pipeline:\n  - decode\n\t- develop\n", "line 3", "not valid YAML"),
    ("params: {a: 1}\nparams: [\n", "line 3", "not valid YAML"),
    ('pipeline: [decode]\ndescription: "a\x01b"\n', "line 2", "unacceptable character"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("text, fragments", [(t, tuple(f)) for t, *f in BAD_FILES])
def test_bad_preset_files_exit_2_in_one_line(burst_cli, shots, tmp_path, no_reading, text,
                                             fragments, dry_run):
    path = write(tmp_path / "bad.yaml", text)
    result = burst_cli("enhance", shots, "--preset", path, *(["--dry-run"] if dry_run else []))
    refused(result, str(path), *fragments)


def test_a_binary_preset_file_is_one_line(burst_cli, shots, tmp_path, no_reading):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"pipeline: [decode]\n\xff\xfe\x00junk")
    refused(burst_cli("enhance", shots, "--preset", path, "--dry-run"), str(path), "not UTF-8")


def test_presets_show_refuses_the_same_way(burst_cli):
    refused(burst_cli("presets", "show", "zoom4x", "--set", "zoom.network.ensemble=3"),
            "--set: zoom.network.ensemble")


def test_crop_is_checked_as_field_is(burst_cli, shots, no_reading):
    refused(burst_cli("enhance", shots, "--preset", "zoom4x", "--crop", "10,10,0,0",
                      "--dry-run"), "zoom.window.field", "w and h >= 1")


# --- what must still be accepted ------------------------------------------------------

GOOD_SETS = [
    ("zoom4x", "zoom.network.ensemble=8"), ("zoom4x", "zoom.network.model=x2"),
    ("zoom4x", "zoom.network.field=full"), ("zoom4x", "zoom.window.field=10,20,300,200"),
    ("zoom4x-classical", "zoom.classical.field=center"),
    ("zoom4x-classical", "zoom.classical.iterations=0"),
    ("denoise", "merge.robust.window=1"), ("denoise", "align.global.min_correlation=0"),
    ("denoise", "merge.robust.spatial=0"), ("sharpest", "select.shutter=-1"),
    ("sharpest", "select.shutter=middle"), ("sharpest", "select.threshold=1"),
    ("sharpest", "score.laplacian.crop=1"), ("burst-deblur", "deblur.fourier.power=0"),
]


@pytest.mark.parametrize("preset, setting", GOOD_SETS, ids=[s for _, s in GOOD_SETS])
def test_good_values_are_accepted(burst_cli, shots, preset, setting):
    result = burst_cli("enhance", shots, "--preset", preset, "--set", setting, "--dry-run")
    assert result.exit_code == EXIT_OK, result.output


def test_a_model_path_with_its_card_is_accepted(registry, tmp_path):
    def load(value):
        return load_preset("zoom4x", presets=registry.presets, stages=registry.stages,
                           overrides=[f"zoom.network.model={value}"], models=registry.models)

    model = tmp_path / "mine.tflite"
    model.write_bytes(b"not read at validation")
    with pytest.raises(ConfigError, match="no .json card beside it"):
        load(model)
    model.with_suffix(".json").write_text('{"task": "zoom", "scale": 4}')
    preset = load(model)
    assert next(s for s in preset.steps if s.stage == "zoom.network").params.model == str(model)
    model.with_suffix(".json").write_text('{"task": "deblur"}')
    with pytest.raises(ConfigError, match="is a deblur model, not a zoom one"):
        load(model)
    with pytest.raises(ConfigError, match="no model file"):
        load(tmp_path / "missing.tflite")


def test_models_are_registered_listed_and_checked_by_task(registry, burst_cli):
    assert {"x2", "x4"} <= {n for n, c in registry.models.items() if c.task == "zoom"}
    card = registry.models["x4"]
    assert card.scale == 4 and card.planes == "y" and card.file.is_file()
    assert card.plugin == "zoom" and card.facts["parameters"] > 1000
    listed = burst_cli("models", "--task", "zoom")
    assert listed.exit_code == 0 and "x4" in listed.output and "zoom x4, y" in listed.output
    for name, other in registry.models.items():  # a model of another task is refused by name
        if other.task != "zoom":
            with pytest.raises(ConfigError, match=f"is a {other.task} model, not a zoom one"):
                load_preset("zoom4x", presets=registry.presets, stages=registry.stages,
                            overrides=[f"zoom.network.model={name}"], models=registry.models)


def test_every_preset_found_by_name_still_loads(registry):
    """Shipped presets and the plugins' own preset folders (the .npy test plugin's here)."""
    assert len(registry.presets) > 10
    for name in registry.presets:
        assert load_preset(name, presets=registry.presets, stages=registry.stages,
                           models=registry.models).steps


def test_stages_that_declare_nothing_are_not_checked(registry, tmp_path):
    """A plugin written before `needs`/`provides` keeps working, before and after ours."""
    assert not registry.stages["npy.load"].declared
    check_order(["npy.load", "npy.pick"], registry.stages)
    # npy.load declares nothing: it may provide the pixels and scores the others need
    check_order(["npy.load", "score.laplacian", "select", "develop"], registry.stages)
    check_order(["npy.load", "align.global", "merge.mean"], registry.stages)
    path = write(tmp_path / "mixed.yaml", "pipeline: [decode, npy.pick, merge.mean]\n")
    assert load_preset(str(path), presets=registry.presets, stages=registry.stages)
    # ... but what a declared stage says about the order still counts
    with pytest.raises(ConfigError, match="zoom.window .* must come before align.global"):
        check_order(["npy.load", "align.global", "zoom.window"], registry.stages)


def test_align_global_chooses_a_reference_itself(registry):
    """Without select the first frame is the reference: a merge may follow directly."""
    check_order(["decode", "align.global", "merge.mean", "develop"], registry.stages)
    with pytest.raises(ConfigError, match="merge.mean .* needs a reference frame"):
        check_order(["decode", "align.local", "merge.mean"], registry.stages)


# --- the declarations themselves ------------------------------------------------------

def test_every_first_party_parameter_declares_what_it_accepts(first_party):
    assert len(first_party) >= 21
    for name, spec in first_party.items():
        hints = typing.get_type_hints(spec.params_type)
        for field in dataclasses.fields(spec.params_type):
            rule = spec.constraints()[field.name]
            kind = hints[field.name]
            exempt = kind is bool or typing.get_origin(kind) is typing.Literal
            assert exempt or rule, f"{name}.{field.name} declares no range, choices or check"
            assert rule.error(field.default) is None, f"{name}.{field.name}: default refused"
        spec.make_params({})  # the defaults together pass the class's own checks too


def test_every_first_party_stage_declares_its_order(first_party):
    for name, spec in first_party.items():
        assert spec.declared, f"{name} declares neither needs nor provides"
        assert set(spec.needs) | set(spec.provides) | set(spec.before) <= set(CAPABILITIES)
    # every need is provided by some first-party stage
    provided = {cap for spec in first_party.values() for cap in spec.provides}
    assert {cap for spec in first_party.values() for cap in spec.needs} <= provided


def test_stages_show_the_ranges(burst_cli):
    text = burst_cli("stages", "merge.robust").output
    assert "window (int, default 9, in [1, 255])" in text
    assert "Needs: registered, reference; provides: image" in text
    records = json.loads(burst_cli("stages", "zoom.network", "--json").output)
    by_name = {p["name"]: p for p in records[0]["params"]}
    assert by_name["ensemble"]["range"] == "one of 1, 2, 4, 8"
    assert by_name["refine"]["range"] == "in [0, 1)"
    assert records[0]["needs"] == ["registered", "reference", "developed"]


@pytest.mark.parametrize("kwargs, text, bad, good", [
    (dict(low=1), ">= 1", 0, 1), (dict(above=0), "> 0", 0.0, 1e-9),
    (dict(above=0, high=1), "in (0, 1]", 1.5, 1.0), (dict(low=0, below=1), "in [0, 1)", 1.0, 0.0),
    (dict(high=3), "<= 3", 4, 3), (dict(below=3), "< 3", 3, 2),
    (dict(low=1, odd=True), ">= 1, odd", 4, 5), (dict(choices=(1, 2)), "one of 1, 2", 3, 2),
])
def test_constraint_rules(kwargs, text, bad, good):
    rule = Constraint(**kwargs)
    assert rule.describe() == text
    assert rule.error(bad) and rule.error(good) is None
    assert rule.error((good, bad)) and rule.error((good, good)) is None


def test_a_check_names_its_rule_by_its_docstring():
    def even(value):
        """an even number"""
        return None if value % 2 == 0 else f"{value} is odd"

    assert Constraint(check=even).describe() == "an even number"
    assert Constraint(check=even).error(3) == "3 is odd"


def test_a_plugins_own_post_init_error_is_one_config_line():
    """Third-party classes that check in __post_init__ (ValueError) get one line too."""
    @dataclasses.dataclass(frozen=True)
    class Picky:
        size: int = param(3, "a size")

        def __post_init__(self):
            if self.size == 4:
                raise ValueError("size 4 is unlucky\nsecond line")

    @stage("test.picky", Picky)
    def picky(burst: Burst, params: Picky) -> Burst:
        """A stage for this test."""
        return burst

    with pytest.raises(ConfigError) as info:
        picky.make_params({"size": 4}, source="--set")
    assert str(info.value) == "--set: test.picky: size 4 is unlucky second line"
    assert not picky.declared


def test_stage_refuses_an_unknown_capability():
    with pytest.raises(TypeError, match="unknown capability 'pixel'"):
        stage("test.typo", needs=("pixel",))


# --- "fuzz": every parameter against values of every kind -----------------------------

RAW_VALUES = ["-1", "0", "1", "2", "3", "0.5", "1.5", "-0.5", "1e9", "-1e9", ".nan", ".inf",
              "-.inf", "abc", "''", "[1, 2]", "[0.1, 0.2]", "[]", "{a: 1}", "true", "null",
              "centre", "center", "full", "x3", "x2", "1,2,3", "0,0,0,0", "-5,0,10,10",
              "nan,0,10,10", "2020-01-01", "!!python/object:os.system", "[", "é", "9" * 40]


def test_every_parameter_against_every_kind_of_value(first_party):
    """make_params either accepts a value or raises ConfigError naming the parameter."""
    for name, spec in first_party.items():
        for field in dataclasses.fields(spec.params_type):
            for raw in RAW_VALUES:
                value = parse_overrides([f"{name}.{field.name}={raw}"])[name][field.name]
                try:
                    spec.make_params({field.name: value}, source="--set")
                except ConfigError as exc:
                    assert "\n" not in str(exc) and str(exc).startswith("--set: "), str(exc)
                    assert name in str(exc), str(exc)


def _random_settings(stages, count, seed=13):
    rng = random.Random(seed)
    names = sorted(stages)
    for _ in range(count):
        name = rng.choice(names)
        fields = [f.name for f in dataclasses.fields(stages[name].params_type)] or ["x"]
        key = rng.choice(fields + ["nonsense"])
        raw = rng.choice(RAW_VALUES + ["".join(rng.choice("0123456789.,-eabcx[]{}:! ")
                                               for _ in range(rng.randint(0, 8)))])
        yield f"{name}.{key}={raw}"


def test_random_set_values_never_raise(burst_cli, shots, first_party):
    """A seeded sample of random `--set` strings through the CLI: exit 0 or 2, never a
    traceback (catch_exceptions=False lets one through as a test error)."""
    for setting in _random_settings(first_party, 40):
        result = burst_cli("enhance", shots, "--preset", "zoom4x", "--set", setting,
                           "--dry-run")
        assert result.exit_code in (EXIT_OK, EXIT_USAGE), (setting, result.output)
        if result.exit_code == EXIT_USAGE:
            refused(result)


def test_yaml_values_in_a_file_are_checked_as_set_values(registry, tmp_path):
    """A YAML date or mapping where a number belongs is a one-line type error."""
    for value in ("2020-01-01", "{a: 1}", "[1, [2]]"):
        path = write(tmp_path / "v.yaml", "pipeline: [decode, score.laplacian, select]\n"
                     f"params: {{select: {{threshold: {value}}}}}\n")
        with pytest.raises(ConfigError, match=r"v.yaml: select.threshold: expected float"):
            load_preset(str(path), presets=registry.presets, stages=registry.stages)
    assert yaml.safe_load("a: 1")  # yaml is what parse_overrides reads values with
