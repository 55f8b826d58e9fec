"""The output-format contract. Writers are plugins (see ``default_plugins/writers.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .model import ExifInfo, Layout

#: ``write(path, image, layout, exif)``: write ``image`` to ``path`` (a temporary name the
#: core renames once the call returns), copying what ``exif`` holds where the format allows.
WriteFunc = Callable[[Path, np.ndarray, Layout, ExifInfo], None]


@dataclasses.dataclass(frozen=True)
class Writer:
    """An output format: ``name`` for ``--format``, the file ``extension`` (with the dot)."""

    name: str
    extension: str
    write: WriteFunc
    description: str = ""
