"""An example third-party plugin: one stage and one preset, found through the `burst` entry point."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from burstcli import Burst, hookimpl, param, stage


@dataclasses.dataclass(frozen=True)
class NegativeParams:
    strength: float = param(1.0, "1 gives the full negative, 0 leaves the image as it is")


@stage("example.negative", NegativeParams)
def negative(burst: Burst, params: NegativeParams) -> Burst:
    """Turn the burst's image into its photographic negative.

    Works on the product of the earlier stages (the developed image, or the reference frame),
    keeping its dtype: uint8 and uint16 are inverted against their full range.
    """
    image, layout = burst.product()
    peak = np.iinfo(image.dtype).max if image.dtype.kind == "u" else 1.0
    mixed = (1 - params.strength) * image.astype(np.float64) + params.strength * (peak - image)
    return burst.replace(image=mixed.round().astype(image.dtype) if image.dtype.kind == "u"
                         else mixed.astype(image.dtype), image_layout=layout)


@hookimpl
def register_stages(register):
    register(negative)


@hookimpl
def register_presets(register):
    register(Path(__file__).parent / "negative.yaml")
