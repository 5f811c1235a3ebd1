"""Hands near faces, from the hand models inside mediapipe 0.10.21's wheel.

Nothing is downloaded: the wheel carries the palm detector and the 21-point hand
landmark model (`modules/palm_detection`, `modules/hand_landmark`), as it carries the face
mesh. The graph is only shown a square around the faces, scaled down: a hand that covers
a face is near it, and the palm detector's cost is per call, not per pixel.

While a hand is tracked, the landmark model follows it from its last landmarks on every
frame (no palm detection; reading it on every other frame and carrying it on by its motion
between lost a waved hand: see BENCHMARKS.md); where it loses the hand, it reads once more
in the hand's square moved on by its last move (_read_lost_again). While none is, the palm
detector (the expensive part: about as much as the face mesh) runs only on a frame where
the square changed since the last one (a coarse sample of its pixels, a few microseconds), and every SEARCH_EVERY
frames regardless (QUIET_SEARCH_EVERY once a few searches in a row found nothing): a hand
that comes in is looked for on the frame it appears, and a talking head costs little.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from .change_watch import ChangeWatch
from .grid import shrunk
from .mediapipe_graphs import LandmarkReader, ReadSquare, graph_config, landmark_graph, normalized_points, search_graph
from mediapipe.python import packet_creator, solution_base  # noqa: E402  (after mediapipe_graphs: its logging)

SEARCH_SIDE = 256     # the square around the faces is scaled down to at most this many pixels
HAND_REACH = 1.5      # the square reaches this far past each face's box, of the face's size
# (a finger on the lips has its palm under the chin: the palm detector must see the palm)
SWEEP = (-0.5, -0.25, 0.0)   # a moving hand is drawn at these fractions of its last move (see Hand.sweep)
SEARCH_EVERY = 10     # with no hand tracked and nothing changed, search every this many frames
QUIET_SEARCHES = 3    # after this many searches in a row found no hand ...
QUIET_SEARCH_EVERY = 30   # ... the regular search comes every this many frames (a hand that comes
# in wakes the search by the change it makes; the regular one is for a hand that creeps in, and
# each is 9 ms of CPU on one frame: a frame the worker answers late inside OBS)
WITHIN_FACE = 0.9     # a "hand" with this share of its landmarks inside a face's box is the face
LOST_GRACE = 3        # frames after a hand was last seen during which every frame is searched
READ_AGAIN_GROWTH = 1.3   # a followed hand the model lost is read again in its square grown this much
# and moved on by its last move (the wave's 8 losses at 720p, each read again: found 5; grown 1.6,
# 4; 1.0, 2; grown 1.3 but not moved on, 3)
CLEAR_MOVES = 3.0     # a followed hand whose square is this many of its last moves clear of every
# face's box is read on every other frame only: it covers no face on the next frame at that speed,
# and keeps nothing (occ_mask_hand's hand held at the chest: 20 of 66 reads saved, no frame where it
# reaches the face missed; 1.5 and 5 measured the same)
RECENTRE = 0.12       # the square moves only when the faces moved this much of its side
# (its cells are compared frame to frame to wake the palm detector: a square that followed
# every jitter of the face would look changed on every frame)


@dataclass(frozen=True)
class Hand:
    points: np.ndarray   # (21, 2) float32, frame coordinates, mediapipe's landmark order
    palm_width: float    # from the index finger's knuckle to the little finger's, in frame pixels:
    # the hand's own unit, measured in 3D (a hand seen edge-on keeps its fingers' width)
    motion: np.ndarray | None = None   # (21, 2) how far each point moved since the last frame

    @property
    def sweep(self) -> list[np.ndarray]:
        """Where the hand is drawn: here, and (while it moves) back along its last move by up
        to half of it. A waved hand is a blur along its path, and the tracked landmarks run
        ahead of the blur (occ_wave: drawn ahead, the mask covered the face beside the hand;
        drawn back, it covered the blur)."""
        if self.motion is None:
            return [self.points]
        return [self.points + self.motion * np.float32(t) for t in SWEEP]


# Mediapipe's Hands solution runs its whole tracking graph on each call and hands back
# three outputs as Python protobufs (landmarks, world landmarks, handedness): 3.7 ms a
# tracked frame, of which the landmark model and its crop are 2.8 (BENCHMARKS.md). The same
# two subgraphs, run from two small graphs (vision.mediapipe_graphs), with the same models,
# thresholds (0.5: mediapipe's own) and ROI rules.
_LANDMARK_GRAPH = landmark_graph("HandLandmarkCpu", "HandLandmarkLandmarksToRoi", "MODEL_COMPLEXITY:model_complexity")
_PALM_GRAPH = search_graph("PalmDetectionCpu", "PalmDetectionDetectionToRoi", "MODEL_COMPLEXITY:model_complexity")


class HandFinder:
    """The hands of one stream of frames (static=True: unrelated photos, each searched in
    full with the larger models, for two hands)."""

    def __init__(self, static: bool = False):
        self.static = static
        # live, one hand (the usual case) is followed alone, as mediapipe's own graph does with
        # max_num_hands=1: while one is followed the palm detector does not run
        self.max_hands = 2 if static else 1
        complexity = 1 if static else 0   # full for photos (small hands), lite for live video
        self._palms = solution_base.SolutionBase(graph_config=graph_config(_PALM_GRAPH),
                                                 side_inputs={"model_complexity": complexity})
        self._landmarks = LandmarkReader(_LANDMARK_GRAPH, {"model_complexity": packet_creator.create_int(complexity)})
        self._followed: list[ReadSquare] = []   # where the model reads each hand on the next frame
        self._moves: list[tuple[float, float]] = []   # and how far each square moved to get there
        self._rested = False   # the last frame went unread (_rests_clear)
        self._square: tuple[int, int, int] | None = None   # x0, y0, side in frame pixels
        self._aim: np.ndarray | None = None   # the faces' centre the square was placed for
        self._tracking = False
        self._idle = 0
        self._fruitless = 0  # searches in a row that found no hand
        self._rest = False   # the last search found nothing: skip this frame's (see _search_due)
        self._frames = 0     # frames seen, and the one a hand was last found on
        self._seen_at = -LOST_GRACE - 1
        self._watch = ChangeWatch()   # the square's change since the last frame
        self._last: list[Hand] = []

    def find(self, frame: np.ndarray, face_boxes: list[tuple[float, float, float, float]]) -> list[Hand]:
        """The hands in the square around these faces (x0, y0, x1, y1 each)."""
        self._frames += 1
        if not face_boxes:
            self._tracking = False
            return []
        square = self._place(face_boxes, frame.shape) if not self.static else self._whole(frame.shape)
        if not self.static and not self._tracking and not self._search_due(frame, square, face_boxes):
            return []
        if not self.static and self._tracking and self._rests_clear(face_boxes):
            return []   # followed still, read on the next frame
        x0, y0, side = square
        image = _square_image(frame, x0, y0, side, SEARCH_SIDE if not self.static else side)
        followed = list(self._followed) if not self.static else []
        if followed:
            read = self._landmarks.read([(image, at.rect(x0, y0, side, side)) for at in followed])
            origins = list(followed)
            self._read_lost_again(image, square, followed, read)
        else:   # a square placed by the palm detector says nothing of how the hand moves
            rects = (self._palms.process({"image": image}).rois or ())[:self.max_hands]
            followed = [ReadSquare.from_rect(rect, x0, y0, side, side) for rect in rects]
            read = self._landmarks.read([(image, at.rect(x0, y0, side, side)) for at in followed])
            origins = [None] * len(followed)
        # a hand just lost (a fast wave leaves the model's square) is likely still there
        self._rest = (not self._tracking and all(landmarks is None for landmarks, _ in read)
                      and self._frames - self._seen_at > LOST_GRACE)
        hands, self._followed, self._moves = [], [], []
        for (landmarks, next_rect), origin in zip(read, origins):
            if landmarks is None:
                continue
            following = ReadSquare.from_rect(next_rect, x0, y0, side, side)
            self._followed.append(following)
            self._moves.append((following.cx - origin.cx, following.cy - origin.cy) if origin else (0.0, 0.0))
            # mediapipe's z is depth on about the scale of x (the image's width)
            solid = normalized_points(landmarks, depth=True) * np.float32(side)
            points = solid[:, :2] + np.array([x0, y0], dtype=np.float32)
            if _within_a_face(points, face_boxes):
                continue   # followed still (mediapipe's graph did too), not a hand
            width = float(np.linalg.norm(solid[5] - solid[17]))
            hands.append(Hand(points, width, self._motion(points, width)))
        self._last = hands
        self._tracking = bool(hands)
        self._fruitless = 0 if hands else self._fruitless + 1
        if hands:
            self._seen_at = self._frames
        return hands

    def _rests_clear(self, face_boxes) -> bool:
        """Whether this frame may go unread: every followed hand is clear of every face (its
        square CLEAR_MOVES of its last move away from each face's box), and the last frame
        was read. The picture loses nothing (a hand clear of the faces keeps nothing in
        front of them); the landmark model's 3 ms is saved on every other frame while a
        hand gestures below the face or rests on a desk."""
        if self._rested:
            self._rested = False
            return False
        self._rested = all(_clear_of(square, move, face_boxes) for square, move in zip(self._followed, self._moves))
        return self._rested

    def _read_lost_again(self, image: np.ndarray, square: tuple[int, int, int], followed: list[ReadSquare],
                         read: list) -> None:
        """A followed hand the model lost (it moved out of its square: a fast wave) is read
        once more on the same frame, in its square moved on by its last move and grown by
        READ_AGAIN_GROWTH. mediapipe's graph would show a frame without the hand (the swap
        painted over it for a frame) and search the next: the palm detector, then the
        landmark model. `followed` and `read` are updated where it is found again."""
        x0, y0, side = square
        lost = [index for index, (landmarks, _) in enumerate(read) if landmarks is None]
        if not lost:
            return
        again = [dataclasses.replace(followed[index], cx=followed[index].cx + self._moves[index][0],
                                     cy=followed[index].cy + self._moves[index][1],
                                     width=followed[index].width * READ_AGAIN_GROWTH,
                                     height=followed[index].height * READ_AGAIN_GROWTH) for index in lost]
        for index, at, found in zip(lost, again, self._landmarks.read([(image, at.rect(x0, y0, side, side))
                                                                       for at in again])):
            if found[0] is not None:
                followed[index], read[index] = at, found

    def _search_due(self, frame: np.ndarray, square: tuple[int, int, int], face_boxes) -> bool:
        """Whether the palm detector should look at the square on this frame: it changed
        since the last frame (or moved) outside the faces' middles (vision.change_watch), or
        SEARCH_EVERY frames went by. Frame to frame, a talking head changes a few cells and
        a hand coming in many (hands move fast); a hand that creeps in is found by the
        regular search, every QUIET_SEARCH_EVERY frames once QUIET_SEARCHES in a row found
        nothing. After a search that found nothing, the next frame rests: a hand on
        its way in (blurred, half out of the square: occ_wave searched 7 frames in a row
        before it was found) is still found within two frames of the palm detector seeing
        it, at half the searches. A nod or a sway is no change there (the head's outline,
        hair and shoulders are sampled again where they came from), while a hand that comes
        in is unlike both."""
        changed = self._watch.changed(frame, square, face_boxes)
        self._idle += 1
        resting, self._rest = self._rest, False
        if not resting or not changed:
            self._watch.remember()   # a rested change is judged again on the next frame
        every = QUIET_SEARCH_EVERY if self._fruitless >= QUIET_SEARCHES else SEARCH_EVERY
        if (not changed or resting) and self._idle < every:
            return False
        self._idle = 0
        return True

    def _place(self, face_boxes, frame_shape) -> tuple[int, int, int]:
        """The square around the faces, kept where it was while they stay near its middle."""
        lo = np.min([box[:2] for box in face_boxes], axis=0)
        hi = np.max([box[2:] for box in face_boxes], axis=0)
        reach = HAND_REACH * max(math.sqrt(max(b[2] - b[0], 1.0) * max(b[3] - b[1], 1.0)) for b in face_boxes)
        height, width = frame_shape[:2]
        side = min(int(round(max(hi - lo) + 2 * reach)), max(height, width))
        centre = (lo + hi) / 2
        if self._square is not None and not self.static:
            # measured from where the faces were, not from the square's middle: a square
            # pushed inside the frame at its edge is not centred on them, and was placed
            # anew on every frame (occ_wave: a face near the top)
            old = self._square[2]
            moved = np.abs(centre - self._aim).max()
            if moved < RECENTRE * old and abs(side - old) < RECENTRE * old:
                return self._square
        # inside the frame where it fits: no search spent on the border
        x0 = min(max(int(round(centre[0] - side / 2)), 0), max(width - side, 0)) if side <= width else (width - side) // 2
        y0 = min(max(int(round(centre[1] - side / 2)), 0), max(height - side, 0)) if side <= height else (height - side) // 2
        self._square, self._aim = (x0, y0, side), centre
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
        self._last, self._followed, self._moves = [], [], []
        self._rested = False
        self._watch.reset()
        self._square = self._aim = None
        self._tracking = False
        self._rest = False
        self._frames, self._seen_at = 0, -LOST_GRACE - 1
        self._idle = self._fruitless = 0

    def close(self) -> None:
        self._landmarks.close()
        self._palms.close()


def _clear_of(square: ReadSquare, move: tuple[float, float], face_boxes) -> bool:
    """Whether a followed hand's square, grown by CLEAR_MOVES of its last move, misses
    every face's box (x0, y0, x1, y1 each)."""
    x0, y0, x1, y1 = square.box
    reach = CLEAR_MOVES * math.hypot(*move)
    return not any(x1 + reach > bx0 and x0 - reach < bx1 and y1 + reach > by0 and y0 - reach < by1
                   for bx0, by0, bx1, by1 in face_boxes)


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


def _square_image(frame: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """The square's pixels as an RGB image at most `size` pixels a side: the part inside the
    frame scaled first (no full-resolution copy), then, where the square leaves the frame,
    a flat grey (a repeated edge would draw streaks, a mirrored one a second hand, for the
    palm detector to find)."""
    height, width = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(width, x0 + side), min(height, y0 + side)
    scale = min(1.0, size / side)
    out = round(side * scale)
    left, top = round((fx0 - x0) * scale), round((fy0 - y0) * scale)
    inner_w = max(1, min(out - left, round((fx1 - fx0) * scale)))
    inner_h = max(1, min(out - top, round((fy1 - fy0) * scale)))
    inside = shrunk(frame[fy0:fy1, fx0:fx1], (inner_w, inner_h), scale)
    code = cv2.COLOR_BGRA2RGB if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB
    inside = cv2.cvtColor(inside, code)
    if (left, top, inner_w, inner_h) == (0, 0, out, out):
        return inside
    return cv2.copyMakeBorder(inside, top, out - top - inner_h, left, out - left - inner_w, cv2.BORDER_CONSTANT,
                              value=(128, 128, 128))
