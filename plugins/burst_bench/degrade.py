"""Benchmark bursts made by code that no stage was tuned on, with their truth.

Written apart from ``burst synth`` on purpose (other motion, noise, sampling and file kinds):
a stage tuned to one generator loses to a plain aligned mean on bursts made elsewhere.

Every burst is drawn from wide ranges: frames 4-16, frame sizes log-uniform over the asked
range, noise from nearly none to heavy (Gaussian on the stored values without a profile for
RGB files; shot + read on the linear sensor values for DNG, with a NoiseProfile tag or
without), motion from pure translation to rotation and perspective, textured or flat scenes,
lens blur from none to soft, an optional textured object moving across, and four file kinds: Bayer DNG, 16-bit TIFF,
8-bit PNG and 8-bit JPEG.

Geometry: the scene is rendered at ``fine`` times the frame resolution (2, or the zoom's
scale for zoom bursts) and each frame is the scene warped (bicubic) then area-averaged over
``fine`` x ``fine`` pixels, so frames are sampled by a pixel-sized box like a sensor's (and,
at a zoom's scale, aliased like one). ``transform[i]`` maps scene pixels (frame units) to frame
i's pixels (x = column); a frame pixel x is fine pixel ``fine * x + (fine - 1) / 2``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import tifffile

from burstlib.colour import srgb_decode, srgb_encode
from burstlib.synth.shake import FRACTIONS, shake_trajectory, trajectory_kernel

from .scenes import read_srgb, scene_canvas

KINDS = ("dng", "tiff16", "png8", "jpeg8")
NOISE_BANDS = ("none", "light", "moderate", "heavy")
#: Gaussian sigma on the stored (sRGB-encoded) values of RGB files, per band.
SIGMA = {"none": (0.0005, 0.002), "light": (0.004, 0.012), "moderate": (0.015, 0.035),
         "heavy": (0.04, 0.08)}
#: Shot coefficient on linear sensor values in [0, 1] (variance = shot x + read), per band.
SHOT = {"none": (2e-6, 1e-5), "light": (1e-4, 6e-4), "moderate": (1e-3, 4e-3),
        "heavy": (6e-3, 2e-2)}
MOTIONS = ("translation", "rotation", "perspective")
BLACK, WHITE = 512, 16383  # a 14-bit sensor


def to_fine(fine: int) -> np.ndarray:
    """Frame pixel -> fine pixel (the centre of its fine x fine box)."""
    offset = (fine - 1) / 2
    return np.array([[fine, 0.0, offset], [0.0, fine, offset], [0.0, 0.0, 1.0]])


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one benchmark burst is made (all drawn by :func:`draw_recipe`)."""

    name: str
    kind: str
    source: str
    image: Path
    frames: int
    width: int
    height: int
    band: str
    noise: float  # sigma (RGB kinds) or shot coefficient (DNG)
    profile: bool  # DNG: NoiseProfile tag written
    motion: str
    shift: float  # largest translation, frame px
    rotation: float  # largest rotation, degrees
    moving_object: bool
    object_share: float
    flat: bool
    optics: float  # Gaussian lens blur sigma, frame px (0: the box of the pixel alone)
    quality: int  # JPEG quality
    seed: int
    scale: int = 1  # zoom bursts: the truth is kept at this many times the frame resolution
    shake: float = 0.0  # camera shake: each frame's trajectory up to this long (frame px)

    @property
    def fine(self) -> int:
        """The scene's resolution over the frames'."""
        return 2 if self.scale == 1 else self.scale


def draw_recipe(rng: np.random.Generator, index: int, kind: str, band: str,
                sources: dict[str, list[Path]], sizes: tuple[int, int],
                moving: bool | None = None, scale: int = 1, shake: float = 0.0) -> Recipe:
    """One burst's recipe, every free parameter drawn over its range."""
    source = list(sources)[int(rng.integers(len(sources)))]
    image = sources[source][int(rng.integers(len(sources[source])))]
    side = int(round(math.exp(rng.uniform(math.log(sizes[0]), math.log(sizes[1])))))
    aspect = rng.choice([1.0, 4 / 3, 3 / 2])
    width, height = _even(side * aspect), _even(side)
    lo, hi = (SHOT if kind == "dng" else SIGMA)[band]
    motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
    return Recipe(
        name=f"{kind}_{band}_{index:03d}", kind=kind, source=source, image=image,
        frames=int(rng.integers(4, 17)), width=width, height=height, band=band,
        noise=float(math.exp(rng.uniform(math.log(lo), math.log(hi)))),
        profile=bool(rng.random() < 0.7), motion=motion,
        shift=float(rng.uniform(1.0, 6.0)),
        rotation=float(rng.uniform(0.2, 1.5)) if motion != "translation" else 0.0,
        moving_object=bool(rng.random() < 0.4) if moving is None else moving,
        object_share=float(rng.uniform(0.03, 0.15)), flat=bool(rng.random() < 0.2),
        optics=float(rng.uniform(0.0, 0.8)),
        quality=int(rng.integers(85, 98)), seed=int(rng.integers(2**31)), scale=scale,
        shake=shake)


def _even(value: float) -> int:
    return max(16, int(round(value / 2)) * 2)


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A written burst: its files, clean frames (sRGB-encoded RGB in [0, 1], what a perfect
    development of each frame shows; light was integrated in linear light, then encoded),
    transforms (scene -> frame) and where the moving object is in each frame (bool, frame
    geometry; all False without one). Zoom bursts also keep each frame's clean view at
    ``recipe.scale`` times its resolution (``clean_hr``)."""

    recipe: Recipe
    files: tuple[Path, ...]
    clean: tuple[np.ndarray, ...]
    transforms: tuple[np.ndarray, ...]
    object_masks: tuple[np.ndarray, ...]
    clean_hr: tuple[np.ndarray, ...] = ()

    def frame_to_frame(self, moving: int, reference: int) -> np.ndarray:
        """The true transform from frame ``moving``'s pixels to frame ``reference``'s."""
        return self.transforms[reference] @ np.linalg.inv(self.transforms[moving])

    def motion_mask(self, reference: int) -> np.ndarray:
        """Where the object is, in any frame, seen in ``reference``'s geometry."""
        shape = self.clean[reference].shape[:2]
        union = np.zeros(shape, bool)
        for index, mask in enumerate(self.object_masks):
            if mask.any():
                warped = cv2.warpPerspective(mask.astype(np.float32),
                                             self.frame_to_frame(index, reference),
                                             (shape[1], shape[0]), flags=cv2.INTER_LINEAR)
                union |= warped > 0.01
        return union


def render(recipe: Recipe, folder: Path, sources: dict[str, list[Path]]) -> Rendered:
    """Make the burst's frames and write them into ``folder`` as ``recipe.kind`` files."""
    rng = np.random.default_rng(recipe.seed)
    margin = int(math.ceil(recipe.shift + math.radians(recipe.rotation) * max(
        recipe.width, recipe.height) / 2 + 4))
    scene_size = (recipe.width + 2 * margin, recipe.height + 2 * margin)
    fine = recipe.fine
    scene = scene_canvas(read_srgb(recipe.image), (fine * scene_size[0], fine * scene_size[1]),
                         recipe.flat, rng)
    scene = srgb_decode(scene).astype(np.float32)  # photographs are stored encoded
    if recipe.optics > 0.05:  # the lens, in the scene's fine pixels
        scene = cv2.GaussianBlur(scene, (0, 0), fine * recipe.optics)
    mover = _moving_object(recipe, scene, sources, rng) if recipe.moving_object else None
    folder.mkdir(parents=True, exist_ok=True)
    files, clean, transforms, masks, clean_hr = [], [], [], [], []
    for index in range(recipe.frames):
        transform = _frame_motion(recipe, margin, rng)
        frame_scene, object_mask = _with_object(scene, mover, index)
        view = _view(frame_scene, transform, recipe)
        linear = _box(view, recipe)  # the sensor integrates light, not its encoding
        mask = _box(_view(object_mask, transform, recipe), recipe) > 0.01 if mover else np.zeros(
            linear.shape[:2], bool)
        recorded = _shaken(linear, recipe, index)
        files.append(_write(folder / f"frame_{index:03d}", recorded, recipe, rng))
        clean.append(srgb_encode(linear))
        transforms.append(transform)
        masks.append(mask)
        if recipe.scale > 1:
            clean_hr.append(srgb_encode(np.clip(view, 0.0, 1.0)))
    return Rendered(recipe, tuple(files), tuple(clean), tuple(transforms), tuple(masks),
                    tuple(clean_hr))


def _shaken(linear: np.ndarray, recipe: Recipe, index: int) -> np.ndarray:
    """The frame as the shaking camera records it (its truth stays the still view): a
    Boracchi-Foi trajectory of length U(0, shake) over a random part of the exposure, drawn
    from a stream of its own, so bursts without shake are the same as before it existed."""
    if recipe.shake <= 0:
        return linear
    rng = np.random.default_rng([recipe.seed, 7919, index])
    kernel = trajectory_kernel(shake_trajectory(rng, float(rng.uniform(0.0, recipe.shake))),
                               FRACTIONS[int(rng.integers(len(FRACTIONS)))])
    return cv2.filter2D(linear, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT)


def _frame_motion(recipe: Recipe, margin: int, rng: np.random.Generator) -> np.ndarray:
    """Scene -> frame pixels: the margin, then a hand's shift, turn and tilt about the centre."""
    cx, cy = recipe.width / 2, recipe.height / 2
    dx, dy = rng.uniform(-recipe.shift, recipe.shift, 2)
    angle = math.radians(rng.uniform(-recipe.rotation, recipe.rotation))
    cos, sin = math.cos(angle), math.sin(angle)
    turn = np.array([[cos, -sin, cx - cos * cx + sin * cy],
                     [sin, cos, cy - sin * cx - cos * cy], [0, 0, 1]])
    tilt = np.eye(3)
    if recipe.motion == "perspective":  # corners move by up to ~1.5 px
        tilt[2, :2] = rng.uniform(-1, 1, 2) * 6.0 / np.array([recipe.width, recipe.height]) ** 2
        tilt = _about(tilt, cx, cy)
    shift = np.array([[1, 0, dx - margin], [0, 1, dy - margin], [0, 0, 1]])
    return tilt @ turn @ shift


def _about(matrix: np.ndarray, cx: float, cy: float) -> np.ndarray:
    move = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], float)
    return move @ matrix @ np.linalg.inv(move)


def _view(scene: np.ndarray, transform: np.ndarray, recipe: Recipe) -> np.ndarray:
    """The frame's view at the scene's fine resolution: the scene warped by the transform."""
    fine = to_fine(recipe.fine)
    warp = fine @ transform @ np.linalg.inv(fine)
    return cv2.warpPerspective(scene, warp, (recipe.fine * recipe.width, recipe.fine * recipe.height),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _box(view: np.ndarray, recipe: Recipe) -> np.ndarray:
    """What the sensor records of a fine view: the mean of each pixel's fine x fine box."""
    return np.clip(cv2.resize(view, (recipe.width, recipe.height), interpolation=cv2.INTER_AREA),
                   0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class _Mover:
    patch: np.ndarray  # RGB, fine scene pixels
    alpha: np.ndarray  # soft ellipse, same size
    start: tuple[float, float]  # top-left in fine scene pixels
    step: tuple[float, float]  # per frame, fine scene pixels


def _moving_object(recipe: Recipe, scene: np.ndarray, sources: dict[str, list[Path]],
                   rng: np.random.Generator) -> _Mover:
    """A textured ellipse cut from another photograph, crossing the scene at 2-6 px a frame."""
    files = [f for files in sources.values() for f in files if f != recipe.image]
    other = read_srgb(files[int(rng.integers(len(files)))])
    fine = recipe.fine
    area = recipe.object_share * recipe.width * recipe.height * fine ** 2
    ph = int(math.sqrt(area / 1.3))
    pw = int(ph * 1.3)
    patch = srgb_decode(scene_canvas(other, (max(pw, 4), max(ph, 4)), False, rng)).astype(
        np.float32)
    yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]]
    ellipse = ((xx - pw / 2) / (pw / 2)) ** 2 + ((yy - ph / 2) / (ph / 2)) ** 2
    alpha = np.clip((1.0 - ellipse) * 4, 0, 1).astype(np.float32)
    # 2-6 px a frame, but never sweeping more than 40 % of the frame over the burst.
    speed = min(rng.uniform(2.0, 6.0), 0.4 * min(recipe.width, recipe.height) / max(
        recipe.frames - 1, 1)) * fine
    heading = rng.uniform(0, 2 * math.pi)
    travel = speed * (recipe.frames - 1)
    sh, sw = scene.shape[:2]
    cx = rng.uniform(0.3, 0.7) * sw - math.cos(heading) * travel / 2 - pw / 2
    cy = rng.uniform(0.3, 0.7) * sh - math.sin(heading) * travel / 2 - ph / 2
    return _Mover(patch, alpha, (cx, cy), (speed * math.cos(heading), speed * math.sin(heading)))


def _with_object(scene: np.ndarray, mover: _Mover | None, index: int) -> tuple[
        np.ndarray, np.ndarray]:
    """The scene with the object at its place in frame ``index``, and the object's alpha."""
    if mover is None:
        return scene, np.zeros(scene.shape[:2], np.float32)
    x = mover.start[0] + mover.step[0] * index
    y = mover.start[1] + mover.step[1] * index
    place = np.array([[1, 0, x], [0, 1, y]], np.float32)  # sub-pixel placement
    size = (scene.shape[1], scene.shape[0])
    alpha = cv2.warpAffine(mover.alpha, place, size, flags=cv2.INTER_LINEAR)
    patch = cv2.warpAffine(mover.patch, place, size, flags=cv2.INTER_LINEAR)
    return scene * (1 - alpha[..., None]) + patch * alpha[..., None], alpha


def _write(stem: Path, linear: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> Path:
    """A frame's file: RAW keeps linear light; the others are sRGB-encoded, then noisy."""
    if recipe.kind == "dng":
        return _write_dng(stem.with_suffix(".dng"), linear, recipe, rng)
    clean = srgb_encode(linear)
    noisy = np.clip(clean + rng.normal(0.0, recipe.noise, clean.shape), 0.0, 1.0)
    if recipe.kind == "tiff16":
        path = stem.with_suffix(".tiff")
        tifffile.imwrite(path, np.round(noisy * 65535).astype(np.uint16), photometric="rgb")
        return path
    bgr = cv2.cvtColor(np.round(noisy * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    if recipe.kind == "png8":
        path = stem.with_suffix(".png")
        cv2.imwrite(str(path), bgr)
    else:
        path = stem.with_suffix(".jpg")
        cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, recipe.quality])
    return path


#: White-balance gains a camera's raw needs (red, blue), drawn per burst from the usual range.
def _gains(rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.uniform(1.9, 2.4), 1.0, rng.uniform(1.5, 1.9)])


def _write_dng(path: Path, linear: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> Path:
    """A Bayer DNG of a camera whose raw space is linear sRGB divided by its white balance:
    developed with the as-shot neutral and no further matrix, its clean frame is ``linear``."""
    from burstlib.dng import write_dng  # the DNG writer is tested against rawpy there

    gains = _gains(np.random.default_rng(recipe.seed))  # one camera per burst
    camera = linear / gains
    pattern = ("RGGB", "BGGR", "GRBG", "GBRG")[recipe.seed % 4]
    channel = {"R": 0, "G": 1, "B": 2}
    mosaic = np.empty(camera.shape[:2], np.float64)
    for site, letter in enumerate(pattern):
        dy, dx = divmod(site, 2)
        mosaic[dy::2, dx::2] = camera[dy::2, dx::2, channel[letter]]
    # The published recipe's read noise: log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26).
    read = recipe.noise ** 2.18 * math.exp(1.2 + rng.normal(0, 0.26))
    variance = recipe.noise * mosaic + read
    noisy = mosaic + rng.normal(0.0, 1.0, mosaic.shape) * np.sqrt(variance)
    values = np.clip(np.round(BLACK + noisy * (WHITE - BLACK)), 0, WHITE).astype(np.uint16)
    write_dng(path, values, cfa=pattern, black_level=BLACK, white_level=WHITE,
              as_shot_neutral=tuple(1.0 / gains),
              noise_profile=(recipe.noise, read) if recipe.profile else None)
    return path
