"""Scenes for benchmark bursts: real photographs no shipped model was trained on.

The zoom models were trained on t91, kodak24 and mcmaster18; the benchmark draws from the
other sets of ``../shared/data`` only, so no stage or model has seen them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from burstlib.images import read_rgb

#: Folder -> file pattern. City100's near captures (``*H.png``) are real camera photographs
#: of printed postcards; the others are the standard super-resolution test sets.
SOURCES = {
    "b100": "*.png",
    "set14": "*.png",
    "urban100": "*.png",
    "city100": "*H.png",
}
FOLDERS = {"b100": "b100", "set14": "set14", "urban100": "urban100_subset",
           "city100": "city100_iphonex"}


def source_files(data: Path) -> dict[str, list[Path]]:
    """Every usable image per source (sources whose folder is missing are left out)."""
    found = {}
    for name, pattern in SOURCES.items():
        files = sorted((data / FOLDERS[name]).glob(pattern))
        if files:
            found[name] = files
    return found


def read_srgb(path: Path) -> np.ndarray:
    """An 8-bit photograph as float32 RGB in [0, 1] (sRGB-encoded, as stored)."""
    image = read_rgb(path)
    if image is None:
        raise ValueError(f"{path}: not readable")
    return image


def scene_canvas(image: np.ndarray, side: tuple[int, int], flat: bool,
                 rng: np.random.Generator) -> np.ndarray:
    """A crop of ``image`` resized to ``side`` (w, h) pixels: a random window of at least half
    the photograph, so small frames hold a part of it and large ones an enlargement.

    ``flat`` blurs it strongly: the smooth gradients of sky and walls, where a merge's noise
    estimate and its deghosting are tested hardest."""
    height, width = image.shape[:2]
    aspect = side[0] / side[1]
    crop_h = int(rng.uniform(0.5, 1.0) * min(height, width / aspect))
    crop_w = int(crop_h * aspect)
    y = int(rng.integers(0, height - crop_h + 1))
    x = int(rng.integers(0, width - crop_w + 1))
    crop = image[y:y + crop_h, x:x + crop_w]
    shrink = side[0] < crop_w
    canvas = cv2.resize(crop, side, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    if flat:
        canvas = cv2.GaussianBlur(canvas, (0, 0), max(side) / 40)
    return np.clip(canvas, 0.0, 1.0)
