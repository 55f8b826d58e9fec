"""How far a merge is trusted, asked of frames it was not given: held-out validation.

Averaging registered frames helps only while their noise outweighs what resampling them
costs. On a clean or small, detailed burst (a 16-bit TIFF of almost no noise, 66 px frames of
a busy scene) every resampled frame differs from the reference by its interpolation error,
which a single-image noise estimate cannot tell from noise: the merge then blurs a frame it
should have kept (measured: -5 to -32 dB against the reference alone). Only the frames can
say which it is. So a frame or two are held out: the merge of the others is carried into a
held-out frame's own pixel grid and compared with what that frame really recorded there,
beside the reference carried the same way. How much of the merge's change from the reference
predicts the unseen frame is fitted by least squares, separately for pixels of little and of
much detail (interpolation error grows with detail, noise does not), and the merge keeps that
share of its change. The spatial shrinkage after it is validated the same way. With noise
alone the fitted share is 1 (the merge is kept whole); where resampling loses more than
averaging gains it falls towards 0.

Held-out frames are compared where they agree with the reference (a moving object says
nothing about resampling), on a central crop (the fit needs a few hundred thousand pixels,
not 12 MP).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from burstcli import Frame
from burstlib.arrays import channel_mean, normalized, per_pixel, pixels_of

#: Frames held out, at most.
HELD_OUT = 2
#: Side of the central crop (reference pixels) the fit runs on.
CROP = 768
#: Detail levels fitted apart (quantiles of the reference's local gradient energy).
DETAIL_BINS = 4
#: The least agreeing pixels a level needs for its fit; with fewer it keeps the merge whole.
MIN_PIXELS = 200


@dataclasses.dataclass(frozen=True)
class Window:
    """A rectangle of the reference grid: top, left, height, width."""

    top: int
    left: int
    height: int
    width: int

    @classmethod
    def central(cls, shape: tuple[int, ...], side: int = CROP) -> Window:
        height, width = min(shape[0], side), min(shape[1], side)
        return cls((shape[0] - height) // 2, (shape[1] - width) // 2, height, width)

    def of(self, image: np.ndarray) -> np.ndarray:
        """``image``'s part inside the window (a view)."""
        return image[self.top:self.top + self.height, self.left:self.left + self.width]


@dataclasses.dataclass(frozen=True)
class HeldOutFrame:
    """A frame left out of one merge: its own pixels and, on the reference grid inside the
    window, its warped values and agreement weight (what the merge gave it)."""

    frame: Frame
    gain: float  # brings it to the reference's exposure
    warped: np.ndarray
    agree: np.ndarray


def detail_level(proxy: np.ndarray) -> np.ndarray:
    """Local gradient energy of a luminance proxy (float32, same shape)."""
    slope_x = cv2.Sobel(proxy, cv2.CV_32F, 1, 0, ksize=3)
    slope_y = cv2.Sobel(proxy, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.blur(slope_x * slope_x + slope_y * slope_y, (5, 5))


@dataclasses.dataclass
class _Fit:
    """Per detail level, the sums of the least-squares share <w r d> / <w d d>."""

    edges: np.ndarray
    cross: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(DETAIL_BINS))
    energy: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(DETAIL_BINS))
    count: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(DETAIL_BINS))
    centre: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(DETAIL_BINS))

    def add(self, residual: np.ndarray, change: np.ndarray, weight: np.ndarray,
            detail: np.ndarray) -> None:
        """One held-out frame's evidence: ``residual`` and ``change`` H x W or H x W x C
        (every channel counts: their noise is what averaging takes out), ``weight`` and
        ``detail`` H x W."""
        if residual.ndim == 3:
            for c in range(residual.shape[2]):
                self.add(residual[..., c], change[..., c], weight, detail)
            return
        usable = np.isfinite(residual) & np.isfinite(change) & (weight > 0.5)
        levels = np.digitize(detail[usable], self.edges)
        r, d, w = residual[usable], change[usable], weight[usable]
        for level in range(DETAIL_BINS):
            at = levels == level
            self.cross[level] += float(np.sum(w[at] * r[at] * d[at], dtype=np.float64))
            self.energy[level] += float(np.sum(w[at] * d[at] * d[at], dtype=np.float64))
            self.count[level] += int(np.count_nonzero(at))
            self.centre[level] += float(np.sum(detail[usable][at], dtype=np.float64))

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """(detail level of each fitted level's centre, the share kept there, in [0, 1])."""
        # A level with too little evidence takes the fit over all levels; with too little
        # evidence anywhere, the merge is kept whole (as it was before any check).
        pooled = (self.cross.sum() / self.energy.sum()
                  if self.count.sum() >= MIN_PIXELS and self.energy.sum() > 0 else 1.0)
        enough = (self.count >= MIN_PIXELS) & (self.energy > 0)
        shares = np.where(enough, self.cross / np.where(enough, self.energy, 1.0), pooled)
        centres = self.centre / np.maximum(self.count, 1)
        return centres, np.clip(shares, 0.0, 1.0)


#: Above this many pixels the shares are looked up at a quarter of the resolution and
#: enlarged (the detail level is a 5 x 5 local mean already; 12 MP: 40 ms, not 900).
LOOKUP_PIXELS = 1_000_000


def share_map(detail: np.ndarray, centres: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Each pixel's share, interpolated between the fitted levels by its detail level (no
    seams where the detail crosses a level's edge)."""
    if detail.size > LOOKUP_PIXELS:
        small = cv2.resize(detail, (detail.shape[1] // 4, detail.shape[0] // 4),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(share_map(small, centres, shares), (detail.shape[1], detail.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
    order = np.argsort(centres)
    table_x = np.log(np.maximum(centres[order], 1e-12))
    flat = np.interp(np.log(np.maximum(detail.ravel(), 1e-12)), table_x, shares[order])
    return flat.reshape(detail.shape).astype(np.float32)


def _in_frame_grid(window: Window, held: HeldOutFrame) -> Callable[[np.ndarray], np.ndarray]:
    """A function taking a window-sized image on the reference grid to the held-out frame's
    own pixels in the same rectangle (NaN where they fall outside the window)."""
    transform = held.frame.transform if held.frame.transform is not None else np.eye(3)
    to_window = np.array([[1, 0, -window.left], [0, 1, -window.top], [0, 0, 1.0]])
    from_window = np.linalg.inv(to_window)
    mapping = to_window @ transform @ from_window  # held-out pixel -> window pixel

    def carry(image: np.ndarray) -> np.ndarray:
        return cv2.warpPerspective(image.astype(np.float32), mapping,
                                   (window.width, window.height),
                                   flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    return carry


@dataclasses.dataclass(frozen=True)
class Trust:
    """The fitted shares: of the merge's change from the reference, and of the shrinkage's
    change from the merge, by detail level."""

    centres: np.ndarray
    merge: np.ndarray
    shrink: np.ndarray

    @classmethod
    def whole(cls) -> Trust:
        """Everything kept: nothing was held out."""
        return cls(np.ones(1), np.ones(1), np.ones(1))


def fit_trust(window: Window, reference: np.ndarray, total: np.ndarray, weight: np.ndarray,
              held: list[HeldOutFrame], shrink: Callable[[np.ndarray, np.ndarray], np.ndarray]
              ) -> Trust:
    """The shares of :class:`Trust`, fitted on the held-out frames.

    ``reference``, ``total`` (the merge's weighted sum, H x W or H x W x C) and ``weight`` (its
    weight sum, H x W) are the window's; ``shrink(merged, frames)`` is the merge's spatial
    shrinkage of a window-sized image merged from ``frames`` frames' worth. The shares are
    fitted on every channel: a luminance proxy would hide two thirds of the noise of
    independent channels that averaging removes (measured: the merge kept 0.5 dB short of
    the plain mean on a light-noise 8-bit burst)."""
    if not held:
        return Trust.whole()
    detail = detail_level(reference if reference.ndim == 2 else channel_mean(reference))
    edges = np.quantile(detail, np.linspace(0, 1, DETAIL_BINS + 1)[1:-1])
    merge_fit, shrink_fit = _Fit(edges), _Fit(edges)
    merged_without = [(total - per_pixel(h.agree, total) * h.warped) /
                      per_pixel(np.maximum(weight - h.agree, 1e-6), total) for h in held]
    carries = [_in_frame_grid(window, h) for h in held]
    # What each held-out frame recorded, in the window's rectangle of its own grid.
    owns = [normalized(h.frame.replace(pixels=window.of(pixels_of(h.frame)))) * np.float32(h.gain)
            for h in held]
    # Each held-out frame's agreement and the detail level, in its own grid (both fits use them).
    seen = [(carry(h.agree), carry(detail)) for h, carry in zip(held, carries)]
    for merged, carry, own, (agree, level) in zip(merged_without, carries, owns, seen):
        merge_fit.add(own - carry(reference), carry(merged - reference), agree, level)
    centres, merge_shares = merge_fit.shares()
    trusted = share_map(detail, centres, merge_shares)
    for h, merged, carry, own, (agree, level) in zip(held, merged_without, carries, owns, seen):
        kept = reference + per_pixel(trusted, merged) * (merged - reference)
        frames = effective_frames(trusted, np.maximum(weight - h.agree, 1.0))
        change = shrink(kept, frames) - kept
        shrink_fit.add(own - carry(kept), carry(change), agree, level)
    _, shrink_shares = shrink_fit.shares()
    return Trust(centres, merge_shares, shrink_shares)


def effective_frames(share: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """How many frames' worth of noise averaging is left in ``reference + share x (merged -
    reference)``, ``merged`` the mean of ``weight`` frames' worth, the reference among them:
    its noise variance over the single frame's is ((1 - a) + a / W)^2 + a^2 (W - 1) / W^2."""
    own = (1.0 - share) + share / weight
    variance = own * own + share * share * (weight - 1.0) / (weight * weight)
    np.maximum(variance, 1e-6, out=variance)
    return np.divide(1.0, variance, out=variance).astype(np.float32, copy=False)
