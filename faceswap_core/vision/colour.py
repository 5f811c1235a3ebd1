"""Colour correction: the swapped face takes the target's skin tone and lighting.

The source photo was lit differently from the stream. Replacing the warped face's
low spatial frequencies (overall colour, shading across the face) with the target's
keeps the source's features, which live in the high frequencies, and makes the face
sit in the scene's light. Both are measured on the coarse grid, inside the face mask,
so this costs one upsample and one add per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from .grid import BoxGrid


def _masked_blur(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of the masked pixels only, renormalised so the outside does not bleed in."""
    weighted = cv2.GaussianBlur(image * mask[:, :, None], (0, 0), sigma)
    weight = cv2.GaussianBlur(mask, (0, 0), sigma)[:, :, None]
    return weighted / np.maximum(weight, 1e-3)


def low_frequency_shift(warped: np.ndarray, target: np.ndarray, mask: np.ndarray,
                        grid: BoxGrid, sigma_cells: float) -> np.ndarray:
    """What to add to the warped face (full box, float32 BGR) to take the target's light.

    warped, target: the box's uint8 BGR pixels; mask: the coarse face mask (0..1).
    """
    if float(mask.sum()) < 4.0:
        return np.zeros((grid.height, grid.width, 3), dtype=np.float32)
    source_low = _masked_blur(grid.downsample(warped).astype(np.float32), mask, sigma_cells)
    target_low = _masked_blur(grid.downsample(target).astype(np.float32), mask, sigma_cells)
    return grid.upsample(target_low - source_low)


def apply_shift(warped: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """warped + shift as uint8, rounded and saturated, in one OpenCV pass."""
    return cv2.add(warped, shift, dtype=cv2.CV_8U)
