"""``burst bench merge``, ``burst bench upscale`` and ``burst bench registration``:
measurements on bursts made elsewhere than ``burst synth``.

A plugin of commands only (no stages): the benchmark generator (:mod:`.degrade`), the
textbook peers (:mod:`.peers`) and the tables (:mod:`.merge_bench`, :mod:`.zoom_bench`,
:mod:`.registration_bench`, which makes its own bursts with known motion).
"""

from __future__ import annotations

from burstcli import hookimpl


@hookimpl
def register_commands(cli) -> None:  # type: ignore[no-untyped-def]
    """Add ``burst bench merge``, ``upscale``, ``registration`` and ``exposure`` to the
    ``bench`` group (made here if no plugin made it)."""
    from burstcli.cli.context import shared_group

    from .commands import (bench_exposure_command, bench_merge_command,
                           bench_registration_command, bench_upscale_command)
    group = shared_group(cli, "bench")
    group.add_command(bench_merge_command)
    group.add_command(bench_upscale_command)
    group.add_command(bench_registration_command)
    group.add_command(bench_exposure_command)
