"""Putting a swapped 128x128 face back into the frame, inside the face's box only.

insightface's paste-back warps the crop and a white mask over the whole frame, erodes the
mask by a tenth of the face's size and blurs it; here the same geometry is computed only
inside the box the crop covers, with the project's shared compositing (coarse-grid soft
masks, mouth and eye holes, colour correction, blending), so pixels outside the box are
never touched and the cost does not grow with the frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..options import SwapOptions
from ..vision import eyes, masks
from ..vision.compose import EYE_HOLE_SCALE, composite
from ..vision.grid import BoxGrid
from ..vision.covers import FaceShape
from ..vision.occlusion import FrontView

ERODE_FRACTION = 0.10     # insightface: a max(size // 10, 10) pixel square erosion
FEATHER_FRACTION = 0.05   # insightface: blur kernel 2 * max(size // 20, 5) + 1
# An eye's corner-to-corner width, of the distance between the eyes (median 0.435 over the
# mediapipe meshes of lp_d0/d3/d18/d19): five keypoints have no eye corners.
EYE_WIDTH = 0.435


def crop_corners(matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned crop's 4 corners in frame coordinates."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float64)
    return (corners @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)


def crop_to_box(matrix: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 2x3 matrix that draws the aligned crop into the frame box (x0, y0, x1, y1), from
    the face's frame->crop matrix: what the paste-back's warp takes (here and on the GPU)."""
    inverse = cv2.invertAffineTransform(matrix)
    inverse[:, 2] -= box[:2]
    return inverse


def _ellipse(centre: np.ndarray, axis: np.ndarray, major: float, minor: float, count: int = 24) -> np.ndarray:
    u = axis / max(float(np.linalg.norm(axis)), 1e-6)
    v = np.array([-u[1], u[0]], dtype=np.float32)
    t = np.linspace(0, 2 * np.pi, count, endpoint=False, dtype=np.float32)
    return (centre + np.cos(t)[:, None] * major * u + np.sin(t)[:, None] * minor * v).astype(np.float32)


def mouth_polygon(keypoints: np.ndarray) -> np.ndarray:
    """An ellipse over the lips from the two mouth corners, a little below their line
    (towards the chin), so an open mouth is covered too."""
    left, right = keypoints[3].astype(np.float32), keypoints[4].astype(np.float32)
    width = float(np.linalg.norm(right - left))
    eyes = (keypoints[0] + keypoints[1]) / 2.0
    centre = (left + right) / 2.0
    down = centre - eyes
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    return _ellipse(centre + down * 0.1 * width, right - left, 0.62 * width, 0.38 * width)


def eye_polygons(keypoints: np.ndarray) -> list[np.ndarray]:
    left, right = keypoints[0].astype(np.float32), keypoints[1].astype(np.float32)
    axis = right - left
    distance = float(np.linalg.norm(axis))
    return [_ellipse(eye, axis, 0.24 * distance, 0.13 * distance) for eye in (left, right)]


def lens_polygons(keypoints: np.ndarray) -> list[np.ndarray]:
    """Where glasses' lenses would be, around the two eye keypoints (as eyes.lens_region
    draws them around a mesh's eye corners)."""
    left, right = keypoints[0].astype(np.float32), keypoints[1].astype(np.float32)
    axis = right - left
    width = EYE_WIDTH * float(np.linalg.norm(axis))
    return [_ellipse(eye, axis, eyes.LENS_HALF_WIDTH * width, eyes.LENS_HALF_HEIGHT * width) for eye in (left, right)]


def face_shape(keypoints: np.ndarray, index: int = 0) -> FaceShape:
    """Where the face's skin should be, from five keypoints (what vision.covers measures):
    an oval from above the brows to the chin, less the eyes, the mouth and where glasses'
    lenses would be. Proportions of a frontal face: the chin and the forehead's top an
    eyes-to-mouth distance beyond them, the cheeks an eye distance either side (1.2 took in
    the hair beside occ_mute_2's small face as a cover)."""
    eyes = keypoints[:2].astype(np.float32)
    mouth = keypoints[3:5].astype(np.float32).mean(axis=0)
    middle = eyes.mean(axis=0)
    down = mouth - middle
    length = float(np.linalg.norm(down))
    across = eyes[1] - eyes[0]
    centre = middle + down * np.float32((2.0 - 1.0) / 2.0)   # halfway from the forehead's top to the chin
    oval = _ellipse(centre, down, 1.5 * length, 1.0 * float(np.linalg.norm(across)), count=32)
    features = [(eye, EYE_HOLE_SCALE) for eye in eye_polygons(keypoints)]
    features += [(lens, 1.0) for lens in lens_polygons(keypoints)]
    return FaceShape(oval, features, (mouth_polygon(keypoints), 1.0), eyes, mouth, index, keypoints)


@dataclass(frozen=True)
class PasteGeometry:
    """Where and how one swapped crop goes back: its box grid and coarse masks (CPU-side,
    a few thousand numbers), shared by the CPU paste and the GPU frame path."""

    grid: BoxGrid
    inner: np.ndarray          # coarse mask of the eroded crop square (where colour is measured)
    alpha: np.ndarray          # coarse soft mask of the swap, before the holes
    holes: list[np.ndarray]    # coarse masks of the target's mouth / eyes to keep
    lenses: np.ndarray | None  # coarse mask of where glasses may reflect light (colour correction only)


def paste_geometry(matrix: np.ndarray, keypoints: np.ndarray, size: int, frame_shape: tuple[int, ...],
                   options: SwapOptions) -> PasteGeometry | None:
    """The box and masks for a size x size crop with this frame->crop matrix; None when the
    box is (nearly) outside the frame."""
    corners = crop_corners(matrix, size)
    # a margin of zeros around the crop, so the erosion and blur below work from its edges
    grid = BoxGrid.around(corners, frame_shape, margin=0.04)
    if grid is None:
        return None
    cell_px = grid.width / grid.cols
    face_px = math.sqrt(abs(cv2.contourArea(corners)))  # insightface's mask_size
    # insightface: a k x k erosion, k = max(size // 10, 10), shrinks the square by k / 2 per
    # side; then a Gaussian of kernel 2 * max(size // 20, 5) + 1, whose sigma OpenCV derives as
    # below. The crop is a square, so the erosion is exact as the square scaled about its
    # centre, drawn antialiased: no staircase from eroding on the coarse grid.
    inset_px = max(ERODE_FRACTION * face_px, 10.0) / 2.0
    centre = corners.mean(axis=0)
    inner_corners = centre + (corners - centre) * max(0.0, 1.0 - 2.0 * inset_px / max(face_px, 1.0))
    inner = masks.fill_polygon(grid, inner_corners)
    sigma = 0.3 * (max(FEATHER_FRACTION * face_px, 5.0) - 1.0) + 0.8
    alpha = masks.feather(inner, 0.0, sigma / cell_px)
    holes = []
    if options.mouth_mask:
        holes.append(masks.fill_polygon(grid, mouth_polygon(keypoints), options.mouth_mask_size))
    if options.keep_eyes:
        holes += [masks.fill_polygon(grid, eye, EYE_HOLE_SCALE) for eye in eye_polygons(keypoints)]
    lenses = None
    if options.colour_correction:
        lenses = masks.fill_polygons(grid, [(lens, 1.0) for lens in lens_polygons(keypoints)])
    return PasteGeometry(grid, inner, alpha, holes, lenses)


def paste_face(output: np.ndarray, frame: np.ndarray, swapped: np.ndarray, matrix: np.ndarray,
               keypoints: np.ndarray, options: SwapOptions, stage_ms: dict[str, float] | None = None,
               front: FrontView | None = None, face_index: int = 0) -> tuple[int, int, int, int] | None:
    """Blend the swapped crop into output (in place) inside the crop's box; returns the box.
    front: the frame's view of what is in front of the faces, kept over the swap;
    face_index: which face of the frame this is (the view remembers each one's skin)."""
    started = time.perf_counter()
    size = swapped.shape[0]
    geometry = paste_geometry(matrix, keypoints, size, frame.shape, options)
    if geometry is None:
        return None
    grid = geometry.grid
    warped = cv2.warpAffine(swapped, crop_to_box(matrix, grid.box), (grid.width, grid.height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    target = grid.crop(frame)
    warped_at = time.perf_counter()
    if stage_ms is None:
        stage_ms = {}
    stage_ms["paste_warp"] = stage_ms.get("paste_warp", 0.0) + (warped_at - started) * 1e3
    patch = front.patch(grid.box, face_shape(keypoints, face_index)) if front is not None else None
    composite(output, grid, target, warped, geometry.inner, geometry.alpha, geometry.holes, options, stage_ms,
              geometry.lenses, () if patch is None else (patch,))
    return grid.box
