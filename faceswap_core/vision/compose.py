"""The last steps both engines share once a face is warped into its box: cut the target's
own mouth (and eyes) out of the mask, take the target's colour and light, blend.

Engines differ in how they warp and where their masks come from (a 478-point mesh, or
five keypoints); from here on the logic is the same, so it lives once.
"""

from __future__ import annotations

import time

import numpy as np

from ..options import SwapOptions
from . import colour, masks
from .blend import blend_into
from .grid import BoxGrid

COLOUR_SIGMA = 0.10     # colour correction's blur, of the grid's cells
HOLE_FEATHER = 0.015    # mouth and eye holes' edge blur, of the grid's cells
EYE_HOLE_SCALE = 1.5    # eye holes grown around the eye outline


def composite(output: np.ndarray, grid: BoxGrid, target: np.ndarray, warped: np.ndarray,
              colour_mask: np.ndarray, alpha: np.ndarray, holes: list[np.ndarray], options: SwapOptions,
              stage_ms: dict[str, float], lenses: np.ndarray | None = None,
              kept: tuple[masks.Patch, ...] = ()) -> None:
    """Blend the warped face into output's box, in place.

    target: the box's original pixels; colour_mask: coarse mask of where the face's colour
    is measured; alpha: coarse soft mask of the swap; holes: coarse masks of the target's
    features to keep; lenses: coarse regions where glasses may reflect light, or None;
    kept: the target's own things drawn back whole over the swap (its glasses frames, a
    tongue out, a hand in front), at full resolution; the colour correction leaves them out.
    Adds the time spent to stage_ms["colour"] and stage_ms["blend"].
    """
    started = time.perf_counter()
    cells = float(max(grid.cols, grid.rows))
    face = warped
    if options.colour_correction:
        for patch in kept:   # measured as skin, dark frames would grey the face, a tongue or a hand redden it
            colour_mask = colour_mask * (np.float32(1.0) - patch_on_grid(grid, patch))
        gain = colour.low_frequency_gain(warped, target, colour_mask, grid, COLOUR_SIGMA * cells, lenses)
        face = colour.apply_gain(warped, gain)
    coloured = time.perf_counter()
    alpha = grid.upsample(masks.cut_holes(alpha, holes, HOLE_FEATHER * cells)) * np.float32(options.opacity)
    for patch in kept:
        box = patch_in_box(grid, patch)
        if box is not None:
            (y0, y1, x0, x1), mask = box
            alpha[y0:y1, x0:x1] *= np.float32(1.0) - mask
    # over the picture as it stands, not the camera's: where this face draws nothing (the
    # box's margin past its mask, its holes, what is kept in front of it) a face swapped
    # before it, whose box this one overlaps, stays (blended over `target`, the margin put
    # the camera's pixels back over it); for the first face in a box the two are the same
    blend_into(output, grid, grid.crop(output), face, alpha)
    done = time.perf_counter()
    stage_ms["colour"] = stage_ms.get("colour", 0.0) + (coloured - started) * 1e3
    stage_ms["blend"] = stage_ms.get("blend", 0.0) + (done - coloured) * 1e3


def patch_in_box(grid: BoxGrid, patch: masks.Patch) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The patch's mask clipped to the box: ((y0, y1, x0, x1) in box coordinates, mask);
    None when they do not overlap. The GPU frame path draws kept patches with this too."""
    x0, y0 = max(patch.x0, grid.x0), max(patch.y0, grid.y0)
    x1, y1 = min(patch.x1, grid.x1), min(patch.y1, grid.y1)
    if x1 <= x0 or y1 <= y0:
        return None
    mask = patch.mask[y0 - patch.y0:y1 - patch.y0, x0 - patch.x0:x1 - patch.x0]
    return (y0 - grid.y0, y1 - grid.y0, x0 - grid.x0, x1 - grid.x0), mask


def patch_on_grid(grid: BoxGrid, patch: masks.Patch) -> np.ndarray:
    """The patch's coverage of each coarse cell (0..1): what the colour correction leaves out."""
    full = np.zeros((grid.height, grid.width), np.float32)
    box = patch_in_box(grid, patch)
    if box is not None:
        (y0, y1, x0, x1), mask = box
        full[y0:y1, x0:x1] = mask
    return np.clip(grid.downsample(full) * np.float32(3.0), 0.0, 1.0)
