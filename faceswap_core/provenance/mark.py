"""The invisible mark: 4 bytes (a version byte and a per-session identifier) laid over the
whole frame so that they survive a live stream's encoding, scaling and re-encoding.

Why this shape (measured on this machine, see BENCHMARKS.md):
- The frame is a grid of 64 x 36 cells, whatever its size, so a scaled copy has the same
  cells. Each cell carries one bit of the RS(8,4) codeword (64 bits, 36 cells each, spread
  by a public pseudo-random key) times a key sign.
- Inside a cell the change is sin(2 pi u) * sin(2 pi v): zero mean, zero at the cell's
  edges (no seams whatever the neighbours' signs) and orthogonal to flat and sloping
  content. The first version changed the cells' means instead; a face's own shading then
  drowned it (signal 0.9 against content noise 1.6 per bit even on lossless frames).
- The same change goes into B, G and R, so only brightness moves (codecs keep luma best).
- The reader correlates luma with the same shape per cell, clips each cell's vote (an edge
  through a cell would otherwise outvote the rest), weighs it by how quiet the picture is
  there, and sums votes over a second of video. A full/limited range mix-up only scales
  the votes; a mirrored picture is tried as well.
- Weighing: a cell's vote is the mark plus whatever the picture's own detail happens to
  correlate with the cell's shape, and that detail (fairy lights, leaves, hair) stays put
  from frame to frame, so a second of votes does not average it away. A busy cell's vote is
  mostly that detail: cells count by the inverse of their detail's energy. After VP9 at
  500 kbit/s on a small face before fairy lights, the agreement went 1.6 (unread) -> 3.5;
  unmarked clips stayed near 0 (BENCHMARKS.md).

It is a cooperative label, not a protection: the key is public, so anyone who tries can
remove or forge it. numpy and OpenCV only (the worker's venv), no weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import reed_solomon

from .mark_layout import (BITS, COLUMNS, DEFAULT_STRENGTH, PARITY_BYTES, PAYLOAD_BYTES, ROWS, SHAPE_GAIN,
                          VERSION, cell_signs, key_tables)

VOTE_CLIP = 8.0            # a cell's vote is clipped to +-this (levels): edges must not outvote the rest
DETAIL_SAMPLES = 4         # samples a cell per side where a cell's detail is measured
DETAIL_SIGMA = 1.5         # of those samples: what a blur this wide takes away is the detail
DETAIL_FLOOR = 4.0         # levels squared added to a cell's detail energy: the mark's own is about 1.6
MIN_AGREEMENT = 2.0        # mean / spread of the votes along the decoded word; unmarked content stays under it


def _key() -> tuple[np.ndarray, np.ndarray]:
    owner, sign = key_tables()
    return (np.array(owner).reshape(ROWS, COLUMNS),
            np.array(sign, np.float32).reshape(ROWS, COLUMNS))


OWNER, SIGN = _key()        # read-only after import
OWNER.setflags(write=False)
SIGN.setflags(write=False)


def new_session_id() -> bytes:
    return os.urandom(PAYLOAD_BYTES - 1)


def cell_shape(width: int, height: int, columns: int = COLUMNS, rows: int = ROWS) -> np.ndarray:
    """sin(2 pi u) sin(2 pi v) over the frame, u and v running 0..1 across every cell."""
    u = (np.arange(width) + 0.5) * columns / width
    v = (np.arange(height) + 0.5) * rows / height
    return np.outer(np.sin(2 * np.pi * v), np.sin(2 * np.pi * u)).astype(np.float32)


def bit_votes(cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each bit's vote from the ROWS x COLUMNS cells' correlations (levels of amplitude),
    positive for a 1: the mean of its cells' votes, each clipped (an edge through a cell
    must not outvote the rest) and weighed (cell_weights; 0 for a cell outside the picture)."""
    cells = np.clip(cells * SIGN, -VOTE_CLIP, VOTE_CLIP) * weights
    owner = OWNER.ravel()
    counted = np.bincount(owner, weights=weights.ravel(), minlength=BITS)
    return np.bincount(owner, weights=cells.ravel(), minlength=BITS) / np.maximum(counted, 1e-12)


def mirrored(cells: np.ndarray) -> np.ndarray:
    """The cells of the picture flipped left to right: their order reversed, and each cell's
    shape (odd across it) negated."""
    return -cells[:, ::-1]


def both_ways(cells: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bits' votes of the picture as it is and mirrored (a mirrored camera), from one
    reading of its cells."""
    return bit_votes(cells, weights), bit_votes(mirrored(cells), weights[:, ::-1])


def cell_weights(y: np.ndarray, columns: int = COLUMNS, rows: int = ROWS) -> np.ndarray:
    """How much each cell's vote counts (rows x columns, float32): the inverse of the energy
    of the picture's own fine detail there (plus DETAIL_FLOOR), from a luma image the cells
    tile exactly. Measured at DETAIL_SAMPLES a cell whatever the picture's size, so a
    scaled copy weighs its cells alike."""
    import cv2

    small = cv2.resize(y, (columns * DETAIL_SAMPLES, rows * DETAIL_SAMPLES), interpolation=cv2.INTER_AREA)
    detail = small - cv2.GaussianBlur(small, (0, 0), DETAIL_SIGMA)
    energy = cv2.resize(detail * detail, (columns, rows), interpolation=cv2.INTER_AREA)
    return np.float32(1.0) / (energy + np.float32(DETAIL_FLOOR))


class Marker:
    """Adds one session's mark to frames; the change for a frame size is made once."""

    def __init__(self, session_id: bytes, strength: int = DEFAULT_STRENGTH):
        import cv2

        self._cv2 = cv2
        self.session_id = session_id
        self.strength = int(strength)
        self._cell_sign = np.array(cell_signs(session_id), np.float32).reshape(ROWS, COLUMNS)
        self._changes: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def change(self, width: int, height: int) -> np.ndarray:
        """The signed change in levels (int16), the same for every colour channel."""
        up = self._cv2.resize(self._cell_sign, (width, height), interpolation=self._cv2.INTER_NEAREST)
        change = np.rint(up * cell_shape(width, height) * (self.strength * SHAPE_GAIN))
        return np.clip(change, -self.strength, self.strength).astype(np.int16)

    def _planes(self, height: int, width: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
        key = (height, width, channels)
        if key not in self._changes:
            if len(self._changes) > 4:      # a size change: keep the cache small
                self._changes.clear()
            change = self.change(width, height)
            up = np.clip(change, 0, None).astype(np.uint8)
            down = np.clip(-change, 0, None).astype(np.uint8)
            colour = min(channels, 3)       # alpha is never touched
            stack = lambda plane: np.dstack([plane] * colour + [np.zeros_like(plane)] * (channels - colour))
            self._changes[key] = (stack(up), stack(down)) if channels > 1 else (up, down)
        return self._changes[key]

    def embed(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """frame (BGR, BGRA or grey uint8) with the mark; saturating, so no value wraps."""
        height, width = frame.shape[:2]
        channels = frame.shape[2] if frame.ndim == 3 else 1
        up, down = self._planes(height, width, channels)
        target = self._cv2.add(frame, up, dst=out)
        return self._cv2.subtract(target, down, dst=target)


def luma(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return frame.astype(np.float32)
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(frame, code).astype(np.float32)


class MarkReader:
    """Each bit's vote from frames; the cell shape for a frame size is made once (one
    reader per file or per thread: it keeps that cache)."""

    def __init__(self):
        import cv2

        self._cv2 = cv2
        self._shapes: dict[tuple[int, int, int, int], np.ndarray] = {}

    def votes(self, frame: np.ndarray, mirrored: bool = False) -> np.ndarray:
        """Positive for a 1, in levels of amplitude, from a BGR(A) frame or its luma.
        mirrored reads a horizontally flipped copy of a marked picture (a mirrored camera)."""
        return both_ways(*self.cells_and_weights(luma(frame)))[int(mirrored)]

    def cells_and_weights(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cells(y) and cell_weights(y): what bit_votes and both_ways take."""
        return self.cells(y), cell_weights(y)

    def cells(self, y: np.ndarray, columns: int = COLUMNS, rows: int = ROWS) -> np.ndarray:
        """Each cell's correlation with the cell shape (rows x columns), in levels of
        amplitude, from a luma image that the cells tile exactly."""
        height, width = y.shape
        key = (width, height, columns, rows)
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) > 4:
                self._shapes.clear()
            shape = self._shapes[key] = cell_shape(width, height, columns, rows)
        return self._cv2.resize(y * shape, (columns, rows), interpolation=self._cv2.INTER_AREA) / 0.25


@dataclass(frozen=True)
class Reading:
    session_id: bytes
    agreement: float        # mean / spread of the votes along the decoded word
    corrected_bytes: int

    @property
    def session(self) -> str:
        return self.session_id.hex()


def decode(bit_votes: np.ndarray) -> Reading | None:
    """The payload the votes carry, or None.

    Three checks keep unmarked pictures from reading as marked: the Reed-Solomon decode
    (at most 2 wrong bytes), the version byte, and the votes' agreement with the decoded
    word (a marked frame's votes sit far from zero with the word's signs; noise's do not).
    """
    hard = (np.asarray(bit_votes) > 0).astype(np.uint8)
    received = np.packbits(hard).tobytes()
    try:
        payload = reed_solomon.decode(received, PARITY_BYTES)
    except reed_solomon.DecodeError:
        return None
    if payload[0] != VERSION:
        return None
    sent = reed_solomon.encode(payload, PARITY_BYTES)
    word = np.unpackbits(np.frombuffer(sent, np.uint8))
    along = np.where(word > 0, 1.0, -1.0) * bit_votes
    spread = float(along.std())
    agreement = float(along.mean()) / spread if spread > 0 else float("inf")
    if agreement < MIN_AGREEMENT:
        return None
    corrected = int(sum(a != b for a, b in zip(received, sent)))
    return Reading(payload[1:], agreement, corrected)


def read_picture(frame: np.ndarray) -> tuple[Reading | None, bool]:
    """A still picture's mark and whether it was read mirrored."""
    for way, votes in enumerate(both_ways(*MarkReader().cells_and_weights(luma(frame)))):
        reading = decode(votes)
        if reading is not None:
            return reading, bool(way)
    return None, False
