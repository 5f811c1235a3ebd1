"""The target's glasses frames, found in each frame so they can be drawn back over the swap.

A real pair of glasses sits in front of the face: swapped under it, the face should keep
the frames whole. Warped over, they vanish, and the colour correction (which measures the
target's light, dark frames included) left them as a faint grey ghost on the new face.

Frames are thin dark lines around the eyes: a morphological black-hat (closing minus the
image) keeps exactly what is darker than its surroundings and thinner than the kernel. The
eyes and brows are thin and dark too, so their outlines are left out, and a face counts as
wearing glasses only where the lines run along the lens's rim and across the nose's bridge,
which skin, lashes and creases do not do together (on the test clips: rims 10-14% of their
band and bridges 15-20% on lp_d19's metal frames; on the faces without glasses rims up to
10% (lp_d10's eyeliner) and bridges up to 2.4% (lp_d3's frown), never both). Clear or
light frames (lp_d12's) are not found: they barely differ from the skin behind them.
Computed on the eye band only, at full resolution: about a millisecond at 720p.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import eyes
from .face_mesh import MeshTopology
from .masks import Patch, fill_pixels

KERNEL = 0.3                 # the black-hat's size, in eye widths: frames are far thinner
DARKER_NEAR, DARKER_FAR = 10.0, 20.0   # levels darker than the surroundings: a frame from here on
RIM_MIN = 0.06               # share of the rim's band that must be frame-dark
BRIDGE_MIN = 0.08            # and of the bridge's box (a frown's creases fill one, not both)
RIM_INNER = 0.75             # the rim's band: between this share of the lens region and all of it
REGION_SCALE = 1.1           # the lens regions grown: where frames may be drawn back
EYE_KEEP_OUT = 1.6           # eye outlines grown, left to the swap (lashes, lids)
BROW_KEEP_OUT = 1.3
INNER_CORNERS = (133, 362)   # mediapipe's inner eye corners
BARE_FOR = 15                # on a stream, a face found without glasses this many searches in a row
RECHECK_EVERY = 5            # is searched again only every this many frames (nobody puts glasses on
                             # within a sixth of a second); a face with glasses, or found with them
                             # lately, is searched on every frame (a frame missed would flicker)


def find(frame: np.ndarray, points: np.ndarray, topology: MeshTopology, lenses: list[np.ndarray]) -> Patch | None:
    """The glasses frames on this face, or None when it wears none. lenses: each eye's
    `eyes.lens_region`, which the colour correction uses too."""
    outline = np.vstack(lenses)
    centre = outline.mean(axis=0)
    outline = centre + (outline - centre) * REGION_SCALE
    height, width = frame.shape[:2]
    x0, y0 = (max(0, int(v)) for v in np.floor(outline.min(axis=0)))
    x1, y1 = min(width, int(np.ceil(outline[:, 0].max())) + 1), min(height, int(np.ceil(outline[:, 1].max())) + 1)
    if x1 - x0 < 16 or y1 - y0 < 8:
        return None
    eye_width = float(np.mean([np.linalg.norm(np.subtract(*eyes.corners(points[eye]))) for eye in topology.eyes]))
    origin = np.array([x0, y0], dtype=np.float32)
    local = points - origin
    gray = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    size = max(3, int(KERNEL * eye_width) | 1)
    darker = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    shape = gray.shape
    keep_out = fill_pixels(shape, [(local[eye], EYE_KEEP_OUT) for eye in topology.eyes]
                     + [(local[brow], BROW_KEEP_OUT) for brow in topology.brows])
    lens_local = [lens - origin for lens in lenses]
    rim = fill_pixels(shape, [(lens, 1.0) for lens in lens_local]) & ~fill_pixels(shape, [(lens, RIM_INNER) for lens in lens_local])
    rim &= ~keep_out
    dark = darker > DARKER_FAR * 0.75
    rim_share = float(dark[rim].mean()) if rim.any() else 0.0
    if rim_share < RIM_MIN or _bridge_share(dark, local) < BRIDGE_MIN:
        return None
    region = fill_pixels(shape, [(lens, REGION_SCALE) for lens in lens_local]) & ~keep_out
    strength = np.clip((darker.astype(np.float32) - DARKER_NEAR) / (DARKER_FAR - DARKER_NEAR), 0.0, 1.0)
    strength *= region
    strength = cv2.GaussianBlur(cv2.dilate(strength, np.ones((3, 3), np.uint8)), (0, 0), 0.7)
    return Patch(x0, y0, strength)


class GlassesWatch:
    """For one stream: `find` on each face, but on a face that has shown no glasses for a
    while only every RECHECK_EVERY frames (the search is a tenth of a frame's cost, and
    most faces wear none)."""

    def __init__(self):
        self._bare: dict[int, int] = {}    # per face (largest first): searches in a row that found none
        self._idle: dict[int, int] = {}    # and frames since its last search

    def find(self, frame: np.ndarray, points: np.ndarray, topology: MeshTopology, lenses: list[np.ndarray],
             index: int) -> Patch | None:
        idle = self._idle.get(index, 0) + 1
        if self._bare.get(index, 0) >= BARE_FOR and idle < RECHECK_EVERY:
            self._idle[index] = idle
            return None
        self._idle[index] = 0
        found = find(frame, points, topology, lenses)
        self._bare[index] = 0 if found is not None else self._bare.get(index, 0) + 1
        return found

    def reset(self) -> None:
        self._bare.clear()
        self._idle.clear()


def _bridge_share(dark: np.ndarray, local: np.ndarray) -> float:
    """Frame-dark share of a box on the nose between the inner eye corners, from half their
    distance above the eye line to a fifth below it."""
    first, second = local[INNER_CORNERS[0]], local[INNER_CORNERS[1]]
    middle, apart = (first + second) / 2.0, float(np.linalg.norm(second - first))
    top, bottom = int(middle[1] - 0.5 * apart), int(middle[1] + 0.2 * apart)
    left, right = int(middle[0] - 0.25 * apart), int(middle[0] + 0.25 * apart)
    box = dark[max(0, top):max(0, bottom), max(0, left):max(0, right)]
    return float(box.mean()) if box.size else 0.0

