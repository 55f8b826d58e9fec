"""The output-format contract. Writers are plugins (see ``default_plugins/writers.py``)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .model import Burst, ExifInfo, Layout

#: ``write(path, image, layout, exif[, burst])``: write ``image`` to ``path`` (a temporary name
#: the core renames once the call returns), copying what ``exif`` holds where the format
#: allows. ``image``, ``layout`` and ``exif`` are the burst's product and its reference frame's
#: EXIF; ``burst`` is the whole chain's result, for formats that need more than the pixels (a
#: DNG reads the RAW metadata and how the image was developed from it). A writer made for the
#: four-argument contract (before ``burst`` was passed) still works: :func:`call_writer`
#: passes ``burst`` only to functions that take five arguments.
WriteFunc = Callable[..., None]

#: ``check(files)``: why this format cannot hold the result of a burst of these files (one
#: line), or None. Called per burst before anything is decoded, so the burst fails at once.
CheckFunc = Callable[[Sequence[Path]], str | None]


@dataclasses.dataclass(frozen=True)
class Writer:
    """An output format: ``name`` for ``--format``, the file ``extension`` (with the dot), and
    ``check`` for formats that only some bursts can be written in (None: every burst)."""

    name: str
    extension: str
    write: WriteFunc
    description: str = ""
    check: CheckFunc | None = None


def call_writer(writer: Writer, path: Path, image: np.ndarray, layout: Layout, exif: ExifInfo,
                burst: Burst) -> None:
    """``writer.write`` with ``burst`` when it takes it (see :data:`WriteFunc`)."""
    try:
        inspect.signature(writer.write).bind(path, image, layout, exif, burst)
    except TypeError:  # the four-argument contract
        writer.write(path, image, layout, exif)
        return
    writer.write(path, image, layout, exif, burst)
