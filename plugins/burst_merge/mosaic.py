"""``merge.mosaic``: a robust kernel-regression merge in the mosaic (CFA) domain, so that a RAW
burst is demosaicked once, after the merge, instead of frame by frame before it.

The design is that of handheld multi-frame super-resolution (Wronski et al. 2019) brought
back to the sensor's own grid: every CFA site p of the reference (colour c) is estimated
from the colour-c samples of every frame that land near p, each weighted by

- a kernel of its offset from p (in reference pixels): narrow (``detail``) where the
  reference's structure tensor shows more than noise, wide (``flat``) where it does not (all
  samples average noise); optionally (``stretch`` > 1) longer along the local edge, as
  published, which measured worse here on textured scenes;
- a robustness weight: 1 where the frame's neighbourhood agrees with the reference as noise
  explains, fading beyond (``merge.robust``'s test, on the luminance proxies): what moved
  comes from the reference alone.

The reference's own sample sits at offset 0 and weighs 1 (times its kernel's peak). The
merged mosaic keeps the decode's layout and is developed by ``develop`` like a frame. The
noise left (the single-sample noise over the effective number of samples, (sum w)^2 / sum w^2,
per site) is then shrunk in each colour plane as ``merge.robust`` does (:mod:`.shrink`).

Each frame's samples near p are found by gathering, not scattering: p taken back into the
frame by its transform (and flow) gives a position q; the 2 x 2 cell of the frame's colour-c
lattice around q (spacing 2 for red and blue; for green, the quincunx, a lattice of spacing
sqrt 2 turned by 45 degrees) holds the four nearest candidates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import cv2
import numpy as np

from burstcli import Burst, Frame, param
from burstcli.errors import StageError
from burstlib.agreement import proxy_noise, sample_noise
from burstlib.arrays import grey_proxy, normalized, pixels_of
from burstlib.exposure import PROXY_TO_SENSOR, overlap_ratio
from burstlib.warps import full_flow, source_positions

from .shrink import shrink_residual_noise

#: Colour letters of RawInfo -> the three colours merged apart (both greens are one colour).
COLOUR = {"R": 0, "G": 1, "B": 2}
#: Sobel's response to white noise of unit variance, squared and summed (kernel / 8).
SOBEL_NOISE_GAIN = 12.0 / 64.0


@dataclasses.dataclass(frozen=True)
class MosaicParams:
    detail: float = param(0.5, "kernel radius (sigma, sensor pixels) across an edge: smaller "
                               "keeps edges sharper, larger averages more frames there",
                          above=0, high=4)
    stretch: float = param(1.0, "how many times longer than across the kernel is along a "
                                "clean straight edge (1: round; 3 lost up to 4 dB on the "
                                "merge benchmark's textured low-noise bursts)", low=1, high=8)
    flat: float = param(1.2, "kernel radius (sigma, sensor pixels) where the reference shows "
                             "no more structure than noise: every frame's samples average",
                        above=0, high=4)
    edge: float = param(4.0, "gradient energy, in multiples of what noise alone gives, from "
                             "which a place counts as detail (kernel radius 'detail'); the "
                             "radius shrinks from 'flat' to 'detail' below it", above=0)
    threshold: float = param(1.5, "how many times the difference expected from noise a "
                                  "neighbourhood may differ from the reference before the "
                                  "frame is faded out there (merge.robust's)", above=0)
    window: int = param(9, "side of the neighbourhood (luminance-proxy pixels) compared",
                        low=1, high=255)
    spatial: float = param(1.0, "then take out, spatially (wavelet shrinkage of each colour "
                                "plane), the noise the merge left: the single-frame noise "
                                "over how many samples' worth went into each site, as a "
                                "multiple of it; 0: off", low=0)


@dataclasses.dataclass(frozen=True)
class Kernels:
    """Per reference cell (2 x 2 sites, the proxy's grid): the kernel's inverse covariance
    as the quadratic form Q(d) = a dx^2 + 2 b dx dy + c dy^2 (sensor pixels)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


@dataclasses.dataclass(frozen=True)
class Site:
    """One of the four 2 x 2 positions of the pattern: offset and colour (0, 1, 2)."""

    dy: int
    dx: int
    colour: int


def merge_mosaic_burst(burst: Burst, params: MosaicParams, ref_index: int,
                       others: list[int]) -> tuple[np.ndarray, dict[int, float]]:
    """The merged mosaic (float32, normalised) and each frame's mean robustness weight."""
    ref_frame = burst.frames[ref_index]
    if ref_frame.layout != "cfa" or ref_frame.raw is None:
        raise StageError("merge.mosaic merges RAW mosaics: put it on a decoded RAW burst")
    pattern = ref_frame.raw.cfa_string()
    if len(pattern) != 4:
        raise StageError(f"merge.mosaic merges 2x2 Bayer mosaics, not {pattern[:6]}...")
    reference = normalized(ref_frame)
    height, width = reference.shape[0] // 2 * 2, reference.shape[1] // 2 * 2
    cells = np.ascontiguousarray(reference[:height, :width])
    sites = _sites(pattern)
    proxy = cv2.resize(cells, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    noise = proxy_noise(ref_frame.replace(pixels=cells), cells)
    kernels = structure_kernels(proxy, noise, params)
    sums = Sums.zeros((4, height // 2, width // 2))
    _add_reference(cells, sites, kernels, sums)
    used: dict[int, float] = {}
    factors: list[float] = []
    for index in others:
        frame = burst.frames[index]
        values = normalized(frame)
        positions = list(_site_positions(frame, sites, (height, width)))
        weight, gain, factor = _robustness(frame, values, proxy, noise, positions[0], params)
        used[index] = round(float(weight.mean()), 4)
        factors.append(factor)
        for k, (site, (qx, qy)) in enumerate(zip(sites, positions)):
            _add_frame(values * np.float32(gain), site, qx, qy, _jacobian(frame), kernels,
                       weight, pattern, sums, k)
    planes = sums.numerator / np.maximum(sums.denominator, 1e-12)
    # The frames' measured disagreement says when the noise model is too high (texture
    # taken for noise): never shrink more than the frames show (as merge.robust).
    shown = min(1.0, float(np.median(factors))) if factors else 1.0
    if params.spatial > 0:
        planes = _shrunk(ref_frame, cells, sites, planes, sums, params.spatial * shown)
    merged = reference.copy()
    for k, site in enumerate(sites):
        merged[site.dy:height:2, site.dx:width:2] = planes[k]
    return merged, used


@dataclasses.dataclass(frozen=True)
class Sums:
    """Per site (4 x cells): sums of weight x value, of weight and of weight squared."""

    numerator: np.ndarray
    denominator: np.ndarray
    squares: np.ndarray

    @staticmethod
    def zeros(shape: tuple[int, int, int]) -> Sums:
        return Sums(*(np.zeros(shape, np.float32) for _ in range(3)))

    def add(self, k: int, weight: np.ndarray, values: np.ndarray) -> None:
        self.numerator[k] += weight * values
        self.denominator[k] += weight
        self.squares[k] += weight * weight


def _shrunk(ref_frame: Frame, cells: np.ndarray, sites: list[Site], planes: np.ndarray,
            sums: Sums, strength: float) -> np.ndarray:
    """Each merged colour plane with the noise it still holds shrunk away: the reference's
    per-sample noise over the effective number of samples (sum w)^2 / sum w^2."""
    stack = np.stack([cells[s.dy::2, s.dx::2] for s in sites], axis=-1)
    variance = sample_noise(ref_frame.replace(layout="rgb"), np.ascontiguousarray(stack))
    effective = sums.denominator ** 2 / np.maximum(sums.squares, 1e-12)
    out = np.empty_like(planes)
    for k in range(len(sites)):
        out[k] = shrink_residual_noise(np.ascontiguousarray(planes[k]), variance[..., k],
                                       strength, np.maximum(effective[k], 1.0))
    return out


def _sites(pattern: str) -> list[Site]:
    return [Site(k // 2, k % 2, COLOUR.get(letter, 1)) for k, letter in enumerate(pattern)]


def structure_kernels(proxy: np.ndarray, noise: np.ndarray, params: MosaicParams) -> Kernels:
    """Each cell's kernel from the structure tensor of the reference's luminance proxy.

    The gradient energy over noise's (Sobel on white noise of the proxy's variance) says how
    much detail there is: none -> a round kernel of radius ``flat``; from ``edge`` times the
    noise's on -> ``detail`` across the edge and up to ``stretch`` times that along it, by how
    one-directional the structure is (coherence)."""
    gx = cv2.Sobel(proxy, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(proxy, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    txx = cv2.GaussianBlur(gx * gx, (0, 0), 1.0)
    txy = cv2.GaussianBlur(gx * gy, (0, 0), 1.0)
    tyy = cv2.GaussianBlur(gy * gy, (0, 0), 1.0)
    half_trace = (txx + tyy) * 0.5
    spread = np.sqrt(((txx - tyy) * 0.5) ** 2 + txy ** 2)
    strong, weak = half_trace + spread, np.maximum(half_trace - spread, 0.0)
    coherence = (strong - weak) / np.maximum(strong + weak, 1e-12)
    # Noise puts SOBEL_NOISE_GAIN x variance into each gradient component's energy.
    excess = np.maximum(strong / (noise * SOBEL_NOISE_GAIN) - 1.0, 0.0)
    detail = np.clip(excess / params.edge, 0.0, 1.0)
    across = params.flat + (params.detail - params.flat) * detail
    along = params.flat + (params.detail * (1 + (params.stretch - 1) * coherence)
                           - params.flat) * detail
    theta = 0.5 * np.arctan2(2 * txy, txx - tyy)  # the gradient's direction: across the edge
    cos, sin = np.cos(theta), np.sin(theta)
    inv_across, inv_along = 1.0 / across ** 2, 1.0 / along ** 2
    return Kernels((cos * cos * inv_across + sin * sin * inv_along).astype(np.float32),
                   (cos * sin * (inv_across - inv_along)).astype(np.float32),
                   (sin * sin * inv_across + cos * cos * inv_along).astype(np.float32))


def _kernel_weight(kernels: Kernels, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """exp(-Q(d) / 2) per cell."""
    q = kernels.a * dx * dx + 2 * kernels.b * dx * dy + kernels.c * dy * dy
    return cv2.exp(-0.5 * q)


def _reference_offsets(site: Site) -> list[tuple[int, int]]:
    """The reference's own colour neighbours of a site: itself and the nearest ring (its
    colour's lattice: 2 apart for red and blue, diagonal for green)."""
    if site.colour == 1:
        return [(0, 0), (-1, -1), (-1, 1), (1, -1), (1, 1)]
    return [(0, 0), (-2, 0), (2, 0), (0, -2), (0, 2)]


def _add_reference(cells: np.ndarray, sites: list[Site], kernels: Kernels, sums: Sums) -> None:
    """The reference's own samples: each site and its colour neighbours (edges reflected,
    which keeps the pattern's phase), weight 1 times the kernel."""
    padded = np.pad(cells, 2, mode="reflect")
    height, width = cells.shape
    for k, site in enumerate(sites):
        for oy, ox in _reference_offsets(site):
            values = padded[2 + site.dy + oy:2 + height + oy:2, 2 + site.dx + ox:2 + width + ox:2]
            sums.add(k, _kernel_weight(kernels, np.float32(ox), np.float32(oy)), values)


def _site_positions(frame: Frame, sites: list[Site], shape: tuple[int, int]
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each site, where the frame sees the reference's sites of that position (frame
    sensor pixels, float32, one per cell)."""
    height, width = shape
    ys, xs = np.mgrid[0:height // 2, 0:width // 2].astype(np.float32)
    transform = frame.transform if frame.transform is not None else np.eye(3)
    flow = full_flow(frame, shape) if frame.flow is not None else None
    for site in sites:
        px, py = 2 * xs + site.dx, 2 * ys + site.dy
        if flow is not None:
            px = px + flow[site.dy:height:2, site.dx:width:2, 0]
            py = py + flow[site.dy:height:2, site.dx:width:2, 1]
        yield source_positions(transform, px, py)


def _jacobian(frame: Frame) -> np.ndarray:
    """The frame -> reference transform's linear part at the frame's centre (offsets between
    a frame's samples become reference offsets through it)."""
    transform = frame.transform if frame.transform is not None else np.eye(3)
    height, width = pixels_of(frame).shape[:2]
    x, y = width / 2.0, height / 2.0
    w = transform[2, 0] * x + transform[2, 1] * y + transform[2, 2]
    u = (transform[0, 0] * x + transform[0, 1] * y + transform[0, 2]) / w
    v = (transform[1, 0] * x + transform[1, 1] * y + transform[1, 2]) / w
    return np.array([[(transform[0, 0] - u * transform[2, 0]) / w,
                      (transform[0, 1] - u * transform[2, 1]) / w],
                     [(transform[1, 0] - v * transform[2, 0]) / w,
                      (transform[1, 1] - v * transform[2, 1]) / w]], np.float32)


def _candidates(site: Site, pattern: str, qx: np.ndarray, qy: np.ndarray
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The four samples of the site's colour around each position (sensor x, y; int32)."""
    if site.colour == 1:  # green: x + y has one parity g; (m, n) -> (m + n, m - n + g)
        first = pattern.index("G")
        g = (first // 2 + first % 2) % 2
        m0 = np.floor((qx + qy - g) * 0.5).astype(np.int32)
        n0 = np.floor((qx - qy + g) * 0.5).astype(np.int32)
        for m, n in ((0, 0), (0, 1), (1, 0), (1, 1)):
            yield m0 + m + n0 + n, m0 + m - n0 - n + g
        return
    k = next(k for k, letter in enumerate(pattern) if COLOUR.get(letter, 1) == site.colour)
    oy, ox = k // 2, k % 2
    j0 = np.floor((qx - ox) * 0.5).astype(np.int32)
    i0 = np.floor((qy - oy) * 0.5).astype(np.int32)
    for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
        yield 2 * (j0 + b) + ox, 2 * (i0 + a) + oy


def _add_frame(values: np.ndarray, site: Site, qx: np.ndarray, qy: np.ndarray,
               jacobian: np.ndarray, kernels: Kernels, robust: np.ndarray, pattern: str,
               sums: Sums, k: int) -> None:
    """One frame's samples for one site of every cell, weighted and summed in."""
    height, width = values.shape
    flat = values.ravel()
    for sx, sy in _candidates(site, pattern, qx, qy):
        inside = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
        index = np.clip(sy, 0, height - 1) * width + np.clip(sx, 0, width - 1)
        fx, fy = sx - qx, sy - qy  # frame pixels
        dx = jacobian[0, 0] * fx + jacobian[0, 1] * fy
        dy = jacobian[1, 0] * fx + jacobian[1, 1] * fy
        sums.add(k, _kernel_weight(kernels, dx, dy) * robust * inside, flat[index])


def _robustness(frame: Frame, values: np.ndarray, proxy: np.ndarray, noise: np.ndarray,
                site_positions: tuple[np.ndarray, np.ndarray], params: MosaicParams
                ) -> tuple[np.ndarray, float, float]:
    """Per cell, 1 where the frame's luminance proxy, carried onto the reference's, differs
    from it as noise explains over a ``window`` square, fading exponentially beyond
    ``threshold`` times that (each frame's ratio divided by its median over the frame, as
    ``merge.robust``); the frame's exposure gain and that median. 0 outside the frame."""
    h, w = values.shape[0] // 2 * 2, values.shape[1] // 2 * 2
    frame_proxy = cv2.resize(np.ascontiguousarray(values[:h, :w]), (w // 2, h // 2),
                             interpolation=cv2.INTER_AREA)
    # The first site's position (sensor) of each cell, as a proxy position: the cell
    # centre is half a pixel on, in both frames.
    qx, qy = site_positions
    ux, uy = (qx + 0.5 - 0.5) * 0.5, (qy + 0.5 - 0.5) * 0.5
    warped = cv2.remap(frame_proxy, ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    valid = cv2.remap(np.ones_like(frame_proxy), ux, uy, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT)
    gain = overlap_ratio(proxy, warped, valid)
    diff = warped * np.float32(gain) - proxy
    local = cv2.blur(diff * diff, (params.window, params.window))
    ratio = local / (2 * noise)
    covered = valid > 0.999
    factor = float(np.clip(np.median(ratio[covered]), 0.02, 3.0)) if covered.any() else 1.0
    weight = cv2.exp(np.minimum(params.threshold - ratio / factor, 0.0))
    return weight * (valid > 0.999), gain, factor
