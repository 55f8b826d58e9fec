"""``burst bench``: the project's measurements, each beside its peers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from burstlib.images import default_data

if TYPE_CHECKING:  # the network module loads only when a model is given
    from .network import LoadedModel

DEFAULT_DATA = default_data()


@click.command("zoom")
@click.option("--scale", type=click.IntRange(2, 4), default=4, show_default=True)
@click.option("--model", default=None, help="model name (x2, x4) or .tflite path; default: "
              "the shipped model for --scale, if there is one; '' for the peers only")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding set5, set14, b100, urban100_subset (default: ../shared/data)")
@click.option("--limit", type=int, default=None, help="at most this many images per set")
@click.option("--sets", type=click.Choice(["single", "burst", "vid4", "dng", "city100", "all"]),
              default="all", show_default=True,
              help="city100: real far/near pairs (held-out scenes); 'all' includes it when "
              "DATA/city100_iphonex exists")
@click.option("--ensemble", type=click.Choice(["1", "2", "4", "8"]), default="1",
              show_default=True, help="the network's self-ensemble (orientations averaged)")
@click.option("--compare", multiple=True, metavar="NAME_OR_TFLITE",
              help="city100: one more model (a name or a .tflite path) run on the far "
              "capture as it is; repeatable")
def bench_zoom(scale: int, model: str | None, data: Path | None, limit: int | None,
               sets: str, ensemble: str, compare: tuple[str, ...]) -> None:
    """Super-resolution: single image (Set5/Set14/B100/Urban100), 8-frame sensor bursts of
    images no model saw, Vid4 city (real motion), and real optics (City100's far/near
    pairs)."""
    from burstcli.errors import StageError

    from .bench import (CITY100, Methods, bench_bursts, bench_city100, bench_dng, bench_single,
                        bench_vid4)
    from .network import load_model

    data = data or _default_data()
    loaded = None
    try:
        if model != "":
            loaded = load_model(model or f"x{scale}", tile=256)
    except StageError as error:
        if model:
            raise click.ClickException(str(error)) from None
        click.echo(f"(no network for x{scale}: {error}; peers only)")
    if loaded is not None and loaded.scale != scale:
        raise click.ClickException(f"{model} is a x{loaded.scale} model, not x{scale}")
    methods = Methods(scale, loaded, int(ensemble), _compared(compare, scale))
    if sets in ("single", "all"):
        bench_single(data, methods, limit)
    if sets in ("burst", "all"):
        bench_bursts(data, methods, limit)
    if sets in ("vid4", "all"):
        bench_vid4(data, methods, limit)
    if sets in ("dng", "all"):
        bench_dng(methods, limit or 4)
    if sets == "city100" or (sets == "all" and (data / CITY100).is_dir()):
        bench_city100(data, methods, limit)


def _compared(names: tuple[str, ...], scale: int) -> tuple[LoadedModel, ...]:
    """The ``--compare`` models, each checked to be a x``scale`` model."""
    from burstcli.errors import StageError

    from .network import load_model
    models = []
    for name in names:
        try:
            model = load_model(name, tile=256)
        except StageError as error:
            raise click.ClickException(str(error)) from None
        if model.scale != scale:
            raise click.ClickException(f"{name} is a x{model.scale} model, not x{scale}")
        models.append(model)
    return tuple(models)


def _default_data() -> Path:
    if DEFAULT_DATA.is_dir():
        return DEFAULT_DATA
    raise click.ClickException("no data folder: pass --data (see ../shared/data/README.md)")


@click.command("zoom")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="checkpoint file (default: CONFIG with .pt); an existing one is resumed")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="override the config")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="start a new run from these weights: a .pt checkpoint (new "
              "input channels start at zero) or a shipped .tflite, read back exactly; "
              "overrides the config's init")
@click.option("--export", "export_to", type=click.Path(path_type=Path), default=None,
              help="fold and export to this .tflite when training ends")
def train_command(config: Path, out: Path | None, steps: int | None, init: Path | None,
                  export_to: Path | None) -> None:
    """Train the zoom network from a folder of clean images (needs burstcli[train]).

    Bursts are made on the fly from the images (sub-pixel motion, box sampling, noise,
    moving patches; see burst_zoom.samples); progress is printed as it goes, and the
    checkpoint is written atomically, so an interrupted run resumes where it stopped."""
    import dataclasses

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from burstlib.nn.trainloop import with_steps

    from .training import export, load_config, train

    try:
        settings = load_config(config)
    except (ValueError, TypeError) as error:
        raise click.ClickException(str(error)) from None
    settings = with_steps(settings, steps)
    if init is not None:
        settings = dataclasses.replace(settings, init=str(init.resolve()))
    checkpoint = out or config.with_suffix(".pt")
    with Progress(TextColumn("training x{task.fields[scale]}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} steps"),
                  TextColumn("{task.fields[status]}"), TimeRemainingColumn()) as progress:
        task = progress.add_task("train", total=settings.steps, scale=settings.scale, status="")

        def report(step: int, loss: float, gain: float, seconds: float) -> None:
            status = f"loss {loss:.4f}, +{gain:.2f} dB over bicubic (train-val), {seconds:.2f} s/step"
            progress.update(task, completed=step, status=status)
            progress.console.print(f"step {step}: {status}")

        train(settings, checkpoint, report)
    click.echo(f"checkpoint: {checkpoint}")
    if export_to is not None:
        click.echo(f"exported: {export(checkpoint, export_to)}")


@click.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strategy", default="all", show_default=True,
              help="which branches to merge: all, random, by_kernel_scale, by_count")
@click.option("--unfolded", is_flag=True, help="keep every branch (a slow, exact reference)")
def export_command(checkpoint: Path, out: Path, strategy: str, unfolded: bool) -> None:
    """Fold a trained network (one convolution per module) and write OUT (.tflite + .json)."""
    from .training import export
    click.echo(f"exported: {export(checkpoint, out, strategy, folded=not unfolded)}")
