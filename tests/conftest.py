"""Shared fixtures of the test suite (the `burst_*` fixtures come from burstcli.testing)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
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


def textured_scene(path: Path, seed: int) -> Path:
    """A photograph-like PNG: smoothed noise at several scales plus a few hard edges."""
    rng = np.random.default_rng(seed)
    image = np.zeros((400, 400, 3), np.float32)
    for sigma in (1.0, 3.0, 9.0, 27.0):
        layer = cv2.GaussianBlur(rng.normal(0, 1, (400, 400, 3)).astype(np.float32), (0, 0), sigma)
        image += layer / max(float(layer.std()), 1e-6) * 0.08
    for _ in range(6):
        x, y = rng.integers(0, 400, 2)
        cv2.rectangle(image, (int(x), int(y)), (int(x) + 60, int(y) + 40),
                      tuple(float(v) for v in rng.uniform(-0.3, 0.3, 3)), -1)
    cv2.imwrite(str(path), np.clip((image + 0.45) * 255, 0, 255).astype(np.uint8))
    return path


@pytest.fixture(scope="session")
def bench_sources(tmp_path_factory) -> dict[str, list[Path]]:
    """Scenes for the benchmark generator (burst_bench.degrade) that need no data folder."""
    folder = tmp_path_factory.mktemp("scenes")
    return {"texture": [textured_scene(folder / f"scene_{i}.png", i) for i in range(3)]}
