"""Synthetic RAW bursts with ground truth: ``burst synth OUT``.

Every stage of burst is measured on these: real DNG files (rawpy reads them back exactly) made
from clean images by the published synthetic-burst recipe, plus camera shake, exposure jitter
and a moving object. See :mod:`burstlib.synth.api` for the layout and the truth it records.

``burst synth OUT --sessions N`` writes capture sessions instead (one scene shot from far,
hand-held, and from near, on a tripod, with the true transforms between them: what a far/near
training-set builder reads); see :mod:`burstlib.synth.session`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from click.core import ParameterSource

from burstcli import hookimpl

from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.synth.session import MIN_RATIO, SessionOptions, load_session, make_session
from burstlib.dng import write_dng, write_linear_dng

from .demo import demo

__all__ = ["SessionOptions", "SynthOptions", "load_session", "load_truth", "make_burst",
           "make_session", "write_dng", "write_linear_dng"]

#: Options that only bursts use, and options that only sessions use (click parameter names).
BURST_ONLY = ("bursts", "zoom", "moving_object", "long_frames", "long_exposure")
SESSION_ONLY = ("ratio", "near_frames", "bad_near")


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
@click.option("--sessions", default=0, show_default=True, type=click.IntRange(0),
              help="Write this many capture sessions (OUT/scene_NNN, seed + N) instead of "
                   "bursts: far/ (--frames, hand-held), near/ (--near-frames, tripod), "
                   "truth.json and clean_near.npy.")
@click.option("--frames", default=8, show_default=True, type=click.IntRange(1),
              help="Frames per burst (sessions: far frames).")
@click.option("--near-frames", default=4, show_default=True, type=click.IntRange(1),
              help="Sessions: near (tripod) frames.")
@click.option("--ratio", default=2.0, show_default=True, type=click.FloatRange(MIN_RATIO),
              help="Sessions: far distance over near distance (the near view is about the "
                   "central 1/ratio of a far frame).")
@click.option("--bad-near", type=click.Choice(["bump", "occluder"]), is_flag=False,
              flag_value="bump", default=None,
              help="Sessions: make one near frame bad, as a builder must detect: bump (the "
                   "tripod knocked; the default when no value is given) or occluder "
                   "(--bad-near=occluder: someone in front).")
@click.option("--size", default="640x480", show_default=True, help="Frame size WxH (even).")
@click.option("--zoom", default=1, show_default=True, type=click.IntRange(1),
              help="Scene resolution over frame resolution (frames are aliased by this much).")
@click.option("--noise", default="recipe", show_default=True,
              help="none, low, recipe (the published range), high, or a shot-noise number.")
@click.option("--blur", default=3.0, show_default=True, type=click.FloatRange(0),
              help="Largest camera-shake length in pixels (sessions: far frames only).")
@click.option("--sharp-margin", default=1.0, show_default=True, type=click.FloatRange(0),
              help="How much less shaken the sharpest frame is (streak pixels; see truth.json; "
                   "sessions: 2.0 unless given).")
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
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the first burst (or session).")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of clean images to use as scenes (default: a procedural scene).")
@click.pass_context
def synth(ctx: click.Context, out: Path, bursts: int, sessions: int, frames: int,
          near_frames: int, ratio: float, bad_near: str | None, size: str, zoom: int, noise: str,
          blur: float, sharp_margin: float, exposure_jitter: float, motion: float,
          rotation: float, moving_object: bool, optics: float, long_frames: int,
          long_exposure: float, seed: int, source: Path | None) -> None:
    """Write synthetic RAW bursts (DNG) with their ground truth into OUT.

    Each burst goes to OUT/burst_NNN/ (seed + N): frame_*.dng, truth.json (true transforms,
    blur, noise, the sharpest frame) and the clean image and moving-object mask as .npy arrays
    (not image files, so `burst enhance OUT` sees only the frames).

    With --sessions N, capture sessions instead: OUT/scene_NNN/ (seed + N) holds one scene
    shot from far (far/frame_00.dng ..., --frames, hand-held: drift, rotation, shake) and from
    --ratio times nearer (near/frame_00.dng ..., --near-frames, tripod: jitter <= 0.3 px), same
    camera and pixel size, truth.json (each frame's homography to near frame 0, the sharpest far
    frame, the noise, the bad near frame if any) and clean_near.npy (near frame 0 without
    noise). --bursts, --zoom, --moving-object and the long frames are for bursts only.
    """
    width, height = _parse_size(size)
    _check_mode(ctx, sessions > 0)
    if sessions:
        try:
            session = SessionOptions(far_frames=frames, near_frames=near_frames, width=width,
                                     height=height, ratio=ratio, noise=_parse_noise(noise),
                                     blur=blur, motion=motion, rotation=rotation,
                                     exposure_jitter=exposure_jitter, optics=optics,
                                     bad_near=bad_near, seed=seed, source=source,
                                     sharp_margin=(sharp_margin if _given(ctx, "sharp_margin")
                                                   else SessionOptions.sharp_margin))
        except ValueError as error:  # e.g. --bad-near with fewer than 3 near frames
            raise click.UsageError(str(error), ctx) from None
        _write_sessions(out, sessions, session)
        return
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


def _given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was set by the user (command line, environment), not defaulted."""
    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)


def _check_mode(ctx: click.Context, sessions: bool) -> None:
    """Refuse options given on the command line that the chosen mode does not use."""
    unused = BURST_ONLY if sessions else SESSION_ONLY
    given = [name for name in unused if _given(ctx, name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        mode = "bursts (not with --sessions)" if sessions else "sessions (--sessions N)"
        raise click.UsageError(f"{flags}: only for {mode}", ctx)


def _write_sessions(out: Path, count: int, options: SessionOptions) -> None:
    """Write ``count`` sessions, OUT/scene_NNN with seed + N, a line each."""
    for index in range(count):
        each = dataclasses.replace(options, seed=options.seed + index, name=f"scene_{index:03d}")
        try:
            truth = make_session(out, each)
        except (ValueError, FileNotFoundError) as error:  # bad options or an empty --source
            raise click.ClickException(str(error)) from None
        bad = truth["bad_near"]
        click.echo(f"{out / each.name}: {len(truth['far'])} far + {len(truth['near'])} near "
                   f"frames, ratio {truth['ratio']:g}, sharpest far {truth['reference']}, "
                   f"noise shot {truth['noise']['shot']:.2g}"
                   + (f", bad near {bad['index']} ({bad['kind']})" if bad else ""))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``burst synth`` and ``burst demo``."""
    cli.add_command(synth)
    cli.add_command(demo)
