"""The Dask executor's run: imported only once ``distributed`` is known to be installed.

What it keeps of the ``processes`` executor's promises, and what it cannot:

* **Outputs.** Each burst is one task, ``run_burst(job, planned)``, which writes through the
  runner's ``atomic_path`` (the image's rename is the commit point) and returns the outcome
  only; the summary and progress lines come from ``report`` in the calling thread as tasks
  finish. A rerun skips what was committed, so it resumes.
* **A worker lost mid-burst** (killed, out of memory, its machine gone): the scheduler runs
  its task again on another worker, up to ``distributed.scheduler.allowed-failures`` times
  (3 by default); a burst that kills every worker it lands on is then reported failed. A
  task that raises (a plugin that cannot be imported on one worker, say) is retried
  ``RETRIES`` times. What a lost worker left half-written is a temp file named with its pid:
  on this machine (``local:N``) it is removed at the end of the batch; on a remote one, by
  the next run here only once no process with that pid runs here, so a remote worker's
  stale temp file can stay (it is hidden, and never taken for an output).
* **Ctrl-C.** ``local:N``: the worker processes ignore it, and are killed at once (as
  ``-j`` workers are); the batch then counts what is on disk. With a remote scheduler the
  pending tasks are cancelled and ``burst`` returns at once, but Dask cannot stop a task
  that is running in a worker thread: those bursts finish on the cluster after ``burst``
  has exited, and their outputs appear after the summary was printed (a rerun skips them).
* **Dying with the batch.** ``local:N`` workers exit when this process ends, however it
  ends (distributed's parent-alive pipe). Remote workers belong to their cluster.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import distributed
from distributed import Client, Future, LocalCluster, WorkerPlugin, as_completed
from distributed.client import FutureCancelledError
from distributed.core import Status

from burstcli.runner import (BurstOutcome, ExecutorError, JobSpec, PlannedBurst,
                             process_burst)
from burstcli.workers import (ignore_sigint, process_alive, sigint_deferred,
                              sigint_ignored)

from . import LOCAL

RETRIES = 1  # reruns of a task that raised (Dask's retries); a lost worker is not counted
CONNECT_TIMEOUT = "10s"
#: At most this long to collect results that had arrived when Ctrl-C came.
COLLECT_AFTER_INTERRUPT = 1.0


def run_burst(job: JobSpec, planned: PlannedBurst) -> BurstOutcome:
    """The task: one burst on a worker (its processor built once per worker process)."""
    return process_burst(job, planned)


class IgnoreCtrlC(WorkerPlugin):
    """On ``local:N`` workers, which share the terminal's process group: Ctrl-C is for the
    batch, which stops them itself."""

    name = "burst-ignore-ctrl-c"

    def setup(self, worker: distributed.Worker) -> None:
        try:
            ignore_sigint()
        except ValueError:  # not the main thread of the worker process: leave it
            pass


def run_on_dask(todo: Sequence[PlannedBurst], job: JobSpec,
                report: Callable[[BurstOutcome], None], scheduler: str) -> None:
    """Every burst of ``todo`` as a task on ``scheduler``'s workers, reported as they finish."""
    cluster, client = _connect(scheduler)
    if cluster is None:  # remote workers have their own working folder: absolute paths only
        job, todo = _absolute_job(job), [_absolute_burst(planned) for planned in todo]
    futures: dict[Future, PlannedBurst] = {}
    reported: set[Future] = set()
    try:
        if cluster is not None:
            client.register_plugin(IgnoreCtrlC())
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(run_burst, job, planned, pure=False, retries=RETRIES,
                                 key=f"burst-{token}-{i}-{planned.found.name}"): planned
                   for i, planned in enumerate(todo)}
        for future in as_completed(futures, loop=client.loop):
            reported.add(future)
            report(_outcome_of(future, futures[future]))
    except BaseException as exc:
        with sigint_ignored():  # a second Ctrl-C must not cut the cleanup halfway
            if cluster is not None:
                _kill_local_workers(cluster)
            if isinstance(exc, KeyboardInterrupt):
                _report_finished(futures, reported, report)
            _cancel(client, futures)
            _close(client, cluster)
        raise
    _close(client, cluster)


def _connect(scheduler: str) -> tuple[LocalCluster | None, Client]:
    """A client of ``scheduler``, with the ``LocalCluster`` started for ``local:N``."""
    local = LOCAL.match(scheduler)
    try:
        if local is None:
            return None, Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        workers = int(local["workers"] or os.cpu_count() or 1)
        # Spawned with SIGINT blocked (the event-loop thread and the worker processes inherit
        # the mask), so that a Ctrl-C cannot reach a worker before IgnoreCtrlC.
        cluster = None
        try:
            with sigint_deferred():
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
                client = Client(cluster, set_as_default=False)
        except BaseException:  # Ctrl-C while starting it comes out here, once it has started
            if cluster is not None:
                with sigint_ignored():
                    _kill_local_workers(cluster)
                    _close(None, cluster)
            raise
        return cluster, client
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutorError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                            f"({type(exc).__name__}: {exc})") from exc


def _absolute_job(job: JobSpec) -> JobSpec:
    """``job`` with its ``--plugins-dir`` paths and preset file (not a preset name) absolute."""
    preset = Path(job.preset)
    if preset.suffix in (".yaml", ".yml") and preset.is_file():
        job = dataclasses.replace(job, preset=str(preset.absolute()))
    paths = tuple(path.absolute() for path in job.plugins.plugin_paths)
    return dataclasses.replace(job, plugins=dataclasses.replace(job.plugins, plugin_paths=paths))


def _absolute_burst(planned: PlannedBurst) -> PlannedBurst:
    """``planned`` with every path absolute (the outcome then names the output so)."""
    found = planned.found
    files = tuple(dataclasses.replace(file, path=file.path.absolute()) for file in found.files)
    found = dataclasses.replace(found, folder=found.folder.absolute(), files=files)
    return dataclasses.replace(planned, found=found, output=planned.output.absolute(),
                               sidecar=planned.sidecar.absolute())


def _outcome_of(future: Future, planned: PlannedBurst) -> BurstOutcome:
    """The task's outcome; a task that failed as a task (not as a burst) becomes a failure."""
    try:
        return future.result()
    except distributed.KilledWorker:
        message = "its Dask worker died each time it was tried (out of memory?)"
    except FutureCancelledError:
        message = "its Dask task was cancelled (the scheduler lost it)"
    except ModuleNotFoundError as exc:
        message = (f"ModuleNotFoundError on the Dask worker: {exc} (install burstcli[dask] and "
                   "the same plugins on every worker)")
    except Exception as exc:  # the task could not even run there: its worker says why
        message = f"on the Dask worker: {type(exc).__name__}: {exc}"
    return BurstOutcome(planned.found.name, "failed", message=message)


def _report_finished(futures: dict[Future, PlannedBurst], reported: Collection[Future],
                     report: Callable[[BurstOutcome], None]) -> None:
    """After Ctrl-C: report the results that had arrived, for a second at most (the batch
    then counts what is on disk anyway, from the sidecars)."""
    deadline = time.monotonic() + COLLECT_AFTER_INTERRUPT
    for future in futures:
        left = deadline - time.monotonic()
        if future in reported or future.status != "finished" or left <= 0:
            continue
        try:
            report(future.result(timeout=left))
        except Exception:  # gone with its worker: the disk will tell
            pass


def _kill_local_workers(cluster: LocalCluster) -> None:
    """Kill the ``local:N`` worker processes at once (Ctrl-C must not wait for running
    bursts), without their nannies restarting them, and wait until they are gone."""
    nannies = list(cluster.workers.values())

    async def no_restarts() -> None:  # on the cluster's event loop, which owns the nannies
        for nanny in nannies:
            if nanny.status == Status.running:
                nanny.status = Status.closing_gracefully  # a nanny then closes, not restarts

    try:
        cluster.sync(no_restarts)
    except Exception:  # an internal of distributed changed: the nannies may restart workers,
        pass  # which closing the cluster then stops (a second or so more)
    pids = [pid for nanny in nannies
            if (pid := getattr(getattr(getattr(nanny, "process", None), "process", None),
                               "pid", None))]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(process_alive(pid) for pid in pids):
        time.sleep(0.02)


def _cancel(client: Client, futures: Collection[Future]) -> None:
    try:
        client.cancel(list(futures), force=True)
    except Exception:  # the scheduler is gone already: nothing left to cancel
        pass


def _close(client: Client | None, cluster: LocalCluster | None) -> None:
    for thing in (client, cluster):
        if thing is None:
            continue
        try:
            thing.close(timeout=5)
        except Exception:  # closing is best effort: the processes die with us anyway
            pass
