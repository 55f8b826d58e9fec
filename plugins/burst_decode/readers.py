"""Read one file's pixels and metadata: RAW through rawpy (LibRaw), the rest through
tifffile and imageio. Every failure becomes a :class:`BadFileError` with a plain reason."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import rawpy
import tifffile

from burstcli.errors import BadFileError
from burstcli.model import ExifInfo, Layout, RawInfo
from burstlib.rawfiles import RAW_EXTENSIONS

from .exif import exif_from_tags, noise_profile, read_tags, with_libraw_exif
from .rawmeta import Pattern, cfa_pattern, raw_info
from .sniff import mismatch, what_is

TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp"}) | TIFF_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class Decoded:
    """What reading one file gives."""

    pixels: np.ndarray
    layout: Layout
    raw: RawInfo | None
    exif: ExifInfo


def read_file(path: Path) -> Decoded:
    """Decode ``path`` by its extension; raise BadFileError with the reason on failure."""
    if not path.is_file():
        raise BadFileError(path, "no such file")
    if path.stat().st_size == 0:
        raise BadFileError(path, "empty file")
    _check_readable(path)
    suffix = path.suffix.lower()
    if suffix in RAW_EXTENSIONS:
        return read_raw(path)
    return read_image(path)  # other extensions another plugin lists: imageio may know them


def _check_readable(path: Path) -> None:
    """Refuse a file this process may not read with that reason, not a decoder's guess."""
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except PermissionError:
        raise BadFileError(path, "permission denied (the file cannot be read)") from None
    except OSError as exc:
        raise BadFileError(path, f"cannot be read ({exc.strerror or exc})") from None


#: What a RAW file's first bytes may not be: LibRaw would guess a headerless mosaic from the
#: file's size, or give a decoding error, where the file is plainly something else.
NOT_RAW = ("text", "a PNG image", "a JPEG image", "a BMP image", "a GIF image", "a WebP image",
           "a HEIC image", "a PDF document", "a ZIP archive")


def read_raw(path: Path) -> Decoded:
    """A RAW file through LibRaw: the visible sensor data and what is needed to develop it."""
    kind = what_is(path)
    if kind in NOT_RAW:
        raise BadFileError(path, f"not a {path.suffix.lstrip('.').upper()} RAW file (it is {kind})")
    try:
        with _libraw_open(path) as raw:  # closes LibRaw's buffers frame by frame
            return _decoded_raw(path, raw, kind)
    except rawpy.LibRawFileUnsupportedError:
        raise BadFileError(path, _unsupported_reason(path)) from None
    except (rawpy.LibRawIOError, rawpy.LibRawDataError) as exc:
        reason = f"truncated or corrupt RAW data (LibRaw: {_libraw_text(exc)})"
        raise BadFileError(path, reason) from None
    except rawpy.LibRawError as exc:
        raise BadFileError(path, f"LibRaw cannot decode it: {_libraw_text(exc)}") from None
    except (NotImplementedError, ValueError, IndexError) as exc:
        # rawpy's own view of a damaged header (a colour filter layout it has no pattern
        # for, sizes that do not fit the data): found by the fault suite's mutations.
        raise BadFileError(path, f"damaged RAW header ({type(exc).__name__}: "
                                 f"{_libraw_text(exc)})") from None


def _libraw_open(path: Path) -> rawpy.RawPy:
    """LibRaw on ``path``; a name that is not valid UTF-8 (Python keeps its bytes as
    surrogates) cannot be handed to LibRaw as text, so its bytes are read here instead."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        with open(path, "rb") as handle:
            return rawpy.imread(handle)
    return rawpy.imread(str(path))


def _unsupported_reason(path: Path) -> str:
    kind = what_is(path)
    if kind is not None and kind != "a TIFF-based file" and "RAW" not in kind:
        return f"not a {path.suffix.lstrip('.').upper()} RAW file (it is {kind})"
    return "not a RAW file LibRaw can read (unsupported camera or damaged header)"


def _libraw_text(exc: Exception) -> str:
    text = exc.args[0] if exc.args else type(exc).__name__
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _decoded_raw(path: Path, raw: rawpy.RawPy, kind: str | None) -> Decoded:
    """``kind``: what the file's first bytes say it is (:func:`what_is`)."""
    tags = read_tags(path)
    exif = exif_from_tags(tags)
    if exif.exposure_time is None or exif.iso is None or exif.capture_time is None:
        exif = with_libraw_exif(exif, raw.other)
    if raw.raw_type == rawpy.RawType.Stack:  # LinearRaw DNG: H x W x 4, planes past C unused
        pixels = np.array(raw.raw_image_visible[..., :raw.num_colors], dtype=np.uint16)
        layout: Layout = "linear_raw"
        pattern: Pattern = (tuple(range(raw.num_colors)),)  # plane c holds colour index c
    else:
        pixels = np.array(raw.raw_image_visible, dtype=np.uint16)
        layout = "cfa"
        pattern = cfa_pattern(raw)
    if pixels.size == 0:
        raise BadFileError(path, "RAW file holds no image data")
    _check_white_level(path, pixels, raw)
    _check_header(path, raw, kind)
    return Decoded(pixels, layout, raw_info(raw, pattern, noise_profile(path, tags)), exif)


#: How far above the white level the file states samples may go: a camera's stated white
#: level can sit below its raw clipping point (a real 14-bit crop: white 15520, 0.13 % of
#: samples up to 16383), but not by half again: that is a wrong bit depth or layout.
ABOVE_WHITE = 1.5
#: The share of samples beyond that which is taken as evidence (hot pixels are fewer).
ABOVE_WHITE_SHARE = 0.001


def _check_white_level(path: Path, pixels: np.ndarray, raw: rawpy.RawPy) -> None:
    """Refuse data that contradict their own metadata: a headerless mosaic LibRaw sized and
    levelled by guesswork (8-bit white level, 16-bit samples) develops into coloured noise
    that would otherwise be written as a result."""
    white = int(raw.white_level)
    if white <= 0:
        raise BadFileError(path, "the RAW metadata give no white level")
    limit = int(ABOVE_WHITE * white)  # integer samples: > 1.5 w is > floor(1.5 w)
    if pixels.max() <= limit:  # the usual case, without a pass that counts
        return
    above = int(np.count_nonzero(pixels > limit))
    if above > ABOVE_WHITE_SHARE * pixels.size:
        raise BadFileError(path, f"{100 * above / pixels.size:.1f} % of the samples are far "
                                 f"above the white level the file states ({white}): the data "
                                 "do not match their metadata (a headerless or mis-sized RAW "
                                 "file?)")


def _check_header(path: Path, raw: rawpy.RawPy, kind: str | None) -> None:
    """Refuse a file LibRaw could only lay out by guesswork: no container it recognises by
    its first bytes and no capture metadata at all (no ISO, no shutter, no time). LibRaw
    then sizes a headerless mosaic by the file's length alone (some old cameras wrote such
    files; a dump of sensor data is far more likely), and its development is noise."""
    other = raw.other
    no_metadata = not other.iso_speed and not other.shutter_speed and \
        other.timestamp.timestamp() <= 0
    if no_metadata and kind is None:
        raise BadFileError(path, "no RAW header LibRaw knows and no capture metadata: its "
                                 "size and layout would be guessed from its length")


def read_image(path: Path) -> Decoded:
    """A PNG/JPEG/TIFF/BMP with its values unchanged (8-bit stays 8-bit, 16-bit stays 16)."""
    wrong_kind = mismatch(path)  # checked first: decoders would guess from the content
    if wrong_kind:
        raise BadFileError(path, wrong_kind)
    try:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            pixels = tifffile.imread(path)
        else:
            # The extension picks the plugin: no probing of every format imageio knows.
            pixels = iio.imread(path, extension=path.suffix.lower())
    except Exception as exc:  # imageio/Pillow/tifffile raise many kinds on a bad file
        raise BadFileError(path, f"cannot be read as {path.suffix.lstrip('.').upper()} "
                                 f"({_short(exc)})") from None
    return Decoded(*_as_layout(path, np.asarray(pixels)), None, exif_from_tags(read_tags(path)))


def _as_layout(path: Path, pixels: np.ndarray) -> tuple[np.ndarray, Layout]:
    # Alpha is dropped: bursts are photographs, no stage merges transparency, and every
    # stage would otherwise need a case for a fourth channel that carries no light.
    if pixels.ndim == 2:
        return pixels, "gray"
    if pixels.ndim == 3 and pixels.shape[2] in (1, 2):  # grey (+ alpha)
        return np.ascontiguousarray(pixels[..., 0]), "gray"
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        return np.ascontiguousarray(pixels[..., :3]), "rgb"
    raise BadFileError(path, f"unsupported image shape {pixels.shape} (multi-page or volume?)")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
