"""The as-shot white balance as developing applies it (and ``-f dng`` undoes it)."""

from __future__ import annotations

import numpy as np

from burstcli.model import RawInfo


def white_balance_gains(raw: RawInfo) -> np.ndarray:
    """As-shot multipliers per colour index, normalised so green is 1 (a second green that
    the file leaves at 0 takes the first green's)."""
    gains = np.array(raw.white_balance, dtype=np.float64)
    green = [i for i, c in enumerate(raw.color_desc) if c == "G"]
    for i in green:
        if gains[i] <= 0:
            gains[i] = gains[green[0]]
    if not np.all(gains[: len(raw.color_desc)] > 0):
        return np.ones(len(raw.color_desc))
    return gains / gains[green[0]]


def rgb_gains(raw: RawInfo) -> np.ndarray:
    """:func:`white_balance_gains` of the R, G and B planes (of a demosaicked image or a
    LinearRaw one), in that order."""
    gains = white_balance_gains(raw)
    return np.array([gains[raw.color_desc.index(c)] for c in "RGB"])
