"""Plugins import ``burstcli`` and the shared array library ``burstlib`` (plugins/burstlib:
not a plugin, no hooks), never each other: a third party must be able to write a stage with
the helpers we use, and a plugin must work whichever others are installed or disabled
(issue 13, item 6).

A plugin that drives another plugin's stages (a benchmark, a training recipe) calls them by
name through :func:`burstcli.registry.run_stage`, as a preset would."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

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


def test_no_plugin_imports_another():
    found = sorted(cross_plugin_imports())
    assert not found, (f"plugins must not import each other: {found}; put what they share in "
                       "burstlib, or call the other's stage by name (burstcli.registry.run_stage)")


def test_the_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The scan is not vacuous: an import buried in a function of a plugin is found."""
    plugin = tmp_path / "burst_one"
    plugin.mkdir()
    (plugin / "__init__.py").write_text("def f():\n    from burst_two.x import y\n")
    monkeypatch.setattr(__import__(__name__), "PLUGINS", tmp_path)
    assert cross_plugin_imports() == {("burst_one", "burst_two.x")}
