"""What is in front of each face, found once per frame for every engine and every path.

An engine asks `InFront.look` once per frame, with its faces' boxes; the `FrontView` it
gets back says, for any box a face is pasted into, which of the camera's pixels must stay
(a `masks.Patch`, which the compositing draws back over the swap as it does glasses
frames): the hands (vision.hands, vision.hand_mask) and what else covers the face
(vision.covers). The engines differ in where a face's box and skin come from (a mesh,
five keypoints, a crop's corners); from here on the logic is the same.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from .covers import CoverFinder, FaceShape
from .masks import Patch

SAID_FOR_S = 1.0   # the status line names what was kept this long after it was last seen
KEPT_SHARE = 0.01  # a hand counts as in front when it keeps this much of a face's box
WORDS = {frozenset({"hand"}): "a hand in front of the face: kept in front",
         frozenset({"cover"}): "something in front of the face (a mask, a cup, hair): kept in front",
         frozenset({"hand", "cover"}): "a hand and something else in front of the face: kept in front"}


@dataclass
class FrontView:
    """One frame's hands and the stream's covers' memory, ready to be drawn over any face's box."""

    frame: np.ndarray
    search: Future            # this frame's hands' search: (hands, its own ms)
    covers: CoverFinder
    sensitivity: float
    stage_ms: dict
    occluder: object = None   # a user-brought occlusion model (neural.occluder), or None
    kept: set = field(default_factory=set)   # what was kept in front of a box asked for: "hand", "cover"

    @property
    def hands(self) -> list:
        """This frame's hands. The search begun beside the detection is waited on here, by
        the first face that needs them, not when the view is made: the face's warp, masks
        and covers before that run while the hand model still reads (a hand in front took
        1-2 ms longer than the face mesh; on a second core that wait is hidden)."""
        hands, spent_ms = self.search.result()
        self.stage_ms["hands"] = spent_ms
        return hands

    def patch(self, box: tuple[int, int, int, int], face: FaceShape | None = None) -> Patch | None:
        """The camera's pixels to keep over box (x0, y0, x1, y1), 0..1; None where nothing
        is. face: where that face's skin should be (its covers are looked for there)."""
        started = time.perf_counter()
        found = []
        if face is not None:   # first: what covers the face needs no hands, and runs beside their search
            covers = [self.covers.patch(self.frame, box, face, self.sensitivity)]
            if self.occluder is not None and face.keypoints is not None:
                covers.append(self.occluder.patch(self.frame, face.keypoints, box))
            if any(cover is not None for cover in covers):
                self.kept.add("cover")
            found += covers
        waited = time.perf_counter()
        hands = self.hands
        resumed = time.perf_counter()
        if hands:
            from .hand_mask import hand_patch

            hand = hand_patch(self.frame, box, hands, self.sensitivity)
            if hand is not None and float(hand.mask.mean()) >= KEPT_SHARE:
                self.kept.add("hand")
            found.append(hand)
        found = [patch for patch in found if patch is not None]
        # the wait for the hands is theirs (stage "hands"), not the mask's
        spent = (time.perf_counter() - started) - (resumed - waited)
        self.stage_ms["in_front"] = self.stage_ms.get("in_front", 0.0) + spent * 1e3
        if len(found) < 2:
            return found[0] if found else None
        return Patch(box[0], box[1], np.maximum.reduce([patch.mask for patch in found]))   # all over this box

    def wait(self) -> None:
        """The hands' search ended: before the caller lets go of the frame's pixels, which
        it reads (a frame whose faces asked for no patch has not waited yet)."""
        self.hands


class InFront:
    """For one stream of frames (or one photo): finds hands near the faces, tracking them
    between frames, keeps each face's skin for its covers, holds the user's occlusion model
    if one was brought, and remembers when something was last kept, for the status line.

    On a stream the hands' search runs beside the face's detection: `begin` hands the
    frame to a thread of its own, searched around where the faces were on the last frame
    (the square searched stays put while they move little: vision.hands), and the view
    `look` makes waits for it when a face first needs the hands. mediapipe leaves Python's
    lock while its graph runs, so on a second core a frame waits for the hands only where
    their search outlasts the face's detection, warp and covers; the CPU time is the same
    (`faceswap bench` and tools.bench_in_front show both)."""

    def __init__(self, static: bool = False, occluder=None):
        self.static = static
        self.occluder = occluder   # a user-brought occlusion model (neural.occluder), or None
        self._finder = None
        self._covers = CoverFinder(static)
        self._kept_at: dict[str, float] = {}
        self._boxes: list = []          # the faces' boxes on the last frame looked at
        self._search = None             # (frame, future) of a search begun beside the detection
        self._looked = None             # the search the last view was given, until it is known to have ended
        self._thread = None             # the search's own thread, made on first use

    def begin(self, frame: np.ndarray) -> None:
        """Start this frame's hands' search beside the caller's face detection, around the
        faces of the last frame (none known: `look` searches itself)."""
        self.settle()
        if self.static or not self._boxes:
            return
        if self._thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hands")
        self._search = (frame, self._thread.submit(self._find, frame, list(self._boxes)))

    def look(self, frame: np.ndarray, face_boxes: list, sensitivity: float, stage_ms: dict) -> FrontView:
        """This frame's view of what is in front; the hands' search goes to stage_ms["hands"]
        (its own time, wherever it ran) once the view's hands are asked for (`FrontView.hands`;
        the caller's `FrontView.wait` before it lets go of the frame)."""
        search, self._search = self._search, None
        self._end_looked()   # the last view's, should its frame not have waited: one search at a time
        if search is not None and search[0] is frame:
            found = search[1]
        else:
            if search is not None:
                search[1].result()   # begun for another frame: let it end before the graph is used again
            found = Future()
            found.set_result(self._find(frame, face_boxes))
        self._boxes = [tuple(box) for box in face_boxes]
        self._looked = found
        return FrontView(frame, found, self._covers, sensitivity, stage_ms, self.occluder)

    def _find(self, frame: np.ndarray, face_boxes: list) -> tuple[list, float]:
        started = time.perf_counter()
        if self._finder is None:
            from .hands import HandFinder

            self._finder = HandFinder(static=self.static)
        return self._finder.find(frame, face_boxes), (time.perf_counter() - started) * 1e3

    def settle(self) -> None:
        """A frame that will not be looked at (no faces, or its swap gave up): its search, if
        begun, ends here, before the caller lets go of the frame's pixels, and the last
        faces' place means nothing now. A search a view was given (`look`) ends here too."""
        search, self._search = self._search, None
        if search is not None:
            search[1].result()
            self._boxes = []
        self._end_looked()

    def _end_looked(self) -> None:
        looked, self._looked = self._looked, None
        if looked is not None:
            looked.result()

    def words(self, view: FrontView | None, timestamp: float) -> str:
        """What the status line says about this frame's view: what was kept in front, named
        for SAID_FOR_S after it was last seen so the line does not flicker with it."""
        for kind in (view.kept if view is not None else ()):
            self._kept_at[kind] = timestamp
        said = frozenset(kind for kind, at in self._kept_at.items() if 0.0 <= timestamp - at <= SAID_FOR_S)
        return WORDS.get(said, "")

    def reset(self) -> None:
        self.settle()
        self._boxes = []
        if self._finder is not None:
            self._finder.reset()
        self._covers.reset()
        self._kept_at.clear()

    def close(self) -> None:
        self.settle()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._finder is not None:
            self._finder.close()
            self._finder = None
