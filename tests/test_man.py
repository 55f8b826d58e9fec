"""The man pages in man/ are generated from the CLI: this fails when they drift."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from burstcli.cli import cli
from burstcli.cli.manpages import generate

MAN = Path(__file__).resolve().parents[1] / "man"


def comparable(page: str) -> str:
    """A page as far as its content goes: click's way of writing what it adds (the brackets
    of defaults and ranges, their separators and order, line breaks) changes between click
    versions, and the pages must not go stale for that alone."""
    def bracket(match: re.Match) -> str:
        return "[" + " ".join(sorted(re.split(r"[\s;,]+", match.group(1).strip()))) + "]"
    return " ".join(re.sub(r"\[([^\]]*)\]", bracket, page).split())


def test_man_pages_match_the_cli():
    pages = generate(cli)
    assert {"burst.1", "burst-enhance.1", "burst-presets-list.1"} <= set(pages)
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in MAN.glob("*.1")}
    stale = sorted(name for name in pages
                   if comparable(on_disk.get(name, "")) != comparable(pages[name]))
    extra = sorted(set(on_disk) - set(pages))
    diff = "".join(difflib.unified_diff(on_disk.get(stale[0], "").splitlines(True),
                                        pages[stale[0]].splitlines(True))) if stale else ""
    assert not stale and not extra, (
        f"man pages out of date: {stale or extra}; run `burst man -o man` and commit\n{diff}")


def test_comparison_ignores_click_formatting_only():
    page = ".B \\-\\-jobs\nWorkers.  [default: 1; x>=1]\n"
    assert comparable(page) == comparable(".B \\-\\-jobs\nWorkers. [x>=1, default: 1]")
    assert comparable(page) != comparable(".B \\-\\-jobs\nWorkers.  [default: 2; x>=1]\n")


def test_pages_document_every_option():
    page = generate(cli)["burst-enhance.1"]
    for option in ("\\-\\-preset", "\\-\\-dry\\-run", "\\-\\-overwrite", "\\-\\-jobs", "\\-\\-set"):
        assert option in page
