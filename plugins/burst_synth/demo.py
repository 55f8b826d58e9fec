"""``burst demo``: make a synthetic RAW burst and run a preset on it, end to end.

The README's first command: it needs no photos of your own. The burst is written as real
DNG files by the synthetic-burst generator (:mod:`burstlib.synth`), so the demo goes through
the same RAW path as a camera's.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from burstlib.synth.api import SynthOptions, make_burst


@click.command("demo")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path),
                default=Path("burst-demo"))
@click.option("-p", "--preset", default="sharpest", show_default=True, help="Preset to run.")
@click.option("--frames", default=8, show_default=True, type=click.IntRange(1), help="Frames.")
@click.option("--size", default="960x640", show_default=True, help="Frame size WxH.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed of the scene.")
@click.pass_context
def demo(ctx: click.Context, folder: Path, preset: str, frames: int, size: str, seed: int) -> None:
    """Write a synthetic DNG burst into FOLDER (default: ./burst-demo) and run a preset on it.

    The burst has camera shake, noise, exposure jitter and a moving object; its ground truth
    says which frame is the sharpest, and the demo prints whether the preset chose it.
    """
    from burstlib.synth.api import SynthOptions, make_burst

    width, height = (int(v) for v in size.lower().split("x"))
    shots, out = folder / "shots", folder / "out"
    # Said before anything is written: by default the demo writes into the current folder.
    click.echo(f"burst demo: writing into {folder.resolve()} (another folder: burst demo FOLDER)")
    truth = make_burst(shots, SynthOptions(frames=frames, width=width, height=height, seed=seed,
                                           name="demo"))
    click.echo(f"wrote {frames} DNG frames to {shots / 'demo'}")
    root = ctx.find_root().command
    assert isinstance(root, click.Group)  # demo is a subcommand of the burst group
    enhance = root.get_command(ctx, "enhance")
    assert enhance is not None  # a core command of that group
    try:
        ctx.invoke(enhance, paths=(shots,), preset=preset, output=out, overwrite=True)
    except SystemExit as done:
        _report(out, preset, truth)
        raise done


def _report(out: Path, preset: str, truth: dict) -> None:
    sidecar = out / f"demo_{preset}.json"
    if not sidecar.exists():
        return
    chosen = json.loads(sidecar.read_text())["reference"]
    verdict = "right" if chosen == truth["reference"] else "not the sharpest"
    click.echo(f"reference frame chosen: {chosen} (truth: {truth['reference']}, {verdict})")
    click.echo(f"result: {sidecar.with_suffix('.tiff')}")
