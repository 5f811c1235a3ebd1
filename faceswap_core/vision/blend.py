"""Putting a face into the frame: alpha blending inside its box only.

Pixels outside the box are never written, so the rest of the stream is bit-identical
to the input. The blend is OpenCV's blendLinear on uint8 (SIMD, a third of numpy's
float arithmetic at 1080p).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..bgra import put_bgr
from .grid import BoxGrid


def blend_into(frame: np.ndarray, grid: BoxGrid, target: np.ndarray, face: np.ndarray,
               alpha: np.ndarray) -> None:
    """frame[box] = target + alpha * (face - target), in place, BGR channels only.

    target: the box's original uint8 pixels; face: BGR of the box's size, uint8 (or
    float, then rounded and saturated to 0..255); alpha: float32 (height, width) in 0..1.
    """
    if face.dtype != np.uint8:
        face = cv2.convertScaleAbs(np.maximum(face, 0.0))   # rounds and saturates at 255
    alpha = alpha.astype(np.float32, copy=False)
    mixed = cv2.blendLinear(face, target, alpha, 1.0 - alpha)
    put_bgr(frame[grid.y0:grid.y1, grid.x0:grid.x1], mixed)
