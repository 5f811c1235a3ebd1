"""The interface every engine implements, so callers never care which one runs.

An engine is used from one thread at a time (the worker's loop, the CLI's loop): it holds
per-stream state (tracked faces, smoothing filters) and is not shared across threads.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import FaceSwapError
from ..worker.in_flight import InFlight
from ..options import SwapOptions
from ..vision.occlusion import InFront
from ..vision.photo import load_photo


@dataclass
class FrameReport:
    """What happened to the last frame: where faces were and what each stage cost."""

    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x0, y0, x1, y1
    stage_ms: dict[str, float] = field(default_factory=dict)
    # why no face was swapped, in words that finish "N frames unswapped: ..." (a file's
    # closing line counts them by reason); '' when a face was swapped
    unswapped: str = ""
    # what the status line says about what is in front of the faces ('' when nothing is kept)
    in_front: str = ""

    @property
    def why_unswapped(self) -> str:
        return "" if self.boxes else (self.unswapped or "no face was found")


@dataclass(frozen=True)
class SourceInfo:
    """The face chosen from the source photo, for messages and the OBS status line."""

    faces_found: int
    face_index: int
    box: tuple[int, int, int, int]
    tips: tuple[str, ...] = ()   # what would make the photo swap better (one sentence each)
    notes: tuple[str, ...] = ()  # how the source was made (photos averaged, one left out)


class Engine(abc.ABC):
    """Photo in once, frames in and out many times."""

    name: str = ""

    def __init__(self, options: SwapOptions | None = None, patience_s: float = 0.0):
        """patience_s 0: live frames (a camera, OBS), which wait for nothing. More: frames
        from a file, which nobody watches as they are made: each waits up to this long for
        models that run elsewhere (a server) rather than come out unswapped."""
        self.patience_s = float(patience_s)
        self.options = options or SwapOptions()
        self.notes: list[str] = []   # what the status line should say besides the photo's tips
        self.last_report = FrameReport()
        self._in_front = InFront()   # hands near the faces, tracked along the stream
        self._source_key: tuple | None = None
        self.source_info: SourceInfo | None = None

    # -- source --------------------------------------------------------------------
    def set_source_file(self, path: str, face_index: int = 0, more: tuple[str, ...] | list = ()) -> SourceInfo:
        """Load a photo (and `more` photos of the same person, for engines that combine them)
        and prepare its face; the same files and index are prepared once."""
        paths = (path, *more)
        digests = []
        for item in paths:
            try:
                with open(item, "rb") as handle:
                    digests.append(hashlib.sha256(handle.read()).hexdigest())
            except OSError:
                digests.append(None)  # load_photo raises the user-facing message below
        key = (tuple(digests), int(face_index))
        if None not in digests and key == self._source_key and self.source_info is not None:
            return self.source_info
        info = self.set_source(load_photo(path), face_index, [(item, load_photo(item)) for item in more])
        self._source_key = key
        return info

    def set_source(self, image: np.ndarray, face_index: int = 0, more: list | None = None) -> SourceInfo:
        """Prepare the source face from a BGR uint8 photo; raises FaceSwapError.
        more: (name, image) of other photos of the same person (the neural engine averages
        their identities; the landmark engine warps one photo and uses the first only)."""
        if face_index < 0:
            raise FaceSwapError("The face index must be 0 or more; 0 is the largest face in the photo.")
        info = self._prepare_source(image, int(face_index), list(more or []))
        self._source_key = None
        self.source_info = info
        return info

    @property
    def has_source(self) -> bool:
        return self.source_info is not None

    # -- frames --------------------------------------------------------------------
    def set_options(self, options: SwapOptions) -> None:
        self.options = options

    def process(self, frame: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Swap every face in a BGR or BGRA uint8 frame; returns a frame of the same shape.

        Frames without a face, or before a source is set, come back unchanged. timestamp
        (seconds) drives temporal smoothing; files pass their own clock so smoothing does
        not depend on how fast the machine processes them.
        """
        return self.begin(frame, timestamp).result()

    def begin(self, frame: np.ndarray, timestamp: float | None = None) -> InFlight:
        """process(), started: its result() is the swapped frame. An engine whose models run
        elsewhere (`overlaps`) returns while they work, so the caller can begin the next
        frame meanwhile; results must be taken in the order the frames were begun, and the
        frame must not change until then."""
        if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
            raise FaceSwapError("Frames must be 8-bit BGR or BGRA images.")
        if timestamp is None:
            timestamp = time.monotonic()
        if not self.options.enabled or not self.has_source:
            return InFlight(lambda: self._unchanged(frame))
        return self._begin(frame, timestamp)

    @property
    def overlaps(self) -> bool:
        """Whether begin() returns before the frame's models have answered (a server runs
        them), so that beginning the next frame first pays."""
        return False

    def _unchanged(self, frame: np.ndarray) -> np.ndarray:
        self.last_report = FrameReport(unswapped="the swap was off" if not self.options.enabled
                                       else "no source face was ready")
        return frame.copy()

    def _begin(self, frame: np.ndarray, timestamp: float) -> InFlight:
        output = self._process(frame, timestamp)
        return InFlight.done(output)

    def process_image(self, image: np.ndarray) -> np.ndarray:
        """One still picture rather than a stream: no tracking history is used or kept,
        and an engine may search harder (small faces in a group photo)."""
        self.reset()
        with self._photo_in_front():
            result = self.process(image, 0.0)
        self.reset()
        return result

    @contextlib.contextmanager
    def _photo_in_front(self):
        """For one still picture: its hands searched in full with the larger hand model (a
        photo's hands are often small), none of the stream's tracked ones carried in or out."""
        stream, self._in_front = self._in_front, InFront(static=True, occluder=self._in_front.occluder)
        try:
            yield self._in_front
        finally:
            self._in_front.close()
            self._in_front = stream

    def describe(self) -> str:
        """What runs, in a few words for the status line ("neural on ONNX Runtime cuda, fp16 swap")."""
        return self.name

    def reset(self) -> None:
        """Forget tracked faces (a new video, a cut, a resolution change)."""

    def close(self) -> None:
        """Release model sessions."""

    # -- for engines -----------------------------------------------------------------
    @abc.abstractmethod
    def _prepare_source(self, image: np.ndarray, face_index: int, more: list) -> SourceInfo:
        ...

    @abc.abstractmethod
    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        ...
