"""``burst bench``: the project's measurements, each beside its peers."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@click.group()
def bench() -> None:
    """Benchmarks that print every figure beside its peers (same code, same run)."""


@bench.command("zoom")
@click.option("--scale", type=click.IntRange(2, 4), default=4, show_default=True)
@click.option("--model", default=None, help="model name (x2, x4) or .tflite path; default: "
              "the shipped model for --scale, if there is one; '' for the peers only")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder holding set5, set14, b100, urban100_subset (default: ../shared/data)")
@click.option("--limit", type=int, default=None, help="at most this many images per set")
@click.option("--sets", type=click.Choice(["single", "burst", "all"]), default="all",
              show_default=True)
def bench_zoom(scale: int, model: str | None, data: Path | None, limit: int | None,
               sets: str) -> None:
    """Super-resolution: single image (Set5/Set14/B100/Urban100) and 8-frame bursts."""
    from burstcli.errors import StageError

    from .bench import Methods, bench_bursts, bench_single
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
    methods = Methods(scale, loaded)
    if sets in ("single", "all"):
        bench_single(data, methods, limit)
    if sets in ("burst", "all"):
        bench_bursts(data, methods, limit)


def _default_data() -> Path:
    for candidate in (Path.cwd().parent / "shared" / "data", DEFAULT_DATA):
        if candidate.is_dir():
            return candidate
    raise click.ClickException("no data folder: pass --data (see ../shared/data/README.md)")
