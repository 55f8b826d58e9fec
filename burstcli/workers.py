"""Worker processes that never outlive the batch, and Ctrl-C decided by the parent alone.

A terminal's Ctrl-C reaches every process of the foreground group. Workers ignore it: the
parent stops them itself (``stop_workers``) and then reports what is on disk, so an
interrupt never waits for running bursts. A worker whose parent dies (``kill -9``) exits
at once instead of going on as an orphan: Linux's parent-death signal, else a watcher
thread that notices the worker has been re-parented.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_INTERVAL = 0.5  # seconds between two looks at the parent (the fallback only)
ORPHAN_EXIT = 1  # exit status of a worker that outlived its parent


def init_worker_process() -> None:
    """The first thing a worker does: ignore Ctrl-C and arrange to die with its parent."""
    ignore_sigint()
    die_with_parent()


def ignore_sigint() -> None:
    """Ignore SIGINT, and drop one left pending while the parent spawned us with it blocked
    (``sigint_deferred``): ignoring first, then unblocking, discards it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def die_with_parent(*, use_prctl: bool = True) -> None:
    """Exit when our parent process ends, however it ends.

    Linux kills us with SIGKILL at the parent's death (PR_SET_PDEATHSIG), even while a C
    extension holds the GIL. Elsewhere, or where prctl is refused (some sandboxes), a daemon
    thread polls ``os.getppid()``, which changes when an orphan is re-parented. Windows does
    not re-parent: there a worker ends after its burst, when its pipe to the parent breaks.
    """
    if os.name != "posix":
        return
    parent_pid = os.getppid()
    if not (use_prctl and set_parent_death_signal(signal.SIGKILL)):
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True,
                         name="burst-parent-watch").start()
    # The parent may have died before the above: then parent_pid is already the new parent
    # and only multiprocessing's sentinel (a pipe from the parent, at EOF) can tell.
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():
        os._exit(ORPHAN_EXIT)


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` when our parent dies; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL)
    # os._exit: no cleanup that could block; a temp file left behind is removed by the
    # next run (runner.remove_stale_temps).
    os._exit(ORPHAN_EXIT)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; True when that cannot be told, so that
    a caller deleting a dead process's files never deletes a live one's.

    A zombie counts as dead: it writes nothing, and an orphan may stay one for long where
    the container's init does not reap.
    """
    if pid <= 0:  # not a process (os.kill(0, ...) would even mean our own group)
        return True
    if os.path.isdir("/proc/self"):
        return _proc_alive(pid)
    if os.name != "posix":  # Windows: os.kill(pid, 0) would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: alive, another user's
        return True
    return True


def child_pids(pid: int) -> set[int]:
    """The pids whose parent is ``pid``, from /proc (Linux; empty elsewhere): how tests and
    benchmarks find a batch's workers without psutil."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def descendant_pids(pid: int) -> set[int]:
    """Every pid below ``pid`` (children, theirs, ...), as :func:`child_pids`."""
    found = child_pids(pid)
    for child in set(found):
        found |= descendant_pids(child)
    return found


def _proc_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[:1]  # the field after the command name
    return state not in (["Z"], ["X"])


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back SIGINT in this thread while workers are being spawned: they inherit the
    blocked mask, so a Ctrl-C cannot hit one before its initializer ignores SIGINT (it would
    die with a traceback), and the parent gets the Ctrl-C as soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no masks, the window stays
        yield
        return
    # Starting multiprocessing's resource tracker unblocks SIGINT (bpo-33613), which would
    # end our block at the first spawn: start it before blocking.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT for a short cleanup (a second Ctrl-C must not cut it halfway); a no-op
    outside the main thread, where Python cannot change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_workers(pool: Any, grace: float = 1.0) -> None:
    """Terminate the worker processes of a ``ProcessPoolExecutor`` and reap them: SIGTERM,
    then SIGKILL for any still alive after ``grace`` seconds. Reaped, their pids are free,
    which ``remove_stale_temps`` relies on to remove the temp files they leave."""
    # No public way before Python 3.14 (terminate_workers), and it does not wait.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(grace)
