"""What is in front of each face, found once per frame for every engine and every path.

An engine asks `InFront.look` once per frame, with its faces' boxes; the `FrontView` it
gets back says, for any box a face is pasted into, which of the camera's pixels must stay
(a `masks.Patch`, which the compositing draws back over the swap as it does glasses
frames). The engines differ in where a face's box comes from (a mesh, five keypoints,
a crop's corners); from here on the logic is the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .masks import Patch

SAID_FOR_S = 1.0   # the status line names a kept hand this long after it was last seen
KEPT_SHARE = 0.01  # a hand counts as in front when it keeps this much of a face's box


@dataclass
class FrontView:
    """One frame's hands, ready to be drawn over any face's box."""

    frame: np.ndarray
    hands: list
    sensitivity: float
    stage_ms: dict
    kept: bool = False   # a box asked for here had a hand in front of it

    def patch(self, box: tuple[int, int, int, int]) -> Patch | None:
        """The camera's pixels to keep over box (x0, y0, x1, y1), 0..1; None where nothing is."""
        if not self.hands:
            return None
        from .hand_mask import hand_patch

        started = time.perf_counter()
        patch = hand_patch(self.frame, box, self.hands, self.sensitivity)
        if patch is not None and float(patch.mask.mean()) >= KEPT_SHARE:
            self.kept = True
        self.stage_ms["in_front"] = self.stage_ms.get("in_front", 0.0) + (time.perf_counter() - started) * 1e3
        return patch


class InFront:
    """For one stream of frames (or one photo): finds hands near the faces, tracking them
    between frames, and remembers when one was last kept, for the status line."""

    def __init__(self, static: bool = False):
        self.static = static
        self._finder = None
        self._kept_at: float | None = None

    def look(self, frame: np.ndarray, face_boxes: list, sensitivity: float, stage_ms: dict) -> FrontView:
        """This frame's view of what is in front; its cost goes to stage_ms["hands"]."""
        started = time.perf_counter()
        if self._finder is None:
            from .hands import HandFinder

            self._finder = HandFinder(static=self.static)
        hands = self._finder.find(frame, face_boxes)
        stage_ms["hands"] = stage_ms.get("hands", 0.0) + (time.perf_counter() - started) * 1e3
        return FrontView(frame, hands, sensitivity, stage_ms)

    def words(self, view: FrontView | None, timestamp: float) -> str:
        """What the status line says about this frame's view: a hand kept in front, named
        for SAID_FOR_S after it was last seen so the line does not flicker with it."""
        if view is not None and view.kept:
            self._kept_at = timestamp
        if self._kept_at is not None and 0.0 <= timestamp - self._kept_at <= SAID_FOR_S:
            return "a hand in front of the face: kept in front"
        return ""

    def reset(self) -> None:
        if self._finder is not None:
            self._finder.reset()
        self._kept_at = None

    def close(self) -> None:
        if self._finder is not None:
            self._finder.close()
            self._finder = None
