"""Colour correction: the swapped face takes the target's skin tone and lighting.

The source photo was lit differently from the stream. Replacing the warped face's
low spatial frequencies (overall colour, shading across the face) with the target's
keeps the source's features, which live in the high frequencies, and makes the face
sit in the scene's light. Both are measured on the coarse grid (blurred on cells of 2x2 of
its cells), inside the face mask, so this costs one upsample and one multiply per frame.

The light is changed by a gain, not an offset: a pixel is the skin's reflectance times
the light, so the target's light over the photo's is the factor that relights it. An
offset added the skin's colour difference to dark features too, where it is no small
change: brows and brown irises came out blue or purple whenever the stream's skin was
cooler than the photo's (a green backdrop's spill on lp_d0, a grey room on lp_d18).

Glasses can reflect a screen or a window: a purple or blue sheen on the lenses is light on
the glass, not on the skin, and measured as skin it tints the swapped brows and eyes.
Inside the lens regions, cells whose colour is unlike the face's own skin count less.
"""

from __future__ import annotations

import cv2
import numpy as np

from .grid import BoxGrid


# How far a cell's chromaticity (its green and red shares of its brightness, x255) may be
# from the skin's before it stops counting: 90% of skin cells lie within 4-7 of their
# face's median on five of the six test clips (14 on lp_d3's frown), lp_d12's purple lens
# glare 20-80 away.
REFLECTION_NEAR = 6.0
REFLECTION_FAR = 12.0
# Darker than this share of the skin's brightness a cell keeps counting: chromaticity is
# noise in shadowed lids, creases and dark frames, and a reflection adds light.
REFLECTION_MIN_BRIGHTNESS = 0.5


def reflections(cells: np.ndarray, mask: np.ndarray, lenses: np.ndarray) -> np.ndarray:
    """0..1 per cell: how surely a cell inside the lens regions shows a reflection, not skin.

    Judged against the face's own skin outside the lenses, so a face lit all over by a
    coloured light is skin: only what differs from the rest of the face is discounted,
    and by chromaticity, so a shadow (same colour, less light) is not.
    cells: the target's box downsampled to the grid (uint8 BGR); mask: where the skin is
    measured; lenses: coarse 0..1 lens regions. (The GPU frame path does the same in
    gpu_ops.reflections.)
    """
    found = np.zeros_like(mask)
    where = reflection_cells(mask, lenses)
    if where is None:
        return found
    skin_index, lens_index = where
    pixels = cells.reshape(-1, 3)
    skin_brightness, skin_chromaticity = _chromaticity(pixels[skin_index])
    lens_brightness, lens_chromaticity = _chromaticity(pixels[lens_index])
    offset = lens_chromaticity - np.median(skin_chromaticity, axis=0)
    distance = np.sqrt(offset[:, 0] * offset[:, 0] + offset[:, 1] * offset[:, 1])
    unlike = np.clip((distance - REFLECTION_NEAR) / (REFLECTION_FAR - REFLECTION_NEAR), 0.0, 1.0)
    lit = lens_brightness >= REFLECTION_MIN_BRIGHTNESS * float(np.median(skin_brightness))
    found.reshape(-1)[lens_index] = lenses.reshape(-1)[lens_index] * unlike * lit
    return found


def reflection_cells(mask: np.ndarray, lenses: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat indices of the skin cells a reflection is judged against and of the lens cells
    judged, or None when there is nothing to judge. Every third skin cell is plenty for a
    median, at a third of the cost."""
    inside = (lenses > 0.0).reshape(-1)
    skin = (mask > 0.5).reshape(-1) & ~inside
    if not inside.any() or np.count_nonzero(skin) < 8:
        return None
    return np.flatnonzero(skin)[::3], np.flatnonzero(inside)


def _chromaticity(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) uint8 BGR -> brightness (n,) and green and red shares of it, x255 (n, 2)."""
    values = pixels.astype(np.float32) + np.float32(1.0)
    brightness = values[:, 0] + values[:, 1] + values[:, 2]   # .sum(axis=1)'s order: the same bits, faster
    return brightness, values[:, 1:] * (np.float32(255.0) / brightness)[:, None]


# The light is measured on cells of LIGHT_CELLS x LIGHT_CELLS grid cells: its blur (a tenth
# of the grid's width) is many cells wide, and on the grid itself the two blurs took 0.29 ms
# a face, 40% of the colour's time (the bench's portrait: 0.76 ms, this way 0.59), and the
# output stays within 2 levels of the grid's (1 on most pixels: lp_d3, lp_d10, lp_d19).
# Coarser (4x4) saved no more and moved pixels by up to 5 levels.
LIGHT_CELLS = 2


def light_size(cols: int, rows: int) -> tuple[int, int]:
    """(cols, rows) of the coarser grid the light is measured on (the GPU frame path's too)."""
    return -(-cols // LIGHT_CELLS), -(-rows // LIGHT_CELLS)


def _masked_blur(image: np.ndarray, weight: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian blur of image's masked cells on the light's coarser grid, renormalised by
    weight (the mask's own blur) so the outside does not bleed in. image: already masked."""
    return cv2.GaussianBlur(cv2.resize(image, size, interpolation=cv2.INTER_AREA), (0, 0), sigma) / weight


# The gain's limits: enough for a dim stream against a bright photo and back; a photo's
# near-black corner (hair, a shadow) must not turn into a blown-out patch.
GAIN_MIN = 1.0 / 3.0
GAIN_MAX = 3.0
# Added to both lights before dividing, in 8-bit levels, so a dark cell's ratio is not noise.
GAIN_FLOOR = 4.0


def low_frequency_gain(warped: np.ndarray, target: np.ndarray, mask: np.ndarray,
                       grid: BoxGrid, sigma_cells: float, lenses: np.ndarray | None = None) -> np.ndarray:
    """What to multiply the warped face by (full box, float32 BGR) to take the target's light.

    warped, target: the box's uint8 BGR pixels; mask: the coarse face mask (0..1);
    lenses: coarse regions where glasses may reflect light (see `reflections`), or None.
    """
    if float(mask.sum()) < 4.0:
        return np.ones((grid.height, grid.width, 3), dtype=np.float32)
    target_cells = grid.downsample(target)
    if lenses is not None:
        mask = mask * (np.float32(1.0) - reflections(target_cells, mask, lenses))
    size, sigma = light_size(grid.cols, grid.rows), sigma_cells / LIGHT_CELLS
    weight = np.maximum(cv2.GaussianBlur(cv2.resize(mask, size, interpolation=cv2.INTER_AREA), (0, 0), sigma),
                        np.float32(1e-3))[:, :, None]
    source_low = _masked_blur(grid.downsample(warped).astype(np.float32) * mask[:, :, None], weight, size, sigma)
    target_low = _masked_blur(target_cells.astype(np.float32) * mask[:, :, None], weight, size, sigma)
    return grid.upsample(light_gain(target_low, source_low))


def light_gain(target_low, source_low):
    """The target's light over the face's, per coarse cell, within the gain's limits.
    Arithmetic and .clip only, so the same lines serve NumPy arrays here and torch tensors
    on the GPU frame path."""
    return ((target_low + GAIN_FLOOR) / (source_low + GAIN_FLOOR)).clip(GAIN_MIN, GAIN_MAX)


def apply_gain(warped: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """warped * gain as uint8, rounded and saturated, in one OpenCV pass."""
    return cv2.multiply(warped, gain, dtype=cv2.CV_8U)
