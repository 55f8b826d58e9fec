"""Running a ``.tflite`` network on large images: tiles with overlap, one interpreter per size.

The only module that imports a TFLite runtime: ai-edge-litert (the maintained one), else the
old tflite-runtime (which needs numpy < 2). Resizing an interpreter's input costs 0.1-2.5 s,
so the image is cut into tiles of at most a few sizes and an interpreter is kept per size;
tiles overlap by ``overlap`` input pixels on each side and only their centres are kept, so
the network's receptive field never sees a tile border inside the image.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
    straight to file descriptor 2 when an interpreter is made: noise in a user's batch log.
    The descriptor is pointed at /dev/null meanwhile (Python's own sys.stderr is untouched,
    so an exception still reads as usual)."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a detached process): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _interpreter_class():  # type: ignore[no-untyped-def]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - the fallback runtime
        from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
    return Interpreter


class TiledModel:
    """A dynamic-size image-to-image ``.tflite`` model applied tile by tile.

    ``scale`` is the ratio of output to input size (the model's depth-to-space factor, 1 for
    same-size models); input and output are H x W x C float32 (batch added here).
    """

    def __init__(self, model: Path | bytes, scale: int, *, tile: int = 256, overlap: int = 8,
                 threads: int = 2):
        self.content = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.scale, self.tile, self.overlap, self.threads = scale, tile, overlap, threads
        self._interpreters: dict[tuple[int, int, int], object] = {}

    def _interpreter(self, height: int, width: int, channels: int):  # type: ignore[no-untyped-def]
        key = (height, width, channels)
        if key not in self._interpreters:
            with _native_stderr_silenced():
                interpreter = _interpreter_class()(model_content=self.content,
                                                   num_threads=self.threads)
                index = interpreter.get_input_details()[0]["index"]
                interpreter.resize_tensor_input(index, [1, height, width, channels], strict=False)
                interpreter.allocate_tensors()
            self._interpreters[key] = interpreter
        return self._interpreters[key]

    def run_whole(self, image: np.ndarray) -> np.ndarray:
        """The model on the whole image at once (no tiling)."""
        interpreter = self._interpreter(*image.shape)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                               np.ascontiguousarray(image[None], np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The model on ``image`` (H x W x C), tiled when larger than a tile.

        Tiles are cut from the image itself (never padded): a tile on the image's edge sees
        the network's own zero padding there, exactly as the whole image would, and inside
        the image every kept part has ``overlap`` pixels of real context, so the result
        equals the untiled one. All tiles have one size (the last ones are moved inwards)."""
        height, width = image.shape[:2]
        if height <= self.tile and width <= self.tile:
            return self.run_whole(image)
        tile_h, tile_w = min(self.tile, height), min(self.tile, width)
        return stitch(height, width, (tile_h, tile_w), self.overlap, self.scale,
                      lambda y0, x0: self.run_whole(image[y0:y0 + tile_h, x0:x0 + tile_w]))


def stitch(height: int, width: int, tile: tuple[int, int], overlap: int, scale: int,
           run: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """The (height * scale) x (width * scale) output of ``run(y0, x0)`` (the output of the
    ``tile``-sized input part at row y0, column x0) on overlapping tiles, keeping of each
    tile only the part at least ``overlap`` input pixels from its cut edges."""
    s = scale
    out = None
    for ys, ye, y0 in spans(height, tile[0], overlap):
        for xs, xe, x0 in spans(width, tile[1], overlap):
            result = run(y0, x0)
            if out is None:
                out = np.empty((height * s, width * s) + result.shape[2:], np.float32)
            out[ys * s:ye * s, xs * s:xe * s] = result[(ys - y0) * s:(ye - y0) * s,
                                                       (xs - x0) * s:(xe - x0) * s]
    assert out is not None
    return out


def spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
    """(kept start, kept end, tile start) along one axis."""
    if tile >= length:
        return [(0, length, 0)]
    step = tile - 2 * overlap
    if step < 1:
        raise ValueError(f"tile {tile} is too small for an overlap of {overlap}")
    spans = []
    for start in range(0, length, step):
        end = min(start + step, length)
        origin = min(max(start - overlap, 0), length - tile)
        spans.append((start, end, origin))
    return spans
