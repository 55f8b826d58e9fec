"""Running a ``.tflite`` network on large images: tiles with overlap, one interpreter per size.

The only module that imports a TFLite runtime: ai-edge-litert (the maintained one), else the
old tflite-runtime (which needs numpy < 2). Resizing an interpreter's input costs 0.1-2.5 s,
so the image is cut into tiles of at most a few sizes and an interpreter is kept per size;
tiles overlap by ``overlap`` input pixels on each side and only their centres are kept, so
the network's receptive field never sees a tile border inside the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
        """The model on ``image`` (H x W x C), tiled when larger than a tile."""
        height, width = image.shape[:2]
        if height <= self.tile and width <= self.tile:
            return self.run_whole(image)
        step = self.tile - 2 * self.overlap
        pad = self.overlap
        # Reflect-pad so that every tile has the same size (one interpreter) and every kept
        # centre has ``overlap`` pixels of real context on each side.
        rows = -(-height // step)
        cols = -(-width // step)
        padded = np.pad(image, ((pad, rows * step - height + pad), (pad, cols * step - width + pad),
                                (0, 0)), mode="reflect")
        s = self.scale
        out = None
        for r in range(rows):
            for c in range(cols):
                y, x = r * step, c * step
                result = self.run_whole(padded[y:y + self.tile, x:x + self.tile])
                if out is None:
                    out = np.empty((rows * step * s, cols * step * s, result.shape[2]), np.float32)
                out[y * s:(y + step) * s, x * s:(x + step) * s] = result[
                    pad * s:(pad + step) * s, pad * s:(pad + step) * s]
        return out[:height * s, :width * s]
