"""Folders of clean photographs, as training and benchmark recipes read them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"})


def image_files(folders: Sequence[Path]) -> Iterator[Path]:
    """The image files of ``folders`` (not recursive), each folder in name order."""
    for folder in folders:
        for path in sorted(Path(folder).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                yield path


def read_rgb(path: Path) -> np.ndarray | None:
    """One image file as float32 RGB in [0, 1] (sRGB-encoded, as stored); None if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(
        np.float32) / 255


def load_images(folders: Sequence[Path], planes: str = "rgb",
                min_side: int = 1) -> list[np.ndarray]:
    """Every readable image of ``folders`` at least ``min_side`` on both sides, float32 in
    [0, 1]: ``planes`` ``rgb`` (H x W x 3) or ``y`` (BT.601 luma of the gamma-encoded RGB,
    H x W). Raises ``ValueError`` when there is none."""
    images = []
    for path in image_files(folders):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or min(image.shape[:2]) < min_side:
            continue
        if planes == "y":
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.float32) / 255)
        else:
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)
    if not images:
        raise ValueError(f"no images of {min_side} px or more in "
                         f"{', '.join(map(str, folders))}")
    return images


def default_data() -> Path:
    """Where benchmarks find the shared real images by default: ``../shared/data`` beside the
    current folder (a checkout's root), else beside the checkout this library lives in."""
    candidates = (Path.cwd().parent / "shared" / "data",
                  Path(__file__).resolve().parents[3] / "shared" / "data")
    return next((path for path in candidates if path.is_dir()), candidates[0])
