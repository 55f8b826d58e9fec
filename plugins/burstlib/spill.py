"""Arrays kept in a temporary file instead of memory, for bursts whose frames outgrow it.

Ten developed 48 MP frames are 2.9 GB of 16-bit RGB: more than a 4 GB budget leaves for the
merge. :func:`spilled` copies an array into an anonymous temporary file (unlinked at once:
nothing is left behind, even on a crash) and hands back a read-only array mapped onto it;
:func:`release` lets the pages a stage has read go again, so the process holds only what it
is working on while the system's page cache keeps the rest as long as memory allows. Stages
read frames through :func:`burstlib.arrays.normalized`, which releases a spilled frame once
it has made its float32 copy.

The files go to ``BURST_SPILL_DIR`` when set, else the system's temporary folder (``TMPDIR``):
it should be on a disk, not a RAM-backed tmpfs, for the memory to be saved.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref

import numpy as np

from burstcli.errors import StageError


def spill_folder() -> str:
    """Where spilled arrays' files go (see the module's note)."""
    return os.environ.get("BURST_SPILL_DIR") or tempfile.gettempdir()


#: The mappings :func:`spilled` made: :func:`release` drops the pages of these only (another
#: mapping's may hold writes that were never saved).
_SPILLED: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()


def spilled(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array`` in a temporary file, memory-mapped; none of its pages
    resident afterwards. The file is unlinked before anything is written to it and its space
    is freed once the returned array (and every view of it) is gone. A folder that cannot
    take it (missing, full) is a :class:`~burstcli.errors.StageError` naming it."""
    size = max(array.nbytes, 1)
    folder = spill_folder()
    try:
        with tempfile.TemporaryFile(dir=folder) as handle:
            # Blocks reserved now: a full disk is an error here, not a SIGBUS (which ends the
            # whole batch) when the mapping is written. (Not on macOS: there it is sparse.)
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(handle.fileno(), 0, size)
            else:
                handle.truncate(size)
            mapped = mmap.mmap(handle.fileno(), size)  # the mapping keeps the file open
    except OSError as exc:
        raise StageError(f"cannot keep frames in a temporary file in {folder}: "
                         f"{exc.strerror or exc} (set BURST_SPILL_DIR to a folder with room, "
                         f"or memory_mb to 0)") from None
    _SPILLED.add(mapped)
    copy = np.frombuffer(mapped, dtype=array.dtype, count=array.size).reshape(array.shape)
    copy[...] = array
    _drop_pages(mapped)  # written back to the file, gone from this process
    copy.flags.writeable = False
    return copy


def is_spilled(array: np.ndarray) -> bool:
    """Whether ``array`` (or what it is a view of) was made by :func:`spilled`."""
    mapping = _mapping(array)
    return isinstance(mapping, mmap.mmap) and mapping in _SPILLED


def kept_like(source: np.ndarray, result: np.ndarray) -> np.ndarray:
    """``result`` (made from ``source``) kept where ``source`` is: in a temporary file if it
    is in one (``source``'s pages then let go), else in memory as it is. For stages that
    turn frames into others of the same size (colour conversions)."""
    if not is_spilled(source):
        return result
    release(source)
    return spilled(result)


def release(array: np.ndarray) -> None:
    """Drop the resident pages of a spilled array (all of its file, not only this view's);
    reading it again brings them back. Anything else is left alone."""
    mapping = _mapping(array)
    if isinstance(mapping, mmap.mmap) and mapping in _SPILLED:
        _drop_pages(mapping)


def _drop_pages(mapping: mmap.mmap) -> None:
    """``MADV_DONTNEED`` where the system has it (not Windows: there the pages stay)."""
    if hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def _mapping(array: np.ndarray) -> object:
    """What ``array``'s memory comes from, through its views (numpy holds a memoryview of
    the mapping it was made from)."""
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base.obj if isinstance(base, memoryview) else base
