"""A face's box in the frame and a coarse sampling grid over it.

Everything smooth about a swap (the warp's coordinate map, the soft mask, the colour
correction) is computed on a grid of at most COARSE_CELLS points per side and upsampled
to the box with bilinear interpolation. That keeps the per-frame cost independent of how
large the face is: a 1080p close-up costs about what a 480p face does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..bgra import bgr_copy

COARSE_CELLS = 64


def shrunk(pixels: np.ndarray, size: tuple[int, int], scale: float) -> np.ndarray:
    """pixels (a region of a frame, seen whole at `scale` <= 1 of its size) at size (w, h):
    every int(1/scale)-th pixel taken first, then bilinear. The searches near a face
    (hands, covers) use it on every frame: INTER_AREA from full resolution cost 0.4-1.6 ms
    a face at 720p, this a tenth of it."""
    step = max(1, int(1.0 / scale))
    picked = pixels[::step, ::step]
    if picked.shape[1::-1] == tuple(size):
        return picked
    return cv2.resize(picked, size, interpolation=cv2.INTER_LINEAR)


def _whole_cells(low: int, high: int, cell: int, limit: int) -> tuple[int, int]:
    """low..high (pixels, within 0..limit) grown around its middle to a whole number of
    cells, moved back inside 0..limit where it leaves it; one cell fewer where even that
    does not fit."""
    count = -(-(high - low) // cell)
    if count * cell > limit:
        count = limit // cell
    span = count * cell
    start = min(max(low - (span - (high - low)) // 2, 0), limit - span)
    return start, start + span


@dataclass(frozen=True)
class BoxGrid:
    x0: int
    y0: int
    x1: int
    y1: int
    cols: int
    rows: int

    @classmethod
    def around(cls, points: np.ndarray, frame_shape: tuple[int, ...], margin: float = 0.04,
               cells: int = COARSE_CELLS) -> "BoxGrid | None":
        """The points' bounding box grown by margin (of its size), clipped to the frame."""
        height, width = frame_shape[:2]
        # column by column: numpy's reduction over axis 0 of (n, 2) points took 11 us, this 2
        xs, ys = points[:, 0], points[:, 1]
        lo, hi = np.array([xs.min(), ys.min()]), np.array([xs.max(), ys.max()])
        pad = margin * float(max(hi - lo))
        x0, y0 = max(0, math.floor(lo[0] - pad)), max(0, math.floor(lo[1] - pad))
        x1, y1 = min(width, math.ceil(hi[0] + pad) + 1), min(height, math.ceil(hi[1] + pad) + 1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        step = max(1.0, max(x1 - x0, y1 - y0) / cells)
        if step >= 1.5:
            # whole pixels per cell, the box grown (or, at the frame's edge, moved) to whole
            # cells: `downsample` then takes INTER_AREA's fast path (0.23 against 0.53 ms a
            # call for a 400-pixel face, twice a frame), for a cell count per side within a
            # fifth of `cells`
            whole = round(step)
            wx0, wx1 = _whole_cells(x0, x1, whole, width)
            wy0, wy1 = _whole_cells(y0, y1, whole, height)
            if min(wx1 - wx0, wy1 - wy0) >= 2 * whole:   # (not on a frame a few cells high)
                return cls(wx0, wy0, wx1, wy1, (wx1 - wx0) // whole, (wy1 - wy0) // whole)
        cols, rows = max(2, round((x1 - x0) / step)), max(2, round((y1 - y0) / step))
        return cls(x0, y0, x1, y1, cols, rows)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1

    def _cell(self) -> tuple[float, float]:
        return self.width / self.cols, self.height / self.rows

    def sample_points(self) -> np.ndarray:
        """Frame coordinates of the coarse samples, (rows*cols, 2), row-major.

        Placed where cv2.resize takes its source pixel centres, so `upsample` is exact
        linear interpolation between samples.
        """
        cell_x, cell_y = self._cell()
        xs = self.x0 + (np.arange(self.cols, dtype=np.float32) + 0.5) * cell_x - 0.5
        ys = self.y0 + (np.arange(self.rows, dtype=np.float32) + 0.5) * cell_y - 0.5
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)

    def coarse_transform(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset), each (2,) float32: coarse = frame * scale + offset."""
        cell_x, cell_y = self._cell()
        scale = np.array([1.0 / cell_x, 1.0 / cell_y], dtype=np.float32)
        offset = np.array([(0.5 - self.x0) / cell_x - 0.5, (0.5 - self.y0) / cell_y - 0.5], dtype=np.float32)
        return scale, offset

    def to_coarse(self, points: np.ndarray) -> np.ndarray:
        """Frame coordinates -> coarse pixel coordinates (for drawing polygons)."""
        scale, offset = self.coarse_transform()
        return points * scale + offset

    def upsample(self, coarse: np.ndarray) -> np.ndarray:
        return cv2.resize(coarse, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def downsample(self, full: np.ndarray) -> np.ndarray:
        return cv2.resize(full, (self.cols, self.rows), interpolation=cv2.INTER_AREA)

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """The box's BGR pixels as a contiguous copy (BGRA frames lose nothing: alpha stays)."""
        return bgr_copy(frame[self.y0:self.y1, self.x0:self.x1])
