"""A tongue out, found on the target in each frame so it stays the target's.

The mouth hole follows the mesh's lips, and the mesh has no tongue: one stuck out over the
lower lip and chin lies outside the hole, so the photo's chin was drawn over it. A tongue
is redder than the face's skin (like the lips), and it comes out of the mouth: here it is
the red pixels below the upper lip that are joined to the lips and reach well past them.
The lips' own edge just outside the mesh's outline is red and joined too, but thin: a
patch counts as a tongue only when it holds a good share of the lips' own area.
Computed on a box around the mouth only.
"""

from __future__ import annotations

import cv2
import numpy as np

from .face_mesh import MeshTopology
from .masks import Patch, fill_pixels, parts_reaching

# Lab a* (red-green, 0..255) above the skin's median (between nose and lips) by this much: tongue from here on.
REDDER_NEAR, REDDER_FAR = 9.0, 16.0
MIN_SHARE = 0.3             # of the lips' own area, outside them, before it is a tongue
REACH = (0.7, 1.0)          # the box around the lips: sideways and down, in eye distances
SKIN_HEIGHT = 0.3           # the skin's reference band above the lips, in eye distances
EDGE_GROW = 0.04            # the found tongue grown and feathered by this, in eye distances


def find(frame: np.ndarray, points: np.ndarray, topology: MeshTopology) -> Patch | None:
    """The tongue out of this face's mouth, or None when none shows past the lips."""
    unit = topology.eye_distance(points)
    lips = points[topology.outer_lips]
    low, high = lips.min(axis=0), lips.max(axis=0)
    height, width = frame.shape[:2]
    x0, y0 = max(0, int(low[0] - REACH[0] * unit)), max(0, int(low[1] - SKIN_HEIGHT * unit))
    x1, y1 = min(width, int(high[0] + REACH[0] * unit) + 1), min(height, int(high[1] + REACH[1] * unit) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    origin = np.array([x0, y0], dtype=np.float32)
    crop = frame[y0:y1, x0:x1, :3]
    shape = crop.shape[:2]
    redness = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2LAB)[:, :, 1].astype(np.float32)
    lips_mask = fill_pixels(shape, [(lips - origin, 1.0)])
    # The skin between the nose and the upper lip, as wide as the lips: a nostril is a
    # minority there, and the median ignores it.
    above = redness[:max(1, int(low[1] - y0 - 0.05 * unit)), int(low[0] - x0):int(high[0] - x0) + 1]
    if above.size < 30:
        return None
    skin = float(np.median(above))
    rows = np.arange(shape[0])[:, None]
    red = (redness - skin) > REDDER_NEAR
    below_upper_lip = rows > (lips[:, 1].min() + high[1]) / 2 - y0   # from the mouth's middle line down
    candidates = red & below_upper_lip & ~lips_mask
    least = MIN_SHARE * max(int(np.count_nonzero(lips_mask)), 1)
    if np.count_nonzero(candidates) < least:   # the usual frame: too little red to hold a tongue
        return None
    touching = cv2.dilate(lips_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    tongue = parts_reaching(candidates, touching)
    if tongue.sum() < least:
        return None
    strength = np.clip((redness - skin - REDDER_NEAR + 2.0)
                       / (REDDER_FAR - REDDER_NEAR), 0.0, 1.0)
    grow = max(1, round(EDGE_GROW * unit))
    near = cv2.dilate(tongue.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    mask = np.maximum(tongue.astype(np.float32), strength * near)
    return Patch(x0, y0, cv2.GaussianBlur(mask, (0, 0), max(0.7, grow / 2)))
