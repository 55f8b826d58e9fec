"""The learned zoom at inference: shipped models, colour handling, tiles."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import cv2
import numpy as np

from burstcli import Frame
from burstcli.errors import StageError
from burstcli.profiling import return_free_memory
from burstlib.exposure import shared_gain
from burstlib.colour import rgb_to_yuv, upsample_chroma, yuv_to_rgb
from burstlib.arrays import normalized, pixels_of

from .classical import SensorModel, back_project, back_project_validated, hold_out
from .features import (bicubic, depth_to_space, input_channels, network_input,
                       space_to_depth, window_models, within_window)
from .motion import motion_weights
from burstlib.litert import TiledModel, stitch
from burstlib.spill import release

MODELS = Path(__file__).parent / "models"

#: Self-ensemble orientations, best first: bit 4 transposes, bit 2 flips rows, bit 1 columns.
ORIENTATIONS = (0, 3, 4, 7, 1, 2, 5, 6)


@dataclasses.dataclass
class LoadedModel:
    """A ``.tflite`` network, its card's facts, and its tiled runner."""

    name: str
    scale: int
    runner: TiledModel
    runner_path: Path
    classical_iterations: int = 0  # the classical estimate among its inputs (0: none)
    single: LoadedModel | None = None  # the one-frame fallback, when there is one

    def for_frames(self, count: int) -> LoadedModel:
        """The model for a burst of ``count`` frames: one frame gets the fallback if any."""
        return self.single if count == 1 and self.single is not None else self


def load_model(name_or_path: str, tile: int) -> LoadedModel:
    """A shipped model by name (``x2``, ``x4``) or a ``.tflite`` path with its ``.json``.

    A model ``X.tflite`` with an ``X_single.tflite`` beside it (the shipped ones have one)
    hands bursts of one frame to that single-image model."""
    path = MODELS / f"zoom_{name_or_path}.tflite" if "/" not in name_or_path and not \
        name_or_path.endswith(".tflite") else Path(name_or_path)
    stamp = path.stat().st_mtime_ns if path.is_file() else 0
    return _loaded_pair(path, name_or_path, tile, stamp)


@functools.lru_cache(maxsize=8)
def _loaded_pair(path: Path, name_or_path: str, tile: int, stamp: int) -> LoadedModel:
    """Kept for the batch: every burst of a run reuses the interpreters (one per tile size,
    0.1-2.5 s each to make) instead of building them again. ``stamp`` (the file's mtime)
    makes a rewritten file load afresh."""
    model = _load(path, name_or_path, tile)
    single = path.with_name(f"{path.stem}_single.tflite")
    if not path.stem.endswith("_single") and single.is_file():
        model.single = _load(single, str(single), tile)
        if model.single.scale != model.scale:
            raise StageError(f"zoom: {single} is not a x{model.scale} model")
    return model


def _load(path: Path, name_or_path: str, tile: int) -> LoadedModel:
    card = path.with_suffix(".json")
    if not path.is_file() or not card.is_file():
        raise StageError(f"zoom: no model {name_or_path!r} ({path} and its .json card)")
    facts = json.loads(card.read_text())
    iterations = int(facts.get("classical_iterations", 0))
    if facts.get("input_channels") != input_channels(facts["scale"], iterations > 0):
        raise StageError(f"zoom: {path} was made for other inputs than this version builds")
    return LoadedModel(path.stem, int(facts["scale"]), TiledModel(path, facts["scale"], tile=tile),
                       path, iterations)


def luma(frame: Frame) -> np.ndarray:
    """The frame's Y: channel 0 of a YUV frame, BT.601 of an RGB one; grey is its own."""
    if frame.layout == "yuv" and pixels_of(frame).dtype == np.uint16:
        # 16-bit codes (colour.yuv): Y alone is normalised (not U and V, two thirds more).
        y = np.ascontiguousarray(pixels_of(frame)[..., 0])
        release(pixels_of(frame))  # a frame kept in a file (burstlib.spill): read, let go
        return normalized(frame.replace(pixels=y, layout="gray"))
    values = normalized(frame)
    if frame.layout == "yuv":
        return values[..., 0]
    return rgb_to_yuv(values)[..., 0] if values.ndim == 3 else values


#: The network input is built a block of the window at a time, so memory stays bounded on
#: large frames (the classical planes keep two HR-sized maps per frame), with this much
#: context (input pixels) around each block's kept part: beyond the back-projection's reach
#: (about a pixel per iteration) and the network's receptive field (6 px).
INPUT_BLOCK = 512
INPUT_CONTEXT = 16
#: A window of at most this many HR pixels is built in one piece instead (a digital zoom of
#: a 12 MP frame: 12 M, about 1 GB with its sensor models): blocks overlap (the last ones
#: are moved inwards to keep their size), so a 1000 x 750 window was built twice over, and
#: the window's sensor models, built once, serve the refinement too. The result is the
#: block-wise one to float32 rounding (1e-4 at most): every kept part of a block had more
#: context than anything reaches.
WHOLE_WINDOW_PIXELS = 16_000_000


def built_whole(size: tuple[int, int], scale: int) -> bool:
    """Whether a window of ``size`` (h, w) input pixels is built in one piece."""
    return size[0] * size[1] * scale * scale <= WHOLE_WINDOW_PIXELS


def super_resolve_luma(model: LoadedModel, lumas: list[np.ndarray], transforms: list[np.ndarray],
                       origin: tuple[int, int], size: tuple[int, int],
                       ensemble: int = 1, weights: list[np.ndarray] | None = None,
                       models: list[SensorModel] | None = None) -> np.ndarray:
    """The network's HR Y for a window of the reference (frame 0), in one piece or, beyond
    ``WHOLE_WINDOW_PIXELS``, block by block.

    ``ensemble`` > 1 averages the network over that many orientations of its input (flips
    and transposes of the whole burst, undone on the output): the usual self-ensemble.
    ``models``: the window's :func:`.features.window_models`, when the caller has them."""
    model = model.for_frames(len(lumas))
    block = (min(INPUT_BLOCK, size[0]), min(INPUT_BLOCK, size[1]))
    base = None
    if built_whole(size, model.scale):
        features, base = network_input(lumas, transforms, model.scale, origin, size, weights,
                                       model.classical_iterations, models)
        residual = _network_residual(model, features, ensemble)
        del features
    else:
        residual = stitch(size[0], size[1], block, INPUT_CONTEXT, model.scale,
                          lambda y0, x0: _residual_of_block(model, lumas, transforms,
                                                            (origin[0] + x0, origin[1] + y0),
                                                            block, ensemble, weights))
    # The grid is judged over the whole window: its neighbourhood reaches beyond a block's
    # context.
    _remove_grid(residual, model.scale)
    if base is None:  # made after the grid's HR-sized temporaries are gone (48 MP: 183 MB)
        x, top = origin
        base = bicubic(lumas[0][top:top + size[0], x:x + size[1]].astype(np.float32),
                       model.scale)
    residual += base
    return residual


def _residual_of_block(model: LoadedModel, lumas: list[np.ndarray],
                       transforms: list[np.ndarray], origin: tuple[int, int],
                       size: tuple[int, int], ensemble: int,
                       weights: list[np.ndarray] | None) -> np.ndarray:
    """The network's HR residual over the bicubic base for one block of the window."""
    features, _ = network_input(lumas, transforms, model.scale, origin, size, weights,
                                classical_iterations=model.classical_iterations)
    # In one piece, not in the runner's tiles: a 512 px block took nine 256 px tiles (each
    # with its overlap), twice the time of one 512 px run (whose interpreter, made once for
    # the batch, holds 170 MB).
    return _network_residual(model, features, ensemble, tiled=False)


def _network_residual(model: LoadedModel, features: np.ndarray, ensemble: int,
                      tiled: bool = True) -> np.ndarray:
    """The network's HR residual over the bicubic base (H x W) for its input ``features``,
    averaged over ``ensemble`` orientations; ``tiled``: in the runner's tiles, else at once."""
    residual = np.zeros((features.shape[0] * model.scale, features.shape[1] * model.scale),
                        np.float32)
    orientations = ORIENTATIONS[:max(1, ensemble)]
    run = model.runner if tiled else model.runner.run_whole
    for orientation in orientations:
        out = run(oriented_features(features, model.scale, orientation))
        if out.shape[2] > 1:  # a model ending in s*s channels, not depth-to-space
            out = depth_to_space(out, model.scale)
        residual += unorient(out.reshape(out.shape[:2]), orientation)
    return residual / len(orientations)


#: Neighbourhood (input pixels, Gaussian sigma) over which a pattern repeating every
#: ``scale`` output pixels counts as a grid rather than detail.
GRID_SIGMA = 8.0


def without_grid(residual: np.ndarray, scale: int) -> np.ndarray:
    """The network's residual (H x W, over the bicubic base) less the pattern that repeats
    every ``scale`` output pixels over a whole neighbourhood.

    The network writes its output cell by cell (depth-to-space), and what it gets wrong the
    same way in every cell of a neighbourhood is a grid: measured on a clean, smooth x4
    burst, 57 % of the error's energy. Back-projection cannot remove it (a box sensor of the
    cell's size averages any pattern of that period to a constant, so the frames never show
    it) and held-out pixels cannot see it. Real detail over the bicubic base does not repeat
    at exactly the cell's period across a neighbourhood, so what is removed is each phase's
    local mean minus the mean over phases (a ramp, for which bicubic is exact, has a zero
    residual and is untouched)."""
    out = residual.copy()
    _remove_grid(out, scale)
    return out


def _remove_grid(residual: np.ndarray, scale: int) -> None:
    """:func:`without_grid` in place (the same values, without HR-sized copies)."""
    height, width = residual.shape[0] // scale, residual.shape[1] // scale
    if height == 0 or width == 0 or scale == 1:  # one phase: no grid (and cells would alias)
        return
    cells = space_to_depth(residual, scale)  # h x w x s*s: one plane per phase
    cells -= cells.mean(axis=2, keepdims=True)  # each phase's deviation from their mean
    # In place (OpenCV filters buffer rows): a zoomed 48 MP image's cells are 183 MB.
    grid = cv2.GaussianBlur(cells, (0, 0), GRID_SIGMA, dst=cells, borderType=cv2.BORDER_REFLECT)
    grid = grid if grid.ndim == 3 else grid[..., None]
    # Subtracted through a view of the residual's cells: depth-to-space without its copy.
    fine = residual[:height * scale, :width * scale].reshape(height, scale, width, scale)
    fine -= grid.reshape(height, width, scale, scale).transpose(0, 2, 1, 3)


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image`` (rows and columns first) transposed / flipped as ``orientation``'s bits say."""
    if orientation & 4:
        image = image.swapaxes(0, 1)
    if orientation & 2:
        image = image[::-1]
    if orientation & 1:
        image = image[:, ::-1]
    return image


def unorient(image: np.ndarray, orientation: int) -> np.ndarray:
    """The inverse of :func:`orient`."""
    if orientation & 1:
        image = image[:, ::-1]
    if orientation & 2:
        image = image[::-1]
    if orientation & 4:
        image = image.swapaxes(0, 1)
    return image


def oriented_features(features: np.ndarray, scale: int, orientation: int) -> np.ndarray:
    """The network input of the burst seen in another orientation: the reference channel
    turned as is, the fine-grid planes turned on the fine grid (then space-to-depth again)."""
    if orientation == 0:
        return features
    cells = scale * scale
    planes = [orient(features[..., :1], orientation)]
    for start in range(1, features.shape[2], cells):
        fine = orient(depth_to_space(features[..., start:start + cells], scale), orientation)
        planes.append(space_to_depth(np.ascontiguousarray(fine), scale))
    return np.ascontiguousarray(np.concatenate(planes, axis=2))


def run_network(model: LoadedModel, frames: list[Frame], origin: tuple[int, int],
                size: tuple[int, int], ensemble: int = 1,
                refine: float = 0.0) -> tuple[np.ndarray, str, int]:
    """(HR image of the window, its layout, refinement iterations): Y from the network,
    then (``refine`` > 0, bursts of several frames) back-projected while a held-out share
    ``refine`` of the frames' pixels says it helps; U and V bicubic from the reference. YUV
    frames (``colour.yuv``) give YUV; RGB frames go through the same conversion and come
    back RGB; grey stays grey."""
    transforms = [np.eye(3) if f.transform is None else f.transform for f in frames]
    # Bursts jitter in exposure: every frame is brought to the reference's.
    lumas = [luma(f) for f in frames]
    lumas = [lumas[0], *(l * np.float32(shared_gain(lumas[0], transforms[0], l, t))
                         for l, t in zip(lumas[1:], transforms[1:]))]
    weights = motion_weights(frames) if len(frames) > 1 else None
    models = None  # the window's sensor models, built once for the input and the refinement
    if len(frames) > 1 and built_whole(size, model.scale) and \
            (refine > 0 or model.for_frames(len(frames)).classical_iterations > 0):
        models = window_models(lumas, transforms, model.scale, origin, size, weights)
    y = super_resolve_luma(model, lumas, transforms, origin, size, ensemble, weights, models)
    refined = 0
    if refine > 0 and len(frames) > 1:
        y, refined = refine_luma(y, lumas, transforms, model.scale, origin, size, refine,
                                 weights, models)
    del lumas, weights, models  # (a 48 MP burst's: more than a gigabyte) before the chroma
    return_free_memory()  # and what the blocks' small arrays left in the allocator's heap
    if pixels_of(frames[0]).ndim == 2:
        return np.clip(y, 0.0, 1.0).astype(np.float32), "gray", refined
    chroma = merged_chroma(frames, transforms, origin, size)
    if frames[0].layout == "yuv":
        return upsample_chroma(chroma, y), "yuv", refined
    rgb = yuv_to_rgb(upsample_chroma(chroma, y))
    return np.clip(rgb, 0.0, 1.0).astype(np.float32), "rgb", refined


#: Rows of the window whose chroma is merged at a time: the median sorts every frame's U and
#: V per pixel (ten 48 MP frames' window: 1 GB at once; a band of 256 rows of 4000: 80 MB).
CHROMA_BAND = 256


def merged_chroma(frames: list[Frame], transforms: list[np.ndarray], origin: tuple[int, int],
                  size: tuple[int, int]) -> np.ndarray:
    """YUV of the reference's window whose U and V are the per-pixel median of every
    registered frame's (bilinear onto the window, each frame where it sees it): the
    reference's chroma alone keeps its noise as blotches once enlarged; a median averages it
    down and leaves out what moved (a moving object's colour is the reference's as long as
    fewer than half the frames disagree). Made ``CHROMA_BAND`` rows at a time (every pixel's
    value depends on its own position only)."""
    x0, y0 = origin
    height, width = size
    if height <= CHROMA_BAND:
        return _merged_chroma_band(frames, transforms, origin, size)
    out = np.empty((height, width, 3), np.float32)
    for top in range(0, height, CHROMA_BAND):
        rows = min(CHROMA_BAND, height - top)
        out[top:top + rows] = _merged_chroma_band(frames, transforms, (x0, y0 + top),
                                                  (rows, width))
    return out


def _merged_chroma_band(frames: list[Frame], transforms: list[np.ndarray],
                        origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """:func:`merged_chroma` of one window (a band of the zoom's)."""
    x0, y0 = origin
    height, width = size
    window = pixels_of(frames[0])[y0:y0 + height, x0:x0 + width]
    out = _as_yuv(frames[0].layout, normalized(frames[0].replace(pixels=window))).copy()
    if len(frames) == 1:
        return out
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]])
    # Frames last, so that each pixel's values lie together for the sort.
    stack = np.empty((height, width, 2, len(frames)), np.float32)
    stack[..., 0] = out[..., 1:]
    count = np.ones((height, width, 2), np.uint16)  # the numbers (not NaN) per pixel
    for index, (frame, transform) in enumerate(zip(frames[1:], transforms[1:]), start=1):
        # Only the part of the frame that lands in the window (and a rim) is normalised,
        # converted and warped: a sixteenth to a quarter of the pixels (digital zooms).
        part, moved, _ = within_window(pixels_of(frame), transform, origin, size)
        if not part.size:
            stack[..., index] = np.nan
            continue
        values = normalized(frame.replace(pixels=part))
        chroma = np.ascontiguousarray(_as_yuv(frame.layout, values)[..., 1:])
        warped = cv2.warpPerspective(chroma, shift @ moved, (width, height),
                                     flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=(np.nan, np.nan))
        stack[..., index] = warped
        count += ~np.isnan(warped)
    out[..., 1:] = nan_median(stack, count)
    return out


def nan_median(values: np.ndarray, count: np.ndarray | None = None) -> np.ndarray:
    """``np.nanmedian(values, axis=-1)`` (the same values; at least one a number per pixel)
    by one sort, in place (``values`` is left sorted), a tenth of the time: NaNs sort last,
    and the median of the n numbers before them is the mean of the (n - 1) // 2-th and
    n // 2-th. ``count``: n per pixel, when the caller knows it."""
    values.sort(axis=-1)
    if count is None:
        count = np.count_nonzero(~np.isnan(values), axis=-1)
    count = count.astype(np.intp)[..., None]
    low = np.take_along_axis(values, (count - 1) // 2, axis=-1)
    high = np.take_along_axis(values, count // 2, axis=-1)
    return ((low + high) / low.dtype.type(2))[..., 0]


def _as_yuv(layout: str | None, values: np.ndarray) -> np.ndarray:
    """A frame's normalised ``values`` (or a part of them) as YUV."""
    return values if layout == "yuv" else rgb_to_yuv(values)


#: The most data-consistency iterations after the network.
REFINE_ITERATIONS = 40


def refine_luma(y: np.ndarray, lumas: list[np.ndarray], transforms: list[np.ndarray],
                scale: int, origin: tuple[int, int], size: tuple[int, int],
                holdout: float, weights: list[np.ndarray] | None = None,
                models: list[SensorModel] | None = None) -> tuple[np.ndarray, int]:
    """The network's Y made consistent with the frames by back-projection through the box
    sensor, for as long as the held-out pixels say it helps: at low noise the frames hold
    more than the network restored; at high noise no iteration is kept. ``models``: the
    window's :func:`.features.window_models`, when the caller has them. A window beyond
    ``WHOLE_WINDOW_PIXELS`` (without models) is refined block by block
    (:func:`_refined_in_blocks`)."""
    if models is None and not built_whole(size, scale):
        return _refined_in_blocks(y, lumas, transforms, scale, origin, size, holdout, weights)
    if models is None:
        models = window_models(lumas, transforms, scale, origin, size, weights)
    iterations = _kept_iterations(y, models, holdout)
    if iterations > 0:
        # Chosen on part of the pixels, made again with all of them: the held-out run's
        # estimate bears the pattern of the pixels it never fitted (-2.5 dB on a clean x2
        # burst with a moving object).
        y = back_project(models, y[..., None], iterations, 1.0)[..., 0]
    return y, iterations


def _kept_iterations(y: np.ndarray, models: list[SensorModel], holdout: float) -> int:
    """How many back-projection iterations from ``y`` the held-out pixels keep."""
    # Patience 1: the network's output is already close, so the first iteration that does
    # not help ends it (on a noisy 12 MP burst: two iterations, not four).
    # The reference's pixels are held out too (the network saw every pixel, so its output
    # predicts held-out pixels a little too well: iterations must clearly help to be kept;
    # without the reference, 17 iterations were kept on a clean JPEG burst and lost 3.5 dB).
    hold_out(models, holdout, reference=True)
    _, iterations, _ = back_project_validated(models, y[..., None], REFINE_ITERATIONS, 1.0,
                                              holdout, patience=1)
    return iterations


#: On a window refined block by block, the iterations are decided on its central part of at
#: most this many HR pixels (a 12 MP window's sensor models alone are 1 GB; held-out pixels
#: of a million input pixels per frame decide as surely as of twelve).
REFINE_SAMPLE_PIXELS = 4_000_000
#: Input pixels one back-projection iteration carries a change (from a block's cut edge, where
#: its sensor models lose the samples whose box crosses it): a box average and a bilinear
#: sample each way.
REACH_PER_ITERATION = 2


def _refined_in_blocks(y: np.ndarray, lumas: list[np.ndarray], transforms: list[np.ndarray],
                       scale: int, origin: tuple[int, int], size: tuple[int, int],
                       holdout: float, weights: list[np.ndarray] | None
                       ) -> tuple[np.ndarray, int]:
    """:func:`refine_luma` of a large window in bounded memory: the iterations are decided on
    its central part (``REFINE_SAMPLE_PIXELS``), then run block by block, each block with the
    context those iterations reach, so that the kept parts are the whole window's result
    (to float32 rounding)."""
    part_origin, part_size = central_part(origin, size, scale, REFINE_SAMPLE_PIXELS)
    top, left = ((part_origin[1] - origin[1]) * scale, (part_origin[0] - origin[0]) * scale)
    part = y[top:top + part_size[0] * scale, left:left + part_size[1] * scale]
    iterations = _kept_iterations(
        part, window_models(lumas, transforms, scale, part_origin, part_size, weights), holdout)
    if iterations == 0:
        return y, 0
    return back_project_in_blocks(y, lumas, transforms, scale, origin, size, iterations,
                                  weights), iterations


def back_project_in_blocks(y: np.ndarray, lumas: list[np.ndarray],
                           transforms: list[np.ndarray], scale: int, origin: tuple[int, int],
                           size: tuple[int, int], iterations: int,
                           weights: list[np.ndarray] | None) -> np.ndarray:
    """``iterations`` of back-projection (step 1, every pixel) from ``y`` (the window's HR
    Y), block by block: each block's sensor models are made for it alone."""
    context = INPUT_CONTEXT + REACH_PER_ITERATION * iterations
    block = (min(INPUT_BLOCK + 2 * context, size[0]), min(INPUT_BLOCK + 2 * context, size[1]))

    def block_result(y0: int, x0: int) -> np.ndarray:
        models = window_models(lumas, transforms, scale, (origin[0] + x0, origin[1] + y0),
                               block, weights)
        start = y[y0 * scale:(y0 + block[0]) * scale, x0 * scale:(x0 + block[1]) * scale]
        return back_project(models, start[..., None], iterations, 1.0)[..., 0]

    return stitch(size[0], size[1], block, context, scale, block_result)


def central_part(origin: tuple[int, int], size: tuple[int, int], scale: int,
                 pixels: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(origin (x, y), size (h, w)) of the window's central part, of its proportions, with at
    most ``pixels`` HR pixels (the whole window when it has no more)."""
    share = min(1.0, (pixels / (size[0] * size[1] * scale * scale)) ** 0.5)
    height, width = max(1, int(size[0] * share)), max(1, int(size[1] * share))
    return ((origin[0] + (size[1] - width) // 2, origin[1] + (size[0] - height) // 2),
            (height, width))
