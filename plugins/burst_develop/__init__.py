"""The ``develop`` stage: RAW sensor data to an RGB image (white balance, demosaic, colour);
and ``-f dng`` (:mod:`.dngout`), which writes a RAW burst's result as it was before
developing, or with the development undone."""

from __future__ import annotations

import dataclasses
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import cv2
import numpy as np
import rawpy

from burstcli import Burst, Development, Frame, NoParams, RawInfo, hookimpl, param, stage
from burstcli.errors import StageError
from burstcli.model import Layout
from burstcli.profiling import frame_timer, return_free_memory
from burstcli.writers import Writer
from burstlib.arrays import cfa_site_indices, normalize_raw, pixels_of
from burstlib.spill import release, spilled

from .balance import white_balance_gains
from .dngout import check_raw_files, write_dng
from .libraw import ALGORITHMS, libraw_demosaic
from .vng import vng_demosaic

#: OpenCV names its Bayer codes after the 2x2 block that starts at row 1, column 1, not at the
#: origin: an RGGB sensor is OpenCV's "BG". The tests check all four with a known colour.
BAYER_CODES = {
    "RGGB": cv2.COLOR_BayerBG2RGB, "BGGR": cv2.COLOR_BayerRG2RGB,
    "GRBG": cv2.COLOR_BayerGB2RGB, "GBRG": cv2.COLOR_BayerGR2RGB,
}
EDGE_AWARE = {  # the same patterns, edge-aware interpolation
    "RGGB": cv2.COLOR_BayerBG2RGB_EA, "BGGR": cv2.COLOR_BayerRG2RGB_EA,
    "GRBG": cv2.COLOR_BayerGB2RGB_EA, "GBRG": cv2.COLOR_BayerGR2RGB_EA,
}


Demosaic = Literal["ahd", "aahd", "dht", "dcb", "ppg", "libraw-vng", "bilinear", "vng", "ea"]


@dataclasses.dataclass(frozen=True)
class DevelopParams:
    demosaic: Demosaic = param(
        "ahd", "Bayer interpolation. LibRaw's ahd (adaptive homogeneity-directed), aahd "
               "(0.2-0.9 dB better than ahd, ~2x slower), dht, dcb, ppg (fast) or libraw-vng; "
               "OpenCV's bilinear or ea (edge-aware, the former default: 3-7 dB worse than "
               "ahd); or this plugin's vng")
    output: Literal["srgb", "linear"] = param(
        "srgb", "srgb: the sRGB transfer curve for viewing; linear: scene-linear values")
    white_balance: Literal["camera", "none"] = param(
        "camera", "camera: the as-shot multipliers from the file; none: raw sensor balance")


@dataclasses.dataclass(frozen=True)
class FramesParams(DevelopParams):
    others: Literal[Demosaic, "same"] = param(
        "same", "Bayer interpolation of the frames other than the reference ('same': "
                "demosaic's). A merge averages their interpolation errors, which fall "
                "elsewhere in each frame: ppg there costs a third of ahd's time and measured "
                "the same after denoise's merge on static bursts, up to 0.5 dB less on "
                "moving ones at moderate noise")
    memory_mb: int = param(
        1024, "when the developed frames would take more than this many MB in all, they are "
              "kept in a temporary file, memory-mapped, not in memory (10 x 48 MP frames are "
              "2.9 GB; the file goes to BURST_SPILL_DIR or the system's temporary folder: a "
              "disk, not a tmpfs); 0: always in memory", low=0)


@stage("develop", DevelopParams, needs=("pixels",), provides=())
def develop(burst: Burst, params: DevelopParams) -> Burst:
    """Turn RAW sensor data into an RGB image; leave RGB images exactly as they are.

    Works on the chain's product (the merged image, or else the reference frame). For a
    Bayer mosaic: black and white levels per CFA site, the as-shot white balance (normalised to
    green, clipped), demosaicking, the camera-to-sRGB matrix when the file carries one
    (camera-from-XYZ combined with XYZ-to-sRGB D65, rows normalised so white stays white:
    LibRaw's ``rgb_cam``), clipping to [0, 1] and the sRGB curve (or linear output). A
    LinearRaw DNG skips demosaicking.
    Other patterns (X-Trans): when the product is still the reference frame as decoded,
    LibRaw develops its file (16-bit, camera white balance, linear, then the same output
    curve); a processed X-Trans mosaic is an error.

    Demosaicking is LibRaw's AHD by default: on noise-free mosaics of real photographs
    (kodak24, mcmaster18, b100; benchmarks/demosaic_quality.py) it beats OpenCV's edge-aware
    interpolation, the former default, by 3 to 7 dB PSNR in linear light and in sRGB. It costs
    about 1.6 s of CPU more per 12 MP frame (2 s for the whole stage; LibRaw uses two cores);
    AAHD is better still by 0.2-0.9 dB at twice its cost; PPG up to 1.5 dB worse at a third.
    The mosaic (an array: a merge or a crop is no file's content) reaches LibRaw as an
    in-memory DNG, as square roots (better than the values themselves by 0.3-1.3 dB in linear
    light, 2.5-3 dB in sRGB), padded so that LibRaw's cruder border falls outside the image;
    flat colours come back value for value.
    ``bilinear``, ``ea`` and ``vng`` still run OpenCV's interpolation and this plugin's VNG.

    Writes ``image`` (float32 RGB in [0, 1]) and ``image_layout="rgb"``, ``development`` (the
    RAW product it read and how: what ``-f dng`` writes while no later stage changes the image)
    and ``notes["develop"]``: what was done, the pattern and the parameters. RGB and grey
    products (PNG/JPEG/TIFF bursts) pass through untouched, value for value.
    """
    image, layout = burst.product()
    if layout not in ("cfa", "linear_raw"):
        return burst.with_note("develop", {"action": "none (not RAW)"})
    raw = burst.reference_frame.raw
    if raw is None:
        raise StageError("RAW pixels without RAW metadata: cannot develop")
    pattern = raw.cfa_string()
    if layout == "cfa" and pattern not in BAYER_CODES:
        return _libraw_fallback(burst, raw, params)
    if layout == "linear_raw" and (image.ndim != 3 or image.shape[2] != 3):
        raise StageError(f"cannot develop a {image.shape} LinearRaw image: 3 planes expected")
    linear = _camera_rgb(image, raw, layout, params)
    rgb = _to_srgb_primaries(linear, raw)
    out = _encode(np.clip(rgb, 0.0, 1.0), params.output)
    development = _development(raw, params, color_matrix=raw.color_matrix is not None,
                               source=(image, layout), result=out)
    return burst.replace(image=out, image_layout="rgb", development=development).with_note(
        "develop", {"action": "developed", "pattern": pattern, **dataclasses.asdict(params),
                    "color_matrix": raw.color_matrix is not None})


def _development(raw: RawInfo, params: DevelopParams, *, color_matrix: bool,
                 source: tuple[np.ndarray, Layout] | None = None,
                 result: np.ndarray | None = None) -> Development:
    """What developing with ``params`` did, for a writer that stores the result as RAW."""
    image, layout = source if source is not None else (None, None)
    return Development(raw=raw, white_balance=params.white_balance == "camera",
                       color_matrix=color_matrix, curve=params.output, source=image,
                       source_layout=layout, result=result)


def _camera_rgb(image: np.ndarray, raw: RawInfo, layout: str, params: DevelopParams) -> np.ndarray:
    """Black-subtracted, white-balanced, demosaicked camera RGB, float32."""
    gains = (white_balance_gains(raw) if params.white_balance == "camera"
             else np.ones(len(raw.color_desc))).astype(np.float32)
    values = normalize_raw(image, raw, layout)
    if layout == "linear_raw":
        return values * gains[:3]
    sites = cfa_site_indices(raw, image.shape)
    balanced = np.clip(values * gains[sites], 0.0, 1.0)
    return demosaic_bayer(balanced, raw, params.demosaic)


def demosaic_bayer(balanced: np.ndarray, raw: RawInfo, method: str) -> np.ndarray:
    """A white-balanced [0, 1] Bayer mosaic -> float32 RGB, by ``method``: a LibRaw algorithm
    (:data:`~burst_develop.libraw.ALGORITHMS`) or OpenCV's bilinear/edge-aware or our VNG."""
    pattern = raw.cfa_string()
    if method in ALGORITHMS:
        return libraw_demosaic(balanced, pattern, method)
    as16 = (balanced * 65535.0 + 0.5).astype(np.uint16)  # OpenCV demosaics 8/16-bit only
    codes = EDGE_AWARE if method == "ea" else BAYER_CODES
    rgb = cv2.cvtColor(as16, codes[pattern]).astype(np.float32) * np.float32(1 / 65535.0)
    if method != "vng":
        return rgb
    channel = np.array([_CHANNEL[c] for c in raw.color_desc], dtype=np.uint8)
    sites = channel[cfa_site_indices(raw, balanced.shape)]
    return vng_demosaic(as16.astype(np.float32) * np.float32(1 / 65535.0), sites, rgb)


_CHANNEL = {"R": 0, "G": 1, "B": 2}


def _to_srgb_primaries(camera_rgb: np.ndarray, raw: RawInfo) -> np.ndarray:
    if raw.color_matrix is None:
        return camera_rgb
    return cv2.transform(camera_rgb, np.asarray(raw.color_matrix, np.float32))


@functools.lru_cache(maxsize=1)
def _srgb_table() -> np.ndarray:
    """The sRGB curve for every 16-bit linear value: a lookup is ~10x faster than the power."""
    linear = np.arange(65536, dtype=np.float64) / 65535.0
    curve = np.where(linear <= 0.0031308, linear * 12.92,
                     1.055 * np.power(np.maximum(linear, 0.0031308), 1 / 2.4) - 0.055)
    return curve.astype(np.float32)


def _encode(linear: np.ndarray, output: str) -> np.ndarray:
    """Clipped linear RGB, or its sRGB encoding (to 16-bit precision: what writers keep)."""
    if output == "linear":
        return linear.astype(np.float32)
    codes = (np.clip(linear, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    return _srgb_table()[codes]


def _libraw_fallback(burst: Burst, raw_info: RawInfo, params: DevelopParams) -> Burst:
    """Patterns OpenCV cannot demosaic (X-Trans, 4-colour): LibRaw develops the reference
    file itself, which is only right while the product is that file's untouched mosaic."""
    pattern = raw_info.cfa_string()
    if burst.image is not None:
        raise StageError(f"cannot develop a processed {len(pattern)}-site {pattern[:6]}... "
                         "mosaic: only 2x2 Bayer patterns are demosaicked here")
    with rawpy.imread(str(burst.reference_frame.path)) as raw:
        rgb = raw.postprocess(output_bps=16, use_camera_wb=params.white_balance == "camera",
                              gamma=(1, 1), no_auto_bright=True)
    linear = rgb.astype(np.float32) * np.float32(1 / 65535.0)
    out = _encode(linear, params.output)
    # LibRaw applied the file's white balance and camera-to-sRGB matrix (its rgb_cam).
    development = _development(raw_info, params, color_matrix=True,
                               source=(pixels_of(burst.reference_frame), "cfa"), result=out)
    return burst.replace(image=out, image_layout="rgb", development=development).with_note(
        "develop", {"action": "LibRaw postprocess (non-Bayer pattern)", "pattern": pattern,
                    **dataclasses.asdict(params)})


@stage("develop.frames", FramesParams, needs=("pixels",), provides=("developed",))
def develop_frames(burst: Burst, params: FramesParams) -> Burst:
    """Develop every RAW frame of the burst (as ``develop`` does the product), keeping each
    frame's geometry, transform and flow: for stages that work on RGB frames, such as the
    learned zoom. Frames that are already RGB or grey are left as they are. The developed
    frames lose their RAW metadata; the reference's goes to ``development``, with how they
    were developed (what ``-f dng`` undoes).

    Each frame is developed in bands of rows (the whole frame's values, in bounded memory)
    and kept as 16-bit codes; past ``memory_mb`` the frames go to a temporary file
    (:mod:`burstlib.spill`), so a burst of 48 MP frames is not held in memory. ``others``
    gives the frames other than the reference their own demosaic."""
    frames = list(burst.frames)
    raw_indices = [i for i in burst.active_indices
                   if frames[i].layout in ("cfa", "linear_raw") and frames[i].raw is not None]
    for index in raw_indices:
        frame = frames[index]
        assert frame.raw is not None  # raw_indices holds frames with RAW metadata only
        if frame.layout == "cfa" and frame.raw.cfa_string() not in BAYER_CODES:
            raise StageError(f"{frame.path}: develop.frames demosaics 2x2 Bayer mosaics only")
    # One thread per core: OpenCV releases the GIL; rawpy's LibRaw call mostly does not
    # (two 12 MP frames: 1.71 s one after the other, 1.49 s side by side).
    timer = frame_timer()

    spill = params.memory_mb > 0 and _developed_bytes(frames, raw_indices) > \
        params.memory_mb * 2 ** 20
    reference_index = burst.reference if burst.reference is not None else 0  # as reference_frame

    def develop_one(index: int) -> Frame:
        method = params.demosaic if index == reference_index or params.others == "same" \
            else params.others
        with timer.time(frames[index]):
            frame = _developed_frame(frames[index], dataclasses.replace(params, demosaic=method))
            if spill:
                frame = frame.replace(pixels=spilled(pixels_of(frame)))
            return_free_memory()  # LibRaw's and the bands' temporaries, kept by the heap
            return frame

    with ThreadPoolExecutor(max_workers=min(len(raw_indices), os.cpu_count() or 1) or 1) as pool:
        developed = pool.map(develop_one, raw_indices)
        for index, frame in zip(raw_indices, developed):
            frames[index] = frame
    reference = burst.reference_frame.raw
    out = burst.with_frames(frames)
    if reference is not None and burst.reference_frame.layout in ("cfa", "linear_raw"):
        out = out.replace(development=_development(
            reference, params, color_matrix=reference.color_matrix is not None))
    return out.with_note(
        "develop.frames", {**dataclasses.asdict(params), "developed": len(raw_indices),
                           "kept_in_file": spill})


def _developed_bytes(frames: list[Frame], indices: list[int]) -> int:
    """What the frames at ``indices`` take once developed: 16-bit RGB."""
    return sum(pixels_of(frames[i]).shape[0] * pixels_of(frames[i]).shape[1] * 6
               for i in indices)


#: Rows of mosaic context each band of a frame is demosaicked with: the local methods give the
#: whole frame's values then (LibRaw's AHD, PPG, DCB and VNG measured identical from 16 rows
#: up; OpenCV's and ours reach 2); even, so that every band starts on the pattern's first row.
BAND_MARGIN = 16
#: Methods that use statistics of the whole image (LibRaw's DHT and AAHD: a band of rows came
#: out up to 12 % of full scale off, far from its edges): they develop a frame whole.
WHOLE_FRAME_METHODS = frozenset({"dht", "aahd"})
#: Pixels per band of a developed frame (its own rows): each band's float32 temporaries
#: (LibRaw's among them) stay tens of MB where a 48 MP frame whole took gigabytes per thread.
BAND_PIXELS = 1 << 21


def _developed_frame(frame: Frame, params: DevelopParams) -> Frame:
    """A RAW frame developed band of rows by band of rows (bounded memory, the whole frame's
    values), kept as 16-bit codes, as a 16-bit TIFF frame is: half the memory of float32 (a
    burst of 48 MP frames holds 10 x 288 MB instead of 576 MB), and steps of 1/65535 are far
    below any sensor's noise (stages read frames through burstlib.arrays.normalized)."""
    # Only decoded RAW frames (cfa or linear_raw, with their metadata) come here.
    raw, layout = frame.raw, frame.layout
    assert raw is not None and layout is not None
    pixels = pixels_of(frame)
    height = pixels.shape[0]
    out = np.empty((*pixels.shape[:2], 3), np.uint16)
    rows = max(2, BAND_PIXELS // pixels.shape[1]) // 2 * 2
    if params.demosaic in WHOLE_FRAME_METHODS:
        rows = max(height, 2)
    margin = BAND_MARGIN if layout == "cfa" else 0
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        start, stop = max(top - margin, 0), min(bottom + margin, height)
        linear = _to_srgb_primaries(_camera_rgb(pixels[start:stop], raw, layout, params), raw)
        encoded = _encode(np.clip(linear, 0.0, 1.0), params.output)
        out[top:bottom] = _to_uint16(encoded[top - start:bottom - start])
    release(pixels)  # a mosaic kept in a file (burstlib.spill): read, let go
    # The RAW metadata no longer describes these values (its noise profile least of all).
    return frame.replace(pixels=out, layout="rgb", raw=None)


def _to_uint16(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats as rounded 16-bit codes (OpenCV: one threaded, saturating pass)."""
    return cv2.addWeighted(values, 65535.0, values, 0.0, 0.0, dtype=cv2.CV_16U)


# Without a merged image it has nothing to encode (it would pass silently): a misplaced
# develop.encode is a preset mistake worth naming.
@stage("develop.encode", needs=("image",), provides=())
def develop_encode(burst: Burst, params: NoParams) -> Burst:
    """The output curve (sRGB) on a chain's image made from frames that ``develop.frames``
    developed to linear light (``output: linear``), so that it is written like every other
    preset's. Merging in linear light is what makes noise average out without bias (the
    mean of sRGB-encoded noisy values is not the encoding of the mean: dark areas come out
    too bright). Any other image (frames that were not RAW, or were developed to sRGB)
    passes unchanged."""
    note = burst.notes.get("develop.frames") or {}
    if burst.image is None or note.get("output") != "linear" or not note.get("developed"):
        return burst.with_note("develop.encode", {"action": "none (not linear RAW)"})
    development = (dataclasses.replace(burst.development, curve="srgb")
                   if burst.development is not None else None)
    return burst.replace(image=_encode(np.clip(burst.image, 0.0, 1.0), "srgb"),
                         development=development).with_note(
        "develop.encode", {"action": "sRGB curve"})


@hookimpl
def register_stages(register) -> None:  # type: ignore[no-untyped-def]
    """The ``develop``, ``develop.frames`` and ``develop.encode`` stages."""
    register(develop)
    register(develop_frames)
    register(develop_encode)


@hookimpl
def register_writers(register) -> None:  # type: ignore[no-untyped-def]
    """``-f dng``: RAW bursts as DNG, the RAW data before (or undone from) developing."""
    register(Writer("dng", ".dng", write_dng, "DNG, 16-bit RAW for raw developers (RAW "
                                              "bursts only)", check=check_raw_files))
