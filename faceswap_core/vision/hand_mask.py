"""A hand's shape over a face's box, from its 21 landmarks, fitted to the picture.

The landmarks give the skeleton: each finger is drawn as capsules along its bones (a
little past the tip landmark, which sits on the nail), the palm as the polygon of its
knuckles and wrist; a moving hand is drawn along the last frame's motion too (a waved
hand is a blur, and the tracked landmarks lead it). A guided filter with the camera image's
brightness as its guide then fits the drawing to the picture (a hand in front of a face has
the face's colours: the colour guide fitted the same within a tenth of a level on the
outlines below, at 1.2 ms a hand against 0.8), and the mask's soft edge is laid
outside it, so the hand's own edge pixels stay whole. The work is done at WORK_SIDE
pixels across, enlarged for small faces (a finger a few pixels wide needs sub-pixel widths).

Measured on the hand-drawn outlines of ../shared/media's occluders (testkit/occluders):
the fit keeps the face around the hand swapped (landmark engine, occ_wave: 92% of the face
outside the hand against 87% unfitted) and the hand whole (neural engine, occ_wave@20: a
mean of 4.0 levels inside it against 5.3). GrabCut seeded from the drawing covered less
of the hands (0.80-0.93 against 0.93-0.97) at 12-33 ms a face: a hand in front of a face
has the face's own colours and a blurred edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..bgra import bgr_copy
from .hands import Hand
from .masks import Patch

WORK_SIDE = 192          # the box is fitted at this many pixels across
FINGER_WIDTH = 0.33      # a finger's width, of the palm's width (index to little knuckle: three fingers' spacing)
THUMB_WIDTH = 0.40
EDGE_PIXELS = 1.5        # and by this many frame pixels a side: a small hand's edge pixels are half finger
                         # (1.0 left occ_mute_1's fist 1-2 px short: the neural engine moved 5.6 levels inside it)
TIP_REACH = 0.3          # past the tip landmark, of the finger's width
GROW = 0.2               # the drawing grown by up to this much of a finger's width before fitting
                         # (times the sensitivity setting: 0 keeps the drawing's own size)
FIT_EPS = 0.005          # the guided filter's regulariser (guide in 0..1): lower follows edges harder
EDGE_SOFT = 0.15         # the soft edge's width outside the hand, of a finger's width (a frame pixel at least)

# Bones from mediapipe's hand topology: thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20
_FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
_PALM = (0, 1, 2, 5, 9, 13, 17)


def draw_hand(shape: tuple[int, int], points: np.ndarray, palm_width: float, grow: float = 0.0,
              pad: float = 0.0) -> np.ndarray:
    """A 0..255 uint8 drawing of the hand (points in this image's pixels): fingers grown by
    `grow` of their width, and by `pad` pixels a side."""
    canvas = np.zeros(shape, np.uint8)
    shift = 4
    fixed = np.round(points * (1 << shift)).astype(np.int32)
    cv2.fillPoly(canvas, [fixed[list(_PALM)]], 255, cv2.LINE_AA, shift)
    for index, finger in enumerate(_FINGERS):
        width = (THUMB_WIDTH if index == 0 else FINGER_WIDTH) * palm_width * (1.0 + grow) + 2.0 * pad
        thickness = max(1, int(round(width)))
        chain = [points[i] for i in ((0,) + finger if index == 0 else finger)]
        # the tip landmark sits on the nail, short of the fingertip's end
        last = chain[-1] - chain[-2]
        chain.append(chain[-1] + last / max(float(np.linalg.norm(last)), 1e-3) * (TIP_REACH * width))
        ends = np.round(np.array(chain) * (1 << shift)).astype(np.int32)
        for a, b in zip(ends, ends[1:]):
            # OpenCV draws a thick line with round ends: a capsule
            cv2.line(canvas, tuple(a), tuple(b), 255, thickness, cv2.LINE_AA, shift)
    return canvas


def hand_patch(frame: np.ndarray, box: tuple[int, int, int, int], hands: list[Hand],
               sensitivity: float = 0.5) -> Patch | None:
    """The hands' mask over box (x0, y0, x1, y1), 0..1 at full resolution; None when no
    hand reaches into the box. sensitivity 0..1: how far past the drawn fingers it reaches."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    near = [hand for hand in hands if _reaches(hand, box)]
    if not near or width < 2 or height < 2:
        return None
    # small boxes are worked on enlarged: a finger a few pixels wide needs sub-pixel widths
    scale = WORK_SIDE / max(width, height)
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    origin = np.array([x0, y0], np.float32)
    drawing = np.zeros((size[1], size[0]), np.uint8)
    finger = 1.0
    for hand in near:
        for points in hand.sweep:
            local = (points - origin) * np.float32(scale)
            np.maximum(drawing, draw_hand(drawing.shape, local, hand.palm_width * scale, 2.0 * GROW * sensitivity,
                                          EDGE_PIXELS * scale), out=drawing)
        finger = max(finger, FINGER_WIDTH * hand.palm_width * scale)
    if not drawing.any():
        return None
    guide = cv2.cvtColor(cv2.resize(bgr_copy(frame[y0:y1, x0:x1]), size, interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY)
    radius = max(2, int(round(finger * 0.5)))
    fitted = cv2.ximgproc.guidedFilter(guide.astype(np.float32) * np.float32(1 / 255), drawing.astype(np.float32)
                                       * np.float32(1 / 255), radius, FIT_EPS)
    # the filter's output is a soft version of the drawing that leans to the image's edges;
    # steepen it around the middle, so it is a mask with an edge, not a haze
    mask = np.clip((fitted - np.float32(0.5)) * np.float32(2.5) + np.float32(0.5), 0.0, 1.0)
    # the soft edge lies outside the hand, so its own edge pixels stay whole: grown by the
    # edge's width, then blurred over half of it (0.98 at the hand's edge)
    soft = max(1.0, scale, EDGE_SOFT * finger)
    reach = int(round(soft))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    mask = cv2.GaussianBlur(mask, (0, 0), soft / 2)
    if size != (width, height):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR if scale < 1.0 else cv2.INTER_AREA)
    return Patch(x0, y0, mask)


def _reaches(hand: Hand, box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    pad = FINGER_WIDTH * hand.palm_width
    swept = np.concatenate(hand.sweep)
    lo, hi = swept.min(axis=0) - pad, swept.max(axis=0) + pad
    return bool(lo[0] < x1 and hi[0] > x0 and lo[1] < y1 and hi[1] > y0)
