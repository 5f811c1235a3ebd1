"""Reusing detections between frames while faces barely move.

The detector is the costliest CPU-side model after the swap. Each face's box is kept with
a 16x16 grey thumbnail of its pixels; on the next frame the same boxes are sampled again,
and when every thumbnail is within a few grey levels of the stored one (and the detection
is younger than max_age seconds) the previous faces are reused instead of detecting again.
A face that moves, turns or speaks changes its thumbnail and triggers a fresh detection;
max_age bounds how long a newly entering face can go unseen.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detector import Detection

THUMB = 16


def _thumb(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    height, width = image.shape[:2]
    x0, y0 = int(max(0, box[0])), int(max(0, box[1]))
    x1, y1 = int(min(width, box[2])), int(min(height, box[3]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = image[y0:y1, x0:x1, :3]
    small = cv2.resize(patch, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class DetectionCache:
    def __init__(self, max_age: float = 0.1, max_change: float = 4.0):
        self.max_age = float(max_age)
        self.max_change = float(max_change)   # mean absolute grey-level change per thumbnail
        self._faces: list[Detection] | None = None
        self._thumbs: list[np.ndarray | None] = []
        self._time = 0.0
        self._shape: tuple[int, ...] | None = None

    def clear(self) -> None:
        self._faces = None

    def reuse(self, image: np.ndarray, timestamp: float) -> list[Detection] | None:
        """The previous faces when nothing moved, else None (detect again)."""
        if self._faces is None or self.max_age <= 0 or image.shape != self._shape:
            return None
        age = timestamp - self._time
        if age < 0 or age > self.max_age:
            return None
        for face, old in zip(self._faces, self._thumbs):
            new = _thumb(image, face.box)
            if old is None or new is None or float(np.abs(new - old).mean()) > self.max_change:
                return None
        return self._faces

    def store(self, image: np.ndarray, faces: list[Detection], timestamp: float) -> list[Detection]:
        """Keep faces for reuse; returns the kept list (the object `reuse` will return)."""
        self._faces = list(faces)
        self._thumbs = [_thumb(image, face.box) for face in faces]
        self._time = timestamp
        self._shape = image.shape
        return self._faces
