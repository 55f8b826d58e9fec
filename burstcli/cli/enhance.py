"""``burst enhance PATHS...``: run a preset over every burst found."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from burstcli.collect import Collection, GroupOptions, collect
from burstcli.default_plugins.reporters import make_reporter
from burstcli.errors import EXIT_FAILED, EXIT_OK, BurstError
from burstcli.presets import Preset, load_preset
from burstcli.runner import (Executor, ExecutorError, JobSpec, RunPlan, choose_executor,
                             plan_outputs, run_batch)
from burstcli.words import counted

from .context import AppState, complete_presets, complete_settings, fail, get_state


@click.command("enhance")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-p", "--preset", default="sharpest", show_default=True,
              shell_complete=complete_presets,
              help="A preset name (`burst presets list`) or a YAML file.")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              shell_complete=complete_settings,
              help="Override a stage parameter, e.g. --set select.method=walk. Repeatable.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder. Default: <first path>_burst beside the first path.")
@click.option("-f", "--format", "output_format", default="tiff", show_default=True,
              help="Output format: tiff (16-bit), png (16-bit), jpeg (8-bit) or dng (RAW "
                   "bursts only: the result undeveloped, 16-bit, for a raw developer).")
@click.option("-r", "--recursive", is_flag=True, help="Look for bursts in all subfolders.")
@click.option("--group", "grouper", default="folder", show_default=True,
              help="Split a folder into bursts: folder, time (capture-time gap) or count.")
@click.option("--gap", default=2.0, show_default=True, type=float,
              help="Seconds between frames that start a new burst (--group time).")
@click.option("--count", default=0, type=int, help="Frames per burst (--group count).")
@click.option("--overwrite", is_flag=True, help="Redo bursts whose output already exists.")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1),
              help="Bursts processed in parallel (separate processes).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the bursts on a cluster instead of -j processes: tcp://HOST:PORT (a "
                   "Dask scheduler; inputs and outputs on a filesystem the workers share at "
                   "the same paths) or local:N (N Dask worker processes here). Needs "
                   "pip install 'burstcli[dask]', or another executor plugin.")
@click.option("--crop", metavar="X,Y,W,H", default=None,
              help="Zoom into this region of the reference frame (pixels): sets `field` on "
                   "every stage of the preset that has one, e.g. with --preset zoom4x.")
@click.option("--dry-run", is_flag=True, help="Print the plan; decode and write nothing.")
@click.option("--profile", is_flag=True,
              help="After each burst, a table of where its time and memory went: per stage "
                   "its seconds, share of the burst's time and peak resident memory, and the "
                   "time of each frame for stages that work frame by frame (the sidecar keeps "
                   "the same figures but for writing the output, which comes after it).")
def enhance(paths: tuple[Path, ...], preset: str, overrides: tuple[str, ...], output: Path | None,
            output_format: str, recursive: bool, grouper: str, gap: float, count: int,
            overwrite: bool, jobs: int, scheduler: str | None, crop: str | None,
            dry_run: bool, profile: bool) -> None:
    """Run a preset over the bursts in PATHS and write one image per burst.

    A folder that directly holds images is one burst; its subfolders holding images are
    bursts too (-r: at any depth). Outputs are named <burst>_<preset>.<ext>, each with a
    .json sidecar saying how it was made, with each stage's time and peak memory (--profile
    prints them). Existing outputs are skipped, so a rerun resumes.
    Exit codes: 0 ok, 1 some bursts failed, 2 usage or preset error, 130 interrupted.
    """
    state = get_state()
    loaded = _load_preset(state, preset, overrides)
    if crop is not None:
        overrides = (*overrides, *crop_overrides(loaded, crop))
        loaded = _load_preset(state, preset, overrides)
    _check_choice("--format", output_format, state.registry.writers)
    _check_choice("--group", grouper, state.registry.groupers)
    if grouper == "count" and count < 1:
        fail("--group count needs --count N (N >= 1)")
    executor = _choose_executor(state, scheduler, jobs)
    output_dir = output or default_output_dir(paths[0])
    _check_writable(output_dir)
    found = _collect(state, paths, recursive, grouper, GroupOptions(gap=gap, count=count),
                     output_dir)
    writer = state.registry.writers[output_format]
    plan = RunPlan(loaded, output_dir, plan_outputs(found.bursts, loaded, output_dir, writer,
                                                   overwrite=overwrite), found.ignored)
    if dry_run:
        print_plan(plan)
        sys.exit(EXIT_OK)
    job = JobSpec(preset, overrides, output_format, state.settings)
    sys.exit(_run(state, plan, job, jobs, executor, scheduler, profile))


def _run(state: AppState, plan: RunPlan, job: JobSpec, jobs: int, executor: Executor,
         scheduler: str | None, profile: bool) -> int:
    reporter = make_reporter(sys.stdout.isatty(), profile=profile)
    state.pm.register(reporter, name="reporter")
    state.pm.hook.burst_run_start(plan=plan)
    try:
        summary = run_batch(
            plan, job, jobs=jobs, executor=executor, scheduler=scheduler, pm=state.pm,
            on_outcome=lambda outcome: state.pm.hook.burst_finished(outcome=outcome))
    except ExecutorError as exc:  # the batch could not run at all (a scheduler unreachable)
        fail(str(exc), EXIT_FAILED)
    state.pm.hook.burst_run_finish(summary=summary)
    return summary.exit_code


def _choose_executor(state: AppState, scheduler: str | None, jobs: int) -> Executor:
    """``--scheduler``'s executor, else the default one (``-j`` processes)."""
    if scheduler is not None and jobs != 1:
        fail("-j and --scheduler do not go together: -j is for processes on this machine "
             "(with Dask, local:N starts N workers)")
    try:
        return choose_executor(state.registry.executors, scheduler)
    except BurstError as exc:
        fail(str(exc))


def _load_preset(state: AppState, name: str, overrides: tuple[str, ...]) -> Preset:
    try:
        return load_preset(name, presets=state.registry.presets, stages=state.registry.stages,
                           overrides=overrides, models=state.registry.models)
    except BurstError as exc:
        fail(str(exc))


def crop_overrides(loaded: Preset, crop: str) -> list[str]:
    """``--set`` strings giving ``crop`` to every step with a ``field`` parameter."""
    try:
        numbers = [float(part) for part in crop.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or min(numbers) < 0:
        fail(f"--crop: {crop!r} is not X,Y,W,H (pixels of the reference frame)")
    steps = [step.stage for step in loaded.steps if hasattr(step.params, "field")]
    if not steps:
        fail(f"--crop: preset {loaded.name!r} has no stage with a `field` (try zoom4x)")
    return [f"{name}.field={crop.replace(' ', '')}" for name in steps]


def _check_writable(output_dir: Path) -> None:
    """Fail once, before anything is read, when the output folder cannot be written (every
    burst would otherwise fail on its own): the folder itself if it exists, else the nearest
    folder above it that does, where it would be made."""
    target = output_dir.resolve()
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        fail(f"--output {output_dir}: {target} is not a folder")
    if not os.access(target, os.W_OK | os.X_OK):
        where = "" if target == output_dir.resolve() else f" ({target}, where it would be made)"
        fail(f"--output {output_dir}: not writable{where}")


def _check_choice(option: str, value: str, choices: Mapping[str, object]) -> None:
    if value not in choices:
        fail(f"{option}: {value!r} is not one of {', '.join(sorted(choices))}")


def _collect(state: AppState, paths: tuple[Path, ...], recursive: bool, grouper: str,
             options: GroupOptions, output_dir: Path) -> Collection:
    found = collect(paths, extensions=state.registry.extensions,
                    grouper=state.registry.groupers[grouper], options=options,
                    recursive=recursive, read_exif=lambda p: state.pm.hook.burst_read_exif(path=p),
                    exclude=[output_dir])
    if not found.bursts:
        fail(f"no image files found in {', '.join(map(str, paths))}"
             + (f" ({len(found.ignored)} other files ignored)" if found.ignored else ""))
    for burst in found.bursts:
        if output_dir.resolve().is_relative_to(burst.folder.resolve()):
            fail(f"--output {output_dir} is inside the burst folder {burst.folder}: "
                 "outputs never go among the inputs")
    return found


def default_output_dir(first: Path) -> Path:
    """``<folder>_burst`` beside the first input folder (a file's folder for a file)."""
    base = (first if first.is_dir() else first.parent).resolve()
    return base.parent / f"{base.name}_burst"


def print_plan(plan: RunPlan) -> None:
    """What a run would do: the pipeline, then one line per burst."""
    click.echo(f"preset {plan.preset.name} ({plan.preset.source})")
    for step in plan.preset.steps:
        params = ", ".join(f"{k}={v!r}" for k, v in step.params_json().items())
        click.echo(f"  {step.stage}({params})")
    click.echo(f"output folder {plan.output_dir}")
    for planned in plan.bursts:
        action = "skip (exists)" if planned.skip else "write"
        frames = counted(len(planned.found.files), "frame")
        click.echo(f"{action:<14} {planned.found.name}: {frames} "
                   f"from {planned.found.folder} -> {planned.output.name}")
    click.echo(f"{counted(len(plan.bursts), 'burst')}, {sum(p.skip for p in plan.bursts)} to "
               f"skip, {counted(len(plan.ignored), 'non-image file')} ignored")
