"""Run a preset over bursts: one burst through the chain, and the batch around it.

The batch never writes an input: outputs go to their own folder, through a temporary file
renamed into place once complete (so an interrupt leaves no half-written output), and an
existing output is skipped unless ``overwrite`` is set (so a rerun resumes). A burst that
fails is reported in one line and the others go on. ``jobs > 1`` runs bursts in worker
processes started with ``spawn`` (LibRaw uses OpenMP, which does not survive ``fork``).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pluggy

from . import __version__, hookimpl
from .collect import OUTPUT_MARKER, FoundBurst
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, BurstError, StageError
from .model import Burst, Frame
from .plugins import PluginSettings, make_plugin_manager
from .presets import Preset, load_preset
from .registry import Registry, build_registry
from .stage import StageSpec
from .workers import (init_worker_process, process_alive, sigint_deferred, sigint_ignored,
                      stop_workers)
from .writers import Writer

Status = Literal["done", "skipped", "failed"]
Stamp = tuple[int, int, int]  # (inode, mtime_ns, size): tells whether this run wrote a file

# The hidden temp names of atomic_path: ``.<stem>.<pid>.tmp<ext>``.
TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>[0-9]+)\.tmp(?P<suffix>\.[^.]+)?$")


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """Everything a (worker) process needs to rebuild the run: all of it picklable."""

    preset: str
    overrides: tuple[str, ...]
    output_format: str
    plugins: PluginSettings = PluginSettings()


@dataclasses.dataclass(frozen=True)
class PlannedBurst:
    """A burst, where its output goes, and whether it is skipped because it exists."""

    found: FoundBurst
    output: Path
    sidecar: Path
    skip: bool


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The whole batch, as ``--dry-run`` prints it and ``burst_run_start`` receives it."""

    preset: Preset
    output_dir: Path
    bursts: tuple[PlannedBurst, ...]
    ignored: tuple[Path, ...] = ()


@dataclasses.dataclass(frozen=True)
class BurstOutcome:
    """How one burst ended: ``message`` is the one line shown for a failure."""

    name: str
    status: Status
    output: Path | None = None
    message: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """Counts at the end of a batch and the exit code scripts can trust."""

    done: int
    skipped: int
    failed: int
    warnings: int
    interrupted: bool
    seconds: float

    @property
    def exit_code(self) -> int:
        """0 all done or skipped, 1 some bursts failed, 130 interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failed else EXIT_OK


# --- the core implementation of the stage-call hook ------------------------------------------


@hookimpl(trylast=True)
def burst_run_stage(spec: StageSpec, burst: Burst, params: Any) -> Burst:
    """Call the stage. ``trylast`` so plugins can wrap or replace every stage call."""
    return spec(burst, params)


# --- planning -----------------------------------------------------------------------------------


def plan_outputs(bursts: Sequence[FoundBurst], preset: Preset, output_dir: Path, writer: Writer,
                 *, overwrite: bool) -> tuple[PlannedBurst, ...]:
    """Output paths (``<burst>_<preset><ext>`` and the ``.json`` sidecar) and skips."""
    planned = []
    for found in bursts:
        output = output_dir / f"{found.name}_{preset.name}{writer.extension}"
        skip = output.exists() and not overwrite
        planned.append(PlannedBurst(found, output, output.with_suffix(".json"), skip))
    return tuple(planned)


# --- one burst -------------------------------------------------------------------------------


class BurstProcessor:
    """Runs one burst through a preset's chain and writes its output and sidecar."""

    def __init__(self, job: JobSpec, pm: pluggy.PluginManager | None = None):
        self.pm = pm if pm is not None else make_plugin_manager(job.plugins)
        self.registry: Registry = build_registry(self.pm)
        self.preset = load_preset(job.preset, presets=self.registry.presets,
                                  stages=self.registry.stages, overrides=job.overrides)
        self.writer = self.registry.writers[job.output_format]

    def __call__(self, planned: PlannedBurst) -> BurstOutcome:
        start = time.perf_counter()
        try:
            burst, timings = self.run_chain(planned.found)
            self.write(planned, burst, timings, time.perf_counter() - start)
        except BurstError as exc:
            return self._failed(planned, str(exc), start)
        except MemoryError:
            return self._failed(planned, "out of memory: try fewer frames or -j 1", start)
        except Exception as exc:  # a bug in a stage must not end the batch
            return self._failed(planned, f"{type(exc).__name__}: {exc}", start)
        return BurstOutcome(planned.found.name, "done", planned.output,
                            seconds=time.perf_counter() - start, warnings=burst.warnings)

    def run_chain(self, found: FoundBurst) -> tuple[Burst, list[tuple[str, Any, float]]]:
        """Every stage of the preset on the burst; returns it and (stage, params, seconds)."""
        burst = Burst(name=found.name, source=found.folder,
                      frames=tuple(Frame(path=f.path, exif=f.exif) for f in found.files))
        timings = []
        for step in self.preset.steps:
            spec = self.registry.stages[step.stage]
            began = time.perf_counter()
            burst = self.pm.hook.burst_run_stage(spec=spec, burst=burst, params=step.params)
            seconds = time.perf_counter() - began
            self.pm.hook.burst_stage_finish(burst=burst, stage=step.stage, seconds=seconds)
            timings.append((step.stage, step.params_json(), seconds))
        return burst, timings

    def write(self, planned: PlannedBurst, burst: Burst,
              timings: list[tuple[str, Any, float]], seconds: float) -> None:
        """Sidecar first, image last: the image's rename is the commit point, so a resumed
        run redoes any burst whose image is missing."""
        image, layout = burst.product()
        problem = output_problem(image, burst)
        if problem:
            raise StageError(f"{problem}; nothing was written")
        sidecar = make_sidecar(burst, self.preset, planned.output, timings, seconds)
        planned.output.parent.mkdir(parents=True, exist_ok=True)
        (planned.output.parent / OUTPUT_MARKER).touch()
        with atomic_path(planned.sidecar) as tmp:
            tmp.write_text(json.dumps(sidecar, indent=2, default=_json_default), encoding="utf-8")
        with atomic_path(planned.output) as tmp:
            self.writer.write(tmp, image, layout, burst.reference_frame.exif)

    @staticmethod
    def _failed(planned: PlannedBurst, message: str, start: float) -> BurstOutcome:
        return BurstOutcome(planned.found.name, "failed", message=message,
                            seconds=time.perf_counter() - start)


def output_problem(image: np.ndarray, burst: Burst) -> str | None:
    """Why ``image`` must not be written as ``burst``'s result, or None: a chain's output is
    never empty, never holds NaN or Inf, and is not one flat value when the reference frame
    is not (a black image from a degenerate registration, say). Checked once, at the end,
    whatever the stages were: a plugin's bug can then cost a burst, never a silent result."""
    if image.size == 0:
        return "the output is empty"
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        return "the output holds NaN or Inf values (a stage let them through)"
    if float(image.min()) == float(image.max()):
        pixels = burst.reference_frame.pixels if burst.frames else None
        if pixels is not None and pixels.size and float(pixels.min()) != float(pixels.max()):
            return (f"the output is one flat value ({float(image.min()):g}) although the "
                    "reference frame is not")
    return None


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final`` (same extension, hidden name) renamed to ``final``
    when the block succeeds and removed when it fails or is interrupted."""
    tmp = temp_path(final, os.getpid())
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def temp_path(final: Path, pid: int) -> Path:
    """The temporary name process ``pid`` writes ``final`` under (matches ``TEMP_NAME``)."""
    return final.with_name(f".{final.stem}.{pid}.tmp{final.suffix}")


def remove_stale_temps(folders: Iterable[Path], suffixes: Collection[str]) -> list[Path]:
    """Remove the temp files that killed runs left in ``folders``; returns those removed.

    Only in our output folders (those holding the output marker), only our own temp names
    with one of ``suffixes`` (what this run writes), only regular files, and only those of a
    process that is not running: a run still alive keeps its temp files. Call it only while
    this process writes nothing: its own pid counts as not running.
    """
    removed = []
    for folder in folders:
        try:
            entries = list(folder.iterdir()) if (folder / OUTPUT_MARKER).is_file() else []
        except OSError:  # a folder that vanished or cannot be read: nothing of ours to do
            continue
        for path in entries:
            if _is_stale_temp(path, suffixes):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _is_stale_temp(path: Path, suffixes: Collection[str]) -> bool:
    match = TEMP_NAME.match(path.name)
    if not match or (match["suffix"] or "") not in suffixes:
        return False
    if path.is_symlink() or not path.is_file():
        return False
    pid = int(match["pid"])
    return pid == os.getpid() or not process_alive(pid)


def make_sidecar(burst: Burst, preset: Preset, output: Path,
                 timings: list[tuple[str, Any, float]], seconds: float) -> dict[str, Any]:
    """How the output was made: preset, stages and parameters, frames and their scores."""
    return {
        "burst": burst.name,
        "output": output.name,
        "preset": preset.name,
        "preset_file": str(preset.source),
        "version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "reference": burst.reference if burst.reference is not None else 0,
        "selected": list(burst.active_indices),
        "frames": [_frame_record(frame) for frame in burst.frames],
        "stages": [{"name": n, "params": p, "seconds": round(s, 4)} for n, p, s in timings],
        "notes": dict(burst.notes),
        "warnings": list(burst.warnings),
        "seconds": round(seconds, 4),
    }


def _frame_record(frame: Frame) -> dict[str, Any]:
    record: dict[str, Any] = {"path": str(frame.path), "scores": dict(frame.scores),
                              "exif": frame.exif.as_json()}
    if frame.transform is not None:
        record["transform"] = np.asarray(frame.transform).tolist()
    return record


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


# --- the batch -------------------------------------------------------------------------------


def run_batch(plan: RunPlan, job: JobSpec, *, jobs: int, pm: pluggy.PluginManager | None = None,
              on_outcome: Callable[[BurstOutcome], None]) -> RunSummary:
    """Process every planned burst, calling ``on_outcome`` in this process for each one.

    Serial runs use ``pm`` (the caller's manager, with its reporters); workers build their own.
    Temp files left by killed runs are removed first. On Ctrl-C the bursts in progress are
    abandoned, and the summary counts exactly the outputs written (``_settle_interrupted``).
    """
    start = time.perf_counter()
    outcomes: list[BurstOutcome] = []

    def report(outcome: BurstOutcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    for planned in plan.bursts:
        if planned.skip:
            report(BurstOutcome(planned.found.name, "skipped", planned.output,
                                message="output exists (use --overwrite)"))
    todo = [p for p in plan.bursts if not p.skip]
    folders = sorted({p.output.parent for p in todo})
    suffixes = {suffix for p in todo for suffix in (p.output.suffix, p.sidecar.suffix)}
    remove_stale_temps(folders, suffixes)
    before = _stamps(todo)
    interrupted = False
    try:
        if jobs > 1 and len(todo) > 1:
            _run_parallel(todo, job, jobs, report)
        else:
            _run_serial(todo, job, pm, report)
    except KeyboardInterrupt:
        interrupted = True
        with sigint_ignored():  # a second Ctrl-C must not cut the cleanup halfway
            _settle_interrupted(todo, before, {o.name for o in outcomes}, report)
    # Those of the workers just stopped, or of one that died (out of memory, say).
    with sigint_ignored():
        remove_stale_temps(folders, suffixes)
    return _summarise(outcomes, interrupted, time.perf_counter() - start)


def _stamp(path: Path) -> Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _stamps(todo: Sequence[PlannedBurst]) -> dict[Path, Stamp | None]:
    """Each output's and sidecar's stamp before the run (an output exists with --overwrite)."""
    return {path: _stamp(path) for p in todo for path in (p.output, p.sidecar)}


def _settle_interrupted(todo: Sequence[PlannedBurst], before: dict[Path, Stamp | None],
                        reported: Collection[str],
                        report: Callable[[BurstOutcome], None]) -> None:
    """After an interrupt, make the report match the disk for the bursts not reported.

    An image this run wrote is reported done: the interrupt fell between its rename (the
    commit point) and its report, or its worker's result was still in the pipe. Otherwise
    the burst was abandoned, and a sidecar it wrote, describing an image that was never
    written, is removed.
    """
    for planned in todo:
        if planned.found.name in reported:
            continue
        image = _stamp(planned.output)
        if image is not None and image != before[planned.output]:
            report(_recovered_outcome(planned))
        elif _stamp(planned.sidecar) != before[planned.sidecar]:
            planned.sidecar.unlink(missing_ok=True)


def _recovered_outcome(planned: PlannedBurst) -> BurstOutcome:
    """The outcome of a burst found written on disk, its seconds and warnings from its
    sidecar (written just before the image)."""
    try:
        sidecar = json.loads(planned.sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        sidecar = {}
    return BurstOutcome(planned.found.name, "done", planned.output,
                        seconds=float(sidecar.get("seconds", 0.0)),
                        warnings=tuple(str(w) for w in sidecar.get("warnings", ())))


def _run_serial(todo: Sequence[PlannedBurst], job: JobSpec, pm: pluggy.PluginManager | None,
                report: Callable[[BurstOutcome], None]) -> None:
    if not todo:
        return
    processor = BurstProcessor(job, pm)
    for planned in todo:
        report(processor(planned))


_worker_processor: BurstProcessor | None = None


def _init_worker(job: JobSpec) -> None:
    global _worker_processor  # one processor per worker process, built once
    init_worker_process()  # first: ignore Ctrl-C, die with the parent
    _worker_processor = BurstProcessor(job)


def _work(planned: PlannedBurst) -> BurstOutcome:
    assert _worker_processor is not None
    return _worker_processor(planned)


def _run_parallel(todo: Sequence[PlannedBurst], job: JobSpec, jobs: int,
                  report: Callable[[BurstOutcome], None]) -> None:
    """Bursts in worker processes, reported as they finish. On Ctrl-C (or any error) the
    workers are terminated at once rather than waited for (running bursts are abandoned),
    and the bursts they had finished are still reported."""
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                  initializer=_init_worker, initargs=(job,))
    futures: dict[cf.Future[BurstOutcome], PlannedBurst] = {}
    reported: set[cf.Future[BurstOutcome]] = set()
    try:
        with sigint_deferred():  # submit() spawns the workers
            futures = {pool.submit(_work, planned): planned for planned in todo}
        for future in cf.as_completed(futures):
            reported.add(future)
            report(_outcome_of(future, futures[future]))
    except BaseException as exc:
        with sigint_ignored():  # a second Ctrl-C must not cut the cleanup halfway
            stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            if isinstance(exc, KeyboardInterrupt):
                _report_finished(futures, reported, report)
        raise
    pool.shutdown(wait=True)


def _report_finished(futures: Collection[cf.Future[BurstOutcome]],
                     reported: Collection[cf.Future[BurstOutcome]],
                     report: Callable[[BurstOutcome], None]) -> None:
    """Report the bursts whose result had arrived but was not reported yet."""
    for future in futures:
        if future not in reported and future.done() and not future.cancelled() \
                and future.exception() is None:
            report(future.result())


def _outcome_of(future: cf.Future[BurstOutcome], planned: PlannedBurst) -> BurstOutcome:
    try:
        return future.result()
    except cf.process.BrokenProcessPool:
        return BurstOutcome(planned.found.name, "failed",
                            message="worker process died (out of memory?): try fewer -j")


def _summarise(outcomes: Sequence[BurstOutcome], interrupted: bool, seconds: float) -> RunSummary:
    def count(status: Status) -> int:
        return sum(o.status == status for o in outcomes)
    return RunSummary(done=count("done"), skipped=count("skipped"), failed=count("failed"),
                      warnings=sum(len(o.warnings) for o in outcomes),
                      interrupted=interrupted, seconds=seconds)
