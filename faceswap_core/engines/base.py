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

import cv2
import numpy as np

from ..errors import FaceSwapError
from ..worker.in_flight import InFlight
from ..options import SwapOptions
from ..schema import MORE_FACES
from ..vision.occlusion import InFront
from ..vision.photo import load_photo

MAX_READY_FACES = MORE_FACES + 1   # the source photo and the more faces kept ready


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


@dataclass
class _Fade:
    """A cross-fade in progress: from the face shown before to the one worn now ("face",
    `state` the one before), or between the camera's picture and the swap ("on", "off")."""

    kind: str
    state: object = None
    since: float | None = None   # the frame time of its first frame

    def weight(self, timestamp: float, length_ms: int) -> float | None:
        """How far along it is at this frame, 0..1; None once it is over."""
        if self.since is None:
            self.since = timestamp
        done = (timestamp - self.since) * 1e3 / max(length_ms, 1)
        return done if 0.0 <= done < 1.0 else None


def _same(state: object, other: object) -> bool:
    """Whether two source states (what Engine._source_state gives) are the same face."""
    if isinstance(state, tuple) and isinstance(other, tuple):
        return len(state) == len(other) and all(a is b for a, b in zip(state, other))
    return state is other


def _blend(before: np.ndarray, after: np.ndarray, weight: float) -> np.ndarray:
    return cv2.addWeighted(before, 1.0 - weight, after, weight, 0.0)


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
        self.source_info: SourceInfo | None = None
        # faces prepared from files, kept ready to switch to (a streamer's list of faces):
        # (file names, face index) -> (the files' digests, SourceInfo, the engine's own
        # source state), the least recently worn first; and which of them is worn now
        self._ready: dict[tuple, tuple[tuple, SourceInfo, object]] = {}
        self._worn: tuple | None = None
        self._shown: object = None          # the source state the last frame was swapped with
        self._fade: _Fade | None = None

    # -- source --------------------------------------------------------------------
    def set_source_file(self, path: str, face_index: int = 0, more: tuple[str, ...] | list = ()) -> SourceInfo:
        """Load a photo (and `more` photos of the same person, for engines that combine them)
        and prepare its face. A face prepared before (one of a list the streamer switches
        between) is worn again on the next frame without being prepared again, unless its
        files changed since; one whose files have gone away stays ready as it was."""
        names = ((path, *more), int(face_index))
        digests = _digests(names[0])
        ready = self._ready.pop(names, None)
        if ready is not None and (None in digests or ready[0] == digests):
            digests, info, state = ready
            if names != self._worn:
                if self.options.switch_fade_ms > 0 and self._shown is not None and not _same(self._shown, state):
                    self._fade = _Fade("face", self._shown)   # from the face on screen, not one just prepared
                self._use_source_state(state)
        else:
            # load_photo says what is wrong with a file that cannot be read
            info = self.set_source(load_photo(path), face_index, [(item, load_photo(item)) for item in more])
        self.source_info, self._worn = info, names
        self._ready[names] = (digests, info, self._source_state())   # the most recently worn last
        while len(self._ready) > MAX_READY_FACES:
            self._ready.pop(next(iter(self._ready)))
        return info

    def _keep_ready(self) -> None:
        """The face worn as it is now, for when it is switched back to."""
        if self._worn in self._ready:
            digests = self._ready[self._worn][0]
            self._ready[self._worn] = (digests, self.source_info, self._source_state())

    def forget_faces(self, keep: list[tuple[str, int, tuple]]) -> None:
        """Let go of the prepared faces other than these (path, face index, more photos):
        the streamer's list changed."""
        wanted = {((path, *more), int(face_index)) for path, face_index, more in keep}
        for names in [names for names in self._ready if names not in wanted and names != self._worn]:
            del self._ready[names]

    def set_source(self, image: np.ndarray, face_index: int = 0, more: list | None = None) -> SourceInfo:
        """Prepare the source face from a BGR uint8 photo; raises FaceSwapError.
        more: (name, image) of other photos of the same person (the neural engine averages
        their identities; the landmark engine warps one photo and uses the first only)."""
        if face_index < 0:
            raise FaceSwapError("The face index must be 0 or more; 0 is the largest face in the photo.")
        info = self._prepare_source(image, int(face_index), list(more or []))
        self._worn = None   # a picture handed in, not a file: no list entry is worn
        self.source_info = info
        return info

    @property
    def has_source(self) -> bool:
        return self.source_info is not None

    # -- frames --------------------------------------------------------------------
    def set_options(self, options: SwapOptions) -> None:
        if options.enabled != self.options.enabled and options.switch_fade_ms > 0 and self.has_source:
            self._fade = _Fade("on" if options.enabled else "off")
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
        fade = self._fade
        weight = None if fade is None else fade.weight(timestamp, self.options.switch_fade_ms)
        if weight is None:
            self._fade = fade = None
        if not self.has_source or not (self.options.enabled or (fade is not None and fade.kind == "off")):
            return InFlight(lambda: self._unchanged(frame))
        flight = self._begin(frame, timestamp)
        self._shown = self._source_state()
        if fade is None:
            return flight
        if fade.kind == "face":
            before = self._begin_worn(frame, fade.state)
            return InFlight(lambda: _blend(before.result(), flight.result(), weight), waits_on=flight)
        if fade.kind == "on":
            return InFlight(lambda: _blend(frame, flight.result(), weight), waits_on=flight)
        return InFlight(lambda: _blend(flight.result(), frame, weight), waits_on=flight)

    def _begin_worn(self, frame: np.ndarray, state: object) -> InFlight:
        """The frame just begun, swapped again wearing another face (`state`): the faces
        found for it are reused, nothing is tracked twice. For a cross-fade."""
        raise NotImplementedError

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
        self._fade = None   # a still does not fade
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

    def _source_state(self) -> object:
        """What _prepare_source made, to be handed back to _use_source_state later."""
        raise NotImplementedError

    def _use_source_state(self, state: object) -> None:
        """Swap to a face prepared earlier (what _source_state returned then)."""
        raise NotImplementedError

    @abc.abstractmethod
    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        ...


def listed_faces(photo: str, face_index: int, extra_photos, more_faces) -> tuple:
    """A streamer's faces as set_source_file takes them, (path, face index, more photos)
    each: the source photo (its face index and more photos of the same person) is face 0,
    each of the more faces the largest face of its photo."""
    return ((photo, int(face_index), tuple(extra_photos)), *((path, 0, ()) for path in more_faces))


def _digests(paths: tuple) -> tuple:
    """The files' contents, as a prepared face is known by (None for one that cannot be read)."""
    digests = []
    for item in paths:
        try:
            with open(item, "rb") as handle:
                digests.append(hashlib.sha256(handle.read()).hexdigest())
        except OSError:
            digests.append(None)
    return tuple(digests)
