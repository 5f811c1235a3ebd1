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
              stage_ms: dict[str, float], lenses: np.ndarray | None = None) -> None:
    """Blend the warped face into output's box, in place.

    target: the box's original pixels; colour_mask: coarse mask of where the face's colour
    is measured; alpha: coarse soft mask of the swap; holes: coarse masks of the target's
    features to keep; lenses: coarse regions where glasses may reflect light, or None.
    Adds the time spent to stage_ms["colour"] and stage_ms["blend"].
    """
    started = time.perf_counter()
    cells = float(max(grid.cols, grid.rows))
    face = warped
    if options.colour_correction:
        gain = colour.low_frequency_gain(warped, target, colour_mask, grid, COLOUR_SIGMA * cells, lenses)
        face = colour.apply_gain(warped, gain)
    coloured = time.perf_counter()
    alpha = masks.cut_holes(alpha, holes, HOLE_FEATHER * cells)
    blend_into(output, grid, target, face, grid.upsample(alpha) * np.float32(options.opacity))
    done = time.perf_counter()
    stage_ms["colour"] = stage_ms.get("colour", 0.0) + (coloured - started) * 1e3
    stage_ms["blend"] = stage_ms.get("blend", 0.0) + (done - coloured) * 1e3
