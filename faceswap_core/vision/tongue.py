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
ROUGH_STEP = 2              # the first look takes every this-many-th pixel each way, at least ...
ROUGH_SAMPLES = 24          # ... or as many as keep this many samples across an eye distance (a close-up's
# mouth box at 720p is 400 pixels wide: every other pixel cost 0.3 ms of Lab conversion a frame) ...
ROUGH_MARGIN = 0.5          # ... and ends the search where it finds less than this share of MIN_SHARE


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
    crop = frame[y0:y1, x0:x1, :3]
    local = lips - np.array([x0, y0], dtype=np.float32)
    # The usual frame holds far too little red for a tongue: told from every other pixel
    # each way first (the colour conversion is most of the search's cost: 1 ms a 720p face)
    rough = _red_below_lips(crop, local, unit, max(ROUGH_STEP, int(unit / ROUGH_SAMPLES)))
    if rough is None or _red_share(rough) < ROUGH_MARGIN * MIN_SHARE:
        return None
    found = _red_below_lips(crop, local, unit, 1)
    if found is None:
        return None
    redness, skin, lips_mask, candidates = found
    least = MIN_SHARE * max(int(np.count_nonzero(lips_mask)), 1)
    if np.count_nonzero(candidates) < least:   # too little red to hold a tongue
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


def _red_below_lips(crop: np.ndarray, lips: np.ndarray, unit: float, step: int):
    """On every step-th pixel of the crop around the mouth (lips: the outer lips in the
    crop's pixels): the redness (Lab a*), the skin's own (between the nose and the upper
    lip, as wide as the lips: a nostril is a minority there, and the median ignores it),
    the lips, and the pixels redder than that skin from the mouth's middle line down,
    outside the lips. None where too little skin shows to measure."""
    sample = np.ascontiguousarray(crop[::step, ::step])
    shape = sample.shape[:2]
    redness = cv2.cvtColor(sample, cv2.COLOR_BGR2LAB)[:, :, 1].astype(np.float32)
    lips_mask = fill_pixels(shape, [(lips / np.float32(step), 1.0)])
    low, high = lips.min(axis=0), lips.max(axis=0)
    above = redness[:max(1, int((low[1] - 0.05 * unit) / step)), int(low[0] / step):int(high[0] / step) + 1]
    if above.size * step * step < 30:
        return None
    skin = float(np.median(above))
    rows = np.arange(shape[0])[:, None] * step
    red = (redness - skin) > REDDER_NEAR
    below_upper_lip = rows > (lips[:, 1].min() + high[1]) / 2   # from the mouth's middle line down
    return redness, skin, lips_mask, red & below_upper_lip & ~lips_mask


def _red_share(found) -> float:
    """The red pixels below the lips, of the lips' own area."""
    _, _, lips_mask, candidates = found
    return np.count_nonzero(candidates) / max(int(np.count_nonzero(lips_mask)), 1)
