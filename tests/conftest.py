"""Shared fixtures of the test suite (the `burst_*` fixtures come from burstcli.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
LOCAL_PLUGINS = Path(__file__).resolve().parent / "local_plugins"


@pytest.fixture
def shared_data() -> Path:
    """The read-only real data beside the checkout; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (see the README: ../shared/data)")
    return SHARED_DATA


@pytest.fixture
def npy_cli(burst_cli):
    """`burst` with the test-only .npy plugin loaded from tests/local_plugins."""
    def invoke(*args, **kwargs):
        return burst_cli("--plugins-dir", LOCAL_PLUGINS, *args, **kwargs)
    return invoke
