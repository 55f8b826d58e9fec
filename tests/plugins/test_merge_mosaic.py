"""merge.mosaic: the mosaic-domain kernel-regression merge (small synthetic bursts only)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from burst_align import align_global
from burst_decode import decode
from burst_merge import merge_mosaic
from burstcli import Burst, Frame, RawInfo
from burstcli.errors import StageError
from burstlib.synth.api import SynthOptions, load_truth, make_burst
from burstlib.synth.render import mosaic

#: Colour indices into "RGBG" for each 2x2 Bayer pattern (index 3 is the second green).
PATTERNS = {"RGGB": ((0, 1), (3, 2)), "BGGR": ((2, 3), (1, 0)), "GRBG": ((1, 0), (2, 3)),
            "GBRG": ((3, 2), (0, 1))}
CHANNEL = {"R": 0, "G": 1, "B": 2}


def psnr(image: np.ndarray, clean: np.ndarray, region: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((image[region] - clean[region]) ** 2)))


def scene(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """A smooth colour scene (periods of 20-40 px) at continuous positions: H x W x 3."""
    return np.stack([0.5 + 0.2 * np.sin(2 * np.pi * (xs / 29 + ys / 37)),
                     0.5 + 0.2 * np.cos(2 * np.pi * (xs / 23 - ys / 41)),
                     0.4 + 0.2 * np.sin(2 * np.pi * (ys / 31 + 0.3))], axis=-1)


def bayer(rgb: np.ndarray, cfa: str) -> np.ndarray:
    out = np.empty(rgb.shape[:2], np.float32)
    for site, letter in enumerate(cfa):
        dy, dx = divmod(site, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, CHANNEL[letter]]
    return out


def shifted_burst(cfa: str, shifts: list[tuple[float, float]], noise: float, seed: int,
                  size: tuple[int, int] = (96, 128)) -> tuple[Burst, np.ndarray]:
    """Frames of ``scene`` seen shifted by ``shifts`` (frame pixel s shows scene point s + t,
    so each frame's transform to the reference is the translation t), noisy; and the
    reference's clean mosaic. Float mosaics are taken as normalised (0 black, 1 white)."""
    rng = np.random.default_rng(seed)
    raw = RawInfo(cfa_pattern=PATTERNS[cfa], color_desc="RGBG", black_level=(0,) * 4,
                  white_level=1, white_balance=(1.0,) * 4,
                  noise_profile=((0.0, noise ** 2),) if noise > 0 else None)
    ys, xs = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    frames = []
    for index, (tx, ty) in enumerate(shifts):
        clean = bayer(scene(xs + tx, ys + ty), cfa)
        noisy = (clean + rng.normal(0, noise, clean.shape)).astype(np.float32)
        transform = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)
        frames.append(Frame(Path(f"{index}.dng"), pixels=noisy, layout="cfa", raw=raw,
                            transform=transform))
    truth = bayer(scene(xs, ys), cfa)
    return Burst("b", tuple(frames), reference=0), truth


SHIFTS = [(0.0, 0.0), (0.5, 0.25), (-0.7, 1.1), (1.3, -0.4), (0.2, -1.6), (-1.1, -0.8)]
INNER = np.s_[6:-6, 6:-6]


@pytest.mark.parametrize("cfa", sorted(PATTERNS))
def test_noise_free_shifted_copies_land_where_their_transforms_put_them(cfa):
    """Every frame's samples are placed by its transform: the merge of exact, shifted samples
    of a smooth scene is that scene; with the shifts' signs wrong it is far off (robustness
    off: it would fade out the misplaced frames)."""
    params = merge_mosaic.params_type(spatial=0.0, threshold=1e6)
    burst, truth = shifted_burst(cfa, SHIFTS, 0.0, seed=1)
    merged = merge_mosaic(burst, params).image
    error = float(np.sqrt(np.mean((merged - truth)[INNER] ** 2)))
    wrong, _ = shifted_burst(cfa, [(-x, -y) for x, y in SHIFTS], 0.0, seed=1)
    wrong = wrong.with_frames([f.replace(transform=g.transform) for f, g in
                               zip(wrong.frames, burst.frames)])
    wrong_error = float(np.sqrt(np.mean((merge_mosaic(wrong, params).image - truth)[INNER] ** 2)))
    assert error < 0.01
    assert wrong_error > 3 * error


def test_merge_of_noisy_shifted_copies_is_closer_to_the_truth_than_the_reference():
    burst, truth = shifted_burst("RGGB", SHIFTS, 0.03, seed=2)
    reference = burst.frames[0].pixels
    inner = np.zeros(truth.shape, bool)
    inner[INNER] = True
    base = psnr(reference, truth, inner)
    merged = merge_mosaic(burst, merge_mosaic.params_type(spatial=0.0))
    assert merged.image.shape == reference.shape and merged.image.dtype == np.float32
    assert merged.image_layout == "cfa"
    assert psnr(merged.image, truth, inner) > base + 4.0  # 6 frames: at most 7.8 dB
    shrunk = merge_mosaic(burst, merge_mosaic.params_type()).image
    assert psnr(shrunk, truth, inner) > psnr(merged.image, truth, inner)
    assert all(w > 0.8 for w in merged.notes["merge.mosaic"]["mean_weight"].values())


def registered(tmp_path: Path, **options) -> tuple[Burst, dict]:
    opts = SynthOptions(frames=5, width=320, height=240, blur=0.0, sharp_margin=0.0, **options)
    make_burst(tmp_path, opts)
    truth = load_truth(tmp_path / opts.name)
    files = sorted((tmp_path / opts.name).glob("*.dng"))
    burst = decode(Burst("b", tuple(Frame(f) for f in files)), decode.params_type())
    burst = burst.replace(reference=truth["reference"])
    return align_global(burst, align_global.params_type()), truth


def test_a_moving_object_comes_from_the_reference_alone(tmp_path):
    burst, truth = registered(tmp_path, noise="high", moving_object=True, seed=22)
    clean = mosaic(truth["clean"], "RGGB")
    inner = np.zeros(clean.shape, bool)
    inner[12:-12, 12:-12] = True
    moving, static = inner & truth["motion_mask"], inner & ~truth["motion_mask"]
    assert moving.sum() > 500  # the object is there to be ghosted
    reference = (burst.reference_frame.pixels.astype(np.float32) - 256) / (4095 - 256)
    params = merge_mosaic.params_type()
    merged = merge_mosaic(burst, params).image
    assert psnr(merged, clean, static) > psnr(reference, clean, static) + 2.0
    assert psnr(merged, clean, moving) > psnr(reference, clean, moving) - 0.5
    # Without the robustness test the same merge smears the object: the test is not idle.
    careless = merge_mosaic(burst, dataclasses.replace(params, threshold=1e6)).image
    assert psnr(careless, clean, moving) < psnr(merged, clean, moving) - 2.0


def test_rgb_bursts_are_refused():
    frames = tuple(Frame(Path(f"{i}.png"), pixels=np.zeros((8, 8, 3), np.uint8), layout="rgb",
                         transform=np.eye(3)) for i in range(2))
    with pytest.raises(StageError, match="RAW"):
        merge_mosaic(Burst("b", frames, reference=0), merge_mosaic.params_type())
