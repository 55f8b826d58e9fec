"""The ``burst bench merge`` command."""

from __future__ import annotations

from pathlib import Path

import click

from burstcli.errors import BurstError
from burstlib.images import default_data

from .degrade import KINDS, NOISE_BANDS
from .merge_bench import PRESETS, bench_merge
from .scenes import SOURCES

DEFAULT_DATA = default_data()


def _csv(choices: tuple[str, ...]) -> click.ParamType:
    class Csv(click.ParamType):
        name = ",".join(choices)

        def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
            items = tuple(v.strip() for v in str(value).split(",") if v.strip())
            wrong = [v for v in items if v not in choices]
            if wrong or not items:
                self.fail(f"{value!r}: choose from {', '.join(choices)}", param, ctx)
            return items
    return Csv()


@click.command("merge")
@click.option("--bursts", type=click.IntRange(1), default=4, show_default=True,
              help="bursts per file kind and noise band (alternately static and moving)")
@click.option("--kinds", type=_csv(KINDS), default=",".join(KINDS), show_default=True)
@click.option("--noise", "bands", type=_csv(NOISE_BANDS), default=",".join(NOISE_BANDS),
              show_default=True)
@click.option("--sizes", default="48,512", show_default=True,
              help="smallest,largest frame side (px); sizes are drawn log-uniformly")
@click.option("--presets", default=",".join(PRESETS), show_default=True,
              help="comma-separated presets to measure (any installed preset)")
@click.option("--shake", type=click.FloatRange(0), default=0.0, show_default=True,
              help="shake every frame by a camera trajectory up to this long (px); the truth "
                   "stays still (deblurring presets)")
@click.option("--lens/--no-lens", default=True, show_default=True,
              help="lens blur in the frames and their truth; --no-lens keeps the truth sharp, "
                   "so a deblurring preset is not charged for sharpening it")
@click.option("--sets", type=_csv(tuple(SOURCES)), default=None,
              help="image sources to draw from (default: all of " + ", ".join(SOURCES) + ")")
@click.option("--seed", type=int, default=12, show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              help="a parameter for the presets, as in burst enhance (repeatable)")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding b100, set14, urban100_subset, city100_iphonex "
                   "(default: ../shared/data)")
def bench_merge_command(bursts: int, kinds: tuple[str, ...], bands: tuple[str, ...], sizes: str,
                        presets: str, shake: float, lens: bool, sets: tuple[str, ...] | None,
                        seed: int, overrides: tuple[str, ...], data: Path | None) -> None:
    """Denoising merges on bursts made from photographs by a generator no stage was tuned
    on (DNG, 16-bit TIFF, 8-bit PNG and JPEG; noise from none to heavy; translation to
    perspective; a moving object in every other burst), beside the textbook ECC + mean,
    the oracle mean and the limit 10 log10 N, per kind and noise band."""
    try:
        bench_merge(_data_folder(data), bursts=bursts, kinds=kinds, bands=bands,
                    sizes=_sizes(sizes), presets=[p.strip() for p in presets.split(",") if p],
                    seed=seed, overrides=overrides, shake=shake, sets=sets, lens=lens,
                    echo=click.echo)
    except (FileNotFoundError, BurstError) as error:
        raise click.ClickException(str(error)) from None


def _sizes(text: str) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: two sizes such as 48,512", param_hint="--sizes")
    if not 16 <= low <= high:
        raise click.BadParameter(f"{text!r}: 16 <= smallest <= largest", param_hint="--sizes")
    return low, high


def _data_folder(data: Path | None) -> Path:
    folder = data or DEFAULT_DATA
    if not folder.is_dir():
        raise click.ClickException("no data folder: pass --data (see ../shared/data/README.md)")
    return folder


@click.command("upscale")
@click.option("--scale", type=click.Choice(["2", "4"]), default="4", show_default=True)
@click.option("--bursts", type=click.IntRange(1), default=2, show_default=True,
              help="bursts per file kind and noise band (alternately static and moving)")
@click.option("--kinds", type=_csv(KINDS), default=",".join(KINDS), show_default=True)
@click.option("--noise", "bands", type=_csv(NOISE_BANDS), default=",".join(NOISE_BANDS),
              show_default=True)
@click.option("--sizes", default="48,160", show_default=True,
              help="smallest,largest frame side (px) before the zoom")
@click.option("--seed", type=int, default=34, show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              help="a parameter for the presets, as in burst enhance (repeatable)")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding b100, set14, urban100_subset, city100_iphonex "
                   "(default: ../shared/data)")
def bench_upscale_command(scale: str, bursts: int, kinds: tuple[str, ...],
                          bands: tuple[str, ...], sizes: str, seed: int,
                          overrides: tuple[str, ...], data: Path | None) -> None:
    """Multi-frame super-resolution (upscale{2,4}x and -classical) on aliased, box-sampled
    bursts of photographs no model saw (every other one with a moving object), every kind and
    noise band, beside bicubic and the textbook ECC + iterative back-projection (10 and 30
    iterations, and with the true motion)."""
    from .zoom_bench import bench_upscale
    try:
        bench_upscale(_data_folder(data), scale=int(scale), bursts=bursts, kinds=kinds,
                      bands=bands, sizes=_sizes(sizes), seed=seed, overrides=overrides,
                      echo=click.echo)
    except (FileNotFoundError, BurstError) as error:
        raise click.ClickException(str(error)) from None


@click.command("registration", context_settings={"ignore_unknown_options": True})
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding b100, set14, urban100_subset, kodak24 "
                   "(default: ../shared/data)")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def bench_registration_command(data: Path | None, options: tuple[str, ...]) -> None:
    """Registration (align.global) beside ECC translation and Euclidean on bursts made from
    photographs with known motion: static, with an object moving on its own, RAW mosaics;
    RMS and worst error, frames dropped, frames accepted 0.5 px off, seconds. OPTIONS:
    --sizes 48 64 ..., --noise none light moderate heavy, --bursts N, --frames N, --seed N,
    --tables static moving mosaic speed, --speed, --wall."""
    from .registration_bench import main
    main(["--data", str(_data_folder(data)), *options])


@click.command("exposure")
@click.option("--bursts", type=click.IntRange(1), default=3, show_default=True,
              help="bracketed bursts per noise band")
@click.option("--long", "long_frames", type=click.IntRange(1), default=3, show_default=True,
              help="long-exposure frames after the 5 regular ones")
@click.option("--ratio", type=click.FloatRange(1), default=4.0, show_default=True,
              help="their exposure time over the regular frames'")
@click.option("--blur", type=click.FloatRange(0), default=6.0, show_default=True,
              help="largest shake of a regular frame (px); long frames shake ratio times more")
@click.option("--size", default="320x240", show_default=True, help="frame size WxH (even)")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="a folder of photographs for the scenes (default: procedural)")
@click.option("--seed", type=int, default=0, show_default=True)
def bench_exposure_command(bursts: int, long_frames: int, ratio: float, blur: float, size: str,
                           source: Path | None, seed: int) -> None:
    """001's exposure policy (select.exposure) on bracketed DNG bursts, beside fusing all
    frames, the regular frames only, the long ones only, and the deblurred reference alone."""
    from .exposure_bench import run_bench
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{size!r}: WxH such as 320x240", param_hint="--size")
    run_bench(bursts, long=long_frames, ratio=ratio, blur=blur, size=(width, height),
              seed=seed, source=source, echo=click.echo)
