"""Every shipped preset validates against the installed stages."""

from __future__ import annotations

import pytest

from burstcli.default_plugins.presets import shipped_presets_dir
from burstcli.presets import load_preset

SHIPPED = sorted(p.stem for p in shipped_presets_dir().glob("*.yaml"))


def test_the_required_presets_ship():
    assert "sharpest" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_validates(name, burst_registry):
    preset = load_preset(name, presets=burst_registry.presets, stages=burst_registry.stages)
    assert preset.description and preset.steps


def test_presets_list_and_show(burst_cli):
    listed = burst_cli("presets", "list")
    assert all(name in listed.output for name in SHIPPED)
    shown = burst_cli("presets", "show", "sharpest", "--set", "select.method=walk")
    assert shown.exit_code == 0 and "method: 'walk'" in shown.output


def test_presets_list_keeps_its_columns_within_the_terminal(burst_cli):
    """Long preset names used to push their descriptions out of line."""
    result = burst_cli("presets", "list", env={"COLUMNS": "80"})
    lines = result.output.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    # where each line's text begins: after the name's column, or after a continuation's indent
    starts = {len(line) - len(line.lstrip(" ")) if line.startswith(" ")
              else len(line) - len(line.split(" ", 1)[1].lstrip(" ")) for line in lines}
    assert len(starts) == 1, starts  # every description and continuation at one column
