"""The default executor, ``processes``: bursts in this process (``-j 1``) or in ``-j N`` worker
processes on this machine.

Part of the core: registered under a name ``--disable-plugin`` refuses (see
:data:`burstcli.plugins.CORE_PLUGINS`), so a batch always has an executor. Workers are
started with ``spawn`` (LibRaw uses OpenMP, which does not survive ``fork``), ignore Ctrl-C
and die with their parent (:mod:`burstcli.workers`); on Ctrl-C they are terminated at once.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Collection, Sequence

import pluggy

from burstcli import hookimpl
from burstcli.runner import (DEFAULT_EXECUTOR, BurstOutcome, BurstProcessor, Executor,
                             ExecutorRequest, JobSpec, PlannedBurst)
from burstcli.workers import init_worker_process, sigint_deferred, sigint_ignored, stop_workers


class ProcessExecutor(Executor):
    """``-j 1``: one burst after another in this process, with the caller's plugin manager
    (its reporters see every stage); ``-j N``: N worker processes, each building its own."""

    name = DEFAULT_EXECUTOR
    schedulers = ""  # the default: chosen by -j, never by --scheduler

    def run(self, todo: Sequence[PlannedBurst], job: JobSpec,
            report: Callable[[BurstOutcome], None], request: ExecutorRequest) -> None:
        if request.jobs > 1 and len(todo) > 1:
            _run_parallel(todo, job, request.jobs, report)
        else:
            _run_serial(todo, job, request.pm, report)


@hookimpl
def register_executors(register: Callable[[Executor], None]) -> None:
    """The default executor."""
    register(ProcessExecutor())


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
