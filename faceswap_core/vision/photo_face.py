"""The photo's face made ready to be worn: what covers it found, its own light taken out,
its lips replaced by skin. Runs once per photo, so it may cost tens of milliseconds.

A mesh warp carries every pixel inside the photo's face outline onto the stream: a fringe
over the forehead lands as a band of hair on the streamer's forehead, a side light's
shadow as a dark patch on an evenly lit face, and the photo's lip line wherever the
streamer's lips are not (a tongue out, pushed lips). Each is fixed here, in the photo's own
coordinates, where the face holds still:
- **covered**: pixels inside the outline unlike the face's own skin (chromaticity, or
  dark and textured like hair), in patches that reach the outline, since hair, a hat, a
  hand or a microphone come from outside the face; the swap leaves those parts to the
  target's own face;
- **delit**: the skin's shading (a masked blur of its brightness, at a scale finer than
  the per-frame colour correction's) divided out, so that correction puts the target's
  light onto an evenly lit face instead of onto the photo's shadows;
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

# A pixel is unlike skin when its chromaticity is this many standard deviations (of the
# reference skin's, Mahalanobis) from the skin's: skin 90% under 2.2 on the test photos,
# the astronaut's fringe 4-12.
UNLIKE_NEAR, UNLIKE_FAR = 2.0, 4.0
# Or dark and textured: hair of skin's own hue (a blonde fringe) is darker than the skin
# and has strands; a shadow is darker but smooth.
DARK_NEAR, DARK_FAR = 0.25, 0.45            # 1 - brightness / the skin's
TEXTURE_NEAR, TEXTURE_FAR = 1.3, 2.2        # local contrast / the skin's
COVER_GROW = 0.05                           # covered patches grown and feathered, of the face's size
EDGE_BAND = 0.06                            # a patch counts as coming from outside if it reaches this close to the outline
TOO_COVERED = 0.2                           # share of the face's skin covered before a tip is shown
SHADING_SIGMA = 0.05                        # the photo's light is measured at this scale (of the face's size)
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
    brightness = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    unlike = _unlike_skin(image, brightness, reference, face_size)
    covered = _reaching_outline(unlike, open_skin, oval, face_size)
    share = float(covered[open_skin].mean())
    delit = _delight(image, brightness, open_skin.astype(np.float32) * (1.0 - covered), face_size)
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


def _ramp(values: np.ndarray, near: float, far: float) -> np.ndarray:
    return np.clip((values - near) / (far - near), 0.0, 1.0).astype(np.float32)


def _unlike_skin(image: np.ndarray, brightness: np.ndarray, reference: np.ndarray, face_size: float) -> np.ndarray:
    """0..1 per pixel: how surely it is not the face's skin."""
    values = image.astype(np.float32) + 1.0
    chroma = values[:, :, 1:] * (255.0 / values.sum(axis=2))[:, :, None]
    samples = chroma[reference]
    centre = np.median(samples, axis=0)
    inverse = np.linalg.inv(np.cov((samples - centre).T) + np.eye(2, dtype=np.float32))
    offset = chroma - centre
    distance = np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", offset, inverse, offset), 0.0))
    skin_level = float(np.median(brightness[reference]))
    detail = brightness - cv2.GaussianBlur(brightness, (0, 0), max(0.6, 0.015 * face_size))
    texture = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), max(0.8, 0.02 * face_size)))
    skin_texture = max(float(np.median(texture[reference])), 0.5)
    dark = _ramp(1.0 - brightness / max(skin_level, 1.0), DARK_NEAR, DARK_FAR)
    return np.maximum(_ramp(distance, UNLIKE_NEAR, UNLIKE_FAR), dark * _ramp(texture / skin_texture, TEXTURE_NEAR, TEXTURE_FAR))


def _reaching_outline(unlike: np.ndarray, open_skin: np.ndarray, oval: np.ndarray, face_size: float) -> np.ndarray:
    """The unlike-skin patches of the open skin that reach the face's outline, grown and
    feathered: a freckle, a highlight or a nostril inside the face is not a cover."""
    candidates = ((unlike > 0.5) & open_skin).astype(np.uint8)
    candidates = cv2.morphologyEx(candidates, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(candidates, connectivity=8)
    if count <= 1:
        return np.zeros(unlike.shape, np.float32)
    band = max(1, round(EDGE_BAND * face_size))
    inner = cv2.erode(oval.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1)))
    near_edge = np.unique(labels[(candidates > 0) & (inner == 0)])
    kept = np.isin(labels, near_edge[near_edge > 0]).astype(np.float32)
    grow = max(1, round(COVER_GROW * face_size))
    kept = cv2.dilate(kept, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return np.clip(cv2.GaussianBlur(kept, (0, 0), grow), 0.0, 1.0)


def _delight(image: np.ndarray, brightness: np.ndarray, weight: np.ndarray, face_size: float) -> np.ndarray:
    """The photo with its skin's shading divided out: the light measured on the open skin
    (a blur normalised by the weights, so hair and features do not darken it) and spread
    to the features between, each pixel scaled to the skin's median brightness."""
    if float(weight.sum()) < 50:
        return image
    sigma = max(1.0, SHADING_SIGMA * face_size)
    light = cv2.GaussianBlur(brightness * weight, (0, 0), sigma)
    spread = cv2.GaussianBlur(weight, (0, 0), sigma)
    level = float(np.median(brightness[weight > 0.5])) if (weight > 0.5).any() else float(brightness.mean())
    known = spread > 0.05
    light = np.where(known, light / np.maximum(spread, 1e-6), level)
    # Past the skin (hair, background) the gain fades to 1 over a few sigmas: only the face is relit.
    trust = np.clip(spread / 0.3, 0.0, 1.0)
    gain = np.clip(level / np.maximum(light, 1.0), *SHADING_GAIN)
    gain = 1.0 + (gain - 1.0) * trust
    return cv2.multiply(image, np.dstack([gain] * 3).astype(np.float32), dtype=cv2.CV_8U)
