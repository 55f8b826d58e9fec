"""The man pages in man/ are generated from the CLI: this fails when they drift."""

from __future__ import annotations

import difflib
from pathlib import Path

from burstcli.cli import cli
from burstcli.cli.manpages import generate

MAN = Path(__file__).resolve().parents[1] / "man"


def test_man_pages_match_the_cli():
    pages = generate(cli)
    assert {"burst.1", "burst-enhance.1", "burst-presets-list.1"} <= set(pages)
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in MAN.glob("*.1")}
    stale = sorted(name for name in pages if on_disk.get(name) != pages[name])
    extra = sorted(set(on_disk) - set(pages))
    diff = "".join(difflib.unified_diff(on_disk.get(stale[0], "").splitlines(True),
                                        pages[stale[0]].splitlines(True))) if stale else ""
    assert not stale and not extra, (
        f"man pages out of date: {stale or extra}; run `burst man -o man` and commit\n{diff}")


def test_pages_document_every_option():
    page = generate(cli)["burst-enhance.1"]
    for option in ("\\-\\-preset", "\\-\\-dry\\-run", "\\-\\-overwrite", "\\-\\-jobs", "\\-\\-set"):
        assert option in page
