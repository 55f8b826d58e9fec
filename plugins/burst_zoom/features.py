"""What the super-resolution network sees: the burst's samples placed on the fine grid.

The sub-pixel information of a burst is *where* each frame's samples fall between the
reference's pixels. Interpolating every frame onto the reference grid first throws that away,
so the network is given the samples themselves: every frame's pixels are splatted
(bilinearly) onto the high-resolution (HR) grid at the positions their transforms give, the
reference's with ``REFERENCE_WEIGHT`` (it is the frame the output must agree with), and the
sums are folded back to the low-resolution (LR) grid by space-to-depth, so that the network
runs at LR speed:

    channel 0                 the reference frame itself (LR)
    channels 1 .. s^2         the splatted mean on the HR grid, space-to-depth (where no
                              sample landed: the bicubic upsampling of the reference)
    channels s^2+1 .. 2 s^2   the splat density w / (1 + w), space-to-depth: how much each
                              HR pixel's value can be trusted
    channels 2 s^2+1 .. 3 s^2 (models made with ``classical_iterations`` > 0) the classical
                              estimate: that many iterations of back-projection through the
                              sensor model (:mod:`burst_zoom.classical`), started from the
                              splatted mean, space-to-depth. The splat is what the samples
                              say; back-projection is what a careful deconvolution of them
                              says, sharper and noisier. Given both, the network learns a
                              correction of the strongest simple method instead of having to
                              re-derive it (a plain average of the network and the classical
                              stage already measured +0.27 dB over the network alone).

The network predicts the HR residual over the bicubic upsampling of the reference (its
output, s^2 channels, goes through depth-to-space). One frame is a valid burst: the splat is
then the reference alone and the network acts as a single-image model. Training
(``burst train``) and inference build these inputs with this same code.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from burstcli import Frame
from burstlib.arrays import pixels_of

from .classical import Grid, SensorModel, back_project, mapped_positions

#: Splat weight of the reference frame's samples relative to the other frames'.
REFERENCE_WEIGHT = 2.0


#: The classical input's back-projection: over-relaxed (step 2: as sharp after 6 iterations
#: as step 1 after 12, half the cost), weighted as the splat beside it. Measured on the
#: bench's x4 bursts, a fixed 0.7 / 0.3 blend of the plain network with these planes gains
#: +0.24 dB at light noise (6 iterations) against +0.06 dB with 4 robust step-1 iterations.
CLASSICAL_STEP = 2.0


def input_channels(scale: int, classical: bool = False) -> int:
    """Channels of the network input for ``scale`` (with the classical estimate or not)."""
    return 1 + (3 if classical else 2) * scale * scale


def space_to_depth(image: np.ndarray, scale: int) -> np.ndarray:
    """(H, W) -> (H/s, W/s, s*s), channel index i*s + j for the HR offset (row i, column j)
    (TensorFlow's order, which depth-to-space undoes)."""
    h, w = image.shape[0] // scale, image.shape[1] // scale
    blocks = image[:h * scale, :w * scale].reshape(h, scale, w, scale)
    return blocks.transpose(0, 2, 1, 3).reshape(h, w, scale * scale)


def depth_to_space(image: np.ndarray, scale: int) -> np.ndarray:
    """(h, w, s*s) -> (h*s, w*s): the inverse of :func:`space_to_depth`."""
    h, w = image.shape[:2]
    return image.reshape(h, w, scale, scale).transpose(0, 2, 1, 3).reshape(h * scale, w * scale)


def bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """The reference upsampled by ``scale`` (pixel centres kept, as OpenCV does)."""
    h, w = image.shape[:2]
    return cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def splat(frames: list[np.ndarray], transforms: list[np.ndarray], scale: int,
          origin: tuple[int, int], size: tuple[int, int],
          weights: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sum of w * value, sum of w) on the HR grid of the LR window at ``origin`` (x, y) of
    ``size`` (h, w) reference pixels; frame 0 is the reference. ``weights`` (per frame, per
    pixel, optional) fade samples out, e.g. where a frame disagrees with the reference."""
    height, width = size[0] * scale, size[1] * scale
    to_hr = Grid(scale, (float(origin[0]), float(origin[1])), size).from_reference()
    # A rim of one pixel around the grid takes the corners that fall outside it (clipped
    # there, cut off at the end), so no sample needs a mask.
    value_sum = np.zeros((height + 2) * (width + 2), np.float64)
    weight_sum = np.zeros((height + 2) * (width + 2), np.float64)
    for index, (frame, transform) in enumerate(zip(frames, transforms)):
        frame, transform, kept = within_window(frame, transform, origin, size)
        base = REFERENCE_WEIGHT if index == 0 else 1.0
        weight = None if weights is None else weights[index][kept]
        # A few rows at a time: the temporaries stay in cache.
        rows = max(1, SPLAT_SAMPLES // max(frame.shape[1], 1))
        for top in range(0, frame.shape[0], rows):
            part = (slice(top, top + rows), slice(None))
            w = base if weight is None else base * weight[part]
            _splat_rows(frame[part], to_hr @ transform @ _shifted(0, top), w,
                        (height, width), value_sum, weight_sum)
    inner = (slice(1, -1), slice(1, -1))
    return (value_sum.reshape(height + 2, width + 2)[inner],
            weight_sum.reshape(height + 2, width + 2)[inner])


#: Samples splatted at a time (rows of a frame): their float64 temporaries fit in cache.
SPLAT_SAMPLES = 1 << 16


def _shifted(x: float, y: float) -> np.ndarray:
    """3x3: a translation by (x, y)."""
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1.0]])


def _splat_rows(values: np.ndarray, to_hr: np.ndarray, w: float | np.ndarray,
                shape: tuple[int, int], value_sum: np.ndarray, weight_sum: np.ndarray) -> None:
    """Adds samples ``values`` (h x w, placed on the HR grid by ``to_hr``), each of weight
    ``w``, to the flat sums over the grid of ``shape`` with its one-pixel rim."""
    height, width = shape
    px, py = mapped_positions(to_hr, values.shape)
    x0, y0 = np.floor(px), np.floor(py)
    fx, fy = px - x0, py - y0
    columns = [np.clip(x0 + dx, -1, width).astype(np.intp).ravel() + 1 for dx in (0, 1)]
    rows = [(np.clip(y0 + dy, -1, height).astype(np.intp).ravel() + 1) * (width + 2)
            for dy in (0, 1)]
    along = (w * (1 - fx), w * fx)  # as w * (1 - fx) * (1 - fy) and so on: the same roundings
    flat = values.astype(np.float64).ravel()
    # The four bilinear corners of every sample (ufunc.at adds repeated indices up).
    for dy, across in ((0, 1 - fy), (1, fy)):
        for dx in (0, 1):
            where = rows[dy] + columns[dx]
            share = (along[dx] * across).ravel()
            np.add.at(weight_sum, where, share)
            share *= flat
            np.add.at(value_sum, where, share)


def within_window(frame: np.ndarray, transform: np.ndarray, origin: tuple[float, float],
                   size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The part of ``frame`` that lands in the window (plus a 2 px rim), with its transform:
    a digital zoom splats a sixteenth of each frame, not all of it."""
    x0, y0 = origin
    corners = np.array([[x0 - 1, y0 - 1, 1], [x0 + size[1], y0 - 1, 1],
                        [x0 - 1, y0 + size[0], 1], [x0 + size[1], y0 + size[0], 1]], float).T
    inside = np.linalg.inv(transform) @ corners
    xs, ys = inside[0] / inside[2], inside[1] / inside[2]
    left = int(np.clip(np.floor(xs.min()) - 2, 0, frame.shape[1]))
    right = int(np.clip(np.ceil(xs.max()) + 3, left, frame.shape[1]))
    top = int(np.clip(np.floor(ys.min()) - 2, 0, frame.shape[0]))
    bottom = int(np.clip(np.ceil(ys.max()) + 3, top, frame.shape[0]))
    kept = (slice(top, bottom), slice(left, right))
    shift = np.array([[1, 0, left], [0, 1, top], [0, 0, 1.0]])
    return frame[kept], transform @ shift, kept


def window_cut(frame: Frame, origin: tuple[float, float], size: tuple[int, int]
               ) -> tuple[slice, slice]:
    """(rows, columns) of the part of a frame that lands in a reference window; a mosaic's
    start at even offsets, so its colour phase is unchanged."""
    transform = frame.transform if frame.transform is not None else np.eye(3)
    _, _, (rows, cols) = within_window(pixels_of(frame), transform, origin, size)
    top, left = rows.start, cols.start
    if frame.layout == "cfa":
        top, left = top - top % 2, left - left % 2
    return slice(top, rows.stop), slice(left, cols.stop)


def crop_to_window(frame: Frame, origin: tuple[float, float], size: tuple[int, int]) -> Frame:
    """A frame cut to :func:`window_cut` (its transform adjusted)."""
    transform = frame.transform if frame.transform is not None else np.eye(3)
    rows, cols = window_cut(frame, origin, size)
    shift = np.array([[1, 0, cols.start], [0, 1, rows.start], [0, 0, 1.0]])
    return frame.replace(pixels=pixels_of(frame)[rows, cols], transform=transform @ shift)


def classical_estimate(frames: list[np.ndarray], transforms: list[np.ndarray], scale: int,
                       origin: tuple[int, int], size: tuple[int, int], start: np.ndarray,
                       iterations: int, weights: list[np.ndarray] | None = None,
                       models: list[SensorModel] | None = None) -> np.ndarray:
    """``iterations`` of back-projection (``CLASSICAL_STEP``) from ``start`` (H x W) on the
    HR grid of the window, with the frames' parts that land in it (``weights``: per frame
    and pixel, as :func:`splat`'s), through ``models`` (default: :func:`window_models`)."""
    if models is None:
        models = window_models(frames, transforms, scale, origin, size, weights)
    return back_project(models, start[..., None], iterations, CLASSICAL_STEP)[..., 0]


def window_models(frames: list[np.ndarray], transforms: list[np.ndarray], scale: int,
                  origin: tuple[int, int], size: tuple[int, int],
                  weights: list[np.ndarray] | None = None) -> list[SensorModel]:
    """The sensor models of grey frames' parts that land in a window of the reference, on
    the window's HR grid (``weights``: each frame's agreement per pixel, or None)."""
    grid = Grid(scale, (float(origin[0]), float(origin[1])), size)
    models = []
    for index, (frame, transform) in enumerate(zip(frames, transforms)):
        part, moved, kept = within_window(frame, transform, origin, size)
        if part.size:
            agreement = None if weights is None else weights[index][kept]
            models.append(SensorModel(Frame(Path(f"frame {index}"), pixels=part, layout="gray",
                                            transform=moved), grid, 1.0, agreement))
    return models


def network_input(frames: list[np.ndarray], transforms: list[np.ndarray], scale: int,
                  origin: tuple[int, int] = (0, 0), size: tuple[int, int] | None = None,
                  weights: list[np.ndarray] | None = None,
                  classical_iterations: int = 0,
                  models: list[SensorModel] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(input h x w x C, bicubic base H x W) for grey frames (frame 0 the reference);
    C = :func:`input_channels` (the classical estimate's planes when
    ``classical_iterations`` > 0, made through ``models`` when given: the window's
    :func:`window_models`, built once by a caller that needs them again).

    ``origin``/``size`` pick a window of the reference (whole frame by default)."""
    if size is None:
        size = frames[0].shape[:2]
    x, y = origin
    reference = frames[0][y:y + size[0], x:x + size[1]].astype(np.float32)
    base = bicubic(reference, scale)
    mean, density = splat_mean(*splat(frames, transforms, scale, origin, size, weights), base)
    cells = scale * scale
    features = np.empty((*reference.shape, input_channels(scale, classical_iterations > 0)),
                        np.float32)
    features[..., 0] = reference
    _space_to_depth_into(mean, scale, features[..., 1:1 + cells])
    _space_to_depth_into(density, scale, features[..., 1 + cells:1 + 2 * cells])
    if classical_iterations > 0:
        estimate = classical_estimate(frames, transforms, scale, origin, size, mean,
                                      classical_iterations, weights, models)
        _space_to_depth_into(estimate, scale, features[..., 1 + 2 * cells:])
    return features, base.astype(np.float32, copy=False)


def splat_mean(value_sum: np.ndarray, weight_sum: np.ndarray, base: np.ndarray,
               rows: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(mean, density), float32: the splat's weighted mean (``base`` where no sample landed)
    and w / (1 + w), computed in float64 a few ``rows`` at a time (no HR-sized float64
    temporaries)."""
    mean = np.empty(base.shape, np.float32)
    density = np.empty(base.shape, np.float32)
    for top in range(0, base.shape[0], rows):
        band = slice(top, top + rows)
        value, weight = value_sum[band], weight_sum[band]
        mean[band] = np.where(weight > 1e-6, value / np.maximum(weight, 1e-6), base[band])
        density[band] = weight / (1.0 + weight)
    return mean, density


def _space_to_depth_into(image: np.ndarray, scale: int, out: np.ndarray) -> None:
    """:func:`space_to_depth` of ``image`` written into ``out`` (h x w x s*s, a view of
    channels of a larger array) without an intermediate copy."""
    h, w = out.shape[:2]
    blocks = image[:h * scale, :w * scale].reshape(h, scale, w, scale).transpose(0, 2, 1, 3)
    out.reshape(h, w, scale, scale)[...] = blocks
