"""Steady landmarks: a One-Euro filter per tracked face.

Raw mesh points shake by a pixel or two from frame to frame; a warped face follows them
and shakes more visibly than the real one. The One-Euro filter (Casiez et al., CHI 2012)
smooths hard when a point is still and lets it follow quickly when it moves, so slow
jitter goes and fast head turns do not lag. Speeds are measured in face widths per second,
so one setting fits a face at any distance from the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of points; min_cutoff in Hz, beta in 1/(face widths)."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 8.0, d_cutoff: float = 1.0):
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    def __call__(self, points: np.ndarray, timestamp: float, scale: float) -> np.ndarray:
        """scale: the face's size in pixels, so speed is in face widths per second."""
        points = points.astype(np.float32)
        if self._value is None or self._time is None or timestamp <= self._time:
            self._value, self._speed, self._time = points, np.zeros(points.shape[0], np.float32), timestamp
            return points
        dt = timestamp - self._time
        moved = points - self._value
        # each point's distance written out (what np.linalg.norm over the 2-long axis adds, in
        # the same order: the same bits, at a fraction of its cost)
        speed = np.sqrt(moved[:, 0] * moved[:, 0] + moved[:, 1] * moved[:, 1]) / (max(scale, 1.0) * dt)
        self._speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        alpha = _alpha(cutoff, dt)[:, None].astype(np.float32)
        self._value = self._value + alpha * (points - self._value)
        self._time = timestamp
        return self._value


def filter_for(smoothing: float) -> OneEuroFilter:
    """smoothing 0..1 from the options: 0 barely filters (8 Hz), 1 is steadiest (0.5 Hz);
    geometric in between, as perceived steadiness is."""
    return OneEuroFilter(min_cutoff=8.0 * (0.5 / 8.0) ** smoothing, beta=8.0)


@dataclass
class _Track:
    filter: OneEuroFilter
    centre: np.ndarray
    size: float
    missed: int = 0


@dataclass
class FaceTracker:
    """Keeps one filter per face across frames, matching faces by where they are."""

    smoothing: float = 0.5
    max_missed: int = 3
    _tracks: list[_Track] = field(default_factory=list)

    def smooth(self, faces: list[np.ndarray], timestamp: float) -> list[np.ndarray]:
        """faces: (N, 2) point arrays; returns smoothed copies in the same order."""
        unmatched = list(range(len(self._tracks)))
        smoothed = []
        for points in faces:
            centre = points.mean(axis=0)
            size = float(np.ptp(points[:, 0]) + np.ptp(points[:, 1])) / 2.0
            track = self._nearest(centre, size, unmatched)
            if track is None:
                track = _Track(filter_for(self.smoothing), centre, size)
                self._tracks.append(track)
            else:
                unmatched.remove(self._tracks.index(track))
            track.centre, track.size, track.missed = centre, size, 0
            smoothed.append(track.filter(points, timestamp, size))
        for index in unmatched:
            self._tracks[index].missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return smoothed

    def reset(self) -> None:
        self._tracks.clear()

    def _nearest(self, centre: np.ndarray, size: float, candidates: list[int]) -> _Track | None:
        best, best_distance = None, 0.5 * size   # further than half a face: a different face
        for index in candidates:
            distance = float(np.linalg.norm(self._tracks[index].centre - centre))
            if distance < best_distance:
                best, best_distance = self._tracks[index], distance
        return best
