"""Where a burst's time and memory go: each stage's wall time and peak resident memory, and
per-frame times for stages that work frame by frame.

The runner measures every stage call with a :class:`StageMeter`; the figures go to the
sidecar (always) and to ``burst enhance --profile``'s table, through the burst's
:class:`~burstcli.runner.BurstOutcome` (they travel back from worker processes with it).

A stage that works frame by frame says how long each frame took with :func:`frame_timer`::

    from burstcli.profiling import frame_timer

    @stage("my.stage", ...)
    def my_stage(burst, params):
        timer = frame_timer()
        for frame in burst.frames:
            with timer.time(frame):        # labelled by the frame's file name
                ...

Call :func:`frame_timer` in the stage's own thread (where the runner called it), then use the
timer anywhere, worker threads included (it takes a lock): in a thread pool, each frame's
figure is that frame's own wall time, so the frames' sum can exceed the stage's. The same
label timed twice adds up; frames are listed in the order they started. Outside a run (a
test calling the stage, another plugin's ``run_stage``) the timer records nothing.

Peak memory: on Linux the runner resets the process's peak resident set (``VmHWM``) before
each stage by writing ``5`` to ``/proc/self/clear_refs`` and reads it after, so a stage's
figure is its own peak (the memory the process held before it counts: it was resident).
Where that file cannot be written (another system, a locked-down container), the figure is
the process's peak since it started (``getrusage``'s ``ru_maxrss``) and the profile says so
(``memory_scope == "process"``). Memory is the process's: with ``-j N`` each burst runs alone
in its worker process, but executors that run several bursts as threads of one process (a
Dask worker with several threads) mix their figures: while stages overlap, the peak is not
reset, so each figure is an upper bound for its stage.

Before every stage (measured or not, ``--profile`` or not) the runner also hands the C heap's
free memory back to the system (:func:`return_free_memory`): what the previous stage freed
would otherwise stay with the process (a gigabyte at 48 MP) and count as the next one's.
"""

from __future__ import annotations

import contextvars
import ctypes
import dataclasses
import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Literal

from .model import Frame

MemoryScope = Literal["stage", "process"]
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class StageProfile:
    """One stage call: wall ``seconds``, the process's peak resident memory during it in
    bytes (``peak_rss``; None where the system tells none) and, for stages that report
    them, ``frames``: (label, seconds) in the order first timed."""

    name: str
    seconds: float
    peak_rss: int | None = None
    frames: tuple[tuple[str, float], ...] = ()  # in the order they started


@dataclasses.dataclass(frozen=True)
class BurstProfile:
    """A burst's stages, then writing its output (``write``; None until written), and what
    the memory figures mean (``memory_scope``: ``stage``, each stage's own peak, or
    ``process``, the process's peak since it started)."""

    stages: tuple[StageProfile, ...]
    memory_scope: MemoryScope
    write: StageProfile | None = None

    @property
    def measured(self) -> tuple[StageProfile, ...]:
        """The stages, then writing the output once it is written."""
        return (*self.stages, *([self.write] if self.write else []))

    @property
    def peak_rss(self) -> int | None:
        """The burst's peak resident memory: the largest of its stages' (and writing's)."""
        peaks = [s.peak_rss for s in self.measured if s.peak_rss is not None]
        return max(peaks) if peaks else None


# --- per-frame times ---------------------------------------------------------------------------


class FrameTimer:
    """Collects one stage call's per-frame wall times; thread-safe. Get it with
    :func:`frame_timer`."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._times: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def time(self, frame: Frame | str) -> Iterator[None]:
        """Time the block as ``frame``'s work (its file name; or a label of your own)."""
        if not self.enabled:
            yield
            return
        self.record(frame, 0.0)  # listed in the order frames start, whichever ends first
        began = time.perf_counter()
        try:
            yield
        finally:
            self.record(frame, time.perf_counter() - began)

    def record(self, frame: Frame | str, seconds: float) -> None:
        """Add ``seconds`` measured elsewhere to ``frame``'s time."""
        if not self.enabled:
            return
        label = frame.path.name if isinstance(frame, Frame) else str(frame)
        with self._lock:
            self._times[label] = self._times.get(label, 0.0) + float(seconds)

    def times(self) -> tuple[tuple[str, float], ...]:
        """(label, seconds) in the order the labels were first timed."""
        with self._lock:
            return tuple(self._times.items())


_DISABLED = FrameTimer(enabled=False)
_current: contextvars.ContextVar[FrameTimer] = contextvars.ContextVar("burst_frame_timer",
                                                                      default=_DISABLED)


def frame_timer() -> FrameTimer:
    """The running stage call's :class:`FrameTimer`; one that records nothing outside a run."""
    return _current.get()


# --- peak resident memory ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def memory_scope() -> MemoryScope:
    """``stage`` where this process can reset its peak (Linux ``clear_refs``), else
    ``process``. Tried once per process."""
    return "stage" if reset_peak_rss() else "process"


def return_free_memory() -> None:
    """Hand the C heap's free memory back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). A stage's large temporaries are freed to the heap, and glibc keeps them (the
    developing threads' arenas above all): at 48 MP a gigabyte that the next stage would
    count as its own and that the machine could use."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def reset_peak_rss() -> bool:
    """Reset the process's peak resident set to what it holds now; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """The process's peak resident set in bytes since it started or the last reset: Linux's
    ``VmHWM``, else ``ru_maxrss``; None where neither exists."""
    peak = _status_peak()
    return peak if peak is not None else _rusage_peak()


def _status_peak() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rusage_peak() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes there, KiB here


# --- one stage call ------------------------------------------------------------------------


_meters_lock = threading.Lock()
_active_meters = 0  # StageMeters open in this process (threads running bursts side by side)


class StageMeter:
    """Measures one stage call: ``with StageMeter(name) as meter: ...``, then
    ``meter.profile``. Inside the block :func:`frame_timer` returns this call's timer."""

    def __init__(self, name: str):
        self.name = name
        self.timer = FrameTimer()
        self.profile = StageProfile(name, 0.0)
        self._began = 0.0
        self._token: contextvars.Token[FrameTimer] | None = None

    def __enter__(self) -> StageMeter:
        global _active_meters
        with _meters_lock:
            # A reset is process-wide: while another thread's stage is being measured (a Dask
            # worker running bursts as threads), resetting would cut its peak short, so the
            # figures are left as upper bounds instead.
            if _active_meters == 0:
                return_free_memory()
                if memory_scope() == "stage":
                    reset_peak_rss()
            _active_meters += 1
        self._token = _current.set(self.timer)
        self._began = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        global _active_meters
        seconds = time.perf_counter() - self._began
        if self._token is not None:
            _current.reset(self._token)
        self.profile = StageProfile(self.name, seconds, peak_rss(), self.timer.times())
        with _meters_lock:
            _active_meters -= 1


def mib(size: int | None) -> float | None:
    """Bytes as MiB, rounded to 0.1 (as the sidecar stores them)."""
    return None if size is None else round(size / MIB, 1)
