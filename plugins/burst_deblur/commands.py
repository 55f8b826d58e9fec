"""``burst bench deblur``."""

from __future__ import annotations

from pathlib import Path

import click

from burstcli.cli.context import fail
from burstlib.images import default_data

DEFAULT_DATA = default_data()


@click.command("deblur")
@click.option("--model", default="deblur", show_default=True,
              help="a registered deblur model (burst models --task deblur) or a .tflite path")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding kodak24, mcmaster18, urban100_subset, set14 "
                   "(default: ../shared/data)")
@click.option("--limit", type=click.IntRange(1), default=8, show_default=True,
              help="images per source")
@click.option("--seed", type=int, default=0, show_default=True)
def bench_deblur(model: str, data: Path | None, limit: int, seed: int) -> None:
    """Single-frame deblurring on shaken frames of photographs no model saw, beside Wiener
    and Richardson-Lucy given the TRUE kernel (as the textbook runs them, and tuned per frame
    on its truth), per source, blur band and noise band."""
    from burstcli.cli.context import get_state
    from burstcli.models import resolve_model

    from .apply import run_model
    from .bench import run_bench
    from .noise_plane import takes_noise_plane

    folder = data or DEFAULT_DATA
    if not folder.is_dir():
        fail(f"benchmark images not found at {folder} (see ../shared/data/README.md)")
    card = resolve_model(model, "deblur", get_state().registry.models)
    if isinstance(card, str):
        fail(card)
    click.echo(f"model {card.name}: {card.file}")
    click.echo(f"planes: {card.planes}")
    run_bench(folder, lambda rgb, sigma: run_model(card, rgb, 512, sigma), limit, seed,
              click.echo, known_noise=takes_noise_plane(card.planes))


@click.command("deblur")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="checkpoint file (default: CONFIG with .pt); an existing one is resumed")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="override the config")
@click.option("--export", "export_to", type=click.Path(path_type=Path), default=None,
              help="fold and export to this .tflite (and its .json card) when training ends")
def train_deblur(config: Path, out: Path | None, steps: int | None,
                 export_to: Path | None) -> None:
    """Train the deblur network on synthetic shake pairs from clean images (needs
    burstcli[train]); progress is printed as it goes, the checkpoint written atomically, so an
    interrupted run resumes where it stopped."""
    from burstlib.nn.trainloop import with_steps

    from .training import export, load_config, train

    try:
        settings = load_config(config)
    except (ValueError, TypeError) as error:
        raise click.ClickException(str(error)) from None
    settings = with_steps(settings, steps)
    checkpoint = out or config.with_suffix(".pt")

    def report(step: int, loss: float, gain: float, seconds: float) -> None:
        click.echo(f"step {step}/{settings.steps}: loss {loss:.4f}, {gain:+.2f} dB over the "
                   f"blurry input (train-val), {seconds:.2f} s/step")

    train(settings, checkpoint, report)
    click.echo(f"checkpoint: {checkpoint}")
    if export_to is not None:
        click.echo(f"exported: {export(checkpoint, export_to)}")
