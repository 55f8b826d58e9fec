"""Every hook a burst plugin can implement.

A plugin is a module (or object) with functions decorated by :data:`burstcli.hookimpl` and
named like the specs below. Registration hooks hand things to a ``register`` callback; run-time
hooks let a plugin wrap stage calls or report progress. First-party stages use exactly these
hooks, through the same ``burst`` entry-point group third parties use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # type-only imports keep plugin loading cheap
    import click

    from .collect import Grouper
    from .model import Burst, ExifInfo
    from .models import ModelCard
    from .runner import BurstOutcome, Executor, RunPlan, RunSummary
    from .stage import StageSpec
    from .writers import Writer

hookspec = pluggy.HookspecMarker("burst")


# --- registration -------------------------------------------------------------------------


@hookspec
def register_stages(register: Callable[[StageSpec], None]) -> None:
    """Register stages: call ``register(spec)`` once per stage.

    Declare each parameter's range, choices or check with :func:`~burstcli.stage.param`
    and, with the decorator's ``needs``/``provides``, where the stage may stand in a
    pipeline: presets are then refused before any file is read instead of failing burst by
    burst. Both are optional; a stage that declares neither is not checked.

    The runner times every stage call and measures its peak resident memory (the sidecar
    and ``burst enhance --profile`` show them). A stage that works frame by frame also says
    what each frame took, so that a slow frame shows: ``timer = frame_timer()`` (from
    :mod:`burstcli.profiling`) in the stage, then ``with timer.time(frame): ...`` around each
    frame's work, in any thread; outside a run it records nothing.

    :param register: takes a :class:`~burstcli.stage.StageSpec` made with the
        :func:`~burstcli.stage.stage` decorator. A name registered twice is an error.
    """


@hookspec
def register_presets(register: Callable[[Path], None]) -> None:
    """Register preset files: call ``register(path)`` with a YAML file or a folder of them.

    :param register: takes a path; a folder registers every ``*.yaml`` / ``*.yml`` in it.
        A preset's name is its file stem.
    """


@hookspec
def register_writers(register: Callable[[Writer], None]) -> None:
    """Register output formats: call ``register(writer)`` per format.

    The core calls ``writer.write(path, image, layout, exif, burst)`` (without ``burst`` when
    the function takes four arguments, the contract before it was passed) once per burst with a
    temporary ``path`` it renames when the call returns (so write the whole file there): the
    product to write, its layout, the reference frame's EXIF, and the finished
    :class:`~burstcli.model.Burst` itself for formats that need more than the pixels (the DNG
    writer reads the RAW metadata and the burst's ``development``, how its RGB values were
    made from RAW). A writer whose format only suits some bursts sets ``check``: given a
    burst's files, it returns why it cannot write them (one line), and the burst fails with
    that line before anything is decoded.

    :param register: takes a :class:`~burstcli.writers.Writer`; its ``name`` is what
        ``--format`` accepts.
    """


@hookspec
def register_groupers(register: Callable[[Grouper], None]) -> None:
    """Register ways of splitting a flat folder of frames into bursts (``--group NAME``).

    :param register: takes a :class:`~burstcli.collect.Grouper`.
    """


@hookspec
def register_models(register: Callable[[ModelCard], None]) -> None:
    """Register model files (networks a stage runs): call ``register(card)`` once per model.

    A :class:`~burstcli.models.ModelCard` names the model as presets name it, its task
    (``zoom``, ``deblur``, ...), its ``.tflite`` file, scale and planes, and its training facts;
    :meth:`~burstcli.models.ModelCard.from_file` reads them from the ``.json`` card beside the
    file. ``burst models`` lists them; a stage parameter declared with
    ``param(..., model_task=TASK)`` accepts their names (or a ``.tflite`` path), checked when
    the preset is loaded, and the stage finds the file with
    :func:`burstcli.registry.find_model`.

    :param register: takes a :class:`~burstcli.models.ModelCard`. A name registered twice is
        an error.
    """


@hookspec
def register_executors(register: Callable[[Executor], None]) -> None:
    """Register executors, which run the bursts of a batch somewhere: call
    ``register(executor)`` once per executor.

    ``burst enhance`` picks one per batch: ``-j N`` runs the core's ``processes`` executor
    (``-j 1``: in this process), ``--scheduler STRING`` the first executor, by name, whose
    ``accepts(STRING)`` is true (burst_dask takes ``tcp://HOST:PORT`` and ``local:N``). The
    ``processes`` executor is part of the core: ``--disable-plugin`` cannot remove it.

    An executor subclasses :class:`~burstcli.runner.Executor`: a unique ``name``, a
    ``schedulers`` text saying what ``--scheduler`` values it takes, ``accepts(scheduler)``
    (the syntax only), ``unavailable()`` (why it cannot run here, e.g. an optional dependency
    is missing, else None) and ``run(todo, job, report, request)``. ``run`` sends each
    :class:`~burstcli.runner.PlannedBurst` with the :class:`~burstcli.runner.JobSpec`
    (picklable paths and settings, never pixels) to a worker, which calls
    :func:`~burstcli.runner.process_burst`; it calls ``report(outcome)`` in the calling thread
    as results arrive, once per burst; and on ``KeyboardInterrupt`` it stops or cancels at
    once, reports the results already in and re-raises. ``Executor.run``'s docstring has the
    whole contract. Keep the module importable without the executor's own dependencies:
    import them in ``run``, and say what is missing in ``unavailable()``.

    :param register: takes an :class:`~burstcli.runner.Executor`. A name registered twice
        is an error.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``burst`` command line (``cli.add_command(...)``).

    :param cli: the top-level click group.
    """


@hookspec
def burst_image_extensions() -> Iterable[str]:  # type: ignore[empty-body]
    """Return the file extensions (lower case, with the dot) this plugin can decode.

    Files with other extensions are ignored (and counted) when bursts are collected.
    """


@hookspec(firstresult=True)
def burst_read_exif(path: Path) -> ExifInfo | None:
    """Read a file's EXIF without decoding its pixels (used to order and group frames).

    :param path: an image file.
    :return: an :class:`~burstcli.model.ExifInfo`, or None to let another plugin try.
        Must not raise on a bad file: return None and let the decode stage report it.
    """


# --- run time -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def burst_run_stage(spec: StageSpec, burst: Burst, params: Any) -> Burst | None:
    """Run one stage on one burst and return the new burst.

    The core's implementation is ``trylast`` and simply calls the stage. Implement it as a
    wrapper (``@hookimpl(wrapper=True)``) to time, cache or trace every stage call.

    :param spec: the stage.
    :param burst: its input.
    :param params: the validated parameter object.
    """


@hookspec
def burst_run_start(plan: RunPlan) -> None:
    """Called once before the first burst, with everything that will be done.

    :param plan: the bursts found, their output paths and what will be skipped.
    """


@hookspec
def burst_stage_finish(burst: Burst, stage: str, seconds: float) -> None:
    """Called after each stage of each burst, in the process that ran it.

    :param burst: the stage's output.
    :param stage: the stage name.
    :param seconds: wall time the stage took.
    """


@hookspec
def burst_finished(outcome: BurstOutcome) -> None:
    """Called in the main process when a burst is done, skipped or failed.

    :param outcome: its status, output path, message and timing, and for a burst done its
        ``profile`` (:class:`~burstcli.profiling.BurstProfile`: each stage's time, peak
        memory and frame times), whichever process ran it.
    """


@hookspec
def burst_run_finish(summary: RunSummary) -> None:
    """Called once at the end of a batch, also after an interrupt.

    :param summary: counts of done, skipped and failed bursts and the exit code.
    """
