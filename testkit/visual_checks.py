"""What a viewer sees wrong in a swapped frame, as numbers: the photo's hair on the forehead,
the target's glasses frames lost, dark smudges around the mouth, skin made much darker.

Regions come from dlib's 68 landmarks of the *input* frame (testkit.judge), not from the
engine's mesh, so the engine is not grading itself. Each score is 0 for a frame that shows
nothing of the kind; tests bound them, tools/contact_sheet.py ranks frames by them.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceswap_core.vision.masks import fill_pixels
from testkit.judge import FaceJudge

SCORES = ("forehead_hair", "glasses_frames", "mouth_smudge", "dark_skin")

JAW, BROWS, NOSE_BRIDGE = slice(0, 17), slice(17, 27), slice(27, 31)
LEFT_EYE, RIGHT_EYE, OUTER_LIPS = slice(36, 42), slice(42, 48), slice(48, 60)

BLUR = 1.5                 # pixels: noise and single-pixel edges do not count
MUCH_DARKER = 25           # luma levels
MUCH_DARKER_RATIO = 0.8
FRAME_DARKER = 22          # a glasses frame's pixel: this much below its neighbourhood's median


def astronaut() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins), BGR: her fringe covers her forehead."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY).astype(np.float32), (0, 0), BLUR)


def lab(image: np.ndarray) -> np.ndarray:
    """CIELAB in its real units (L 0-100), so distances are delta-E."""
    return cv2.cvtColor(image[:, :, :3].astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)


def polygon_mask(shape: tuple[int, ...], polygon: np.ndarray, grow: float = 1.0) -> np.ndarray:
    """One polygon filled, grown around its centre, the engine's own way (dlib's points
    here, the mesh's there)."""
    return fill_pixels(shape[:2], [(np.asarray(polygon, dtype=np.float64), grow)])


def forehead(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """A band above the brows' inner halves, clear of the brows and of the hairline's sides."""
    unit = float(np.linalg.norm(points[36] - points[45]))
    up = points[27] - points[30]          # the nose bridge points up the face
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    low = points[19:25] + up * 0.10 * unit
    high = points[19:25] + up * 0.60 * unit
    return polygon_mask(shape, np.vstack([low, high[::-1]]))


def skin(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """The face below the brows, less the eyes, brows and mouth (grown around them)."""
    face = polygon_mask(shape, np.vstack([points[JAW], points[BROWS][::-1]]), 0.92)
    for eye in (LEFT_EYE, RIGHT_EYE):
        face &= ~polygon_mask(shape, points[eye], 2.2)
    face &= ~polygon_mask(shape, points[OUTER_LIPS], 1.35)
    return face


def lips_ring(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """A band around the target's lips, outside them (from 2% to 12% of the inter-ocular
    distance), below the nostrils: where a misplaced lip line or stubble shows; a fixed
    width, so an open mouth's band does not reach the nose (the photo's own nose base is
    no smudge: its shadow reaches 3-6% of the inter-ocular distance below the target's
    nostrils where the upper lip is short, as on lp_d10 with its mouth open)."""
    unit = float(np.linalg.norm(points[36] - points[45]))
    lips = polygon_mask(shape, points[OUTER_LIPS]).astype(np.uint8)
    def grown(by: float) -> np.ndarray:
        size = 2 * max(1, round(by * unit)) + 1
        return cv2.dilate(lips, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))).astype(bool)
    below_nose = np.indices(shape[:2])[0] > points[31:36, 1].max() + 0.06 * unit
    return grown(0.12) & ~grown(0.02) & below_nose


def glasses_frames(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels of thin dark structures around the eyes that are not the eyes or brows: a
    glasses frame on a face that wears one (a median filter's residue, not the engine's
    own detector)."""
    unit = float(np.linalg.norm(points[36] - points[45]))
    # From the brows down to the nose's middle (point 29), across to the face's sides.
    lower = points[29][1]
    outline = [points[0], *points[BROWS], points[16], [points[16][0], lower], [points[0][0], lower]]
    region = polygon_mask(image.shape, np.array(outline), 1.0)
    for eye in (LEFT_EYE, RIGHT_EYE):
        region &= ~polygon_mask(image.shape, points[eye], 1.5)
    for brow in (slice(17, 22), slice(22, 27)):
        region &= ~_thick_line(image.shape, points[brow], 0.10 * unit)
    gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    size = max(3, int(0.18 * unit) | 1)
    background = cv2.medianBlur(gray, size).astype(np.int16)
    return region & (gray.astype(np.int16) < background - FRAME_DARKER)


def _thick_line(shape: tuple[int, ...], line: np.ndarray, width: float) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.polylines(mask, [np.round(line).astype(np.int32)], False, 1, max(1, round(width)))
    return mask.astype(bool)


class Scorer:
    """Scores frames of a swap from one source photo."""

    def __init__(self, judge: FaceJudge, source: np.ndarray):
        self._judge = judge
        face = judge.largest(source)
        if face is None:
            raise ValueError("the judge finds no face in the source photo")
        band = forehead(source.shape, face.landmarks)
        self.source_forehead = np.median(lab(source)[band], axis=0)   # the photo's hair, where it has a fringe

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        return self._judge.landmarks(image)

    def score(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray | None = None) -> dict | None:
        """Every score of one frame, or None where the judge finds no face in the input."""
        points = self.landmarks(frame) if points is None else points
        if points is None:
            return None
        return {name: getattr(self, name)(frame, output, points) for name in SCORES}

    def forehead_hair(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray) -> float:
        """Share of the forehead band whose output colour is nearer the photo's forehead
        (its hair, on a fringed photo) than the target's own skin there, counting only
        pixels the swap moved more than 10 delta-E."""
        band = forehead(frame.shape, points)
        before, after = lab(frame)[band], lab(output)[band]
        to_target = np.linalg.norm(after - before, axis=1)
        to_photo = np.linalg.norm(after - self.source_forehead, axis=1)
        return float(np.mean((to_photo < to_target) & (to_target > 10.0)))

    def glasses_frames(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray) -> float | None:
        """Median difference (levels, largest channel) between output and input on the
        input's glasses frames; None where there are too few frame pixels to judge."""
        frames = glasses_frames(frame, points)
        if frames.sum() < 40:
            return None
        difference = np.abs(output[:, :, :3].astype(np.int16) - frame[:, :, :3]).max(axis=2)
        return float(np.median(difference[frames]))

    def mouth_smudge(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray) -> float:
        """Share of the ring around the target's lips that the output makes much darker
        than both the input there and the target's skin."""
        ring = lips_ring(frame.shape, points)
        before, after = luma(frame), luma(output)
        skin_level = float(np.median(before[skin(frame.shape, points)]))
        darker = after < np.minimum(before, skin_level) - MUCH_DARKER
        return float(np.mean(darker[ring]))

    def dark_skin(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray) -> float:
        """Share of the target's skin that the output makes much darker than the input."""
        region = skin(frame.shape, points)
        before, after = luma(frame)[region], luma(output)[region]
        return float(np.mean((after < before - MUCH_DARKER) & (after < MUCH_DARKER_RATIO * before)))
