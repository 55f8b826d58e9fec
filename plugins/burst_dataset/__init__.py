"""``burst dataset build``: seed 000's training samples from real capture sessions.

See :mod:`.align` for what a sample is made of and :mod:`burstlib.captures` for the files.
"""

from __future__ import annotations

from pathlib import Path

import click

from burstcli import hookimpl


@click.group("dataset")
def dataset() -> None:
    """Training datasets built from real captures."""


@dataset.command("build")
@click.argument("sessions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True,
              help="the zoom the samples train: the standard image is this many times the "
                   "training grid")
@click.option("--ratio", type=click.FloatRange(1.0, min_open=True), default=None,
              help="how many times farther the far frames were shot (near px per far px); "
                   "default: measured (feature matches, or where too few match, the near "
                   "view searched for in the far frame at every zoom; then refined by "
                   "direct alignment). Given, it checks the feature match and narrows the "
                   "search, and a session measuring more than 10 % off is skipped")
def build(sessions: Path, out: Path, scale: int, ratio: float | None) -> None:
    """Build training samples from capture sessions in SESSIONS into OUT.

    SESSIONS holds a folder per scene with far/ (a hand-held burst shot from farther away)
    and near/ (frames shot closer, on a tripod), in any format `burst enhance` reads, RAW
    included; or City100-style pairs (NNNL.png far capture on the near grid, NNNH.png near
    capture). Per scene (seed 000, claims 1-6): the near frames aligned and robustly
    averaged into the standard image; the far frame with the largest Laplacian energy is the
    reference, aligned to the standard image (homography) with a gain and offset per channel;
    blocks where the scene changed are masked; the other far frames registered to the
    reference. Samples go to OUT/samples/, with OUT/manifest.json (transforms, residual
    alignment error, masked share). Bad scenes are reported and skipped; a rerun builds only
    what is missing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .build import BuildOptions, build_dataset
    from .scenes import find_scenes

    scenes = find_scenes(sessions)
    if not scenes:
        raise click.ClickException(f"{sessions}: no sessions (far/ and near/ folders) and no "
                                   "NNNL/NNNH pairs")
    out.mkdir(parents=True, exist_ok=True)
    with Progress(TextColumn("building"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}")) as bar:
        task = bar.add_task("", total=len(scenes))

        def report(scene, outcome: str) -> None:  # type: ignore[no-untyped-def]
            bar.console.print(f"{scene.name}: {outcome}")
            bar.update(task, advance=1, description=scene.name)

        try:
            manifest = build_dataset(scenes, out, BuildOptions(scale, ratio), report)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{out}: {len(manifest['samples'])} samples, {len(manifest['skipped'])} "
               f"scenes skipped (manifest.json says why)")


@click.command("dataset")
@click.option("--sessions", "per_group", type=click.IntRange(1), default=2, show_default=True,
              help="sessions per size, ratio and noise band (and per kind of bad near frame)")
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True)
@click.option("--seed", type=int, default=100, show_default=True)
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="a folder of photographs to make the scenes from (default: "
              "procedural scenes)")
def bench_dataset(per_group: int, scale: int, seed: int, source: Path | None) -> None:
    """The builder's alignment of far reference to standard image against the known
    transforms of `burst synth` capture sessions (320x240 and 640x480, ratios 2 and 2.9,
    noise low to high), beside the starting estimate alone (feature matches, or the zoom
    search where too few match); and sessions with a bad near frame, which must be
    skipped."""
    from .bench import bench_sessions, summary
    click.echo(summary(bench_sessions(per_group, scale, seed, source)))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``burst dataset build`` and ``burst bench dataset``."""
    from burstcli.cli.context import shared_group
    cli.add_command(dataset)
    shared_group(cli, "bench").add_command(bench_dataset)
