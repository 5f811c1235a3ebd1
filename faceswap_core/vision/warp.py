"""Piecewise-affine warp of the source face onto a target face's mesh.

Mapping each pixel through its triangle's affine transform is what a per-triangle
cv2.warpAffine loop does (about 18 ms at 720p in the naive engine). Here the mesh's fixed
triangles are rasterised only at the coarse grid's samples, all triangles at once in
numpy, and the resulting coordinate map is upsampled and fed to one cv2.remap: about a
millisecond, independent of face size. A fixed triangulation (not a per-frame Delaunay)
also keeps the warp from flipping triangles between frames, which would flicker.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

from .grid import BoxGrid

MAX_TRIANGLE_CELLS = 12   # triangles larger than this on the grid are clipped (never on a real face)
SPAN_GROUPS = (4, 6, 8, MAX_TRIANGLE_CELLS)


def coordinate_map(src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray,
                   grid: BoxGrid) -> np.ndarray | None:
    """For each coarse sample of the target box, where to read the source: (rows, cols, 2).

    Samples outside the target mesh take the nearest inside sample's value, so the
    upsampled map never blends a real coordinate with a made-up one near the edge.
    """
    corners = grid.to_coarse(dst_points)[triangles]                  # (T, 3, 2) in cells
    # corner by corner: numpy's reductions over a 3-long middle axis took 0.15 ms here
    first, second, third = corners[:, 0], corners[:, 1], corners[:, 2]
    low = np.floor(np.minimum(np.minimum(first, second), third))
    reach = np.minimum(np.ceil(np.maximum(np.maximum(first, second), third)) - low + 1, MAX_TRIANGLE_CELLS)
    spans = np.maximum(reach[:, 0], reach[:, 1])
    weigh_b, weigh_c, at_low = _barycentric_steps(corners, low)
    sources = src_points[triangles]                                   # (T, 3, 2)
    hit_cells, hit_sources = [], []
    # Triangles grouped by size: each group tests only the cells its largest member spans.
    previous = 0
    for limit in SPAN_GROUPS:
        group = np.nonzero((spans > previous) & (spans <= limit))[0]
        previous = limit
        if group.size == 0:
            continue
        offsets = _OFFSETS[limit]                                     # (span*span, 2)
        wb = at_low[group, 0, None] + weigh_b[group] @ offsets.T      # (G, span*span)
        wc = at_low[group, 1, None] + weigh_c[group] @ offsets.T
        member, which = np.nonzero((wb >= -1e-4) & (wc >= -1e-4) & (wb + wc <= 1.0001))
        cells = low[group[member]] + offsets[which]
        inside = (cells[:, 0] >= 0) & (cells[:, 0] < grid.cols) & (cells[:, 1] >= 0) & (cells[:, 1] < grid.rows)
        member, which = member[inside], which[inside]
        wb, wc = wb[member, which][:, None], wc[member, which][:, None]
        a, b, c = sources[group[member]].transpose(1, 0, 2)
        hit_cells.append(cells[inside].astype(np.intp))
        hit_sources.append(a + wb * (b - a) + wc * (c - a))
    hit_cells = np.concatenate(hit_cells)
    if hit_cells.size == 0:
        return None
    source = np.concatenate(hit_sources)
    mapped = np.zeros((grid.rows, grid.cols, 2), dtype=np.float32)
    covered = np.zeros((grid.rows, grid.cols), dtype=bool)
    mapped[hit_cells[:, 1], hit_cells[:, 0]] = source
    covered[hit_cells[:, 1], hit_cells[:, 0]] = True
    if not covered.all():
        rows, cols = distance_transform_edt(~covered, return_distances=False, return_indices=True)
        mapped = mapped[rows, cols]
    return mapped


# The cells each span group tests, relative to a triangle's lowest cell: (span*span, 2) x, y.
_OFFSETS = {span: np.stack(np.meshgrid(np.arange(span, dtype=np.float32), np.arange(span, dtype=np.float32)),
                           axis=-1).reshape(-1, 2) for span in SPAN_GROUPS}


def _barycentric_steps(corners: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For triangles (T, 3, 2): how the weights of the second and third corners change per
    cell in x and y, (T, 2) each, and both weights at each triangle's lowest cell (T, 2).
    The first corner's weight is 1 minus both. A cell's weights are then one small matrix
    product away (about half the cost of working them out cell by cell)."""
    a = corners[:, 0]
    v0, v1 = corners[:, 1] - a, corners[:, 2] - a
    det = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    inverse = 1.0 / np.where(np.abs(det) < 1e-6, np.inf, det)         # collapsed triangle: hits nothing
    weigh_b = np.stack([v1[:, 1] * inverse, -v1[:, 0] * inverse], axis=1)
    weigh_c = np.stack([-v0[:, 1] * inverse, v0[:, 0] * inverse], axis=1)
    from_a = low - a
    # two products added column by column (the same sums as .sum(axis=1), a third of its cost)
    at_b = from_a[:, 0] * weigh_b[:, 0] + from_a[:, 1] * weigh_b[:, 1]
    at_c = from_a[:, 0] * weigh_c[:, 0] + from_a[:, 1] * weigh_c[:, 1]
    return weigh_b, weigh_c, np.stack([at_b, at_c], axis=1)


def warp_face(src_image: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray,
              triangles: np.ndarray, grid: BoxGrid) -> tuple[np.ndarray, np.ndarray] | None:
    """The source face drawn into the target box, (height, width, 3) uint8, and the coarse
    coordinate map that drew it (to read other source-space layers with `sample_coarse`)."""
    coarse = coordinate_map(src_points, dst_points, triangles, grid)
    if coarse is None:
        return None
    full = grid.upsample(coarse)
    # the (x, y) map whole: its channels handed apart are two strided views OpenCV copies
    # first (0.5 of 1.6 ms for a 400-pixel face)
    warped = cv2.remap(src_image, full, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, coarse


def sample_coarse(layer: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """A float32 source-space layer read at each coarse sample's source position; 0 off it."""
    return cv2.remap(layer, coarse, None, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
