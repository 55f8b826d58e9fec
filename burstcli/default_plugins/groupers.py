"""Built-in ways to split one folder's frames into bursts: folder, time, count."""

from __future__ import annotations

from collections.abc import Sequence

from burstcli import hookimpl
from burstcli.collect import GroupOptions, Grouper, InputFile


@hookimpl
def register_groupers(register) -> None:  # type: ignore[no-untyped-def]
    """The built-in groupers."""
    register(Grouper("folder", by_folder, "one burst per folder"))
    register(Grouper("time", by_time_gap,
                     "a new burst where the capture-time gap exceeds --gap seconds"))
    register(Grouper("count", by_count, "consecutive runs of --count frames"))


def by_folder(files: Sequence[InputFile], options: GroupOptions) -> list[list[InputFile]]:
    """Every frame of the folder in one burst."""
    return [list(files)]


def by_time_gap(files: Sequence[InputFile], options: GroupOptions) -> list[list[InputFile]]:
    """Split where consecutive capture times are more than ``options.gap`` seconds apart.

    Frames without a capture time cannot be placed in time: they form one burst of their own.
    """
    timed = [f for f in files if f.exif.capture_time is not None]
    untimed = [f for f in files if f.exif.capture_time is None]
    groups: list[list[InputFile]] = []
    for file in timed:
        previous = groups[-1][-1].exif.capture_time if groups else None
        taken = file.exif.capture_time
        assert taken is not None  # timed frames only
        if previous is None or (taken - previous).total_seconds() > options.gap:
            groups.append([])
        groups[-1].append(file)
    return groups + ([untimed] if untimed else [])


def by_count(files: Sequence[InputFile], options: GroupOptions) -> list[list[InputFile]]:
    """Consecutive runs of ``options.count`` frames (the last run may be shorter)."""
    if options.count < 1:
        raise ValueError("--group count needs --count N with N >= 1")
    return [list(files[i:i + options.count]) for i in range(0, len(files), options.count)]
