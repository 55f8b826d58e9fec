"""Plugins import ``burstcli`` and the shared array library ``burstlib`` (plugins/burstlib:
not a plugin, no hooks), never each other: a third party must be able to write a stage with
the helpers we use, and a plugin must work whichever others are installed or disabled
(issue 13, item 6).

The imports of one plugin by another that exist today are listed below as debt: a new one
fails this test, and so does an entry that no longer exists (the list only shrinks). Moving
what is still shared (warps, the tiled LiteRT runtime, accumulators, the synthetic sensor)
into burstlib pays off the rest; the decoded-array helpers, the grey proxy, the noise
estimates, the exposure gains and the colour conversions are there already."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

#: (importing plugin, imported module) pairs still to be removed.
DEBT = {
    ("burst_bench", "burst_align"),
    ("burst_bench", "burst_synth.dng"),
    ("burst_demo", "burst_synth.api"),
    ("burst_merge", "burst_align"),
    ("burst_merge", "burst_align.lk"),
    ("burst_merge", "burst_align.register"),
    ("burst_zoom", "burst_align"),
    ("burst_zoom", "burst_decode"),
    ("burst_zoom", "burst_develop"),
    ("burst_zoom", "burst_merge"),
    ("burst_zoom", "burst_merge.kernel"),
    ("burst_zoom", "burst_synth.api"),
    ("burst_zoom", "burst_synth.sensor"),
    ("burst_zoom", "burst_train.fold"),
    ("burst_zoom", "burst_train.net"),
    ("burst_zoom", "burst_train.tflite_export"),
    ("burst_zoom", "burst_train.tflite_import"),
}


def cross_plugin_imports() -> set[tuple[str, str]]:
    """Every (plugin, module of another plugin) import, at any depth of the code (imports
    inside functions count: they couple the plugins just the same)."""
    pairs = set()
    for path in sorted(PLUGINS.rglob("*.py")):
        plugin = path.relative_to(PLUGINS).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            pairs |= {(plugin, name) for name in names
                      if name.split(".")[0].startswith("burst_")
                      and name.split(".")[0] != plugin}
    return pairs


def test_no_plugin_starts_importing_another():
    new = sorted(cross_plugin_imports() - DEBT)
    assert not new, (f"plugins must not import each other: {new}; put what they share in the "
                     "shared array library")


def test_the_debt_list_only_shrinks():
    paid = sorted(DEBT - cross_plugin_imports())
    assert not paid, f"no longer imported, take them off DEBT: {paid}"
