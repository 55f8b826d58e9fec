"""Make a synthetic RAW burst with its ground truth: ``make_burst(out_dir, SynthOptions(...))``.

Follows the published synthetic-burst recipe (unprocessed sRGB, random sub-pixel translation
and small rotation, no anti-alias filter, Bayer mosaic, shot/read noise) and adds what real
hand-held bursts have: camera-shake blur that differs per frame, exposure jitter and a moving
object. Layout of ``OUT/<name>/``:

* ``frame_000.dng`` ... : the frames, real DNG files (the only image files in the folder);
* ``truth.json``: options, levels, ``reference`` (the sharpest frame, the geometric reference),
  ``shutter`` and per frame its ``transform`` (3x3, frame pixel -> reference pixel, x = column),
  ``blur``, ``exposure_gain``, ``exposure_time``, ``iso``, ``capture_time`` and ``noise``;
* ``truth_clean.npy``: float32 HxWx3 linear camera RGB (1.0 = white above black) of what the
  reference frame would be without noise or blur, at its exposure;
* ``truth_clean_hr.npy`` (zoom > 1): the same at zoom x resolution; frame pixel x is HR pixel
  zoom * x;
* ``truth_motion_mask.npy``: bool HxW, where the moving object is in any frame (reference
  geometry).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from pathlib import Path

import cv2
import numpy as np

from . import motion, render
from .dng import write_dng
from .scene import procedural_scene, source_scene
from .unprocess import CameraModel, random_camera, unprocess

BLACK, WHITE = 256, 4095  # a 12-bit sensor
BASE_EXPOSURE = 1 / 100
START = _dt.datetime(2026, 5, 1, 12, 0, 0)


@dataclasses.dataclass(frozen=True)
class SynthOptions:
    """How to make one burst. Lengths are in frame pixels."""

    frames: int = 8
    width: int = 640
    height: int = 480
    zoom: int = 1
    noise: str | float = "recipe"
    blur: float = 3.0  # the largest shake length
    sharp_margin: float = 1.0  # every other frame shakes at least this much more than the sharpest
    motion: float = 1.0  # scale of the recipe's random translation (+-6 frame pixels at 1)
    rotation: float = 1.0  # the largest rotation, degrees
    moving_object: bool = True
    exposure_jitter: float = 0.1  # exposure gains U(1 - j, 1 + j)
    optics: float = 0.0  # Gaussian lens PSF sigma (frame pixels); 0: the recipe's pure aliasing
    cfa: str = "RGGB"
    seed: int = 0
    source: Path | None = None
    name: str = "burst_000"


@dataclasses.dataclass(frozen=True)
class MovingObject:
    """A textured disc crossing the scene: centre per frame (scene pixels) and radius."""

    centres: np.ndarray
    radius: float
    texture: np.ndarray  # linear RGB, the size of the scene


def make_burst(out_dir: Path, options: SynthOptions) -> dict:
    """Write one burst into ``out_dir/options.name`` and return its truth (as in truth.json)."""
    rng = np.random.default_rng(options.seed)
    folder = Path(out_dir) / options.name
    folder.mkdir(parents=True, exist_ok=True)
    margin = _margin(options)
    camera = random_camera(rng)
    scene = _through_lens(unprocess(_scene_srgb(options, margin, rng), camera), options)
    plan = _frame_plan(options, rng)
    obj = _moving_object(options, scene, margin, rng)
    shot, read = render.noise_levels(rng, options.noise)
    records = [_write_frame(folder, i, scene, obj, plan, options, margin, camera, (shot, read), rng)
               for i in range(options.frames)]
    truth = _truth(options, plan, records, (shot, read))
    _write_truth_arrays(folder, scene, obj, plan, options, margin)
    (folder / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def load_truth(burst_dir: Path) -> dict:
    """truth.json with its arrays loaded (``clean``, ``clean_hr`` when present, ``motion_mask``)."""
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
    frame_px = motion.MAX_SHIFT * options.motion + rotation + options.blur + 4
    return int(math.ceil(frame_px * options.zoom))


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


def _frame_plan(options: SynthOptions, rng: np.random.Generator) -> dict:
    n = options.frames
    lengths = motion.shake_lengths(rng, n, options.blur, options.sharp_margin)
    reference = int(np.argmin(lengths))
    transforms = [np.eye(3) if i == reference else
                  motion.random_affine(rng, options.width, options.height,
                                       shift=motion.MAX_SHIFT * options.motion,
                                       rotation_deg=options.rotation) for i in range(n)]
    return {
        "reference": reference,
        "shutter": int(rng.integers(0, n)),
        "lengths": lengths,
        "kernels": [motion.shake_kernel(rng, float(length) * options.zoom) for length in lengths],
        "transforms": transforms,
        "gains": 1.0 + rng.uniform(-options.exposure_jitter, options.exposure_jitter, n),
    }


def _moving_object(options: SynthOptions, scene: np.ndarray, margin: int,
                   rng: np.random.Generator) -> MovingObject | None:
    if not options.moving_object:
        return None
    zoom = options.zoom
    radius = 0.08 * min(options.width, options.height) * zoom
    start = np.array([rng.uniform(0.3, 0.7) * options.width, rng.uniform(0.3, 0.7) * options.height])
    angle = rng.uniform(0, 2 * math.pi)
    speed = 0.02 * options.width  # frame pixels per frame: far more than the noise can hide
    steps = np.arange(options.frames) - (options.frames - 1) / 2
    centres = (start + np.outer(steps, [math.cos(angle) * speed, math.sin(angle) * speed])) * zoom
    stripes = 0.5 + 0.45 * np.sin(np.arange(scene.shape[1]) * (2 * math.pi / (6 * zoom)))
    colour = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    texture = np.broadcast_to(stripes[None, :, None] * colour, scene.shape).astype(np.float32)
    return MovingObject(centres + margin, radius, texture)


def _disc_alpha(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    """An anti-aliased disc mask (1 inside), float32."""
    mask = np.zeros(shape, np.uint8)
    cv2.circle(mask, (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
               int(round(radius * 16)), 255, -1, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def _scene_at(scene: np.ndarray, obj: MovingObject | None, index: int) -> np.ndarray:
    if obj is None:
        return scene
    alpha = _disc_alpha(scene.shape[:2], obj.centres[index], obj.radius)[..., None]
    return scene * (1 - alpha) + obj.texture * alpha


def _write_frame(folder: Path, index: int, scene: np.ndarray, obj: MovingObject | None,
                 plan: dict, options: SynthOptions, margin: int, camera: CameraModel,
                 noise: tuple[float, float], rng: np.random.Generator) -> dict:
    blurred = motion.blur(_scene_at(scene, obj, index), plan["kernels"][index])
    rgb = render.sample_frame(blurred, plan["transforms"][index], zoom=options.zoom, margin=margin,
                              width=options.width, height=options.height)
    raw = render.add_noise(render.mosaic(rgb * plan["gains"][index], options.cfa), *noise, rng)
    exif = {"capture_time": START + _dt.timedelta(minutes=options.seed, seconds=index / 30),
            "exposure_time": BASE_EXPOSURE * plan["gains"][index], "iso": _iso(noise[0])}
    path = folder / f"frame_{index:03d}.dng"
    write_dng(path, render.quantise(raw, BLACK, WHITE), cfa=options.cfa, black_level=BLACK,
              white_level=WHITE, as_shot_neutral=camera.as_shot_neutral,
              color_matrix=camera.xyz_to_cam, noise_profile=noise, exif=exif)
    return {"file": path.name, "capture_time": exif["capture_time"].isoformat(timespec="milliseconds"),
            "exposure_time": exif["exposure_time"], "iso": exif["iso"]}


def _iso(shot: float) -> int:
    """A nominal ISO for a shot-noise level (ISO 100 at 1e-4; shot noise grows with gain)."""
    return int(round(100 * max(shot, 1e-4) / 1e-4))


def _truth(options: SynthOptions, plan: dict, records: list[dict],
           noise: tuple[float, float]) -> dict:
    frames = []
    for i, record in enumerate(records):
        frames.append({**record, "transform": plan["transforms"][i].tolist(),
                       "blur": {"length_px": float(plan["lengths"][i]),
                                "spread_px": motion.kernel_spread(plan["kernels"][i]) / options.zoom},
                       "exposure_gain": float(plan["gains"][i]),
                       "noise": {"shot": noise[0], "read": noise[1]}})
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()}
    return {"version": 1, "seed": options.seed, "options": opts, "cfa": options.cfa,
            "black_level": BLACK, "white_level": WHITE, "zoom": options.zoom,
            "frame_size": [options.width, options.height], "reference": plan["reference"],
            "shutter": plan["shutter"], "frames": frames}


def _write_truth_arrays(folder: Path, scene: np.ndarray, obj: MovingObject | None, plan: dict,
                        options: SynthOptions, margin: int) -> None:
    ref = plan["reference"]
    seen = _scene_at(scene, obj, ref) * plan["gains"][ref]
    zoom, w, h = options.zoom, options.width, options.height
    hr = np.ascontiguousarray(seen[margin:margin + h * zoom, margin:margin + w * zoom], np.float32)
    np.save(folder / "truth_clean.npy", np.ascontiguousarray(hr[::zoom, ::zoom]))
    if zoom > 1:
        np.save(folder / "truth_clean_hr.npy", hr)
    mask = np.zeros((h, w), bool)
    if obj is not None:
        for centre in obj.centres:
            mask |= _disc_alpha((h, w), (centre - margin) / zoom, obj.radius / zoom + 1) > 0
    np.save(folder / "truth_motion_mask.npy", mask)
