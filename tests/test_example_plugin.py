"""A third-party plugin distribution installed with pip into a throwaway environment."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
import tifffile

EXAMPLE = Path(__file__).resolve().parent / "example_plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> Path:
    """A new venv that sees this environment's packages (burst and its dependencies) through
    a .pth file, with the example plugin pip-installed into it, and only into it."""
    root = tmp_path_factory.mktemp("env")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    env_site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (env_site / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", env_site, str(EXAMPLE)], check=True)
    return python


def run_burst(python: Path, *args: object) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([python, "-m", "burstcli", *map(str, args)], capture_output=True,
                          text=True, env=env)


def test_plugin_is_found_listed_and_used(plugin_env, tmp_path):
    listed = run_burst(plugin_env, "plugins")
    assert "negative" in listed.stdout and "burst-example-negative" in listed.stdout
    assert "example.negative" in run_burst(plugin_env, "stages").stdout
    frames = tmp_path / "shots" / "b"
    frames.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(3):
        tifffile.imwrite(frames / f"f{i}.tiff", rng.integers(0, 60000, (16, 16), dtype=np.uint16))
    result = run_burst(plugin_env, "enhance", tmp_path / "shots", "--preset", "negative")
    assert result.returncode == 0, result.stdout + result.stderr
    written = tifffile.imread(tmp_path / "shots_burst" / "b_negative.tiff")
    originals = [tifffile.imread(frames / f"f{i}.tiff") for i in range(3)]
    assert any(np.array_equal(written, 65535 - o) for o in originals)


def test_plugin_is_not_in_the_outer_environment(burst_cli):
    assert "example.negative" not in burst_cli("stages").output
