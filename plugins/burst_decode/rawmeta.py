"""Sensor metadata of an open rawpy file as a :class:`RawInfo`, and the colour maths behind it."""

from __future__ import annotations

import numpy as np
import rawpy

from burstcli.model import RawInfo
from burstlib.colour import SRGB_TO_XYZ


Pattern = tuple[tuple[int, ...], ...]


def rgb_from_camera(camera_from_xyz: np.ndarray) -> np.ndarray | None:
    """Camera RGB -> linear sRGB from a camera-from-XYZ matrix (DNG ColorMatrix, LibRaw's
    ``rgb_xyz_matrix``), as dcraw's ``cam_xyz_coeff`` does it.

    The camera-from-sRGB product has its rows normalised to sum to 1 first: white-balanced
    camera white (1, 1, 1) then maps to sRGB white, so white stays white. Returns None for
    an all-zero (unknown) or singular matrix.
    """
    matrix = np.asarray(camera_from_xyz, dtype=np.float64)[:3, :3]
    camera_from_srgb = matrix @ SRGB_TO_XYZ
    sums = camera_from_srgb.sum(axis=1, keepdims=True)
    if not matrix.any() or np.any(np.abs(sums) < 1e-9):
        return None
    try:
        return np.linalg.inv(camera_from_srgb / sums)
    except np.linalg.LinAlgError:
        return None


def colour_matrix(raw: rawpy.RawPy) -> tuple[tuple[float, ...], ...] | None:
    """Camera RGB -> linear sRGB, 3x3: LibRaw's ``rgb_cam`` when it computed one (DNGs
    always: LibRaw leaves their ``rgb_xyz_matrix`` empty), else derived from
    ``rgb_xyz_matrix``; None when LibRaw knows no matrix for the camera."""
    listed = np.asarray(raw.color_matrix, dtype=np.float64)[:3, :3]
    matrix = listed if listed.any() else rgb_from_camera(np.asarray(raw.rgb_xyz_matrix))
    if matrix is None or not np.all(np.isfinite(matrix)):
        return None
    return tuple(tuple(float(v) for v in row) for row in matrix)


def cfa_pattern(raw: rawpy.RawPy) -> Pattern:
    """The colour indices of the top-left pattern of the *visible* area.

    Taken from ``raw_colors_visible`` rather than ``raw_pattern``, whose phase refers to the
    full sensor: a crop by an odd margin would otherwise swap R and B. The size follows
    ``raw_pattern`` (2x2 Bayer, 6x6 X-Trans).
    """
    rows, cols = np.asarray(raw.raw_pattern).shape
    visible = np.asarray(raw.raw_colors_visible)[:rows, :cols]
    return tuple(tuple(int(v) for v in row) for row in visible)


def raw_info(raw: rawpy.RawPy, pattern: Pattern,
             noise_profile: tuple[tuple[float, float], ...] | None) -> RawInfo:
    """Everything a develop or merge stage needs from the open file."""
    return RawInfo(
        cfa_pattern=pattern,
        color_desc=raw.color_desc.decode("ascii", "replace"),
        black_level=tuple(float(v) for v in raw.black_level_per_channel),
        white_level=float(raw.white_level),
        white_balance=tuple(float(v) for v in raw.camera_whitebalance),
        color_matrix=colour_matrix(raw),
        noise_profile=noise_profile,
    )
