"""Make a synthetic RAW burst with its ground truth: ``make_burst(out_dir, SynthOptions(...))``.

Follows the published synthetic-burst recipe (unprocessed sRGB, random sub-pixel translation
and small rotation, no anti-alias filter, Bayer mosaic, shot/read noise) and adds what real
hand-held bursts have: camera-shake blur that differs per frame, exposure jitter and a moving
object. Layout of ``OUT/<name>/``:

* ``frame_000.dng`` ... : the frames in capture order, real DNG files (the only image files in
  the folder, so ``burst enhance OUT`` sees only them);
* ``truth.json``: version, seed, options, cfa, levels, zoom, frame_size [w, h], ``reference``
  (the sharpest frame, also the geometric reference), ``shutter`` (the frame at the shutter
  moment) and per frame its ``file``, ``transform`` (3x3, frame pixel -> reference pixel,
  x = column, y = row, in frame pixels; the identity for the reference), ``blur``
  (``length_px``: shake trajectory length, ``spread_px``: RMS radius of its PSF),
  ``exposure_gain``, ``exposure_time``, ``iso``, ``capture_time``, ``noise`` {shot, read} and
  ``part`` (``regular``, or ``additional`` for the long frames of a bracketed burst);
* ``truth_clean.npy``: float32 HxWx3 linear camera RGB (1.0 = white above black) of what the
  reference frame would be without noise or shake, at its exposure, clipped as the sensor clips;
* ``truth_clean_hr.npy`` (zoom > 1): the same at zoom x resolution; frame pixel (x, y) is HR
  pixel (zoom * x, zoom * y) (point sampling: ``truth_clean == truth_clean_hr[::zoom, ::zoom]``);
* ``truth_motion_mask.npy``: bool HxW, where the moving object is in any frame (reference
  geometry).

A bracketed burst (``long_frames`` > 0, 001 claims 5-7) ends with that many frames taken after
the regular ones at ``long_exposure`` times the exposure time: the same brightness at a lower
ISO (shot noise variance / r, read noise variance / r^2) and shake trajectories r times longer.
The reference and the shutter frame are regular frames.

The sharpest frame is known by construction: its PSF has the smallest RMS radius and every
other frame's is at least ``sharp_margin / sqrt(12)`` px larger (see :func:`motion.shake_plan`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import motion, render
from burstlib.dng import write_dng

from .moving_object import MovingObject, footprint, painted, random_object
from .scene import procedural_scene, source_scene
from .unprocess import CameraModel, random_camera, unprocess

if TYPE_CHECKING:  # session.py imports this module
    from .session import SessionOptions

BLACK, WHITE = 256, 4095  # a 12-bit sensor
BASE_EXPOSURE = 1 / 100
FRAME_INTERVAL = 1 / 30  # seconds between frames
START = _dt.datetime(2026, 5, 1, 12, 0, 0)
TRUTH_VERSION = 2


@dataclasses.dataclass(frozen=True)
class SynthOptions:
    """How to make one burst. Lengths are in frame pixels."""

    frames: int = 8
    width: int = 640
    height: int = 480
    zoom: int = 1  # scene resolution over frame resolution
    noise: str | float = "recipe"  # none, low, recipe, high, or the shot coefficient
    blur: float = 3.0  # the largest shake trajectory length (before the sharpest's margin)
    sharp_margin: float = 1.0  # other frames' PSF RMS radius >= the sharpest's + this / sqrt(12)
    motion: float = 1.0  # scale of the recipe's random translation (+-6 frame pixels at 1)
    rotation: float = 1.0  # the largest rotation, degrees
    moving_object: bool = True
    exposure_jitter: float = 0.1  # exposure gains U(1 - j, 1 + j)
    optics: float = 0.0  # Gaussian lens PSF sigma (frame pixels); 0: the recipe's pure aliasing
    cfa: str = "RGGB"
    long_frames: int = 0  # a bracketed burst: this many long exposures after the regular ones
    long_exposure: float = 4.0  # their exposure time over the regular frames'
    seed: int = 0
    source: Path | None = None
    name: str = "burst_000"

    def __post_init__(self) -> None:
        if self.frames < 1 or self.zoom < 1:
            raise ValueError("frames and zoom must be at least 1")
        check_frame_options(self)
        if not 0 <= self.long_frames < self.frames or self.long_exposure < 1:
            raise ValueError("long_frames must be in [0, frames) and long_exposure >= 1")


def check_frame_options(options: SynthOptions | SessionOptions) -> None:
    """The checks a burst's and a capture session's options share (size, shake, motion,
    optics, exposure jitter, CFA): a ValueError naming the first that fails."""
    if options.width < 16 or options.height < 16 or options.width % 2 or options.height % 2:
        raise ValueError("width and height must be even and at least 16 (whole Bayer cells)")
    if min(options.blur, options.sharp_margin, options.motion, options.rotation,
           options.optics) < 0:
        raise ValueError("blur, sharp_margin, motion, rotation and optics must be >= 0")
    if not 0 <= options.exposure_jitter < 1:
        raise ValueError("exposure_jitter must be in [0, 1)")
    if options.cfa not in render.CFA_OFFSETS:
        raise ValueError(f"cfa must be one of {', '.join(render.CFA_OFFSETS)}")


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything random about a burst's frames, drawn before any pixel is rendered."""

    reference: int
    shutter: int
    shakes: list[motion.Shake]
    transforms: list[np.ndarray]
    gains: np.ndarray
    noise: tuple[float, float]
    exposures: np.ndarray  # each frame's exposure time over the regular frames' (1 or r)

    def frame_noise(self, index: int) -> tuple[float, float]:
        """(shot, read) of frame ``index``: a longer exposure at the same brightness is taken
        at a lower gain, so its shot noise variance falls by r and its read noise by r^2."""
        r = float(self.exposures[index])
        return self.noise[0] / r, self.noise[1] / r ** 2


def make_burst(out_dir: Path, options: SynthOptions) -> dict:
    """Write one burst into ``out_dir/options.name`` and return its truth (as in truth.json)."""
    rng = np.random.default_rng(options.seed)
    folder = Path(out_dir) / options.name
    folder.mkdir(parents=True, exist_ok=True)
    margin = _margin(options)
    camera = random_camera(rng)
    scene = _through_lens(unprocess(_scene_srgb(options, margin, rng), camera), options)
    planes = [np.ascontiguousarray(p) for p in cv2.split(scene)]
    del scene
    plan = _frame_plan(options, rng)
    obj = (random_object(rng, options.frames, options.width, options.height, options.zoom, margin,
                         planes)
           if options.moving_object else None)
    records = [write_frame(folder, i, planes, obj, plan, options, margin, camera, rng)
               for i in range(options.frames)]
    truth = _truth(options, plan, records)
    _write_truth_arrays(folder, planes, obj, plan, options, margin)
    (folder / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def load_truth(burst_dir: Path) -> dict:
    """truth.json with its arrays loaded (``clean``, ``clean_hr`` when present, ``motion_mask``)
    and each frame's ``transform`` as a 3x3 array."""
    folder = Path(burst_dir)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    for key, file in (("clean", "truth_clean.npy"), ("clean_hr", "truth_clean_hr.npy"),
                      ("motion_mask", "truth_motion_mask.npy")):
        if (folder / file).exists():
            truth[key] = np.load(folder / file)
    for frame in truth["frames"]:
        frame["transform"] = np.array(frame["transform"])
    return truth


def _margin(options: SynthOptions) -> int:
    """Scene pixels around the reference view, so no frame ever samples outside the scene."""
    rotation = math.radians(options.rotation) * math.hypot(options.width, options.height) / 2
    reach = motion.MAX_SHIFT * options.motion + rotation + options.blur + options.sharp_margin
    return int(math.ceil((reach + 3 * options.optics + 4) * options.zoom))


def _scene_srgb(options: SynthOptions, margin: int, rng: np.random.Generator) -> np.ndarray:
    height = options.height * options.zoom + 2 * margin
    width = options.width * options.zoom + 2 * margin
    if options.source is not None:
        return source_scene(options.source, height, width, rng)
    return procedural_scene(height, width, rng)


def _through_lens(scene: np.ndarray, options: SynthOptions) -> np.ndarray:
    """The lens's blur, part of what every frame and the truth see (real optics never pass
    detail up to the sensor's Nyquist; the published recipe leaves it out: optics = 0)."""
    if options.optics <= 0:
        return scene
    return cv2.GaussianBlur(scene, (0, 0), options.optics * options.zoom)


def _frame_plan(options: SynthOptions, rng: np.random.Generator) -> Plan:
    n = options.frames
    regular = n - options.long_frames
    shakes = motion.shake_plan(rng, regular, options.blur, options.sharp_margin, options.zoom)
    shakes += motion.shake_plan(rng, options.long_frames, options.blur * options.long_exposure,
                                0.0, options.zoom) if options.long_frames else []
    reference = int(np.argmin([s.spread for s in shakes[:regular]]))
    transforms = [np.eye(3) if i == reference else
                  motion.random_affine(rng, options.width, options.height,
                                       shift=motion.MAX_SHIFT * options.motion,
                                       rotation_deg=options.rotation) for i in range(n)]
    return Plan(reference=reference, shutter=int(rng.integers(0, regular)), shakes=shakes,
                transforms=transforms,
                gains=1.0 + rng.uniform(-options.exposure_jitter, options.exposure_jitter, n),
                noise=render.noise_levels(rng, options.noise),
                exposures=np.where(np.arange(n) < regular, 1.0, options.long_exposure))


def write_frame(folder: Path, index: int, planes: list[np.ndarray], obj: MovingObject | None,
                plan: Plan, options: SynthOptions, margin: int, camera: CameraModel,
                rng: np.random.Generator, name: str | None = None) -> dict:
    """Render frame ``index`` of ``plan`` (shake, sampling, gain, noise) and write it as a DNG
    named ``name`` (default ``frame_NNN.dng``) in ``folder``; its record for truth.json."""
    kernel = plan.shakes[index].kernel
    with painted(planes, obj, index):  # sample inside: an unshaken frame's "blur" is the scene
        blurred = [motion.blur(plane, kernel) for plane in planes]
        clean = render.sample_mosaic(blurred, plan.transforms[index], zoom=options.zoom,
                                     margin=margin, width=options.width, height=options.height,
                                     cfa=options.cfa)
    del blurred
    clean *= np.float32(plan.gains[index])
    noise = plan.frame_noise(index)
    raw = render.quantise(render.add_noise(clean, *noise, rng), BLACK, WHITE)
    capture_time = _capture_time(options.seed, plan, index)
    exif = {"capture_time": capture_time,
            "exposure_time": BASE_EXPOSURE * float(plan.gains[index] * plan.exposures[index]),
            "iso": _iso(noise[0])}
    path = folder / (name or f"frame_{index:03d}.dng")
    write_dng(path, raw, cfa=options.cfa, black_level=BLACK, white_level=WHITE,
              as_shot_neutral=camera.as_shot_neutral, color_matrix=camera.xyz_to_cam,
              noise_profile=noise, exif=exif)
    return {"file": path.name, "capture_time": capture_time.isoformat(timespec="milliseconds"),
            "exposure_time": exif["exposure_time"], "iso": exif["iso"]}


def _capture_time(seed: int, plan: Plan, index: int) -> _dt.datetime:
    """Bursts of different seeds a minute apart; frames 1/30 s apart, or their exposure time
    apart when that is longer; whole milliseconds (the precision of SubSecTimeOriginal)."""
    steps = np.maximum(FRAME_INTERVAL, BASE_EXPOSURE * plan.exposures[:index])
    milliseconds = round(float(np.sum(steps)) * 1000)
    return START + _dt.timedelta(minutes=seed, milliseconds=milliseconds)


def _iso(shot: float) -> int:
    """A nominal ISO for a shot-noise level (ISO 100 at 1e-4; shot noise grows with gain)."""
    return int(round(100 * max(shot, 1e-4) / 1e-4))


def _truth(options: SynthOptions, plan: Plan, records: list[dict]) -> dict:
    frames = []
    for i, record in enumerate(records):
        shake = plan.shakes[i]
        frames.append({**record, "transform": plan.transforms[i].tolist(),
                       "blur": {"length_px": shake.length, "spread_px": shake.spread},
                       "exposure_gain": float(plan.gains[i]),
                       "noise": dict(zip(("shot", "read"), plan.frame_noise(i))),
                       "part": "regular" if plan.exposures[i] == 1 else "additional"})
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()}
    return {"version": TRUTH_VERSION, "seed": options.seed, "options": opts, "cfa": options.cfa,
            "black_level": BLACK, "white_level": WHITE, "zoom": options.zoom,
            "frame_size": [options.width, options.height], "reference": plan.reference,
            "shutter": plan.shutter, "frames": frames}


def _write_truth_arrays(folder: Path, planes: list[np.ndarray], obj: MovingObject | None,
                        plan: Plan, options: SynthOptions, margin: int) -> None:
    ref = plan.reference
    zoom, w, h = options.zoom, options.width, options.height
    with painted(planes, obj, ref):
        hr = np.dstack([p[margin:margin + h * zoom, margin:margin + w * zoom] for p in planes])
    hr *= np.float32(plan.gains[ref])
    np.clip(hr, 0.0, 1.0, out=hr)  # the sensor clips at white
    np.save(folder / "truth_clean.npy", np.ascontiguousarray(hr[::zoom, ::zoom]))
    if zoom > 1:
        np.save(folder / "truth_clean_hr.npy", hr)
    grow = 1.0 + max(s.length for s in plan.shakes) / 2  # a blurred edge reaches half a streak
    np.save(folder / "truth_motion_mask.npy", footprint(obj, w, h, zoom, margin, grow))
