"""The face enhancer off the frame's critical path.

A restorer (GFPGAN, GPEN) costs several frame intervals per face; running it on every
frame cuts the frame rate to its speed (Deep-Live-Cam's users report 20 -> 2.5 fps). Here
a thread of its own restores the newest swapped face whenever it is free, and the frame
path never waits for it: each frame is swapped and shown at once. What the restorer
added (its output minus its input, in the restorer's aligned face space) is kept, and
laid onto the following frames' faces through their own alignment, so the detail moves
with the face until the next restored result replaces it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import cv2
import numpy as np

from ..bgra import bgr_copy, put_bgr
from ..errors import FaceSwapError


class BackgroundEnhancer:
    """Owns the restorer and its thread; the frame path only offers faces and reads details."""

    def __init__(self, open_enhancer: Callable[[], object]):
        self._open = open_enhancer
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._job: tuple[int, np.ndarray] | None = None
        self._details: dict[int, np.ndarray] = {}   # slot -> restored minus input, masked, int16
        self.mask: np.ndarray | None = None
        self.enhancer = None          # set by the thread once the model is open
        self.error = ""               # why it is not running (a model to install, a file that does not fit)
        self.results = 0
        self._thread = threading.Thread(target=self._run, name="face-enhancer", daemon=True)
        self._thread.start()

    @property
    def free(self) -> bool:
        """Open and not working on a face: the frame path then crops the next one for it."""
        return self.enhancer is not None and self._job is None

    def offer(self, slot: int, crop: np.ndarray) -> bool:
        """The newest aligned face of slot `slot`, taken only when the restorer is free."""
        with self._lock:
            if self._job is not None or self.enhancer is None:
                return False
            self._job = (slot, crop.copy())
        self._wake.set()
        return True

    def opened(self, timeout: float = 300.0):
        """The restorer, once its thread has opened it (raises FaceSwapError if it cannot)."""
        deadline = time.monotonic() + timeout
        while self.enhancer is None:
            if self.error:
                raise FaceSwapError(f"The face enhancer cannot run: {self.error}")
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise FaceSwapError("The face enhancer did not open; try again, or turn it off.")
            time.sleep(0.01)
        return self.enhancer

    def restore_now(self, slot: int, crop: np.ndarray, timeout: float = 300.0) -> np.ndarray:
        """For a still picture, where nothing keeps a frame rate: restore `crop` as soon as
        the restorer is free and return its detail (raises FaceSwapError if it fails)."""
        deadline = time.monotonic() + timeout
        while not self.offer(slot, crop):
            if self.error or time.monotonic() > deadline:
                raise FaceSwapError(f"The face enhancer cannot run: {self.error or 'it stayed busy'}")
            time.sleep(0.01)
        with self._lock:
            wanted = self.results + 1
        while self.results < wanted:
            if self.error or time.monotonic() > deadline:
                raise FaceSwapError(f"The face enhancer failed on the picture: {self.error or 'it took too long'}")
            time.sleep(0.01)
        return self.detail(slot)

    def detail(self, slot: int) -> np.ndarray | None:
        with self._lock:
            return self._details.get(slot)

    def forget(self) -> None:
        """A cut or a new stream: old detail must not land on new faces."""
        with self._lock:
            self._details.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        try:
            enhancer = self._open()
        except FaceSwapError as error:
            self.error = str(error)
            return
        self.mask = face_mask(enhancer.size)[:, :, None]
        self.enhancer = enhancer
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                job = self._job
            if job is None:
                continue
            slot, crop = job
            try:
                restored = self.enhancer.enhance(crop)
            except Exception as error:   # one bad run must not stop the stream: report, keep the swap
                self.error = f"the enhancer failed: {type(error).__name__}: {error}"
                restored = None
            with self._lock:
                if restored is not None:
                    detail = (restored.astype(np.float32) - crop.astype(np.float32)) * self.mask
                    self._details[slot] = detail.round().astype(np.int16)   # half the bytes to warp per frame
                    self.results += 1
                self._job = None


# the face in the restorer's aligned crop (fractions of its size): brows to chin in both the
# FFHQ and the ArcFace-128 alignment; the feather is the blur's kernel
MASK_CENTRE, MASK_RADIUS, MASK_FEATHER = (0.5, 0.52), 0.32, 1 / 16


def face_mask(size: int) -> np.ndarray:
    """Where restored detail goes in the aligned crop: a soft disc over the face (the
    restorer's output near the crop's border is background it invented)."""
    mask = np.zeros((size, size), np.float32)
    cv2.circle(mask, (round(MASK_CENTRE[0] * size), round(MASK_CENTRE[1] * size)), round(MASK_RADIUS * size), 1.0, -1)
    blur = max(3, round(MASK_FEATHER * size)) | 1
    return cv2.GaussianBlur(mask, (blur, blur), 0)


def lay_detail(output: np.ndarray, matrix: np.ndarray, detail: np.ndarray, amount: float) -> None:
    """Add `amount` x restored `detail` (aligned face space, masked) onto the face that
    `matrix` (frame -> aligned) finds in output, in place. Only the detail is warped, so the
    face's own pixels are not resampled; only the box of the mask's disc is touched."""
    size = detail.shape[0]
    inverse = cv2.invertAffineTransform(matrix)
    reach = (MASK_RADIUS + MASK_FEATHER) * size       # face_mask's circle with its feather
    (cx, cy) = (MASK_CENTRE[0] * size, MASK_CENTRE[1] * size)
    corners = np.array([[cx - reach, cy - reach], [cx + reach, cy - reach], [cx - reach, cy + reach],
                        [cx + reach, cy + reach]]) @ inverse[:, :2].T + inverse[:, 2]
    height, width = output.shape[:2]
    x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(axis=0))
    x1, y1 = int(min(width, np.ceil(corners[:, 0].max()))), int(min(height, np.ceil(corners[:, 1].max())))
    if x1 <= x0 or y1 <= y0:
        return
    inverse[:, 2] -= (x0, y0)
    added = cv2.warpAffine(detail, inverse, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
    if output.shape[2] == 3:
        region = output[y0:y1, x0:x1]
        cv2.addWeighted(region, 1.0, added, float(amount), 0.0, dst=region, dtype=cv2.CV_8U)
    else:   # BGRA: the colour channels only
        region = output[y0:y1, x0:x1]
        put_bgr(region, cv2.addWeighted(bgr_copy(region), 1.0, added, float(amount), 0.0, dtype=cv2.CV_8U))
