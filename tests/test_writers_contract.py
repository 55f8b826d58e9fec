"""The writer contract: a four-argument writer (written before the burst was passed) works."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from burstcli import Burst, ExifInfo
from burstcli.writers import Writer, call_writer


def test_writers_get_the_burst_only_when_they_take_it(tmp_path: Path):
    seen: list[tuple] = []

    def old(path, image, layout, exif):  # type: ignore[no-untyped-def]
        seen.append(("old", path))

    def new(path, image, layout, exif, burst):  # type: ignore[no-untyped-def]
        seen.append(("new", burst.name))

    burst = Burst("b", ())
    image = np.zeros((2, 2), np.float32)
    for function in (old, new):
        call_writer(Writer("x", ".x", function), tmp_path / "o.x", image, "gray", ExifInfo(),
                    burst)
    assert seen == [("old", tmp_path / "o.x"), ("new", "b")]
