"""align.global on small windows, moving objects, untrustworthy frames and every pixel format.

Bursts are made here from procedural textures (smoothed random noise at several scales): each
frame is the texture warped by a known transform at twice the frame's resolution, then
box-downsampled (INTER_AREA: small frames alias, as a sensor's do), then noisy.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from burst_align import align_global
from burstlib.registration.verify import implausibility
from burstcli import Burst, Frame
from burstcli.model import RawInfo

FINE = 2  # the texture is warped at this many times the frame's resolution


def texture(size: int, seed: int, scales: tuple[float, ...] = (0.7, 1.5, 3.0, 6.0)) -> np.ndarray:
    """A float32 texture in [0.1, 0.9]: smoothed random noise at several scales (px of the
    fine grid), every scale with the same contrast."""
    rng = np.random.default_rng(seed)
    out = np.zeros((size, size), np.float32)
    for scale in scales:
        layer = cv2.GaussianBlur(rng.normal(size=(size, size)).astype(np.float32), (0, 0), scale)
        out += layer / layer.std()
    out = (out - out.min()) / np.ptp(out)
    return 0.1 + 0.8 * out


def rotation(degrees: float, shift: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """A frame -> reference transform: a rotation about the frame's centre, then a shift."""
    h, w = shape
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    centre = np.array([[1, 0, (w - 1) / 2], [0, 1, (h - 1) / 2], [0, 0, 1.0]])
    turn = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1.0]]) @ centre @ turn @ \
        np.linalg.inv(centre)


def render(scene: np.ndarray, truth: np.ndarray, shape: tuple[int, int],
           patch: tuple[np.ndarray, tuple[float, float]] | None = None) -> np.ndarray:
    """The frame that sees ``scene`` (FINE times finer, frame (0, 0) at scene (8, 8) * FINE)
    through ``truth`` (frame -> reference), with an optional textured ``patch`` at a frame
    position (what moves on its own), box-downsampled to ``shape``."""
    h, w = shape
    offset = 0.5 * FINE - 0.5
    scale = np.array([[FINE, 0, offset], [0, FINE, offset], [0, 0, 1.0]])
    crop = np.array([[1, 0, 8 * FINE], [0, 1, 8 * FINE], [0, 0, 1.0]])
    fine = cv2.warpPerspective(scene, crop @ scale @ truth @ np.linalg.inv(scale),
                               (w * FINE, h * FINE), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
    if patch is not None:
        image, (x, y) = patch
        ph, pw = image.shape
        top, left = int(y * FINE), int(x * FINE)
        fine[top:top + ph, left:left + pw] = image
    return cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA)


def burst_of(images: list[np.ndarray], layout: str = "gray", raw: RawInfo | None = None) -> Burst:
    frames = tuple(Frame(Path(f"f{i:03d}.tif"), pixels=p, layout=layout, raw=raw)
                   for i, p in enumerate(images))
    return Burst("test", frames, reference=0)


def errors(found: np.ndarray, truth: np.ndarray, shape: tuple[int, int],
           skip: np.ndarray | None = None) -> np.ndarray:
    """Distances (frame px) between where ``found`` and ``truth`` put the frame position of
    a grid of reference pixels (those not in ``skip``, a reference-grid mask)."""
    h, w = shape
    ys, xs = np.mgrid[2:h - 2:2, 2:w - 2:2].astype(np.float64)
    if skip is not None:
        keep = ~skip[ys.astype(int), xs.astype(int)]
        xs, ys = xs[keep], ys[keep]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    a, b = np.linalg.inv(found) @ points, np.linalg.inv(truth) @ points
    return np.hypot(*(a[:2] / a[2] - b[:2] / b[2]))


def rms(values: list[np.ndarray]) -> float:
    return float(np.sqrt(np.mean(np.concatenate(values) ** 2)))


def noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape).astype(np.float32), 0, 1)


MOTIONS = [(0.0, (1.3, -0.6)), (0.6, (-2.2, 1.7)), (-0.8, (0.4, 2.9)), (0.3, (-3.1, -1.4))]


@pytest.mark.parametrize("size", [48, 64])
def test_small_windows_register_to_a_twentieth_of_a_pixel(size):
    """Where SIFT finds too few features (it dropped frames here and registered others 0.5
    px off), phase correlation starts and the direct fit finishes: light noise, aliased."""
    rng = np.random.default_rng(size)
    scene = texture((size + 16) * FINE, seed=size)
    truths = [np.eye(3)] + [rotation(d, t, (size, size)) for d, t in MOTIONS]
    images = [noisy(render(scene, t, (size, size)), 0.005, rng) for t in truths]
    out = align_global(burst_of(images), align_global.params_type())
    assert out.active_indices == tuple(range(5)) and not out.warnings
    found = [errors(f.transform, t, (size, size)) for f, t in zip(out.frames[1:], truths[1:])]
    assert rms(found) < 0.05 and max(e.max() for e in found) < 0.15


def test_a_textured_moving_object_does_not_pull_the_fit():
    """A high-contrast object covering 15 % of a smoother scene crosses the frame: the
    object's pixels get no weight, the scene's registration stays sub-pixel."""
    size, rng = 96, np.random.default_rng(3)
    scene = texture((size + 16) * FINE, seed=3, scales=(2.0, 4.0, 8.0))
    scene = 0.3 + 0.4 * scene  # lower contrast than the object
    side = int(np.sqrt(0.15) * size) * FINE
    blob = texture(side, seed=4, scales=(0.7, 1.5))
    truths = [np.eye(3)] + [rotation(d, t, (size, size)) for d, t in MOTIONS]
    corners = [(4 + 12 * i, 30 + 3 * i) for i in range(5)]
    images = [noisy(render(scene, t, (size, size), (blob, c)), 0.005, rng)
              for t, c in zip(truths, corners)]
    out = align_global(burst_of(images), align_global.params_type())
    assert len(out.active_indices) == 5
    mask = np.zeros((size, size), bool)  # every place the object is in any frame (approx.)
    for x, y in corners:
        mask[int(y) - 4:int(y) + side // FINE + 4, int(x) - 4:int(x) + side // FINE + 4] = True
    found = [errors(f.transform, t, (size, size), mask) for f, t in zip(out.frames[1:], truths[1:])]
    assert rms(found) < 0.1 and max(e.max() for e in found) < 0.3


def test_untrustworthy_frames_are_dropped_with_one_warning():
    """An unrelated frame and a frame zoomed 1.6x (no hand-held burst does that) leave the
    merge; the burst gets one warning naming both, not one line per frame."""
    size, rng = 64, np.random.default_rng(5)
    scene = texture((size + 16) * FINE, seed=5)
    truths = [np.eye(3), rotation(0.4, (1.2, -0.7), (size, size)), np.eye(3),
              np.diag([1.6, 1.6, 1.0]), rotation(-0.3, (-1.5, 2.2), (size, size))]
    images = [noisy(render(scene, t, (size, size)), 0.005, rng) for t in truths]
    images[2] = noisy(render(texture((size + 16) * FINE, seed=99), np.eye(3), (size, size)),
                      0.005, rng)
    out = align_global(burst_of(images), align_global.params_type())
    assert out.active_indices == (0, 1, 4)
    assert len(out.warnings) == 1
    assert "2 of 5 frames" in out.warnings[0]
    assert "f002.tif" in out.warnings[0] and "f003.tif" in out.warnings[0]
    assert out.notes["align.global"]["dropped"] == [2, 3]
    for index in (1, 4):
        assert errors(out.frames[index].transform, truths[index], (size, size)).max() < 0.15


def test_degenerate_and_implausible_transforms_are_recognised():
    """The homography a 64 x 48 frame was once accepted with (it filled a merge with NaN),
    and its milder cousins."""
    degenerate = np.array([[-7.37, 20.4, -315.7], [1.23, 30.5, -769.2], [-0.148, 0.464, -6.73]])
    assert implausibility(degenerate, (48, 64))
    assert implausibility(np.diag([1.4, 1.4, 1.0]), (48, 64)).startswith("scale")
    assert implausibility(np.array([[1, 0.3, 0], [0, 1, 0], [0, 0, 1.0]]), (48, 64))
    assert implausibility(np.array([[1, 0, 0], [0, 1, 0], [0.004, 0, 1.0]]), (48, 64))
    assert implausibility(np.array([[1, 0, 40], [0, 1, 0], [0, 0, 1.0]]), (48, 64)) == \
        "too little overlap"
    assert implausibility(np.full((3, 3), np.nan), (48, 64))
    assert implausibility(rotation(1.0, (2.0, -1.0), (48, 64)), (48, 64)) == ""


def test_a_burst_of_many_tiny_frames_warns_once():
    """64 x 48 frames, a fifth of them noise only: one warning line, the rest registered
    (once: 63 lines for a 200-frame burst, and a degenerate fit merged)."""
    rng = np.random.default_rng(7)
    scene = texture(80 * FINE, seed=7)
    truths, images = [], []
    for index in range(15):
        truth = np.eye(3) if index == 0 else rotation(rng.uniform(-0.5, 0.5), tuple(
            rng.uniform(-2, 2, 2)), (48, 64))
        image = render(scene, truth, (48, 64))
        if index % 5 == 4:
            image = rng.uniform(0.1, 0.9, image.shape).astype(np.float32)
        truths.append(truth)
        images.append(noisy(image, 0.005, rng))
    out = align_global(burst_of(images), align_global.params_type())
    assert len(out.warnings) == 1 and "3 of 15 frames" in out.warnings[0]
    assert set(out.notes["align.global"]["dropped"]) == {4, 9, 14}
    kept = [i for i in out.active_indices if i]
    found = [errors(out.frames[i].transform, truths[i], (48, 64)) for i in kept]
    assert np.all(np.isfinite(np.concatenate(found))) and rms(found) < 0.1


def test_16_bit_8_bit_and_mosaic_frames():
    """uint16 RGB, uint8 grey and a 12-bit RGGB mosaic (registered on its 2x2-cell proxy, the
    transform in sensor pixels) all come out sub-pixel."""
    rng = np.random.default_rng(11)
    size = 96
    scene = texture((size + 16) * FINE, seed=11)
    truths = [np.eye(3)] + [rotation(d, t, (size, size)) for d, t in MOTIONS[1:]]
    clean = [render(scene, t, (size, size)) for t in truths]
    rgb16 = [np.rint(np.dstack([noisy(c, 0.005, rng)] * 3) * 65535).astype(np.uint16)
             for c in clean]
    grey8 = [np.rint(noisy(c, 0.005, rng) * 255).astype(np.uint8) for c in clean]
    for images, layout in ((rgb16, "rgb"), (grey8, "gray")):
        out = align_global(burst_of(images, layout), align_global.params_type())
        found = [errors(f.transform, t, (size, size)) for f, t in zip(out.frames[1:], truths[1:])]
        assert len(out.active_indices) == 4 and rms(found) < 0.06, layout
    sensor = 2 * size  # the mosaic's own pixels: the truth is in them
    scene = texture((sensor + 16) * FINE, seed=12)
    truths = [np.eye(3)] + [rotation(d, (2 * t[0], 2 * t[1]), (sensor, sensor))
                            for d, t in MOTIONS[1:]]
    raw = RawInfo(((0, 1), (3, 2)), "RGBG", (256.0,) * 4, 4095.0, (2.0, 1.0, 1.5, 1.0))
    mosaics = [np.rint(256 + noisy(render(scene, t, (sensor, sensor)), 0.005, rng) * 3839)
               .astype(np.uint16) for t in truths]
    out = align_global(burst_of(mosaics, "cfa", raw), align_global.params_type())
    found = [errors(f.transform, t, (sensor, sensor)) for f, t in zip(out.frames[1:], truths[1:])]
    assert len(out.active_indices) == 4 and rms(found) < 0.12  # 0.06 proxy pixels


def test_real_photographs_as_small_aliased_windows(shared_data):
    """64 px windows of Kodak photographs, box-downsampled 4x (aliased like the x4 zoom's
    windows): registered within a tenth of a pixel, no frame dropped."""
    rng = np.random.default_rng(13)
    found = []
    for path in sorted((shared_data / "kodak24").glob("*.png"))[:2]:
        photo = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        size, factor = 64, 4
        offset = 0.5 * factor - 0.5
        scale = np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1.0]])
        crop = np.array([[1, 0, 100], [0, 1, 100], [0, 0, 1.0]])
        truths = [np.eye(3)] + [rotation(d, t, (size, size)) for d, t in MOTIONS]
        images = []
        for t in truths:
            fine = cv2.warpPerspective(photo, crop @ scale @ t @ np.linalg.inv(scale),
                                       (size * factor, size * factor),
                                       flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
            images.append(noisy(cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA),
                                0.005, rng))
        out = align_global(burst_of(images), align_global.params_type())
        assert len(out.active_indices) == 5, path.name
        found += [errors(f.transform, t, (size, size)) for f, t in zip(out.frames[1:], truths[1:])]
    assert rms(found) < 0.1
