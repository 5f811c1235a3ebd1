"""What covers a face on a camera frame that is not a hand: a face mask, a cup, a
microphone, a phone, hair across the face.

Where a face's skin should be (its outline, less its eyes, brows and lips), a pixel unlike
this face's own skin (vision.skin: chromaticity, or dark and textured like hair) belongs to
something in front of it, when its patch reaches the face's outline: a cover comes from
outside the face. The skin is learned from the face itself, frame after frame: from the
parts of the face that agree with each other (forehead, both upper cheeks, the bridge of
the nose, the chin), so a face mask over the nose and mouth, or a fringe over the
forehead, does not become the skin the rest is measured against.

Dark and textured counts as hair above the nose only (across the forehead or an eye): a
beard or stubble is dark and textured too but is the face's own. A lock of hair that
reached well inside the face goes on over the eyes, brows and glasses where it is still
hair-like (they are no evidence, as dark and textured as hair themselves, but one can
cross them). Very dark and smooth is
cloth anywhere (a black mask); a mask, a cup or a microphone of any other colour differ
in colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .grid import shrunk
from .masks import Patch, fill_pixels, parts_reaching
from .skin import SkinLooks, SkinModel, Unlike, grown, mahalanobis, parts_at_outline

MIN_FACE = 64           # a face box narrower than this is not searched: a moustache on a 30-pixel face
                        # is as dark and smooth as a mask (occ_mute_2), the evidence a few pixels
WORK_SIDE = 72          # the face's box is measured at this many pixels across
LEARN = 0.2             # each measure moves the remembered skin this much of the way to its own
LEARN_EVERY = 5         # on a stream, the skin is measured every this many frames (light changes slowly)
AGREE = 2.5             # a region's chromaticity within this many of the skin's standard deviations agrees
AGREE_FIRST = 8.0       # with no skin remembered yet: regions within this many chromaticity units of each other,
LEVEL_AGREE = 0.5       # and brightness within this factor (log) of each other, agree
MIN_REGION = 12         # pixels a region needs (at the working scale) to be measured
MIN_SHARE = 0.01        # covers reaching less than this share of the face's skin inside INNER are left out:
                        # on lp_d0-d19 and occ_wave at most 0.0026 (lp_d3), a painted lock of hair above
                        # glasses 0.0145
PERSIST = 2             # on a stream, a cover is kept from the second frame in a row it is seen
                        # (one frame's shadow or a turned head's hair beside the face is not one)
SMOOTH = 0.015          # the evidence's blur, of the face's size
INNER = 0.15            # a cover reaches this far (of the face's size) inside the outline
# Reference regions in the face's own frame: `along` from the eyes' centre (0) to the
# mouth's (1), `across` in eye distances from the face's axis.
REGIONS = {
    "forehead": ((-0.75, -0.35), (-0.45, 0.45)),
    "left cheek": ((0.2, 0.55), (-0.95, -0.35)),
    "right cheek": ((0.2, 0.55), (0.35, 0.95)),
    "nose bridge": ((0.0, 0.3), (-0.12, 0.12)),
    "chin": ((1.3, 1.6), (-0.35, 0.35)),
}
LIT_LEVELS = (12.0, 28.0)   # brightness from which a pixel's colour is trusted, ramping to fully
CLOTH_DARK = (0.55, 0.75)   # 1 - brightness / the skin's: from here to here a smooth pixel turns to
                            # cloth (lp_d3's fold and chin shadows reach 0.5)
COLOUR_FAR = (3.5, 7.0)     # chromaticity distance (the skin's standard deviations) ramping to a cover:
                            # further than a photo's (2-4): a shadowed cheek in cool light is 3-4 away,
                            # a blue or white mask, a cup or a microphone far more
NOSE = 0.55             # `along` below which dark-and-textured counts (above the nose's tip)


@dataclass(frozen=True)
class FaceShape:
    """Where a face's skin should be, in frame coordinates."""

    oval: np.ndarray                        # (N, 2) the face's outline
    features: list                          # (polygon, scale) of what is not cover evidence: eyes, brows,
                                            # where glasses' lenses would be (their glints are colourful)
    lips: tuple                             # (polygon, scale) of the lips: not evidence either, but a
                                            # cover that reaches them (a cup, a mask) takes them in
    eyes: np.ndarray                        # (2, 2) the eyes' centres
    mouth: np.ndarray                       # (2,) the mouth's centre
    index: int = 0                          # which face of the frame (largest first): its skin's memory
    keypoints: np.ndarray | None = None     # (5, 2) where the engine has them: an occlusion model aligns by them


def _face_frame(shape: tuple[int, int], face: FaceShape, origin: np.ndarray, scale: float):
    """Per pixel of the working image: (along, across) in the face's own frame."""
    eyes = (face.eyes - origin) * scale
    mouth = (face.mouth - origin) * scale
    centre = eyes.mean(axis=0)
    axis = mouth - centre
    span = max(float(np.linalg.norm(eyes[1] - eyes[0])), 1.0)
    rows, cols = np.indices(shape, dtype=np.float32)
    dx, dy = cols - centre[0], rows - centre[1]
    along = (dx * axis[0] + dy * axis[1]) / max(float(axis @ axis), 1.0)
    normal = np.array([-axis[1], axis[0]], np.float32) / max(float(np.linalg.norm(axis)), 1.0)
    if normal @ (eyes[1] - eyes[0]) < 0:
        normal = -normal
    across = (dx * normal[0] + dy * normal[1]) / span
    return along, across


def _unlike(looks: SkinLooks, model: SkinModel, sensitivity: float, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0..1 per pixel: how surely something covers the skin there, and how surely it is
    hair. Colour counts where the pixel is lit enough to have one (a near-black pixel's
    chromaticity is noise); very dark and smooth (a black mask: not a beard, which is
    textured, nor a fold's or the chin's shadow, which is less dark); above the nose, dark
    and textured (hair)."""
    parts = Unlike.of(looks, model, sensitivity)
    lit = np.clip((looks.brightness - LIT_LEVELS[0]) / (LIT_LEVELS[1] - LIT_LEVELS[0]), 0.0, 1.0)
    very_dark = np.clip((1.0 - looks.brightness / max(model.level, 1.0) - CLOTH_DARK[0])
                        / (CLOTH_DARK[1] - CLOTH_DARK[0]), 0.0, 1.0)
    hair = np.where(upper, parts.dark * parts.textured, 0.0)
    colour = np.clip((parts.colour_distance - COLOUR_FAR[0]) / (COLOUR_FAR[1] - COLOUR_FAR[0]), 0.0, 1.0)
    return np.maximum(colour * lit, np.maximum(very_dark * (1.0 - parts.textured), hair)), hair


class CoverFinder:
    """For one stream: each face's remembered skin, and what covers it on this frame."""

    def __init__(self, static: bool = False):
        self.static = static
        self._skins: dict[int, SkinModel] = {}
        self._seen: dict[int, int] = {}   # frames in a row each face had a cover
        self._frames: dict[int, int] = {}   # frames each face has been measured on

    def reset(self) -> None:
        self._skins.clear()
        self._seen.clear()
        self._frames.clear()

    def patch(self, frame: np.ndarray, box: tuple[int, int, int, int], face: FaceShape,
              sensitivity: float = 0.5) -> Patch | None:
        """The covers of this face over box (x0, y0, x1, y1), 0..1 at full resolution; None
        when nothing covers it."""
        x0, y0, x1, y1 = box
        width, height = x1 - x0, y1 - y0
        if min(width, height) < MIN_FACE:
            return None
        scale = min(1.0, WORK_SIDE / max(width, height))
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        image = np.ascontiguousarray(shrunk(frame[y0:y1, x0:x1, :3], size, scale))
        origin = np.array([x0, y0], np.float32)
        shape = (size[1], size[0])
        oval = fill_pixels(shape, [((face.oval - origin) * scale, 1.0)])
        lips = fill_pixels(shape, [((face.lips[0] - origin) * scale, face.lips[1])])
        features = fill_pixels(shape, [((polygon - origin) * scale, grow) for polygon, grow in face.features]) | lips
        open_skin = oval & ~features
        face_size = float(np.sqrt(max(oval.sum(), 1)))
        looks = SkinLooks.of(image, face_size)
        along, across = _face_frame(shape, face, origin, scale)
        model = self._skins.get(face.index)
        self._frames[face.index] = self._frames.get(face.index, -1) + 1
        if model is None or self.static or self._frames[face.index] % LEARN_EVERY == 0:
            model = self._learn(looks, open_skin, along, across, face.index)
        if model is None:
            return None
        # smoothed over a pixel or so: a noisy or dithered camera breaks a dark mask into specks
        unlike, hair = (cv2.GaussianBlur(part, (0, 0), SMOOTH * face_size)
                        for part in _unlike(looks, model, sensitivity, along < NOSE))
        candidates = (unlike > 0.5) & (open_skin | (lips & oval))
        if int(np.count_nonzero(candidates)) < MIN_SHARE * float(np.count_nonzero(open_skin)):
            self._seen[face.index] = 0   # the usual frame: nothing to look at more closely
            return None
        # what reaches the outline and also well inside it: the mesh's outline runs a little
        # past the cheeks, where the background or the hair beside the face shows
        parts = parts_at_outline(unlike, open_skin | (lips & oval), oval, face_size)
        least = MIN_SHARE * float(np.count_nonzero(open_skin))
        if np.count_nonzero(parts) < least:   # its part well inside could only be less
            self._seen[face.index] = 0
            return None
        reach = max(1, round(INNER * face_size))
        inner = cv2.erode(oval.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0
        deep = parts & inner
        if np.count_nonzero(deep) < least:
            self._seen[face.index] = 0
            return None
        seen = self._seen[face.index] = self._seen.get(face.index, 0) + 1
        if seen < (1 if self.static else PERSIST):
            return None
        # hair goes on over the eyes, brows and glasses (no evidence of a cover, but a lock
        # can cross them): where it is still hair-like and joins the cover's deep part
        parts = parts | parts_reaching((hair > 0.5) & oval, deep)
        # the soft edge outside the cover (as a hand's): its own edge pixels stay whole
        covered = grown(parts_reaching(parts, deep), face_size, reach=2.0)
        return Patch(x0, y0, cv2.resize(covered, (width, height), interpolation=cv2.INTER_LINEAR))

    def _learn(self, looks: SkinLooks, open_skin: np.ndarray, along: np.ndarray, across: np.ndarray,
               index: int) -> SkinModel | None:
        """This face's skin: the regions that agree with the remembered skin (or, the first
        time, with each other), measured together and blended into the memory."""
        regions = []
        for (a0, a1), (c0, c1) in REGIONS.values():
            region = open_skin & (along > a0) & (along < a1) & (across > c0) & (across < c1)
            if np.count_nonzero(region) >= MIN_REGION:
                regions.append(region)
        if not regions:
            return self._skins.get(index)
        known = self._skins.get(index)
        centres = np.array([np.median(looks.chroma[region], axis=0) for region in regions])
        levels = np.array([max(float(np.median(looks.brightness[region])), 1.0) for region in regions])
        if known is None:   # the first time: the largest group of regions that agree with each other
            close = ((np.linalg.norm(centres[:, None] - centres[None], axis=2) < AGREE_FIRST)
                     & (np.abs(np.log(levels[:, None] / levels[None])) < LEVEL_AGREE))
            agreeing = [region for region, ok in zip(regions, close[int(np.argmax(close.sum(axis=1)))]) if ok]
        else:
            offsets = centres - known.centre
            distances = mahalanobis(offsets, known.inverse)
            agreeing = [region for region, distance, level in zip(regions, distances, levels)
                        if distance < AGREE and abs(np.log(level / max(known.level, 1.0))) < 2 * LEVEL_AGREE]
        if not agreeing:
            return known
        measured = SkinModel.measure(looks, np.logical_or.reduce(agreeing))
        model = measured if known is None else known.blended(measured, LEARN)
        self._skins[index] = model
        return model
