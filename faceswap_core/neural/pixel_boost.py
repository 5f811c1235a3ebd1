"""Pixel boost: inswapper_128 swapping a 256 or 512 px face.

The model only ever sees 128x128. A face aligned at k*128 pixels is split into k*k
sub-pixel tiles (tile (i, j) holds every k-th pixel from row i, column j): each tile is
the whole face at 128 px, shifted by a fraction of a pixel. Each is swapped, and the
swapped tiles are interleaved back, so the result carries k times the detail across, at
k*k times the swap's work. Paste-back, masks and colour correction then work at the
larger size.
"""

from __future__ import annotations

import math

import numpy as np

BASE = 128
FACTORS = {"128": 1, "256": 2, "512": 4}
# 'auto': a face spanning at least this many frame pixels across the 128 crop's width is
# swapped at 256 (below 1.5x the crop there is little detail to gain). Auto stops at 256:
# 512 is 16 swaps per face, a frame-rate cost a streamer should choose, not get.
AUTO_FROM_PIXELS = {2: 1.5 * BASE}


def factor_for(setting: str, matrix: np.ndarray) -> int:
    """Tiles per side for a face: 1, 2 or 4. matrix: the face's 2x3 frame->crop matrix at 128
    px, whose scale says how many frame pixels the crop spans."""
    if setting in FACTORS:
        return FACTORS[setting]
    scale = math.sqrt(abs(float(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))
    spanned = BASE / max(scale, 1e-9)
    return next((factor for factor, pixels in AUTO_FROM_PIXELS.items() if spanned >= pixels), 1)


def to_tiles(crop: np.ndarray, factor: int) -> np.ndarray:
    """(S, S, C) -> (factor*factor, S/factor, S/factor, C): tile i*factor + j = crop[i::f, j::f]."""
    size, channels = crop.shape[0], crop.shape[2]
    side = size // factor
    grid = crop.reshape(side, factor, side, factor, channels)
    return np.ascontiguousarray(grid.transpose(1, 3, 0, 2, 4).reshape(factor * factor, side, side, channels))


def from_tiles(tiles: np.ndarray, factor: int) -> np.ndarray:
    """The inverse of to_tiles: the tiles interleaved back into one (S, S, C) crop."""
    count, side, _, channels = tiles.shape
    grid = tiles.reshape(factor, factor, side, side, channels)
    return np.ascontiguousarray(grid.transpose(2, 0, 3, 1, 4).reshape(side * factor, side * factor, channels))
