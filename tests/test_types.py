"""The core and the first-party plugins are type-checked: mypy over burstcli and plugins/, run
by the test suite so CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra)")
ROOT = Path(__file__).resolve().parents[1]


def test_the_core_and_the_plugins_type_check():
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(ROOT / "pyproject.toml"), str(ROOT / "burstcli"),
                           str(ROOT / "plugins")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
