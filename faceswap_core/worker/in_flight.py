"""Work that may still be running elsewhere, finished here when its answer is wanted.

Why: with the models on a Triton server, the worker sends a frame's faces and could do
the next frame's local work (decode, detection, alignment) while the server answers; the
frame is then finished (pasted, published) when its answer is in. Requests, swappers and
engines hand these back so that each layer adds its own finishing step on top of the one
below, and callers that do not overlap anything simply call result() at once.
"""

from __future__ import annotations

import threading
from typing import Callable


class InFlight:
    """An answer to come: ready() says whether result() would return without waiting,
    wait(timeout) waits for that, result() finishes the work (once) and returns it.

    `finish` runs on the caller's thread inside result(); `waits_on` is what it waits for
    (another InFlight, or an Answer filled from another thread); nothing means ready now.
    """

    def __init__(self, finish: Callable[[], object], waits_on: "InFlight | Answer | None" = None):
        self._finish = finish
        self._waits_on = waits_on
        self._value = None
        self._done = False

    @classmethod
    def done(cls, value) -> "InFlight":
        return cls(lambda: value)

    def ready(self) -> bool:
        return self._done or self._waits_on is None or self._waits_on.ready()

    def wait(self, timeout: float) -> bool:
        return self._done or self._waits_on is None or self._waits_on.wait(timeout)

    def result(self):
        if not self._done:
            self._value = self._finish()
            self._done, self._finish, self._waits_on = True, None, None
        return self._value


class Answer:
    """Parts of an answer filled in by another thread (gRPC's callbacks), in any order."""

    def __init__(self, parts: int):
        self.parts: list = [None] * parts
        self._left = parts
        self._lock = threading.Lock()
        self._complete = threading.Event()
        if not parts:
            self._complete.set()

    def fill(self, index: int, value) -> None:
        with self._lock:
            self.parts[index] = value
            self._left -= 1
            if self._left == 0:
                self._complete.set()

    def ready(self) -> bool:
        return self._complete.is_set()

    def wait(self, timeout: float) -> bool:
        return self._complete.wait(max(timeout, 0.0))
