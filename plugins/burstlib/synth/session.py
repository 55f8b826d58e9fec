"""Synthetic capture sessions with their truth: ``make_session(out_dir, SessionOptions(...))``.

A session is one scene shot twice with the same camera and the same pixel size: from far, a
hand-held burst of ``far_frames`` (M) frames, and from ``ratio`` times nearer, ``near_frames``
(K) frames on a tripod. It is what a far/near training-set builder (seed 000's claims 1-6)
reads, with the transforms it must recover. Layout of ``OUT/<name>/``::

    far/frame_00.dng ... frame_{M-1}.dng    hand-held: the recipe's drift and rotation, shake
    near/frame_00.dng ... frame_{K-1}.dng   tripod: jitter <= 0.3 px, no shake
    truth.json
    clean_near.npy                          float32 HxWx3, see below

Coordinates. A pixel coordinate is (x, y, 1) with x the column and y the row of the frame's
full mosaic grid (W x H photosites), pixel centres on integers (OpenCV's convention: pixel
(0, 0) covers [-0.5, 0.5]^2). Each frame's ``to_near`` (3x3) maps its pixel coordinate to the
pixel coordinate of the same scene point in near frame 0 (the *standard frame*), so near frame
0's is the identity and a far frame's is about ``ratio`` times a scale about the centre plus the
hand's drift: near = ratio * (far - c) + c + drift, c = ((W - 1) / 2, (H - 1) / 2). (The scene
is a plane facing the camera: every ``to_near`` is affine; its last row is 0 0 1.) To bring a
frame onto near frame 0's grid: ``cv2.warpPerspective(frame, to_near, (W, H))`` (output pixel
p reads the frame at ``inv(to_near) @ p``); to see near frame 0's view as a frame sees it:
``cv2.warpPerspective(near0, to_near, (W, H), flags=... | cv2.WARP_INVERSE_MAP)``.

How a frame is made (reusing :mod:`.api`'s machinery: the same scene generator, the recipe's
unprocessing, camera, noise model, Bayer sampling and DNG writer, ``api.write_frame``). The
scene is rendered once, in linear camera RGB, ``supersample`` scene pixels per near pixel
(``ratio * supersample`` per far pixel), large enough for every frame's footprint plus the
filters' reach. Each frame is the scene convolved with its own kernel (its camera shake, the
lens's Gaussian ``optics`` in frame pixels, and the box of its pixel's aperture: ``ratio *
supersample`` scene pixels wide for a far frame, ``supersample`` for a near one), then sampled
at its Bayer sites through its transform (Lanczos-4), given the session's shot and read noise
(one draw of the recipe's levels for every frame) and quantised: box-sampling through the
frame's own transform, as :mod:`.sensor` does with ``INTER_AREA``. Exposure gains jitter per
frame as in :mod:`.api` (``exposure_jitter``).

``truth.json``: ``version``, ``kind`` ("session"), ``seed``, ``options``, ``ratio``, ``size``
[W, H], ``supersample``, ``cfa``, ``black_level``, ``white_level``, ``noise`` {shot, read}
(variance = shot * x + read, x in [0, 1] above black, as every DNG's NoiseProfile says),
``standard_frame`` (0), ``reference`` (the far frame with the least shake: its PSF's RMS radius
is the smallest and every other far frame's is at least ``sharp_margin / sqrt(12)`` far pixels
larger, so it is also the one with the largest Laplacian energy), ``far`` and ``near``: per
frame ``file`` (relative to the session folder), ``to_near``, ``shake`` {length_px, spread_px
in that frame's pixels; 0 for near frames}, ``exposure_gain``, ``capture_time``,
``exposure_time``, ``iso``; ``bad_near``: null, or {``index``, ``file``, ``kind``, ``why``}
for the one near frame a builder must reject: ``kind`` "bump" (the tripod was knocked: the frame
is rotated by 2-5 degrees and shifted by 6-12% of its width; its ``to_near`` is still the true
one) or "occluder" (someone walked in front: a dark disc, radius a quarter of the short side,
covers part of the view; ``box`` [x0, y0, x1, y1], end-exclusive, in that frame's pixels). The
bad frame is never near frame 0. Capture times run 1/30 s apart through the far frames and on
into the near ones.

``clean_near.npy``: what near frame 0 would record without noise, in RGB at every pixel
(linear camera RGB, 1.0 = white above black, at near frame 0's exposure gain, clipped as the
sensor clips): the standard image a builder should recover.

No moving object, and no bracketed (long) frames in sessions.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np

from . import motion, render
from .api import BLACK, WHITE, Plan, SynthOptions, check_frame_options, write_frame
from .moving_object import MovingObject
from .scene import procedural_scene, source_scene
from .shake import combined
from .unprocess import CameraModel, random_camera, unprocess

SESSION_VERSION = 1
STANDARD_FRAME = 0
MIN_RATIO = 1.2
#: Largest displacement of any pixel of a tripod frame relative to near frame 0 (near pixels):
#: a translation of up to NEAR_SHIFT per axis plus a rotation moving the corners by NEAR_TURN.
NEAR_JITTER = 0.3
NEAR_SHIFT = 0.15
NEAR_TURN = NEAR_JITTER - NEAR_SHIFT * math.sqrt(2.0)
BAD_KINDS = ("bump", "occluder")
#: A bump: rotation (degrees) and shift (share of the frame width) ranges.
BUMP_ROTATION = (2.0, 5.0)
BUMP_SHIFT = (0.06, 0.12)
#: The occluder: radius over the frame's short side, and how dark its texture is made.
OCCLUDER_RADIUS = 0.25
OCCLUDER_SHADE = 0.35
#: Scene pixels beyond a frame's kernel that Lanczos-4 sampling reads, plus one.
SAMPLING_REACH = 5


@dataclasses.dataclass(frozen=True)
class SessionOptions:
    """How to make one capture session. Lengths are in pixels of the frame they concern."""

    far_frames: int = 8  # M, the hand-held burst from far
    near_frames: int = 4  # K, the tripod frames from near
    width: int = 640
    height: int = 480
    ratio: float = 2.0  # far distance over near distance (any float >= 1.2)
    supersample: int = 2  # scene pixels per near pixel
    noise: str | float = "recipe"  # none, low, recipe, high, or the shot coefficient
    blur: float = 3.0  # the far frames' largest shake length (far pixels)
    # far frames' PSF RMS radius >= the sharpest's + this / sqrt(12); twice the bursts' 1.0:
    # every far frame is resampled (none is the unwarped reference), and at 1.0 the sharpest by
    # Laplacian energy was another frame in 1 of 3 seeds; at 2.0 in none of 64 (192x128)
    sharp_margin: float = 2.0
    motion: float = 1.0  # scale of the far frames' drift (+-6 far pixels at 1)
    rotation: float = 1.0  # the far frames' largest rotation, degrees
    exposure_jitter: float = 0.1  # exposure gains U(1 - j, 1 + j), every frame
    optics: float = 0.0  # Gaussian lens PSF sigma, in pixels of every frame
    cfa: str = "RGGB"
    bad_near: str | None = None  # None, "bump" or "occluder"
    seed: int = 0
    source: Path | None = None
    name: str = "scene_000"

    def __post_init__(self) -> None:
        if self.far_frames < 1 or self.near_frames < 1:
            raise ValueError("far_frames and near_frames must be at least 1")
        check_frame_options(self)
        if not self.ratio >= MIN_RATIO or not math.isfinite(self.ratio):
            raise ValueError(f"ratio must be a finite number >= {MIN_RATIO}")
        if self.supersample < 1:
            raise ValueError("supersample must be at least 1")
        if self.bad_near is not None and self.bad_near not in BAD_KINDS:
            raise ValueError(f"bad_near must be None or one of {', '.join(BAD_KINDS)}")
        if self.bad_near is not None and self.near_frames < 3:
            raise ValueError("a bad near frame needs near_frames >= 3 (a majority of good ones)")


@dataclasses.dataclass(frozen=True)
class _Geometry:
    """Where every frame looks: ``to_near`` per frame (far frames first, then near ones) and
    ``to_scene`` (near frame 0 pixel -> scene pixel), with the scene's size (width, height)."""

    to_near: list[np.ndarray]
    to_scene: np.ndarray
    scene_size: tuple[int, int]


def make_session(out_dir: Path, options: SessionOptions) -> dict:
    """Write one session into ``out_dir/options.name`` and return its truth (as in truth.json)."""
    rng = np.random.default_rng(options.seed)
    folder = Path(out_dir) / options.name
    for part in ("far", "near"):
        (folder / part).mkdir(parents=True, exist_ok=True)
        for stale in (folder / part).glob("frame_*.dng"):  # a rerun with fewer frames
            stale.unlink()
    camera = random_camera(rng)
    plan = _plan(options, rng)
    bad = _bad_index(options, rng)
    to_near = _far_to_near(options, rng) + _near_to_near(options, bad, rng)
    kernels = [_frame_kernel(options, plan.shakes[i].kernel, _frame_ratio(options, i))
               for i in range(len(to_near))]
    geometry = _geometry(options, to_near, max(k.shape[0] // 2 for k in kernels))
    width, height = geometry.scene_size
    scene = _scene_srgb(options, height, width, rng)
    planes = [np.ascontiguousarray(p) for p in cv2.split(unprocess(scene, camera))]
    del scene
    occluder = _occluder(options, bad, geometry, planes, rng)
    synth = SynthOptions(frames=len(to_near), width=options.width, height=options.height,
                         moving_object=False, cfa=options.cfa, seed=options.seed,
                         name=options.name)
    records = []
    for index, matrix in enumerate(to_near):
        frame_plan = _frame_plan(plan, index, kernels[index], geometry.to_scene @ matrix)
        records.append(_render(folder, index, planes, frame_plan, occluder, synth, camera,
                               options, rng))
    clean = _clean_near(planes, geometry, options, float(plan.gains[options.far_frames]))
    np.save(folder / "clean_near.npy", clean)
    truth = _truth(options, plan, to_near, records, bad, occluder, geometry)
    (folder / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def load_session(session_dir: Path) -> dict:
    """truth.json with ``clean_near`` loaded (HxWx3 float32) and every frame's ``to_near`` as a
    3x3 array. (:func:`.api.load_truth` reads bursts; a session has no ``frames`` list.)"""
    folder = Path(session_dir)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    truth["clean_near"] = np.load(folder / "clean_near.npy")
    for frame in truth["far"] + truth["near"]:
        frame["to_near"] = np.array(frame["to_near"])
    return truth


def _frame_ratio(options: SessionOptions, index: int) -> float:
    """Near pixels per pixel of frame ``index`` (far frames first)."""
    return options.ratio if index < options.far_frames else 1.0


def _plan(options: SessionOptions, rng: np.random.Generator) -> Plan:
    """Shakes (far frames: the burst's recipe with a known sharpest; near: none), exposure
    gains and noise for the M + K frames. Shake lengths are drawn in near pixels (kernels at
    scene resolution), i.e. far lengths times the ratio."""
    far, near = options.far_frames, options.near_frames
    shakes = motion.shake_plan(rng, far, options.blur * options.ratio,
                               options.sharp_margin * options.ratio, options.supersample)
    still = motion.Shake(0.0, 0.0, np.ones((1, 1), np.float32))
    shakes += [still] * near
    reference = int(np.argmin([s.spread for s in shakes[:far]]))
    noise = render.noise_levels(rng, options.noise)
    jitter = options.exposure_jitter
    gains = 1.0 + rng.uniform(-jitter, jitter, far + near)
    return Plan(reference=reference, shutter=reference, shakes=shakes, transforms=[],
                gains=gains, noise=noise, exposures=np.ones(far + near))


def _bad_index(options: SessionOptions, rng: np.random.Generator) -> int | None:
    """Which near frame is bad (never the standard frame), or None."""
    if options.bad_near is None:
        return None
    return int(rng.integers(1, options.near_frames))


def _far_to_near(options: SessionOptions, rng: np.random.Generator) -> list[np.ndarray]:
    """Far frame pixel -> near frame 0 pixel: the hand's drift (the burst recipe's
    :func:`motion.random_affine`, in far pixels), then the scale by ``ratio`` about the centre."""
    w, h, r = options.width, options.height, options.ratio
    centre = np.array([[1.0, 0, (w - 1) / 2], [0, 1.0, (h - 1) / 2], [0, 0, 1]])
    zoom_in = centre @ np.diag([r, r, 1.0]) @ np.linalg.inv(centre)
    return [zoom_in @ motion.random_affine(rng, w, h, shift=motion.MAX_SHIFT * options.motion,
                                           rotation_deg=options.rotation)
            for _ in range(options.far_frames)]


def _near_to_near(options: SessionOptions, bad: int | None,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Near frame pixel -> near frame 0 pixel: the identity for frame 0, tripod jitter (at
    most :data:`NEAR_JITTER` px anywhere in the frame) for the others, a bump for a bad one."""
    w, h = options.width, options.height
    turn = math.degrees(NEAR_TURN / (math.hypot(w - 1, h - 1) / 2))
    out = [np.eye(3)]
    for index in range(1, options.near_frames):
        matrix = motion.random_affine(rng, w, h, shift=NEAR_SHIFT, rotation_deg=turn)
        if index == bad and options.bad_near == "bump":
            matrix = _bump(options, rng) @ matrix
        out.append(matrix)
    return out


def _bump(options: SessionOptions, rng: np.random.Generator) -> np.ndarray:
    """A knocked tripod: a rotation of 2-5 degrees about the centre and a shift of 6-12% of
    the width, in random directions."""
    w, h = options.width, options.height
    angle = math.radians(rng.uniform(*BUMP_ROTATION) * rng.choice([-1.0, 1.0]))
    heading = rng.uniform(0, 2 * math.pi)
    shift = rng.uniform(*BUMP_SHIFT) * w * np.array([math.cos(heading), math.sin(heading)])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = np.eye(3)
    matrix[:2, :2] = rot
    matrix[:2, 2] = centre - rot @ centre + shift
    return matrix


def _aperture(width: float) -> np.ndarray:
    """The box of a pixel ``width`` scene pixels wide (square, centred, odd-sized; edge
    pixels weighted by how much of them it covers)."""
    half = width / 2
    reach = max(0, math.ceil(half - 0.5))
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    weights = np.clip(np.minimum(offsets + 0.5, half) - np.maximum(offsets - 0.5, -half), 0, 1)
    box = np.outer(weights, weights)
    return (box / box.sum()).astype(np.float32)


def _gaussian(sigma: float) -> np.ndarray:
    """The lens's Gaussian PSF, ``sigma`` scene pixels (a 1x1 delta for 0)."""
    if sigma <= 0:
        return np.ones((1, 1), np.float32)
    line = cv2.getGaussianKernel(2 * math.ceil(3 * sigma) + 1, sigma, cv2.CV_64F)
    return (line @ line.T).astype(np.float32)


def _frame_kernel(options: SessionOptions, shake: np.ndarray, frame_ratio: float) -> np.ndarray:
    """Everything that blurs one frame, at scene resolution: its shake, the lens (``optics``
    frame pixels) and its pixel's aperture (one frame pixel)."""
    scene_per_pixel = options.supersample * frame_ratio
    kernel = combined(shake, _aperture(scene_per_pixel))
    if options.optics > 0:
        kernel = combined(kernel, _gaussian(options.optics * scene_per_pixel))
    return kernel


def _geometry(options: SessionOptions, to_near: list[np.ndarray], kernel_reach: int) -> _Geometry:
    """The scene's extent: every frame's footprint on near frame 0's grid, plus the kernels'
    and the sampling's reach; near pixel x covers scene pixels [s x, s x + s - 1] + the pad
    (as :func:`.sensor.hr_from_lr`)."""
    s, w, h = options.supersample, options.width, options.height
    corners = np.array([[-0.5, w - 0.5, -0.5, w - 0.5], [-0.5, -0.5, h - 0.5, h - 0.5],
                        [1.0, 1.0, 1.0, 1.0]])
    points = np.hstack([(m @ corners)[:2] / (m @ corners)[2] for m in to_near])
    pad = kernel_reach + SAMPLING_REACH
    left = max(0, math.ceil(s * (-0.5 - points[0].min()))) + pad
    top = max(0, math.ceil(s * (-0.5 - points[1].min()))) + pad
    right = max(0, math.ceil(s * (points[0].max() - (w - 0.5)))) + pad
    bottom = max(0, math.ceil(s * (points[1].max() - (h - 0.5)))) + pad
    to_scene = np.array([[s, 0, left + (s - 1) / 2], [0, s, top + (s - 1) / 2], [0, 0, 1.0]])
    return _Geometry(to_near, to_scene, (s * w + left + right, s * h + top + bottom))


def _scene_srgb(options: SessionOptions, height: int, width: int,
                rng: np.random.Generator) -> np.ndarray:
    """The burst generator's scene: from ``source`` images, else procedural."""
    if options.source is not None:
        return source_scene(options.source, height, width, rng)
    return procedural_scene(height, width, rng)


def _occluder(options: SessionOptions, bad: int | None, geometry: _Geometry,
              planes: list[np.ndarray], rng: np.random.Generator) -> MovingObject | None:
    """Someone in front of the bad near frame only: a disc (the moving object's machinery,
    present in that one frame) with a darkened texture cut from elsewhere in the scene."""
    if bad is None or options.bad_near != "occluder":
        return None
    index = options.far_frames + bad
    radius = OCCLUDER_RADIUS * min(options.width, options.height) * options.supersample
    where = np.array([rng.uniform(0.3, 0.7) * options.width,
                      rng.uniform(0.3, 0.7) * options.height, 1.0])
    centre = (geometry.to_scene @ geometry.to_near[index] @ where)[:2]
    side = 2 * int(math.ceil(radius)) + 9
    rows, cols = planes[0].shape
    y, x = int(rng.integers(0, rows - side + 1)), int(rng.integers(0, cols - side + 1))
    texture = np.dstack([p[y:y + side, x:x + side] for p in planes]) * np.float32(OCCLUDER_SHADE)
    centres = np.full((len(geometry.to_near), 2), -1e9)  # outside the scene: not painted
    centres[index] = centre
    return MovingObject(centres, radius, np.ascontiguousarray(texture))


def _frame_plan(plan: Plan, index: int, kernel: np.ndarray, to_scene: np.ndarray) -> Plan:
    """``plan`` with frame ``index``'s kernel as its shake and ``to_scene`` (frame pixel ->
    scene pixel) as its transform, for :func:`.api.write_frame`."""
    shakes = list(plan.shakes)
    shakes[index] = motion.Shake(plan.shakes[index].length, plan.shakes[index].spread, kernel)
    transforms = [np.eye(3)] * len(plan.shakes)
    transforms[index] = to_scene
    return dataclasses.replace(plan, shakes=shakes, transforms=transforms)


def _crop(planes: list[np.ndarray], to_scene: np.ndarray, width: int, height: int,
          reach: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The part of the scene a frame reads (its footprint plus ``reach``), as views, and the
    shift that takes scene pixels into it."""
    corners = np.array([[-0.5, width - 0.5, -0.5, width - 0.5],
                        [-0.5, -0.5, height - 0.5, height - 0.5], [1.0, 1.0, 1.0, 1.0]])
    points = (to_scene @ corners)[:2]
    rows, cols = planes[0].shape
    x0, y0 = (max(0, math.floor(points[i].min()) - reach) for i in (0, 1))
    x1 = min(cols, math.ceil(points[0].max()) + reach + 1)
    y1 = min(rows, math.ceil(points[1].max()) + reach + 1)
    shift = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1]])
    return [p[y0:y1, x0:x1] for p in planes], shift


def _render(folder: Path, index: int, planes: list[np.ndarray], plan: Plan,
            occluder: MovingObject | None, synth: SynthOptions, camera: CameraModel,
            options: SessionOptions, rng: np.random.Generator) -> dict:
    """Write frame ``index`` (far frames first) by :func:`.api.write_frame` into ``far/`` or
    ``near/`` under its session name; its record with ``file`` relative to the session."""
    far = index < options.far_frames
    part, local = ("far", index) if far else ("near", index - options.far_frames)
    reach = plan.shakes[index].kernel.shape[0] // 2 + SAMPLING_REACH
    view, shift = _crop(planes, plan.transforms[index], options.width, options.height, reach)
    transforms = list(plan.transforms)
    transforms[index] = shift @ plan.transforms[index]
    obj = (None if occluder is None else
           dataclasses.replace(occluder, centres=occluder.centres + shift[:2, 2]))
    name = f"frame_{local:02d}.dng"
    record = write_frame(folder / part, index, view, obj,
                         dataclasses.replace(plan, transforms=transforms), synth, 0, camera,
                         rng, name)
    return {**record, "file": f"{part}/{name}"}


def _clean_near(planes: list[np.ndarray], geometry: _Geometry, options: SessionOptions,
                gain: float) -> np.ndarray:
    """Near frame 0 without noise, RGB everywhere: each plane through near frame 0's kernel,
    sampled at every pixel as the mosaic samples it (the same sites, the same resampling)."""
    kernel = _frame_kernel(options, np.ones((1, 1), np.float32), 1.0)
    reach = kernel.shape[0] // 2 + SAMPLING_REACH
    view, shift = _crop(planes, geometry.to_scene, options.width, options.height, reach)
    channels = []
    for plane in view:
        blurred = motion.blur(plane, kernel)
        channels.append(render.sample_mosaic([blurred] * 3, shift @ geometry.to_scene, zoom=1,
                                             margin=0, width=options.width,
                                             height=options.height, cfa=options.cfa))
    clean = np.dstack(channels) * np.float32(gain)
    return np.clip(clean, 0.0, 1.0).astype(np.float32)


def _bad_record(options: SessionOptions, bad: int | None, occluder: MovingObject | None,
                to_near: list[np.ndarray], to_scene: np.ndarray) -> dict | None:
    """truth.json's ``bad_near``."""
    if bad is None:
        return None
    record: dict = {"index": bad, "file": f"near/frame_{bad:02d}.dng", "kind": options.bad_near}
    matrix = to_near[options.far_frames + bad]
    if options.bad_near == "bump":
        angle = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
        centre = np.array([(options.width - 1) / 2, (options.height - 1) / 2, 1.0])
        moved = (matrix @ centre - centre)[:2]
        record["why"] = (f"camera bumped: rotated {angle:+.1f} degrees, centre moved by "
                         f"({moved[0]:+.1f}, {moved[1]:+.1f}) px")
        return record
    assert occluder is not None
    record["box"] = _occluder_box(options, occluder, to_scene @ matrix, options.far_frames + bad)
    x0, y0, x1, y1 = record["box"]
    share = math.pi * (occluder.radius / options.supersample) ** 2 / (
        options.width * options.height)
    record["why"] = (f"occluded: something dark in front covers {100 * share:.0f}% of the frame "
                     f"in x {x0}..{x1}, y {y0}..{y1}")
    return record


def _occluder_box(options: SessionOptions, occluder: MovingObject, to_scene: np.ndarray,
                  index: int) -> list[int]:
    """The occluder's bounding box [x0, y0, x1, y1] (end-exclusive, inside the frame) in the
    bad frame's pixels (``to_scene``: its pixel -> scene pixel), one pixel wider than the disc
    for the pixel aperture and the resampling."""
    cx, cy = (np.linalg.inv(to_scene) @ np.array([*occluder.centres[index], 1.0]))[:2]
    reach = occluder.radius / options.supersample + 1
    return [max(0, math.floor(cx - reach)), max(0, math.floor(cy - reach)),
            min(options.width, math.ceil(cx + reach) + 1),
            min(options.height, math.ceil(cy + reach) + 1)]


def _truth(options: SessionOptions, plan: Plan, to_near: list[np.ndarray], records: list[dict],
           bad: int | None, occluder: MovingObject | None, geometry: _Geometry) -> dict:
    frames = []
    for index, (matrix, record) in enumerate(zip(to_near, records)):
        shake, ratio = plan.shakes[index], _frame_ratio(options, index)
        frames.append({"file": record["file"], "to_near": matrix.tolist(),
                       "shake": {"length_px": shake.length / ratio,
                                 "spread_px": shake.spread / ratio},
                       "exposure_gain": float(plan.gains[index]),
                       **{k: record[k] for k in ("capture_time", "exposure_time", "iso")}})
    opts = {k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(options).items()}
    return {"version": SESSION_VERSION, "kind": "session", "seed": options.seed, "options": opts,
            "ratio": options.ratio, "size": [options.width, options.height],
            "supersample": options.supersample, "cfa": options.cfa, "black_level": BLACK,
            "white_level": WHITE, "noise": dict(zip(("shot", "read"), plan.noise)),
            "standard_frame": STANDARD_FRAME, "reference": plan.reference,
            "far": frames[:options.far_frames], "near": frames[options.far_frames:],
            "bad_near": _bad_record(options, bad, occluder, to_near, geometry.to_scene)}
