"""Hands near faces, from the hand models inside mediapipe 0.10.21's wheel.

Nothing is downloaded: the wheel carries the palm detector and the 21-point hand
landmark model (`modules/palm_detection`, `modules/hand_landmark`), as it carries the face
mesh. The graph is only shown a square around the faces, scaled down: a hand that covers
a face is near it, and the palm detector's cost is per call, not per pixel. While a hand
is tracked the graph follows it from its last landmarks (no palm detection); while none
is, the search runs on every IDLE_EVERY-th frame only, so a hand that comes in is found
within that many frames and an empty scene costs a fraction of a search per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import face_mesh  # noqa: F401  (sets mediapipe's logging levels before it loads)

import mediapipe as mp  # noqa: E402

SEARCH_SIDE = 256     # the square around the faces is scaled down to at most this many pixels
HAND_REACH = 1.5      # the square reaches this far past each face's box, of the face's size
# (a finger on the lips has its palm under the chin: the palm detector must see the palm)
SWEEP = (-0.5, -0.25, 0.0)
IDLE_EVERY = 2        # with no hand tracked, search every this many frames
WITHIN_FACE = 0.9     # a "hand" with this share of its landmarks inside a face's box is the face
RECENTRE = 0.12       # the square moves only when the faces moved this much of its side
# (mediapipe tracks a hand in the square's own coordinates: a square that followed every
# jitter of the face would shake the tracked hand with it)


@dataclass(frozen=True)
class Hand:
    points: np.ndarray   # (21, 2) float32, frame coordinates, mediapipe's landmark order
    palm_width: float    # from the index finger's knuckle to the little finger's, in frame pixels:
    # the hand's own unit, measured in 3D (a hand seen edge-on keeps its fingers' width)
    motion: np.ndarray | None = None   # (21, 2) how far each point moved since the last frame

    @property
    def sweep(self) -> list[np.ndarray]:
        """Where the hand is drawn: here, and (while it moves) on ahead by one frame's motion.
        A waved hand is a blur along its path, and the tracked landmarks lag it: the hand in
        the picture lies between where they are and where they are heading."""
        if self.motion is None:
            return [self.points]
        return [self.points + self.motion * np.float32(t) for t in SWEEP]


class HandFinder:
    """One mediapipe hand graph for one stream of frames (static=True: unrelated photos,
    each searched in full with the larger landmark model)."""

    def __init__(self, static: bool = False, max_hands: int = 2):
        self.static = static
        self._graph = mp.solutions.hands.Hands(
            static_image_mode=static, max_num_hands=max_hands,
            model_complexity=1 if static else 0,   # full for photos (small hands), lite for live video
            min_detection_confidence=0.5, min_tracking_confidence=0.5)
        self._square: tuple[int, int, int] | None = None   # x0, y0, side in frame pixels
        self._tracking = False
        self._idle = 0
        self._last: list[Hand] = []

    def find(self, frame: np.ndarray, face_boxes: list[tuple[float, float, float, float]]) -> list[Hand]:
        """The hands in the square around these faces (x0, y0, x1, y1 each)."""
        if not face_boxes:
            self._tracking = False
            return []
        square = self._place(face_boxes, frame.shape) if not self.static else self._whole(frame.shape)
        if not self.static and not self._tracking:
            due = self._idle % IDLE_EVERY == 0   # the first frame of a search is always looked at
            self._idle += 1
            if not due:
                return []
        x0, y0, side = square
        crop = _square_crop(frame, x0, y0, side)
        scale = min(1.0, SEARCH_SIDE / side) if not self.static else 1.0
        if scale < 1.0:
            crop = cv2.resize(crop, (round(side * scale),) * 2, interpolation=cv2.INTER_AREA)
        code = cv2.COLOR_BGRA2RGB if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB
        result = self._graph.process(cv2.cvtColor(crop, code))
        hands = []
        for landmarks in result.multi_hand_landmarks or ():
            # mediapipe's z is depth on about the scale of x (the image's width)
            solid = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32) * np.float32(side)
            points = solid[:, :2] + np.array([x0, y0], dtype=np.float32)
            if _within_a_face(points, face_boxes):
                continue
            width = float(np.linalg.norm(solid[5] - solid[17]))
            hands.append(Hand(points, width, self._motion(points, width)))
        self._last = hands
        self._tracking = bool(hands)
        if hands:
            self._idle = 0
        return hands

    def _place(self, face_boxes, frame_shape) -> tuple[int, int, int]:
        """The square around the faces, kept where it was while they stay near its middle."""
        lo = np.min([box[:2] for box in face_boxes], axis=0)
        hi = np.max([box[2:] for box in face_boxes], axis=0)
        reach = HAND_REACH * max(math.sqrt(max(b[2] - b[0], 1.0) * max(b[3] - b[1], 1.0)) for b in face_boxes)
        height, width = frame_shape[:2]
        side = min(int(round(max(hi - lo) + 2 * reach)), max(height, width))
        centre = (lo + hi) / 2
        if self._square is not None and not self.static:
            x0, y0, old = self._square
            moved = np.abs(centre - (np.array([x0, y0]) + old / 2)).max()
            if moved < RECENTRE * old and abs(side - old) < RECENTRE * old:
                return self._square
        # inside the frame where it fits: no search spent on the border
        x0 = min(max(int(round(centre[0] - side / 2)), 0), max(width - side, 0)) if side <= width else (width - side) // 2
        y0 = min(max(int(round(centre[1] - side / 2)), 0), max(height - side, 0)) if side <= height else (height - side) // 2
        self._square = (x0, y0, side)
        return self._square

    def _motion(self, points: np.ndarray, width: float) -> np.ndarray | None:
        """The points' move since the last frame, from the nearest hand found then (a hand
        further than its own palm's width away is another hand)."""
        if self.static or not self._last:
            return None
        moves = [points - hand.points for hand in self._last]
        nearest = min(moves, key=lambda move: float(np.abs(move[0]).sum()))
        return nearest if float(np.linalg.norm(nearest[0])) < max(width, 1.0) else None

    @staticmethod
    def _whole(frame_shape) -> tuple[int, int, int]:
        """A photo is searched whole (its cost does not repeat), in a square around it."""
        height, width = frame_shape[:2]
        side = max(height, width)
        return (width - side) // 2, (height - side) // 2, side

    def reset(self) -> None:
        """A new stream: what was tracked means nothing now."""
        self._last = []
        self._square = None
        self._tracking = False
        self._idle = 0

    def close(self) -> None:
        self._graph.close()


def _within_a_face(points: np.ndarray, face_boxes) -> bool:
    """Whether a hand lies (almost) wholly inside a face's box. A hand in front of a face is
    nearer the camera than the face, so it looks at least as large as the face, and an arm
    holds it from outside: one drawn within a face is the palm detector reading the face
    itself (pursed lips and a chin can look like a fist to it; lp_d3 shows it)."""
    for x0, y0, x1, y1 in face_boxes:
        inside = (points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1)
        if inside.mean() >= WITHIN_FACE:
            return True
    return False


def _square_crop(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The square's pixels; where it leaves the frame, a flat grey (a repeated edge would
    draw streaks, a mirrored one a second hand, for the palm detector to find)."""
    height, width = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(width, x0 + side), min(height, y0 + side)
    inside = frame[fy0:fy1, fx0:fx1]
    if (fx0, fy0, fx1, fy1) == (x0, y0, x0 + side, y0 + side):
        return inside
    return cv2.copyMakeBorder(inside, fy0 - y0, y0 + side - fy1, fx0 - x0, x0 + side - fx1, cv2.BORDER_CONSTANT,
                              value=(128,) * frame.shape[2])
