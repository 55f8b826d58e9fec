"""Synthetic RAW bursts with ground truth: ``burst synth OUT``.

Every stage of burst is measured on these: real DNG files (rawpy reads them back exactly) made
from clean images by the published synthetic-burst recipe, plus camera shake, exposure jitter
and a moving object. See :mod:`burstlib.synth.api` for the layout and the truth it records.
"""

from __future__ import annotations

from pathlib import Path

import click

from burstcli import hookimpl

from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.dng import write_dng, write_linear_dng

from .demo import demo

__all__ = ["SynthOptions", "load_truth", "make_burst", "write_dng", "write_linear_dng"]


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WxH, e.g. 640x480, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise click.BadParameter("width and height must be even and at least 16")
    return width, height


def _parse_noise(text: str) -> str | float:
    try:
        shot = float(text)
    except ValueError:
        if text not in ("none", "low", "recipe", "high"):
            raise click.BadParameter("none, low, recipe, high or a shot-noise number") from None
        return text
    if shot < 0:
        raise click.BadParameter("the shot-noise number must be >= 0")
    return shot


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--bursts", default=1, show_default=True, type=click.IntRange(1), help="Bursts to write.")
@click.option("--frames", default=8, show_default=True, type=click.IntRange(1), help="Frames per burst.")
@click.option("--size", default="640x480", show_default=True, help="Frame size WxH (even).")
@click.option("--zoom", default=1, show_default=True, type=click.IntRange(1),
              help="Scene resolution over frame resolution (frames are aliased by this much).")
@click.option("--noise", default="recipe", show_default=True,
              help="none, low, recipe (the published range), high, or a shot-noise number.")
@click.option("--blur", default=3.0, show_default=True, type=click.FloatRange(0),
              help="Largest camera-shake length in pixels.")
@click.option("--sharp-margin", default=1.0, show_default=True, type=click.FloatRange(0),
              help="How much less shaken the sharpest frame is (streak pixels; see truth.json).")
@click.option("--exposure-jitter", default=0.1, show_default=True, type=click.FloatRange(0, 0.9),
              help="Exposure gains vary as U(1 - j, 1 + j).")
@click.option("--motion", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Scale of the hand-held drift (1: up to 6 px, the recipe's 24 px at 4x).")
@click.option("--rotation", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Largest rotation in degrees.")
@click.option("--moving-object/--no-moving-object", default=True, show_default=True,
              help="A textured disc moving across the scene.")
@click.option("--optics", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Lens blur (Gaussian sigma, pixels); 0 keeps the recipe's full aliasing.")
@click.option("--long-frames", default=0, show_default=True, type=click.IntRange(0),
              help="A bracketed burst: this many long exposures after the regular frames.")
@click.option("--long-exposure", default=4.0, show_default=True, type=click.FloatRange(1),
              help="The long frames' exposure time over the regular ones' (lower ISO, longer "
                   "shake).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the first burst.")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of clean images to use as scenes (default: a procedural scene).")
def synth(out: Path, bursts: int, frames: int, size: str, zoom: int, noise: str, blur: float,
          sharp_margin: float, exposure_jitter: float, motion: float, rotation: float,
          moving_object: bool, optics: float, long_frames: int, long_exposure: float, seed: int,
          source: Path | None) -> None:
    """Write synthetic RAW bursts (DNG) with their ground truth into OUT.

    Each burst goes to OUT/burst_NNN/ (seed + N): frame_*.dng, truth.json (true transforms,
    blur, noise, the sharpest frame) and the clean image and moving-object mask as .npy arrays
    (not image files, so `burst enhance OUT` sees only the frames).
    """
    width, height = _parse_size(size)
    for index in range(bursts):
        options = SynthOptions(frames=frames, width=width, height=height, zoom=zoom,
                               noise=_parse_noise(noise), blur=blur, sharp_margin=sharp_margin,
                               exposure_jitter=exposure_jitter, motion=motion,
                               rotation=rotation, moving_object=moving_object, optics=optics,
                               long_frames=long_frames, long_exposure=long_exposure,
                               seed=seed + index,
                               source=source, name=f"burst_{index:03d}")
        try:
            truth = make_burst(out, options)
        except (ValueError, FileNotFoundError) as error:  # bad options or an empty --source
            raise click.ClickException(str(error)) from None
        click.echo(f"{out / options.name}: {frames} frames, sharpest {truth['reference']}, "
                   f"shutter {truth['shutter']}, noise shot {truth['frames'][0]['noise']['shot']:.2g}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``burst synth`` and ``burst demo``."""
    cli.add_command(synth)
    cli.add_command(demo)
