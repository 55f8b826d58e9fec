"""Paths on the command line -> image files -> bursts.

A folder that directly holds image files is one burst (or several, split by a grouper); the
subfolders of a given folder that hold images are bursts too; ``recursive`` goes deeper.
Frames are ordered by capture time, then file name. Hidden folders, the output folder and any
folder marked as burst output (``.burst-output``) are never entered; files with an extension no plugin decodes are ignored and counted.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .model import ExifInfo

#: A file the runner leaves in every output folder, so that later runs never collect outputs.
OUTPUT_MARKER = ".burst-output"


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One image file found on disk, with the EXIF read from its header."""

    path: Path
    exif: ExifInfo = dataclasses.field(default_factory=ExifInfo)


@dataclasses.dataclass(frozen=True)
class GroupOptions:
    """Options of the groupers: ``gap`` in seconds for ``time``, ``count`` for ``count``."""

    gap: float = 2.0
    count: int = 0


#: ``split(files, options)``: files of one folder, in capture order -> bursts.
SplitFunc = Callable[[Sequence[InputFile], GroupOptions], list[list[InputFile]]]


@dataclasses.dataclass(frozen=True)
class Grouper:
    """A way of splitting the frames of one folder into bursts (``--group NAME``)."""

    name: str
    split: SplitFunc
    description: str = ""


@dataclasses.dataclass(frozen=True)
class FoundBurst:
    """A burst found on disk: a unique name, its folder and its files in capture order."""

    name: str
    folder: Path
    files: tuple[InputFile, ...]


@dataclasses.dataclass(frozen=True)
class Collection:
    """What collecting found: the bursts, and the files it ignored."""

    bursts: tuple[FoundBurst, ...]
    ignored: tuple[Path, ...]


def collect(paths: Iterable[Path], *, extensions: frozenset[str], grouper: Grouper,
            options: GroupOptions = GroupOptions(), recursive: bool = False,
            read_exif: Callable[[Path], ExifInfo | None] = lambda p: None,
            exclude: Iterable[Path] = ()) -> Collection:
    """Find the bursts under ``paths``; see the module docstring for the rules."""
    excluded = {Path(p).resolve() for p in exclude}
    folders: dict[Path, dict[Path, None]] = {}  # a dict keeps order and drops repeats
    ignored: list[Path] = []
    for path in paths:
        for folder, files in _folders_under(Path(path), recursive, excluded):
            images = [f for f in files if f.suffix.lower() in extensions]
            ignored += [f for f in files if f.suffix.lower() not in extensions]
            if images:
                folders.setdefault(folder, {}).update(dict.fromkeys(images))
    groups: list[tuple[Path, list[InputFile]]] = []
    for folder, found in folders.items():
        ordered = order_frames([InputFile(p, read_exif(p) or ExifInfo()) for p in found])
        groups += [(folder, group) for group in grouper.split(ordered, options) if group]
    return Collection(bursts=_name_bursts(groups), ignored=tuple(ignored))


def order_frames(files: Sequence[InputFile]) -> list[InputFile]:
    """Capture time first (files without one after those with one), then file name."""
    def key(f: InputFile) -> tuple[bool, _dt.datetime, str]:
        time = f.exif.capture_time
        return (time is None, _naive(time) if time else _dt.datetime.min, f.path.name)
    return sorted(files, key=key)


def _naive(time: _dt.datetime) -> _dt.datetime:
    return time.replace(tzinfo=None)


def _folders_under(path: Path, recursive: bool,
                   excluded: set[Path]) -> Iterable[tuple[Path, list[Path]]]:
    """(folder, files directly in it) for the folder itself and its (deeper) subfolders."""
    if path.is_file():
        yield path.parent, [path]
        return
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    yield from _walk(path, depth=0 if recursive else 1, excluded=excluded, unlimited=recursive)


def _walk(folder: Path, depth: int, excluded: set[Path],
          unlimited: bool) -> Iterable[tuple[Path, list[Path]]]:
    if folder.resolve() in excluded or (folder / OUTPUT_MARKER).exists():
        return  # never take burst's own outputs for inputs
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    yield folder, [p for p in entries if p.is_file()]
    if unlimited or depth > 0:
        for sub in (p for p in entries if p.is_dir()):
            yield from _walk(sub, depth - 1, excluded, unlimited)


def _name_bursts(groups: list[tuple[Path, list[InputFile]]]) -> tuple[FoundBurst, ...]:
    """Name each burst after its folder (plus its first frame when a folder was split),
    prefixing parent folder names until every name is unique: outputs share one folder."""
    per_folder: dict[Path, int] = {}
    for folder, _ in groups:
        per_folder[folder] = per_folder.get(folder, 0) + 1
    candidates = []
    for folder, files in groups:
        tail = f"-{files[0].path.stem}" if per_folder[folder] > 1 else ""
        candidates.append((folder, files, tail))
    depth = 1
    while True:
        names = [_folder_label(folder, depth) + tail for folder, _, tail in candidates]
        if len(set(names)) == len(names) or depth > 32:
            break
        depth += 1
    return tuple(FoundBurst(name, folder, tuple(files))
                 for name, (folder, files, _) in zip(names, candidates))


def _folder_label(folder: Path, depth: int) -> str:
    parts = folder.resolve().parts[-depth:]
    return "_".join(p.strip("/") or "root" for p in parts)
