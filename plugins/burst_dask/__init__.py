"""Dask distributed as a burst executor: ``burst enhance ... --scheduler tcp://HOST:8786`` runs
the bursts on a running Dask cluster, ``--scheduler local:N`` on a ``LocalCluster`` of N
worker processes started for the batch.

``pip install 'burstcli[dask]'`` adds Dask; without it this plugin still loads (it is part of
the distribution) and ``--scheduler`` says what to install. Bursts travel to the workers as
paths with the job spec (``PlannedBurst`` + ``JobSpec``), never as pixels: on a cluster the
inputs, the outputs and any ``--plugins-dir`` file must be at the same paths on every worker
(a shared filesystem), and the workers need burstcli[dask] and the same plugins installed.
:mod:`burst_dask.dask_side` says what Dask does and does not promise next to ``-j``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from burstcli import hookimpl
from burstcli.runner import BurstOutcome, Executor, ExecutorRequest, JobSpec, PlannedBurst

#: A Dask scheduler's address (the comm protocols distributed knows).
ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://\S+$")
#: ``local`` (one worker per CPU) or ``local:N``.
LOCAL = re.compile(r"^local(:(?P<workers>[1-9][0-9]{0,3}))?$")


class DaskExecutor(Executor):
    """Bursts as Dask tasks, on a scheduler's workers or on a ``LocalCluster``."""

    name = "dask"
    schedulers = "tcp://HOST:PORT (a Dask scheduler), local:N (N Dask worker processes here)"

    def accepts(self, scheduler: str) -> bool:
        return bool(ADDRESS.match(scheduler) or LOCAL.match(scheduler))

    def unavailable(self) -> str | None:
        try:  # asked only when --scheduler names Dask, which then needs it anyway
            import distributed  # noqa: F401
        except ImportError as exc:
            return f"Dask is not installed ({exc}): pip install 'burstcli[dask]'"
        return None

    def run(self, todo: Sequence[PlannedBurst], job: JobSpec,
            report: Callable[[BurstOutcome], None], request: ExecutorRequest) -> None:
        from .dask_side import run_on_dask  # distributed is imported only now
        assert request.scheduler is not None
        run_on_dask(todo, job, report, request.scheduler)


@hookimpl
def register_executors(register: Callable[[Executor], None]) -> None:
    """The Dask executor (``--scheduler``)."""
    register(DaskExecutor())
