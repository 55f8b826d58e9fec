"""burst: turn folders of photo bursts into better single images.

Plugins import :data:`hookimpl` from here to implement the hooks in
:mod:`burstcli.hookspecs`, and :func:`~burstcli.stage.stage` / :func:`~burstcli.stage.param`
to write stages.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pluggy

from .model import Burst, Development, ExifInfo, Frame, RawInfo
from .stage import NoParams, StageSpec, param, stage

try:
    __version__ = version("burstcli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

hookimpl = pluggy.HookimplMarker("burst")

__all__ = [
    "Burst", "Development", "ExifInfo", "Frame", "NoParams", "RawInfo", "StageSpec", "hookimpl",
    "param", "stage", "__version__",
]
