"""``burst bench registration``: align.global's accuracy on bursts made from real
photographs, beside ECC.

    burst bench registration                                      # the full table (minutes)
    burst bench registration --sizes 48 64 --noise light moderate --bursts 2
    burst bench registration --speed                              # large RAW windows only

(``python benchmarks/registration_accuracy.py`` takes the same options.)

Bursts are made here, with known transforms, from crops of B100, Set14 and Urban100 (the
speed table: Urban100 and Kodak), never by burst_synth: every frame is the photograph warped
(cv2.warpPerspective, cubic) at D times the frame's resolution, then INTER_AREA-downsampled
by D (box sampling: the small frames alias like a sensor does), then noisy (Gaussian sigma,
or shot + read noise: variance = a x + b) and stored as float32 RGB, 16-bit RGB or 8-bit grey
in turn. Motion per frame (frame pixel -> reference pixel, x = column):
  translation  up to 2 + 3 % of the frame's side;
  rotation     the same plus up to 1 degree about the centre;
  perspective  the same plus every corner moved by up to 0.4 % of the side.
Tables (--tables): static; moving, where a textured object (a crop of another photograph,
contrast raised) covering 5-15 % of the frame crosses it independently of the camera; mosaic,
12-bit RGGB frames registered on their 2x2-cell proxy (sizes are the proxy's, errors in its
pixels). Every table sees the same bursts from run to run (--seed).

The error of a frame is measured on a grid of reference pixels inside the overlap and off
the moving object (in the reference and in the frame): the distance between where the
registration and where the truth put that scene point in the frame. RMS and max are over
every accepted frame; ``drop`` counts frames the method left out, ``bad`` accepted frames
with any grid point off by more than 0.5 px; ``s`` is CPU seconds (--wall: wall clock).
Peers, run by the same code on the same luminance proxy (the channel mean, a mosaic's 2x2
cells): OpenCV's ECC with a translation and with a Euclidean
motion model, coarse to fine over a pyramid (levels down to ~16 px, bilinear warps),
starting from the identity; they never drop a frame except when ECC fails.

--speed times align.global on 8-frame RAW mosaics about the size of zoom.window's cut of a
12 MP frame at the default 4x zoom (2000 x 1500 sensor pixels here; 2000 x 1750 there).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from burstcli import Burst, Frame
from burstcli.model import Layout, RawInfo
from burstcli.registry import find_stage, run_stage
from burstlib.images import default_data

DATA = default_data()  # beside the checkout, as the README says
SETS = ("b100", "set14", "urban100_subset", "kodak24")
NOISE = {  # (Gaussian sigma, (a, b) of shot + read noise: variance = a x + b), on [0, 1]
    "none": (0.0, (0.0, 0.0)),
    "light": (0.005, (5e-5, 4e-6)),
    "moderate": (0.02, (8e-4, 6e-5)),
    "heavy": (0.05, (5e-3, 4e-4)),
}
MOTIONS = ("translation", "rotation", "perspective")
FORMATS = ("rgb-float", "rgb-u16", "grey-u8")
BAD_PX = 0.5
#: Seconds are the process's CPU time by default (steady on a shared machine; OpenCV's own
#: threads add to it), wall-clock time with --wall.
CLOCK = time.process_time


@dataclasses.dataclass
class Made:
    """A burst made here: the frames, the true transforms and the moving object's masks."""

    frames: list[np.ndarray]  # as stored (any dtype / layout)
    layout: Layout
    truths: list[np.ndarray]  # frame pixel -> reference pixel
    masks: list[np.ndarray | None]  # the object's pixels in each frame's own grid
    raw: RawInfo | None = None


# ---------------------------------------------------------------- making bursts

def load_sources(data: Path, sets: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    """(name, float32 RGB in [0, 1]) of every photograph of the given sets."""
    out = []
    for name in sets:
        folder = data / name
        for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            assert image is not None, path  # None: a file OpenCV cannot read
            out.append((f"{name}/{path.stem}", image[..., ::-1].astype(np.float32) / 255))
    return out


def frame_shape(size: int) -> tuple[int, int]:
    """(height, width): square windows up to 256 px, 4:3 above."""
    return (size, size) if size <= 256 else (size * 3 // 4, size)


def upscale_factor(size: int) -> float:
    """How much finer than the frame the photograph is warped before box downsampling."""
    return 4.0 if size <= 64 else 3.0 if size <= 128 else 2.0 if size <= 256 else 1.25


def centre_scale(factor: float) -> np.ndarray:
    """Fine-grid pixel of coarse pixel u when a grid is box-downsampled by ``factor``:
    (u + 0.5) factor - 0.5 (the centres, as INTER_AREA has them)."""
    offset = 0.5 * factor - 0.5
    return np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1.0]])


def random_motion(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A frame -> reference transform of the given kind for a frame of ``shape``."""
    h, w = shape
    side = max(h, w)
    reach = 2.0 + 0.03 * side
    t = np.array([[1, 0, rng.uniform(-reach, reach)], [0, 1, rng.uniform(-reach, reach)],
                  [0, 0, 1.0]])
    if kind == "translation":
        return t
    angle = math.radians(rng.uniform(-1.0, 1.0))
    c, s = math.cos(angle), math.sin(angle)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    about = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    rotation = about @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ np.linalg.inv(about)
    if kind == "rotation":
        return t @ rotation
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    moved = corners + rng.uniform(-0.004 * side, 0.004 * side, corners.shape).astype(np.float32)
    return t @ rotation @ cv2.getPerspectiveTransform(corners, moved).astype(np.float64)


def object_patch(source: np.ndarray, shape: tuple[int, int], rng: np.random.Generator
                 ) -> np.ndarray:
    """A textured crop of ``source`` of ``shape`` with its contrast raised (what pulls a fit)."""
    h, w = shape
    sh, sw = source.shape[:2]
    if sh < h or sw < w:
        source = cv2.resize(source, (max(w, sw), max(h, sh)), interpolation=cv2.INTER_CUBIC)
        sh, sw = source.shape[:2]
    top, left = rng.integers(0, sh - h + 1), rng.integers(0, sw - w + 1)
    patch = source[top:top + h, left:left + w]
    return np.clip((patch - patch.mean()) * 1.8 + 0.5, 0, 1).astype(np.float32)


def make_burst(background: np.ndarray, texture: np.ndarray | None, size: int, frames: int,
               motion: str, noise: str, fmt: str, rng: np.random.Generator,
               coverage: float = 0.0) -> Made | None:
    """A burst of ``frames`` frames (frame 0 the reference) of a random crop of
    ``background``; a ``texture`` object covering ``coverage`` of the frame when given.
    None when the photograph is too small for the size."""
    h, w = frame_shape(size)
    if fmt == "cfa-u16":  # the proxy is (h, w): the sensor twice that
        h, w = 2 * h, 2 * w
    factor = upscale_factor(size)
    fine_h, fine_w = round(h * factor), round(w * factor)
    margin = int(math.ceil(factor * (4.0 + 0.05 * max(h, w))))
    sh, sw = background.shape[:2]
    if fine_h + 2 * margin > sh or fine_w + 2 * margin > sw:
        factor = min((sh - 2 * margin) / h, (sw - 2 * margin) / w)
        if factor < 1.0:
            return None
        fine_h, fine_w = round(h * factor), round(w * factor)
    fh, fw = fine_h / h, fine_w / w  # what INTER_AREA really does per axis
    scale = np.array([[fw, 0, 0.5 * fw - 0.5], [0, fh, 0.5 * fh - 0.5], [0, 0, 1.0]])
    top = rng.integers(margin, sh - fine_h - margin + 1)
    left = rng.integers(margin, sw - fine_w - margin + 1)
    crop = np.array([[1, 0, left], [0, 1, top], [0, 0, 1.0]])
    truths = [np.eye(3)] + [random_motion(motion, (h, w), rng) for _ in range(frames - 1)]
    patch: np.ndarray | None = None
    start: np.ndarray | None = None
    step: np.ndarray | None = None
    if texture is not None and coverage > 0:
        ph, pw = _object_size(coverage, fine_h, fine_w, rng)
        patch = object_patch(texture, (ph, pw), rng)
        start = np.array([rng.uniform(0, 0.25) * (fine_w - pw), rng.uniform(0, 1) * (fine_h - ph)])
        step = np.array([(fine_w - pw) * rng.uniform(0.5, 0.75) / max(frames - 1, 1),
                         rng.uniform(-0.05, 0.05) * fine_h])
    images, masks = [], []
    for index, truth in enumerate(truths):
        to_source = crop @ scale @ truth @ np.linalg.inv(scale)
        fine = cv2.warpPerspective(background, to_source, (fine_w, fine_h),
                                   flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT)
        mask = None
        if patch is not None:
            assert start is not None and step is not None  # drawn with the patch
            fine, fine_mask = _paste(fine, patch, start + index * step)
            mask = cv2.resize(fine_mask, (w, h), interpolation=cv2.INTER_AREA) > 0.01
        image = cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA)
        images.append(image)
        masks.append(mask)
    return _stored(images, truths, masks, noise, fmt, rng)


def _object_size(coverage: float, h: int, w: int, rng: np.random.Generator) -> tuple[int, int]:
    aspect = rng.uniform(0.6, 1.6)
    area = coverage * h * w
    ph = int(min(h - 2, math.sqrt(area / aspect)))
    pw = int(min(w - 2, area / max(ph, 1)))
    return ph, pw


def _paste(image: np.ndarray, patch: np.ndarray, corner: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with an elliptical ``patch`` over it at ``corner`` (x, y, sub-pixel), and
    the mask of what it covers (float, fine grid)."""
    h, w = image.shape[:2]
    ph, pw = patch.shape[:2]
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    ellipse = (((xx - (pw - 1) / 2) / (pw / 2)) ** 2 + ((yy - (ph - 1) / 2) / (ph / 2)) ** 2
               <= 1.0).astype(np.float32)
    shift = np.array([[1, 0, corner[0]], [0, 1, corner[1]]], np.float32)
    placed = cv2.warpAffine(patch, shift, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(ellipse, shift, (w, h), flags=cv2.INTER_LINEAR)
    out = image * (1 - mask[..., None]) + placed * mask[..., None]
    return out.astype(np.float32), mask


def _stored(images: list[np.ndarray], truths: list[np.ndarray], masks: list, noise: str,
            fmt: str, rng: np.random.Generator) -> Made:
    sigma, (a, b) = NOISE[noise]
    shot = rng.integers(2) == 1  # Gaussian or shot + read noise, in turn
    frames = []
    for image in images:
        if fmt == "cfa-u16":
            image = _mosaic(image)
        elif fmt == "grey-u8":
            image = image.mean(axis=2)
        if shot and a > 0:
            std = np.sqrt(a * np.clip(image, 0, 1) + b)
            image = image + rng.normal(size=image.shape).astype(np.float32) * std
        elif sigma > 0:
            image = image + rng.normal(0, sigma, image.shape).astype(np.float32)
        frames.append(_encoded(np.clip(image, 0, 1).astype(np.float32), fmt))
    layouts: dict[str, Layout] = {"rgb-float": "rgb", "rgb-u16": "rgb", "grey-u8": "gray",
                                  "cfa-u16": "cfa"}
    layout = layouts[fmt]
    raw = RawInfo(((0, 1), (3, 2)), "RGBG", (256.0,) * 4, 4095.0, (2.0, 1.0, 1.5, 1.0)) \
        if fmt == "cfa-u16" else None
    return Made(frames, layout, truths, masks, raw)


def _mosaic(rgb: np.ndarray) -> np.ndarray:
    out = np.empty(rgb.shape[:2], np.float32)
    out[0::2, 0::2], out[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
    out[1::2, 0::2], out[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
    return out


def _encoded(image: np.ndarray, fmt: str) -> np.ndarray:
    if fmt == "rgb-u16":
        return np.rint(image * 65535).astype(np.uint16)
    if fmt == "grey-u8":
        return np.rint(image * 255).astype(np.uint8)
    if fmt == "cfa-u16":
        return np.rint(256 + image * (4095 - 256)).astype(np.uint16)
    return image


def as_burst(made: Made) -> Burst:
    """The made frames as a decoded in-memory burst, frame 0 the reference."""
    frames = tuple(Frame(Path(f"f{i:03d}.tif"), pixels=p, layout=made.layout, raw=made.raw)
                   for i, p in enumerate(made.frames))
    return Burst("bench", frames, reference=0)


# ---------------------------------------------------------------- measuring

def frame_errors(found: np.ndarray, truth: np.ndarray, masks: tuple, shape: tuple[int, int]
                 ) -> np.ndarray:
    """Distances (frame pixels) between where ``found`` and ``truth`` (frame -> reference)
    put the frame position of each reference grid point inside the overlap and off the
    moving object (``masks``: the reference's and the frame's, or None)."""
    h, w = shape
    step = max(2.0, max(h, w) / 32)
    ys, xs = np.mgrid[step / 2:h - 1:step, step / 2:w - 1:step]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    true_at = _apply(np.linalg.inv(truth), points)
    keep = (true_at[0] >= 0) & (true_at[0] <= w - 1) & (true_at[1] >= 0) & (true_at[1] <= h - 1)
    ref_mask, frame_mask = masks
    if ref_mask is not None:
        keep &= ~_at(ref_mask, points[:2])
        keep &= ~_at(frame_mask, true_at)
    if not np.all(np.isfinite(found)):
        return np.full(int(keep.sum()), np.inf)
    found_at = _apply(np.linalg.inv(found), points[:, keep])
    return np.hypot(*(found_at - true_at[:, keep]))


def _apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = h @ points
    return p[:2] / p[2]


def _at(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    cols = np.clip(np.rint(xy[0]), 0, mask.shape[1] - 1).astype(int)
    rows = np.clip(np.rint(xy[1]), 0, mask.shape[0] - 1).astype(int)
    return mask[rows, cols]


@dataclasses.dataclass
class Tally:
    """Errors and counts of one method over a group of bursts."""

    squares: float = 0.0
    points: int = 0
    worst: float = 0.0
    frames: int = 0
    dropped: int = 0
    bad: int = 0
    seconds: float = 0.0

    def add(self, errors: np.ndarray | None) -> None:
        self.frames += 1
        if errors is None:
            self.dropped += 1
            return
        if errors.size == 0:
            return
        self.squares += float(np.sum(np.minimum(errors, 1e6) ** 2))
        self.points += errors.size
        self.worst = max(self.worst, float(errors.max()))
        self.bad += int(errors.max() > BAD_PX)

    def rms(self) -> float:
        return math.sqrt(self.squares / self.points) if self.points else float("nan")


def align_ours(made: Made) -> tuple[list[np.ndarray | None], float]:
    """align.global's transforms (None: left out of the merge) and its seconds."""
    burst = as_burst(made)
    start = CLOCK()
    out = run_stage("align.global", burst)
    seconds = CLOCK() - start
    kept = set(out.active_indices)
    return [f.transform if i in kept else None for i, f in enumerate(out.frames)], seconds


def align_peer(made: Made, motion: int) -> tuple[list[np.ndarray | None], float]:
    """The textbook peer: ECC (``motion``: cv2.MOTION_TRANSLATION or MOTION_EUCLIDEAN) coarse
    to fine from the identity on the luminance proxies, bilinear warps."""
    from burstlib.warps import to_frame_pixels
    from burstlib.arrays import grey_proxy
    burst = as_burst(made)
    start = CLOCK()
    reference = grey_proxy(burst.frames[0])
    out: list[np.ndarray | None] = [np.eye(3)]
    for frame in burst.frames[1:]:
        found = peer_ecc(reference, grey_proxy(frame), motion)
        out.append(None if found is None else to_frame_pixels(found, frame))
    return out, CLOCK() - start


def peer_ecc(reference: np.ndarray, moving: np.ndarray, motion: int) -> np.ndarray | None:
    """Textbook pyramid ECC: the warp found at each level seeds the next (translation
    doubled); returns the frame -> reference transform, or None when ECC fails."""
    levels = 1
    while levels < 4 and min(reference.shape) / 2 ** levels >= 16:
        levels += 1
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6)
    for level in reversed(range(levels)):
        f = 0.5 ** level
        ref, mov = _shrunk(reference, f), _shrunk(moving, f)
        try:
            # cv2's stub wants a mask array here, but OpenCV takes None (no mask) as well.
            _, warp = cv2.findTransformECC(  # type: ignore[call-overload]
                ref, mov, warp, motion, criteria, None, 5)
        except cv2.error:
            return None
        if level:  # to the next finer level: x_fine = 2 x_coarse + 0.5
            up = centre_scale(0.5)
            warp = (np.linalg.inv(up) @ np.vstack([warp, [0, 0, 1]]) @ up)[:2].astype(np.float32)
    w = np.vstack([warp.astype(np.float64), [0, 0, 1]])
    return np.linalg.inv(w)


def _shrunk(grey: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return grey.astype(np.float32)
    size = (round(grey.shape[1] * factor), round(grey.shape[0] * factor))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


METHODS = {
    "ours": align_ours,
    "ECC-T": lambda made: align_peer(made, cv2.MOTION_TRANSLATION),
    "ECC-E": lambda made: align_peer(made, cv2.MOTION_EUCLIDEAN),
}


def measure(made: Made, groups: tuple[dict[str, Tally], ...], scale: float) -> None:
    """Run every method on ``made`` and add its frames' errors (times ``scale``) to the
    tallies of every group."""
    shape = made.frames[0].shape[:2]
    for name, run in METHODS.items():
        transforms, seconds = run(made)
        for tallies in groups:
            tally = tallies.setdefault(name, Tally())
            tally.seconds += seconds
            for index in range(1, len(made.frames)):
                found = transforms[index]
                if found is None:
                    tally.add(None)
                    continue
                masks = (made.masks[0], made.masks[index])
                tally.add(frame_errors(found, made.truths[index], masks, shape) * scale)


# ---------------------------------------------------------------- tables

def print_header(title: str) -> None:
    print(f"\n{title}")
    cells = " | ".join(f"{name:^31}" for name in METHODS)
    print(f"{'':>20} | {cells}")
    unit = " | ".join(f"{'rms':>6} {'max':>6} {'drop':>4} {'bad':>4} {'s':>6}" for _ in METHODS)
    print(f"{'size noise':>20} | {unit}")


def print_row(label: str, tallies: dict[str, Tally]) -> None:
    cells = []
    for name in METHODS:
        t = tallies.get(name, Tally())
        cells.append(f"{t.rms():6.3f} {t.worst:6.2f} {t.dropped:>4} {t.bad:>4} {t.seconds:6.2f}")
    print(f"{label:>20} | {' | '.join(cells)}", flush=True)


Sources = list[tuple[str, np.ndarray]]


def static_table(sources: Sources, args: argparse.Namespace, rng: np.random.Generator) -> None:
    print_header(f"Static bursts ({args.frames} frames, {args.bursts} bursts per motion "
                 f"{'/'.join(MOTIONS)}; px RMS / max over accepted frames, seconds in all)")
    _table(sources, args, rng, args.noise, None, 0.0, 1.0)


def moving_table(sources: Sources, args: argparse.Namespace, rng: np.random.Generator) -> None:
    print_header(f"A textured object crossing the frame, 5-15 % of it ({args.frames} frames, "
                 f"{args.bursts * len(MOTIONS)} bursts per row; error off the object)")
    _table(sources, args, rng, [n for n in args.noise if n != "heavy"], sources, 0.15, 1.0)


def mosaic_table(sources: Sources, args: argparse.Namespace, rng: np.random.Generator) -> None:
    print_header("RAW mosaics (RGGB, 12-bit; size = the 2x2-cell proxy's; px of the proxy)")
    sizes = [s for s in args.sizes if 64 <= s <= 256]  # the sensor frame is twice as large
    _table(sources, args, rng, [n for n in args.noise if n in ("light", "moderate")], None,
           0.0, 0.5, sizes=sizes, fmt="cfa-u16")


def _table(sources: Sources, args: argparse.Namespace, rng: np.random.Generator,
           noises: list[str], textures: Sources | None, coverage: float, scale: float,
           sizes: list[int] | None = None, fmt: str | None = None) -> None:
    """Rows per size and noise band (all motions), then one per motion (all rows)."""
    by_motion: dict[str, dict[str, Tally]] = {m: {} for m in MOTIONS}
    for size in sizes or args.sizes:
        for noise in noises:
            tallies: dict[str, Tally] = {}
            for motion in MOTIONS:
                for _ in range(args.bursts):
                    cover = rng.uniform(0.05, coverage) if coverage else 0.0
                    made = _made(sources, size, args.frames, motion, noise, rng, textures,
                                 cover, fmt)
                    measure(made, (tallies, by_motion[motion]), scale)
            print_row(f"{size} {noise}", tallies)
    for motion in MOTIONS:
        print_row(f"all {motion}", by_motion[motion])


def _made(sources: Sources, size: int, frames: int, motion: str, noise: str,
          rng: np.random.Generator, textures: Sources | None, coverage: float,
          fmt: str | None = None) -> Made:
    """A burst from a random photograph that is large enough (and a random format)."""
    for _ in range(1000):
        name, image = sources[rng.integers(len(sources))]
        texture = None
        if textures:
            texture = textures[rng.integers(len(textures))][1]
        chosen = fmt or FORMATS[rng.integers(len(FORMATS))]
        made = make_burst(image, texture, size, frames, motion, noise, chosen, rng, coverage)
        if made is not None:
            return made
    raise SystemExit(f"no photograph is large enough for {size} px frames ({fmt or 'any'})")


def speed_table(sources: Sources, args: argparse.Namespace, rng: np.random.Generator) -> None:
    """align.global on 8 mosaics of 2000 x 1500 (about zoom.window's cut of 12 MP at 4x)."""
    big = [s for s in sources if s[0].startswith(("urban100", "kodak"))] or sources
    print_header("Speed: 8 RAW mosaics of 2000x1500 (~ zoom.window's cut of 12 MP at 4x), "
                 "light noise")
    for motion in MOTIONS:
        tallies: dict[str, Tally] = {}
        made = None
        while made is None:
            name, image = big[rng.integers(len(big))]
            image = cv2.resize(image, (3 * image.shape[1], 3 * image.shape[0]),
                               interpolation=cv2.INTER_CUBIC)
            made = make_burst(image, None, 1000, 8, motion, "light", "cfa-u16", rng)
        measure(made, (tallies,), 0.5)
        print_row(f"1000 {motion[:11]}", tallies)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (the command line when None) and print the tables it asks for."""
    parser = argparse.ArgumentParser(description="Registration accuracy of align.global on "
                                                 "bursts made from real photographs, beside ECC.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64, 128, 256, 640])
    parser.add_argument("--noise", nargs="+", default=list(NOISE), choices=list(NOISE))
    parser.add_argument("--bursts", type=int, default=2, help="bursts per motion kind and cell")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tables", nargs="+", default=["static", "moving", "mosaic"],
                        choices=["static", "moving", "mosaic", "speed"])
    parser.add_argument("--speed", action="store_true", help="the speed table only")
    parser.add_argument("--wall", action="store_true", help="wall-clock seconds, not CPU")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    if not args.data.is_dir():
        sys.exit(f"real photographs not found at {args.data} (see ../shared/data/README.md)")
    print(f"align.global from the {find_stage('align.global').plugin!r} plugin")
    sources = load_sources(args.data, SETS[:3])
    tables = ["speed"] if args.speed else args.tables
    for table in tables:
        rng = np.random.default_rng(args.seed)  # every table sees the same bursts, run to run
        if table == "speed":
            speed_table(load_sources(args.data, SETS[2:]), args, rng)
        else:
            {"static": static_table, "moving": moving_table, "mosaic": mosaic_table}[table](
                sources, args, rng)


if __name__ == "__main__":
    main()
