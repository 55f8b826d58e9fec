"""The exceptions the core and plugins raise, and the exit codes they map to."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1  # some bursts failed; the others finished
EXIT_USAGE = 2  # bad command line or preset: nothing was read
EXIT_INTERRUPTED = 130


class BurstError(Exception):
    """Base class of every error burst reports to the user as one line."""


class ConfigError(BurstError):
    """A preset, a ``--set`` value or a stage parameter is wrong. Exit code 2.

    ``source`` names the file (or ``--set``) and ``key`` the dotted key that is wrong.
    """

    def __init__(self, message: str, *, source: str | Path | None = None, key: str | None = None):
        self.source = str(source) if source is not None else None
        self.key = key
        where = ": ".join(_one_line(part) for part in (self.source, key) if part)
        message = _one_line(message, quote=False)
        super().__init__(f"{where}: {message}" if where else message)


def _one_line(text: str, *, quote: bool = True) -> str:
    """``text`` as it can stand in a one-line message: a name holding line breaks or other
    control characters (a preset key can be anything YAML allows) is shown quoted, a
    message's own breaks become spaces."""
    if text.isprintable():
        return text
    return repr(text) if quote else " ".join(text.split())


class BadFileError(BurstError):
    """One input file cannot be used (truncated, empty, not what its extension says)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{printable(path)}: {reason}")


def printable(path: str | Path) -> str:
    """``path`` as text any terminal can print: bytes of a name that is not valid UTF-8
    (kept by Python as surrogates, which printing refuses) become U+FFFD."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


class StageError(BurstError):
    """A stage could not process a burst; the batch goes on with the others."""
