"""Run a preset over bursts: one burst through the chain, and the batch around it.

The batch never writes an input: outputs go to their own folder, through a temporary file
renamed into place once complete (so an interrupt leaves no half-written output), and an
existing output is skipped unless ``overwrite`` is set (so a rerun resumes). A burst that
fails is reported in one line and the others go on.

Where the bursts run is an :class:`Executor`'s business, registered by a plugin through the
``register_executors`` hook: the core's ``processes`` executor
(:mod:`burstcli.default_plugins.executors`: ``-j N`` worker processes started with ``spawn``,
as LibRaw uses OpenMP, which does not survive ``fork``) is the default, and burst_dask adds
Dask (``--scheduler``). Whatever the executor, the batch keeps its promises here: stale temp
files are removed before and after, and after an interrupt the summary counts what is on disk.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pluggy

from . import __version__, hookimpl
from .collect import OUTPUT_MARKER, FoundBurst
from .errors import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, BurstError, ConfigError,
                     StageError, printable)
from .model import Burst, Frame
from .plugins import PluginSettings, make_plugin_manager
from .presets import Preset, load_preset
from .profiling import BurstProfile, StageMeter, StageProfile, memory_scope, mib
from .registry import Registry, build_registry, current_registry
from .stage import StageSpec
from .workers import process_alive, sigint_ignored
from .writers import Writer, call_writer

Status = Literal["done", "skipped", "failed"]
Stamp = tuple[int, int, int]  # (inode, mtime_ns, size): tells whether this run wrote a file
StepRecord = tuple[Any, StageProfile]  # a stage's parameters (JSON-ready) and its profile

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
    """How one burst ended: ``message`` is the one line shown for a failure; ``profile``,
    for a burst done, where its time and memory went (``burst enhance --profile``)."""

    name: str
    status: Status
    output: Path | None = None
    message: str = ""
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    profile: BurstProfile | None = None


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


# --- executors: where the bursts of a batch run ------------------------------------------------


class ExecutorError(BurstError):
    """An executor cannot run the batch at all (its scheduler is unreachable, say)."""


@dataclasses.dataclass(frozen=True)
class ExecutorRequest:
    """What the command line asked of the executor.

    :ivar jobs: ``-j N``: how many bursts at a time, for executors that run them here.
    :ivar scheduler: ``--scheduler``: the string the executor accepted, or None.
    :ivar pm: the caller's plugin manager, with its reporters, for bursts run in this very
        process (workers build their own from ``JobSpec.plugins``).
    """

    jobs: int = 1
    scheduler: str | None = None
    pm: pluggy.PluginManager | None = None


class Executor:
    """Runs the bursts of one batch somewhere: here, in worker processes, on a cluster.

    Subclass it, set ``name`` (unique: a second executor of the same name is an error) and
    ``schedulers`` (how ``--scheduler`` values it takes look, for help and errors), and
    implement :meth:`run`, and :meth:`accepts` unless it is only ever the default. Register an
    instance through the ``register_executors`` hook.
    """

    name: ClassVar[str] = ""
    schedulers: ClassVar[str] = ""  # e.g. "tcp://HOST:PORT, local:N"

    def accepts(self, scheduler: str) -> bool:
        """Whether ``--scheduler scheduler`` is for this executor (its syntax only: connect
        in :meth:`run`). The first executor, by name, that accepts a string gets the batch."""
        return False

    def unavailable(self) -> str | None:
        """Why this executor cannot run here (a missing optional dependency, with the
        ``pip install`` that adds it), or None when it can."""
        return None

    def run(self, todo: Sequence[PlannedBurst], job: JobSpec,
            report: Callable[[BurstOutcome], None], request: ExecutorRequest) -> None:
        """Run every burst of ``todo`` and ``report`` each one's outcome.

        The contract, which the batch around it relies on:

        * Run a burst with :func:`process_burst` ``(job, planned)`` (or a
          :class:`BurstProcessor` built from ``job``) wherever it runs: it never raises for a
          burst's failure, writes the outputs atomically and returns a :class:`BurstOutcome`.
          Send workers ``job`` and ``planned`` (picklable, paths only), never pixels: inputs
          and outputs must be readable and writable at the same paths there.
        * Call ``report`` in the calling thread, once per burst, as results arrive (it
          drives the progress lines). A burst whose worker was lost is run again elsewhere
          or reported ``failed``; none is reported twice.
        * On ``KeyboardInterrupt`` (Ctrl-C in the calling thread): stop or cancel at once
          without waiting for running bursts, report the results that had already arrived,
          and re-raise. The batch then reports the bursts whose image was committed
          meanwhile, from the disk. Temp files of workers on this machine are removed after
          ``run`` returns, when their process has ended: stop local workers before returning.
        * Raise :class:`ExecutorError` when the batch cannot run at all.
        """
        raise NotImplementedError


def choose_executor(executors: dict[str, Executor], scheduler: str | None) -> Executor:
    """The executor for ``--scheduler`` (the default ``processes`` when None), or a
    ``ConfigError`` saying which strings the registered executors accept."""
    if scheduler is None:
        chosen = executors.get(DEFAULT_EXECUTOR)
        if chosen is None:  # the core registers it and cannot be disabled: a broken install
            raise ConfigError(f"no {DEFAULT_EXECUTOR!r} executor is registered")
        return chosen
    for name in sorted(executors):
        if executors[name].accepts(scheduler):
            problem = executors[name].unavailable()
            if problem:
                raise ConfigError(f"{problem}", key=f"--scheduler {scheduler}")
            return executors[name]
    known = "; ".join(f"{name}: {executors[name].schedulers}" for name in sorted(executors)
                      if executors[name].schedulers)
    raise ConfigError(f"no executor takes it ({known or 'none takes a scheduler'})",
                      key=f"--scheduler {scheduler}")


DEFAULT_EXECUTOR = "processes"

_processors: dict[JobSpec, BurstProcessor] = {}
_processors_lock = threading.Lock()


def process_burst(job: JobSpec, planned: PlannedBurst) -> BurstOutcome:
    """Run one burst in this (worker) process with the processor ``job`` describes, built
    once per process and job (loading the plugins takes a while) and then reused."""
    with _processors_lock:
        processor = _processors.get(job)
        if processor is None:
            if len(_processors) >= 4:  # a long-lived cluster worker serves batch after batch
                _processors.clear()
            processor = _processors[job] = BurstProcessor(job)
    return processor(planned)


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
                                  stages=self.registry.stages, overrides=job.overrides,
                                  models=self.registry.models)
        self.writer = self.registry.writers[job.output_format]

    def __call__(self, planned: PlannedBurst) -> BurstOutcome:
        start = time.perf_counter()
        try:
            self.check_format(planned.found)
            burst, steps = self.run_chain(planned.found)
            profile = self.write(planned, burst, steps, time.perf_counter() - start)
        except BurstError as exc:
            return self._failed(planned, str(exc), start)
        except MemoryError:
            return self._failed(planned, "out of memory: try fewer frames or -j 1", start)
        except Exception as exc:  # a bug in a stage must not end the batch
            return self._failed(planned, f"{type(exc).__name__}: {exc}", start)
        return BurstOutcome(planned.found.name, "done", planned.output,
                            seconds=time.perf_counter() - start, warnings=burst.warnings,
                            profile=profile)

    def check_format(self, found: FoundBurst) -> None:
        """Refuse, before any frame is decoded, a burst the output format cannot hold (RAW
        output of JPEG frames, say): the writer's ``check`` says why."""
        refused = self.writer.check([f.path for f in found.files]) if self.writer.check else None
        if refused:
            raise StageError(refused)

    def run_chain(self, found: FoundBurst) -> tuple[Burst, list[StepRecord]]:
        """Every stage of the preset on the burst; returns it and, per stage, its parameters
        and :class:`~burstcli.profiling.StageProfile` (time, peak memory, frame times)."""
        burst = Burst(name=found.name, source=found.folder,
                      frames=tuple(Frame(path=f.path, exif=f.exif) for f in found.files))
        steps = []
        token = current_registry.set(self.registry)  # the models the stages find are ours
        try:
            for step in self.preset.steps:
                spec = self.registry.stages[step.stage]
                with StageMeter(step.stage) as meter:
                    burst = self.pm.hook.burst_run_stage(spec=spec, burst=burst,
                                                         params=step.params)
                self.pm.hook.burst_stage_finish(burst=burst, stage=step.stage,
                                                seconds=meter.profile.seconds)
                steps.append((step.params_json(), meter.profile))
        finally:
            current_registry.reset(token)
        return burst, steps

    def write(self, planned: PlannedBurst, burst: Burst, steps: list[StepRecord],
              seconds: float) -> BurstProfile:
        """Both files are written under temporary names first; then the sidecar is renamed,
        and the image last: its rename is the commit point, so a resumed run redoes any burst
        whose image is missing, and a write that fails (a full disk) leaves the previous
        files, if any, as they were, with no sidecar describing an image that is not there.
        Returns the burst's profile, writing included (measured as a stage is)."""
        image, layout = burst.product()
        problem = output_problem(image, burst)
        if problem:
            raise StageError(f"{problem}; nothing was written")
        profile = BurstProfile(tuple(p for _, p in steps), memory_scope())
        sidecar = make_sidecar(burst, self.preset, planned.output, steps, profile, seconds)
        try:
            planned.output.parent.mkdir(parents=True, exist_ok=True)
            (planned.output.parent / OUTPUT_MARKER).touch()
            with StageMeter("write output") as meter, atomic_path(planned.output) as image_tmp:
                call_writer(self.writer, image_tmp, image, layout, burst.reference_frame.exif, burst)
                with atomic_path(planned.sidecar) as sidecar_tmp:
                    sidecar_tmp.write_text(json.dumps(sidecar, indent=2, default=_json_default),
                                           encoding="utf-8")
        except OSError as exc:
            raise StageError(f"cannot write {printable(planned.output)}: "
                             f"{exc.strerror or exc}; nothing was written") from None
        return dataclasses.replace(profile, write=meter.profile)

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


def make_sidecar(burst: Burst, preset: Preset, output: Path, steps: list[StepRecord],
                 profile: BurstProfile, seconds: float) -> dict[str, Any]:
    """How the output was made: preset, stages and parameters, frames and their scores,
    where the time and memory went."""
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
        "stages": [_stage_record(params, stage) for params, stage in steps],
        "notes": dict(burst.notes),
        "warnings": list(burst.warnings),
        "seconds": round(seconds, 4),
        "peak_rss_mib": mib(profile.peak_rss),
        "peak_rss_scope": profile.memory_scope,
    }


def _stage_record(params: Any, stage: StageProfile) -> dict[str, Any]:
    record = {"name": stage.name, "params": params, "seconds": round(stage.seconds, 4),
              "peak_rss_mib": mib(stage.peak_rss)}
    if stage.frames:
        record["frame_seconds"] = {label: round(s, 4) for label, s in stage.frames}
    return record


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


def run_batch(plan: RunPlan, job: JobSpec, *, jobs: int = 1,
              executor: Executor | None = None, scheduler: str | None = None,
              pm: pluggy.PluginManager | None = None,
              on_outcome: Callable[[BurstOutcome], None]) -> RunSummary:
    """Process every planned burst, calling ``on_outcome`` in this process for each one.

    ``executor`` runs them (default: the core's ``processes`` executor, ``jobs`` workers);
    ``jobs``, ``scheduler`` and ``pm`` reach it in an :class:`ExecutorRequest`. Serial runs use
    ``pm`` (the caller's manager, with its reporters); workers build their own. Temp files left
    by killed runs are removed first. On Ctrl-C the bursts in progress are abandoned, and the
    summary counts exactly the outputs written (``_settle_interrupted``).
    """
    if executor is None:
        from .default_plugins.executors import ProcessExecutor
        executor = ProcessExecutor()
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
        if todo:
            executor.run(todo, job, report, ExecutorRequest(jobs=jobs, scheduler=scheduler, pm=pm))
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


def _summarise(outcomes: Sequence[BurstOutcome], interrupted: bool, seconds: float) -> RunSummary:
    def count(status: Status) -> int:
        return sum(o.status == status for o in outcomes)
    return RunSummary(done=count("done"), skipped=count("skipped"), failed=count("failed"),
                      warnings=sum(len(o.warnings) for o in outcomes),
                      interrupted=interrupted, seconds=seconds)
