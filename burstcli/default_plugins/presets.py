"""Registers the presets shipped with burst (the ``presets/`` folder of the source tree,
installed as the package data ``burstcli.shipped_presets``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from burstcli import hookimpl


def shipped_presets_dir() -> Path:
    """Where the shipped YAML files are: installed package data, else the source tree."""
    try:
        return Path(str(files("burstcli.shipped_presets")))
    except ModuleNotFoundError:  # a source checkout that was never installed
        return Path(__file__).resolve().parents[2] / "presets"


@hookimpl(trylast=True)
def register_presets(register) -> None:  # type: ignore[no-untyped-def]
    """The shipped presets; ``trylast`` so a plugin's preset of the same name wins."""
    register(shipped_presets_dir())
