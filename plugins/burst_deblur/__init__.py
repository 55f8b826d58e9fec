"""Single-frame deblurring (seed 001 fig. 6, claims 4 and 10): a folded network run through
LiteRT on the chain's product, and the models it ships."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from burstcli import Burst, hookimpl, param, stage
from burstcli.models import ModelCard

from .apply import deblur_product

MODELS = Path(__file__).parent / "models"
#: The name presets use -> the file stem. ``deblur`` is v2, told the noise level (an input
#: plane, deblur_rgb_sigma.md); ``deblur-rgb`` the first training, kept to compare against.
SHIPPED = {"deblur": "deblur_rgb_sigma", "deblur-rgb": "deblur_rgb"}
#: Measured by `burst bench deblur` (its "gated" column) on `deblur` (v2): at 0.05 the loss on
#: sharp frames at low noise falls from 4.2 dB to 2.4 dB and shaken frames keep what the
#: network gains on them (deblur_rgb_sigma.md).
SKIP_SHARPER_THAN = 0.05


@dataclasses.dataclass(frozen=True)
class DeblurParams:
    model: str = param("deblur", "the deblur network", model_task="deblur")
    tile: int = param(512, "tile side (pixels) the network runs on; tiles overlap, so the "
                           "result does not depend on it", low=64, high=4096)
    skip_sharper_than: float = param(
        SKIP_SHARPER_THAN, "leave the image as it is when its sharpness (001 eq. 1, high- over "
                           "low-band amplitude; sharp photographs measure about 0.06-0.11) is "
                           "at least this: run on sharp, clean frames the shipped model costs "
                           "1-5 dB (0: always run)", low=0)


@stage("deblur.network", DeblurParams, needs=("pixels",), provides=())
def deblur_network(burst: Burst, params: DeblurParams) -> Burst:
    """Remove camera shake and defocus from one image with the learned network (001 fig. 6).

    Works on the chain's product: before a merge, the reference frame (001's first deblurred
    image: later stages register the other frames to it and fuse); after one, the merged
    image (the third deblurred image of claim 10). The product must be developed (RGB or
    grey; put ``develop.frames`` or ``develop`` after ``decode`` for RAW); frames developed to
    linear light are encoded with the sRGB curve for the network, which was trained on
    gamma-encoded pictures, and decoded back. The network predicts a residual, trained with
    sharp frames among its examples: a sharp image is left nearly as it is.

    A model whose card says ``planes: rgb+sigma`` also reads the noise level, per pixel, as
    FFDNet does (``noise_plane.py``): from the frame's RAW noise profile when it still has one
    (none does in the shipped chains: ``develop.frames`` drops RAW metadata), else measured
    from the image itself (its noise level function; a merged image is always measured). The
    sidecar says which, and the mean noise std the network was told.
    """
    return deblur_product(burst, params.model, params.tile, params.skip_sharper_than)


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The ``deblur.network`` stage."""
    register(deblur_network)


@hookimpl
def register_commands(cli) -> None:  # type: ignore[no-untyped-def]
    """Add ``burst bench deblur`` and ``burst train deblur`` (``burst train CONFIG`` for a
    config with ``task: deblur``)."""
    from burstcli.cli.context import shared_group

    from .commands import bench_deblur, train_deblur
    shared_group(cli, "bench").add_command(bench_deblur)
    shared_group(cli, "train").add_command(train_deblur)


@hookimpl
def register_models(register) -> None:  # type: ignore[no-untyped-def]
    """The shipped deblur networks (``burst models --task deblur``)."""
    for name, stem in SHIPPED.items():
        file = MODELS / f"{stem}.tflite"
        if file.is_file():
            register(ModelCard.from_file(name, file))
