"""The output-format contract. Writers are plugins (see ``default_plugins/writers.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .model import Burst, ExifInfo, Layout

#: ``write(path, image, layout, exif, burst)``: write ``image`` to ``path`` (a temporary name
#: the core renames once the call returns), copying what ``exif`` holds where the format
#: allows. ``image``, ``layout`` and ``exif`` are the burst's product and its reference frame's
#: EXIF; ``burst`` is the whole chain's result, for formats that need more than the pixels (a
#: DNG reads the RAW metadata and how the image was developed from it).
WriteFunc = Callable[[Path, np.ndarray, Layout, ExifInfo, Burst], None]

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
