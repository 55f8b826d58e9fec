"""Variable Number of Gradients demosaicking (Chang, Cheung and Pang, 1999), vectorised.

OpenCV's VNG takes 8-bit data only, which would throw away the RAW file's precision, so this is
the algorithm itself, arranged as dcraw arranges it: a bilinear pass fills every colour first;
then, per pixel, eight directional gradients are summed from same-colour differences in the
5x5 neighbourhood, the directions whose gradient is at most ``min + max / 2`` (the paper's
1.5 min + 0.5 (max - min)) are kept, and each missing colour is the pixel's own value plus the
mean colour difference over the kept directions. Works on horizontal strips to bound memory.
"""

from __future__ import annotations

import numpy as np

PAD = 2  # the 5x5 neighbourhood
STRIP_ROWS = 256
ORTHOGONAL = ((-1, 0), (0, 1), (1, 0), (0, -1))
DIAGONAL = ((-1, 1), (1, 1), (1, -1), (-1, -1))

Offset = tuple[int, int]


def vng_demosaic(mosaic: np.ndarray, channel: np.ndarray, bilinear: np.ndarray) -> np.ndarray:
    """Demosaic a 2x2 Bayer ``mosaic`` (float32, H x W).

    :param channel: H x W output channel (0 R, 1 G, 2 B) of every pixel.
    :param bilinear: H x W x 3 float32 bilinear demosaic of the same mosaic (the neighbours'
        colours the directional averages use).
    :return: H x W x 3 float32; each pixel keeps its own measured value.
    """
    padded = np.pad(mosaic.astype(np.float32), PAD, mode="reflect")  # reflect keeps CFA parity
    colours = np.pad(bilinear.astype(np.float32), ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
    chan = np.pad(channel, PAD, mode="reflect")
    out = np.empty(bilinear.shape, dtype=np.float32)
    height = mosaic.shape[0]
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        window = slice(top, bottom + 2 * PAD)
        out[top:bottom] = _vng_strip(padded[window], colours[window], chan[window])
    return out


def _at(padded: np.ndarray, offset: Offset) -> np.ndarray:
    """The padded array shifted so that each interior pixel sees its neighbour at ``offset``."""
    dy, dx = offset
    rows, cols = padded.shape[0] - 2 * PAD, padded.shape[1] - 2 * PAD
    return padded[PAD + dy:PAD + dy + rows, PAD + dx:PAD + dx + cols]


def _add(a: Offset, b: Offset, k: int = 1) -> Offset:
    return a[0] + k * b[0], a[1] + k * b[1]


def _diff(m: np.ndarray, a: Offset, b: Offset) -> np.ndarray:
    return np.abs(_at(m, a) - _at(m, b))


def _orthogonal_gradient(m: np.ndarray, d: Offset) -> np.ndarray:
    """Same-colour differences along ``d`` through the pixel and on the two lines beside it."""
    e, z = (d[1], d[0]), (0, 0)  # e: perpendicular to d
    d2, me = _add(z, d, 2), _add(z, e, -1)
    side = (_diff(m, _add(d, e), _add(e, d, -1)) + _diff(m, _add(d, me), _add(me, d, -1))
            + _diff(m, _add(d2, e), e) + _diff(m, _add(d2, me), me))
    return _diff(m, d, _add(z, d, -1)) + _diff(m, d2, z) + 0.5 * side


def _diagonal_gradient(m: np.ndarray, d: Offset, green: np.ndarray) -> np.ndarray:
    """Along a diagonal the same-colour pairs differ at green and at red/blue sites."""
    z = (0, 0)
    a, b = (d[0], 0), (0, d[1])  # the two pixels beside the diagonal step
    centre = _diff(m, d, _add(z, d, -1)) + _diff(m, _add(z, d, 2), z)
    at_green = _diff(m, _add(a, d), _add(a, d, -1)) + _diff(m, _add(b, d), _add(b, d, -1))
    at_colour = 0.5 * (_diff(m, a, _add(a, d, -1)) + _diff(m, b, _add(b, d, -1))
                       + _diff(m, _add(a, d), a) + _diff(m, _add(b, d), b))
    return centre + np.where(green, at_green, at_colour)


def _vng_strip(m: np.ndarray, colours: np.ndarray, chan: np.ndarray) -> np.ndarray:
    """VNG on one padded strip; returns its interior."""
    centre = _at(m, (0, 0))
    own = _at(chan, (0, 0))
    green = own == 1
    directions = ORTHOGONAL + DIAGONAL
    gradients = [_orthogonal_gradient(m, d) for d in ORTHOGONAL]
    gradients += [_diagonal_gradient(m, d, green) for d in DIAGONAL]
    stacked = np.stack(gradients)
    threshold = stacked.min(axis=0) + 0.5 * stacked.max(axis=0)
    sums = np.zeros(centre.shape + (3,), dtype=np.float32)
    own_sum = np.zeros(centre.shape, dtype=np.float32)
    count = np.zeros(centre.shape, dtype=np.float32)
    for d, gradient in zip(directions, gradients):
        keep = (gradient <= threshold).astype(np.float32)
        sums += _at(colours, d) * keep[..., None]
        # The pixel's own colour in that direction: its value averaged with the next
        # same-colour pixel, or the neighbour itself where that is the same colour.
        same_colour_neighbour = green if d in DIAGONAL else np.zeros_like(green)
        own_term = np.where(same_colour_neighbour, _at(m, d), 0.5 * (centre + _at(m, _add(d, d))))
        own_sum += own_term * keep
        count += keep
    out = centre[..., None] + (sums - own_sum[..., None]) / count[..., None]
    measured = own[..., None] == np.arange(3)
    return np.where(measured, centre[..., None], out).astype(np.float32)
