"""Putting a face into the frame: alpha blending inside its box only.

Pixels outside the box are never written, so the rest of the stream is bit-identical
to the input.
"""

from __future__ import annotations

import numpy as np

from .grid import BoxGrid


def blend_into(frame: np.ndarray, grid: BoxGrid, target: np.ndarray, face: np.ndarray,
               alpha: np.ndarray) -> None:
    """frame[box] = target + alpha * (face - target), in place, BGR channels only.

    target: the box's original uint8 pixels; face: float32 or uint8 BGR of the box's
    size; alpha: float32 (height, width) in 0..1.
    """
    base = target.astype(np.float32)
    mixed = base + alpha[:, :, None] * (face.astype(np.float32, copy=False) - base)
    np.clip(mixed, 0.0, 255.0, out=mixed)
    frame[grid.y0:grid.y1, grid.x0:grid.x1, :3] = (mixed + 0.5).astype(np.uint8)
