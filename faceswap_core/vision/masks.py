"""Soft masks: where the swapped face shows, and where the target's own mouth and eyes do.

Drawn on the coarse grid and upsampled, so feathering costs the same at any face size.
A hard edge anywhere is a seam on stream; every edge here is blurred over a fraction of
the face's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .grid import BoxGrid

_SHIFT = 4        # sub-pixel bits for cv2.fillPoly
_SUPERSAMPLE = 4  # fine pixels per coarse cell, per side, for edge coverage


@dataclass(frozen=True)
class Patch:
    """A 0..1 mask of a rectangle of the frame at full resolution: the target's own thin
    things (glasses frames, a tongue out) that the coarse grid would smear."""
    x0: int
    y0: int
    mask: np.ndarray         # float32 (height, width)

    @property
    def x1(self) -> int:
        return self.x0 + self.mask.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.mask.shape[0]


def fill_polygon(grid: BoxGrid, polygon: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A coarse float32 mask with the polygon (frame coordinates) filled with 1.

    scale grows or shrinks the polygon around its centroid (the mouth mask's size).
    """
    return fill_polygons(grid, [(polygon, scale)])


def fill_polygons(grid: BoxGrid, polygons: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """The union of several (polygon, scale) fills, drawn in one pass."""
    # Coverage by 4x4 supersampling: OpenCV's LINE_AA polygons grow about half a pixel
    # outward, and a hard fill on the coarse grid would step by whole cells.
    scale, offset = grid.coarse_transform()
    fixed = np.float32(_SUPERSAMPLE << _SHIFT)            # coarse cells -> fine fixed-point
    scale, offset = scale * fixed, (offset + 0.5) * fixed - (0.5 * (1 << _SHIFT))
    mask = np.zeros((grid.rows * _SUPERSAMPLE, grid.cols * _SUPERSAMPLE), dtype=np.uint8)
    for polygon, grow in polygons:
        polygon = polygon.astype(np.float32)
        if grow != 1.0:   # about the centroid (an affine map keeps it, so frame coordinates do)
            centre = polygon.mean(axis=0)
            polygon = centre + (polygon - centre) * np.float32(grow)
        # One fillPoly per polygon: given several contours OpenCV fills by the even-odd
        # rule, which would leave the overlap of two grown outlines empty.
        cv2.fillPoly(mask, [(polygon * scale + offset).round().astype(np.int32)], 255, cv2.LINE_8, _SHIFT)
    coverage = cv2.resize(mask, (grid.cols, grid.rows), interpolation=cv2.INTER_AREA)
    return coverage.astype(np.float32) * np.float32(1.0 / 255.0)


def fill_pixels(shape: tuple[int, int], polygons: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """A boolean mask of an image's own pixels with each (polygon, scale) filled, the
    polygon grown or shrunk around its centroid: for work at full resolution (the photo's
    face once, the glasses' thin frames), where the coarse grid is too coarse."""
    mask = np.zeros(shape, dtype=np.uint8)
    for polygon, grow in polygons:
        polygon = polygon.astype(np.float64)
        if grow != 1.0:
            centre = polygon.mean(axis=0)
            polygon = centre + (polygon - centre) * grow
        cv2.fillPoly(mask, [np.round(polygon * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_8, _SHIFT)
    return mask.astype(bool)


def parts_reaching(candidates: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The parts of a boolean mask (8-connected, after a 3x3 opening drops specks and
    one-pixel bridges) that reach into region: a cover that comes from the face's
    outline, a tongue that comes out of the lips."""
    opened = cv2.morphologyEx(candidates.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(opened, connectivity=8)
    if count <= 1:
        return np.zeros(candidates.shape, bool)
    # a table of the labels that reach, looked up per pixel: np.unique and np.isin sort,
    # and took the call from 0.02 to 0.04 ms on a 72-pixel face
    reaching = np.zeros(count, bool)
    reaching[labels[region & (opened > 0)]] = True
    reaching[0] = False
    return reaching[labels]


def feather(mask: np.ndarray, inset: float, blur: float) -> np.ndarray:
    """Shrink a coarse mask by `inset` cells, then blur its edge over `blur` cells."""
    if inset >= 1.0:
        size = 2 * round(inset) + 1
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    if blur > 0.3:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return mask


def cut_holes(mask: np.ndarray, holes: list[np.ndarray], blur: float) -> np.ndarray:
    """Remove soft-edged holes (the target's mouth or eyes) from a coarse mask."""
    if not holes:
        return mask
    union = np.maximum.reduce(holes) if len(holes) > 1 else holes[0]
    if blur > 0.3:
        union = cv2.GaussianBlur(union, (0, 0), blur)
    return mask * (1.0 - np.clip(union * 1.5, 0.0, 1.0))
