"""Scenes to photograph: a built-in procedural one, or crops of the user's own images.

The procedural scene is made for measuring: edges at every orientation and scale, fine
text-like strokes, a zone plate (all frequencies up to Nyquist), flat colour patches and smooth
gradients, so that blur, aliasing, registration and noise all show.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np

SOURCE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def procedural_scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 sRGB image in [0, 1], HxWx3, deterministic for a given ``rng`` state."""
    canvas = _smooth_background(height, width, rng)
    scale = max(height, width)
    for _ in range(int(60 + 200 * height * width / 1e6)):  # density independent of size
        _random_shape(canvas, rng, scale)
    _strokes(canvas, rng, scale)
    _zone_plate(canvas, rng)
    return np.clip(canvas, 0.0, 1.0).astype(np.float32)


def _smooth_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    coarse = rng.uniform(0.15, 0.85, (4, 6, 3)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(c) for c in rng.uniform(0.02, 0.98, 3))


def _random_shape(canvas: np.ndarray, rng: np.random.Generator, scale: int) -> None:
    h, w = canvas.shape[:2]
    centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    size = int(scale * rng.choice([0.01, 0.03, 0.08, 0.15]) * rng.uniform(0.5, 1.5)) + 2
    kind = rng.integers(0, 4)
    colour = _colour(rng)
    if kind == 0:
        cv2.circle(canvas, centre, size, colour, -1, cv2.LINE_AA)
    elif kind == 1:
        axes = (size, max(1, int(size * rng.uniform(0.2, 1.0))))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    elif kind == 2:
        points = rng.normal(0, size, (int(rng.integers(3, 7)), 2)) + np.array(centre)
        cv2.fillPoly(canvas, [points.astype(np.int32)], colour, cv2.LINE_AA)
    else:
        end = (centre[0] + int(rng.normal(0, size * 3)), centre[1] + int(rng.normal(0, size * 3)))
        cv2.line(canvas, centre, end, colour, int(rng.integers(1, 4)), cv2.LINE_AA)


def _strokes(canvas: np.ndarray, rng: np.random.Generator, scale: int) -> None:
    """Text-like fine strokes at a few sizes (thin lines, dense detail), in a few colours.

    OpenCV draws text only into 8-bit images: words go into a mask, then are blended in."""
    h, w = canvas.shape[:2]
    letters = list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
    for _ in range(3):
        mask = np.zeros((h, w), np.uint8)
        for _ in range(max(3, scale // 150)):
            text = "".join(rng.choice(letters, int(rng.integers(3, 9))))
            origin = (int(rng.integers(0, w)), int(rng.integers(10, h)))
            size = max(float(rng.uniform(0.3, 1.5)) * scale / 1000, 0.3)
            cv2.putText(mask, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, 255,
                        1 if size < 0.8 else 2, cv2.LINE_AA)
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        canvas *= 1.0 - alpha
        canvas += alpha * np.array(_colour(rng), np.float32)


def _zone_plate(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A circular zone plate patch: frequency rising to Nyquist at its rim."""
    h, w = canvas.shape[:2]
    radius = max(8, min(h, w) // 8)
    cy, cx = int(rng.integers(radius, h - radius)), int(rng.integers(radius, w - radius))
    y, x = np.mgrid[-radius:radius, -radius:radius].astype(np.float32)
    r2 = x * x + y * y
    pattern = 0.5 + 0.4 * np.cos(np.pi / 2 * r2 / radius)
    inside = r2 < radius * radius
    patch = canvas[cy - radius:cy + radius, cx - radius:cx + radius]
    patch[inside] = pattern[inside, None]


def source_scene(folder: Path, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of a random image from ``folder``, resized to cover HxW; float sRGB."""
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in SOURCE_EXTENSIONS)
    if not images:
        raise FileNotFoundError(f"{folder}: no source images ({', '.join(SOURCE_EXTENSIONS)})")
    image = _as_float_rgb(iio.imread(images[int(rng.integers(0, len(images)))]))
    cover = max(height / image.shape[0], width / image.shape[1])
    if cover > 1:  # too small: enlarge (note: enlarged sources lack the finest detail)
        image = cv2.resize(image, None, fx=cover, fy=cover, interpolation=cv2.INTER_CUBIC)
    y = int(rng.integers(0, image.shape[0] - height + 1))
    x = int(rng.integers(0, image.shape[1] - width + 1))
    return np.clip(image[y:y + height, x:x + width], 0, 1)


def _as_float_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    peak = np.iinfo(image.dtype).max if image.dtype.kind in "ui" else 1.0
    return image.astype(np.float32) / peak
