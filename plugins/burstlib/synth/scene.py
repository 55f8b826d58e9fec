"""Scenes to photograph: a built-in procedural one, or crops of the user's own images.

The procedural scene is made for measuring: edges at every orientation and scale, fine
text-like strokes, texture at every scale (1/f-like noise), a Siemens star and a zone plate
(all frequencies up to Nyquist and beyond, every orientation), flat colour patches and smooth
gradients, so that blur, aliasing, registration, colour and noise all show.

Shapes and strokes are drawn anti-aliased into an 8-bit sRGB canvas, as a photograph would
be stored (OpenCV anti-aliases only 8-bit images); texture, star, zone plate and patches are
computed in float, anti-aliased analytically.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np

SOURCE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: Cells of a 3x3 layout that the star, the zone plate and the colour chart may occupy.
LAYOUT = 3


def procedural_scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 sRGB image in [0, 1], HxWx3, deterministic for a given ``rng`` state."""
    canvas = _smooth_background(height, width, rng)
    scale = max(height, width)
    for _ in range(int(60 + 200 * height * width / 1e6)):  # density independent of size
        _random_shape(canvas, rng, scale)
    _strokes(canvas, rng, scale)
    image = canvas.astype(np.float32) / 255.0
    image *= _texture(height, width, rng)[..., None]
    cells = rng.permutation(LAYOUT * LAYOUT)[:3]
    _paste(image, _siemens_star(_cell_size(height, width)), _cell_origin(cells[0], height, width))
    _paste(image, _zone_plate(_cell_size(height, width)), _cell_origin(cells[1], height, width))
    _paste(image, _colour_chart(_cell_size(height, width), rng),
           _cell_origin(cells[2], height, width))
    return np.clip(image, 0.0, 1.0)


def _smooth_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    coarse = rng.uniform(40, 215, (4, 6, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth, 0, 255).astype(np.uint8)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    red, green, blue = (int(c) for c in rng.integers(5, 250, 3))
    return red, green, blue


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
    """Text-like fine strokes at a few sizes (thin lines, dense detail), in a few colours."""
    h, w = canvas.shape[:2]
    letters = list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
    for _ in range(3 * max(3, scale // 150)):
        text = "".join(rng.choice(letters, int(rng.integers(3, 9))))
        origin = (int(rng.integers(0, w)), int(rng.integers(10, h)))
        size = max(float(rng.uniform(0.3, 1.5)) * scale / 1000, 0.3)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, _colour(rng),
                    1 if size < 0.8 else 2, cv2.LINE_AA)


def _texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A multiplicative 1/f-like texture around 1 (+-10% or so): random grids from 2 px to
    256 px cells, cubic-upsampled, amplitude growing gently with the cell size."""
    texture = np.ones((height, width), np.float32)
    cell = 2
    while cell <= 256 and cell < max(height, width):
        grid = rng.uniform(-1, 1, (height // cell + 2, width // cell + 2)).astype(np.float32)
        big = cv2.resize(grid, ((width // cell + 2) * cell, (height // cell + 2) * cell),
                         interpolation=cv2.INTER_CUBIC)
        texture += np.float32(0.02 * (cell / 2) ** 0.2) * big[:height, :width]
        cell *= 2
    return texture


def _cell_size(height: int, width: int) -> int:
    """Side of the square test patterns: most of a layout cell."""
    return max(8, int(0.9 * min(height, width) / LAYOUT)) // 2 * 2


def _cell_origin(cell: int, height: int, width: int) -> tuple[int, int]:
    row, col = divmod(int(cell), LAYOUT)
    size = _cell_size(height, width)
    cell_h, cell_w = height / LAYOUT, width / LAYOUT
    return (int(row * cell_h + (cell_h - size) / 2), int(col * cell_w + (cell_w - size) / 2))


def _paste(image: np.ndarray, patch: np.ndarray, origin: tuple[int, int]) -> None:
    """Blend an RGBA float patch (alpha in the last channel) into the image at (row, col)."""
    y, x = origin
    h, w = patch.shape[:2]
    region = image[y:y + h, x:x + w]
    alpha = patch[:region.shape[0], :region.shape[1], 3:]
    region *= 1 - alpha
    region += alpha * patch[:region.shape[0], :region.shape[1], :3]


def _disc_grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-centre coordinates about the patch centre, radius, and a 1-px anti-aliased disc."""
    y, x = np.mgrid[:size, :size].astype(np.float32) - (size - 1) / 2
    r = np.hypot(x, y)
    alpha = np.clip(size / 2 - 1 - r, 0.0, 1.0)
    return x, y, alpha


def _siemens_star(size: int, spokes: int = 36) -> np.ndarray:
    """A Siemens star: spokes whose edges are anti-aliased to one pixel at every radius, so
    their frequency sweeps through Nyquist towards the centre at every orientation."""
    x, y, alpha = _disc_grid(size)
    r = np.maximum(np.hypot(x, y), 1e-3)
    wave = np.sin(spokes * np.arctan2(y, x))
    value = 0.5 + 0.45 * np.clip(wave * r / spokes, -1.0, 1.0)  # ~1 px transition
    return np.dstack([value, value, value, alpha]).astype(np.float32)


def _zone_plate(size: int) -> np.ndarray:
    """A circular zone plate: local frequency rising linearly to Nyquist at its rim."""
    x, y, alpha = _disc_grid(size)
    radius = size / 2
    value = 0.5 + 0.4 * np.cos(np.pi / 2 * (x * x + y * y) / radius)
    return np.dstack([value, value, value, alpha]).astype(np.float32)


def _colour_chart(size: int, rng: np.random.Generator) -> np.ndarray:
    """A 4x6 chart of flat patches on black: a grey ramp row and 18 random colours."""
    rows, cols = 4, 6
    colours = rng.uniform(0.05, 0.95, (rows, cols, 3)).astype(np.float32)
    colours[-1] = np.linspace(0.04, 0.96, cols, dtype=np.float32)[:, None]
    chart = np.zeros((size, size, 4), np.float32)
    chart[..., 3] = 1.0
    step_y, step_x = size // rows, size // cols
    gap = max(1, min(step_x, step_y) // 8)
    for i in range(rows):
        for j in range(cols):
            chart[i * step_y + gap:(i + 1) * step_y - gap,
                  j * step_x + gap:(j + 1) * step_x - gap, :3] = colours[i, j]
    return chart


def source_scene(folder: Path, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of a random image from ``folder``, resized to cover HxW; float sRGB."""
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in SOURCE_EXTENSIONS)
    if not images:
        raise FileNotFoundError(f"{folder}: no source images ({', '.join(SOURCE_EXTENSIONS)})")
    image = _as_float_rgb(iio.imread(images[int(rng.integers(0, len(images)))]))
    cover = max(height / image.shape[0], width / image.shape[1])
    if cover > 1:  # too small: enlarge (note: enlarged sources lack the finest detail)
        size = (max(width, int(np.ceil(image.shape[1] * cover))),
                max(height, int(np.ceil(image.shape[0] * cover))))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    y = int(rng.integers(0, image.shape[0] - height + 1))
    x = int(rng.integers(0, image.shape[1] - width + 1))
    return np.clip(image[y:y + height, x:x + width], 0, 1)


def _as_float_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    peak = np.iinfo(image.dtype).max if image.dtype.kind in "ui" else 1.0
    return image.astype(np.float32) / peak
