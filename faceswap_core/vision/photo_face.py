"""The photo's face made ready to be worn: what covers it found, its own light taken out,
its lips replaced by skin. Runs once per photo, so it may cost tens of milliseconds.

A mesh warp carries every pixel inside the photo's face outline onto the stream: a fringe
over the forehead lands as a band of hair on the streamer's forehead, a side light's
shadow as a dark patch on an evenly lit face, and the photo's lip line wherever the
streamer's lips are not (a tongue out, pushed lips). Each is fixed here, in the photo's own
coordinates, where the face holds still:
- **covered**: pixels inside the outline unlike the face's own skin, in patches that
  reach the outline (vision.skin, the measure the frames' occluders use too); the swap
  leaves those parts to the target's own face;
- **delit**: the photo's light divided out (a face-wide blur of the skin's brightness,
  and at a fine scale what differs between the face's two halves) and its relief kept,
  so the per-frame colour correction puts the target's light onto an evenly lit face
  instead of onto the photo's shadows;
- **without_lips**: the photo's lips painted over with the skin around them, for when
  the target's own mouth shows through: the photo's lip line then cannot appear outside
  the target's lips however the mesh follows an extreme mouth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .face_mesh import MeshTopology
from .masks import fill_pixels
from .skin import SkinLooks, SkinModel, reaching_outline, unlikeness

TOO_COVERED = 0.2                           # share of the face's skin covered before a tip is shown
SHADING_SIGMA = 0.05                        # a side light's difference between the halves, at this scale (of the face's size)
BROAD_SHADING_SIGMA = 0.2                   # the light over the whole face, at this scale
# What remains of the fine shading is mostly the face's relief: this much of it is kept
# (in log terms). All of it flattened the face, moved dlib's view of its jaw and mouth
# (lp_d19: 11 frames over 5% landmark error, 4 kept now) and brightened the brow area so
# that a glint on a target's lenses tinted it (10 levels; 4.6 kept); none of it left the
# photo's folds as dark as in the photo (lp_d10: the lips' ring 0.108 much darker, 0.061 kept).
RELIEF_KEPT = 0.7
SHADING_GAIN = (0.5, 2.5)
LIPS_PAINT_SCALE = 1.25                     # the lips' outline grown before it is painted over


@dataclass(frozen=True)
class PhotoFace:
    delit: np.ndarray           # BGR uint8: the photo with its skin's shading divided out
    without_lips: np.ndarray    # the same with the lips painted over with skin
    covered: np.ndarray         # float32 0..1 (the crop's size): 1 where something covers the face
    covered_share: float        # of the face's skin area


def prepare(image: np.ndarray, points: np.ndarray, topology: MeshTopology, face_size: float) -> PhotoFace:
    """image: BGR uint8 crop around the face; points: its mesh in the crop's coordinates."""
    shape = image.shape[:2]
    oval = fill_pixels(shape, [(points[topology.face_oval], 1.0)])
    features = fill_pixels(shape, topology.feature_polygons(points))
    open_skin = oval & ~features
    reference = open_skin & _mid_face(shape, points, topology)
    if reference.sum() < 50:            # a tiny or odd face: nothing to compare with, change nothing
        return PhotoFace(image, image, np.zeros(shape, np.float32), 0.0)
    looks = SkinLooks.of(image, face_size)
    brightness = looks.brightness
    covered = reaching_outline(unlikeness(looks, SkinModel.measure(looks, reference)), open_skin, oval, face_size)
    share = float(covered[open_skin].mean())
    delit = _delight(image, brightness, open_skin.astype(np.float32) * (1.0 - covered), face_size,
                     _mirror(points, topology))
    lips = fill_pixels(shape, [(points[topology.outer_lips], LIPS_PAINT_SCALE)]).astype(np.uint8)
    radius = max(2, round(0.03 * face_size))
    without_lips = cv2.inpaint(delit, lips, radius, cv2.INPAINT_TELEA)
    return PhotoFace(delit, without_lips, covered, share)


def covered_tip(share: float) -> str | None:
    if share < TOO_COVERED:
        return None
    return (f"Hair or something else covers {share:.0%} of the face in the photo; your own face shows "
            "there instead: a photo with the forehead and cheeks clear swaps more of the face.")



def _mid_face(shape: tuple[int, int], points: np.ndarray, topology: MeshTopology) -> np.ndarray:
    """Between the eyes and the mouth, along the face's own axis: cheeks and nose, the skin
    least often covered (no fringe, no beard on most faces)."""
    eyes = np.mean([points[eye].mean(axis=0) for eye in topology.eyes], axis=0)
    mouth = points[topology.outer_lips].mean(axis=0)
    axis = mouth - eyes
    rows, cols = np.indices(shape, dtype=np.float32)
    along = ((cols - eyes[0]) * axis[0] + (rows - eyes[1]) * axis[1]) / max(float(axis @ axis), 1.0)
    return (along > 0.15) & (along < 0.9)


def _delight(image: np.ndarray, brightness: np.ndarray, weight: np.ndarray, face_size: float,
             mirror: np.ndarray) -> np.ndarray:
    """The photo with its light taken out and its shape left in. Three parts, multiplied:
    - broad: the skin's light at a face-wide scale (a hat's shadow over the forehead, one
      half darker), each pixel scaled to the skin's median brightness;
    - side: at a fine scale (a side light's edge down the nose is sharp), only what
      differs between a point and its mirror across the face's axis, so that both sides
      meet halfway. A face's own relief (eye sockets, the nose's sides, the folds around
      the mouth) is much the same on both sides and stays;
    - relief: the fine shading left, mostly the face's relief, softened (RELIEF_KEPT): a
      deep fold lit from above is partly the photo's light too.
    Light is a blur normalised by the weights (open skin), so hair and features do not
    darken it; past the skin the gain fades to 1: only the face is relit."""
    if float(weight.sum()) < 50:
        return image
    light, trust = _skin_light(brightness, weight, BROAD_SHADING_SIGMA * face_size)
    level = float(np.median(brightness[weight > 0.5])) if (weight > 0.5).any() else float(brightness.mean())
    broad = 1.0 + (np.clip(level / np.maximum(light, 1.0), *SHADING_GAIN) - 1.0) * trust
    light, trust = _skin_light(brightness * broad, weight, SHADING_SIGMA * face_size)
    size = (image.shape[1], image.shape[0])
    mirrored = cv2.warpAffine(light, mirror, size, flags=cv2.INTER_LINEAR)
    mirrored_trust = cv2.warpAffine(trust, mirror, size, flags=cv2.INTER_LINEAR)
    side = np.sqrt(np.maximum(mirrored, 1.0) / np.maximum(light, 1.0))
    side = 1.0 + (np.clip(side, *SHADING_GAIN) - 1.0) * np.minimum(trust, mirrored_trust)
    gain = broad * side
    light, _ = _skin_light(brightness * gain, weight, SHADING_SIGMA * face_size)
    relief = np.clip(level / np.maximum(light, 1.0), *SHADING_GAIN) ** (1.0 - RELIEF_KEPT)
    gain = (gain * (1.0 + (relief - 1.0) * trust)).astype(np.float32)
    return cv2.multiply(image, np.dstack([gain] * 3), dtype=cv2.CV_8U)


def _skin_light(brightness: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The skin's brightness blurred at sigma, counting only weighted pixels, and how far
    each pixel can trust it (0 far from any skin)."""
    sigma = max(1.0, sigma)
    spread = cv2.GaussianBlur(weight, (0, 0), sigma)
    light = cv2.GaussianBlur(brightness * weight, (0, 0), sigma) / np.maximum(spread, 1e-6)
    return np.where(spread > 0.05, light, 0.0), np.clip((spread - 0.05) / 0.25, 0.0, 1.0)


def _mirror(points: np.ndarray, topology: MeshTopology) -> np.ndarray:
    """2x3 affine: the reflection across the perpendicular bisector of the eyes' centres."""
    first, second = (points[eye].mean(axis=0).astype(np.float64) for eye in topology.eyes)
    normal = second - first
    normal /= max(float(np.linalg.norm(normal)), 1e-6)
    middle = (first + second) / 2
    linear = np.eye(2) - 2.0 * np.outer(normal, normal)
    return np.hstack([linear, (2.0 * float(middle @ normal) * normal)[:, None]])
