"""Whether a square of a stream's frames changed since the last frame, outside the faces in it.

The searches that cost most (the palm detector, the face detector: 2-9 ms a call) run only
where something may have come in, and something that comes in changes the picture. Judged
on a dozen cells a side, each the mean of a few single pixels: a few microseconds a frame.
Three things change cells without anything coming in, and are left out: a talking face's
own middle (its lips, eyes, brows), a head that moves (its outline, hair and shoulders
cross the cells at its edge: each cell is compared again with the last frame's sampled
where its nearest face came from), and speckle (twinkling lights: cells, not pixels).
"""

from __future__ import annotations

import numpy as np

CHANGE_CELLS = 12     # the square's change is judged on this many cells a side
CELL_SAMPLES = 4      # each the mean of this many single pixels a side
CHANGE_LEVELS = 10    # a cell whose mean moved by more than this (channels averaged) has changed
CHANGE_SHARE = 0.02   # and the square has, when this share of its cells did
FACE_CORE = 0.7       # cells within this middle share of a face's box (each way) are not judged:
# a hand that comes in crosses the square outside it, while the face's own lips, eyes and
# small moves change cells there on every talking frame (lp_d10 woke the palm detector on
# a quarter of its frames, 9 ms each)
# (cells, not single pixels: a string of twinkling lights behind the head (occ_wave) moved
# 3% of single pixels on every frame and woke the palm detector on each; a hand moves
# whole cells)


class ChangeWatch:
    """One stream's watch: `changed` compares a frame with the one last `remember`ed."""

    def __init__(self):
        self._previous: np.ndarray | None = None   # the square's cells on the frame remembered
        self._previous_centres: np.ndarray | None = None   # and the faces' centres then
        self._pending: tuple[np.ndarray, np.ndarray] | None = None

    def changed(self, frame: np.ndarray, square: tuple[int, int, int], face_boxes) -> bool:
        """Whether the square (x0, y0, side; it may reach past the frame) changed outside the
        faces' middles (FACE_CORE) since the remembered frame, or moved or grew. A cell has
        changed only where it differs from the remembered frame's both where it was and
        sampled again moved on by its nearest face's own move. face_boxes: (x0, y0, x1, y1)."""
        (cells, pitch), before = _cells(frame, square), self._previous
        centres = np.array([((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in face_boxes], np.float32).reshape(-1, 2)
        self._pending = cells, centres
        if before is None or before.shape != cells.shape:
            return True
        differs = (np.abs(cells - before) > CHANGE_LEVELS) & ~_face_cores(square, cells.shape, pitch, face_boxes)
        if float(differs.mean()) <= CHANGE_SHARE:
            return False
        # (sampled again only now: a calm frame costs one sampling)
        differs &= self._unlike_moved_on(frame, square, cells.shape, pitch, centres, before)
        return float(differs.mean()) > CHANGE_SHARE

    def remember(self) -> None:
        """The frame last judged is the one the next is compared with (not calling this
        judges a change again on the next frame)."""
        if self._pending is not None:
            self._previous, self._previous_centres = self._pending

    def reset(self) -> None:
        self._previous = self._previous_centres = self._pending = None

    def _unlike_moved_on(self, frame: np.ndarray, square: tuple[int, int, int], shape: tuple[int, int], pitch: int,
                         centres: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Which cells also differ from the last frame's sampled again at places moved on by
        the move of the face nearest each cell (all True where no move is known: a face
        came or went). Each face is matched with the nearest face of the last frame; faces
        that moved alike share one sampling."""
        unlike = np.ones(shape, bool)
        last = self._previous_centres
        if last is None or len(last) != len(centres):
            return unlike
        moves = np.rint(centres - last[np.argmin(_distances(centres, last), axis=1)]).astype(int)
        if not moves.any():
            return unlike
        cells = np.stack(np.meshgrid(*_cell_centres(square, shape, pitch)), axis=-1)
        nearest = np.argmin(_distances(cells.reshape(-1, 2), centres), axis=1).reshape(shape)
        for move in {tuple(int(v) for v in move) for move in moves if move.any()}:
            mine = np.isin(nearest, np.flatnonzero((moves == move).all(axis=1)))
            unlike[mine] = (np.abs(_cells(frame, square, move)[0] - before) > CHANGE_LEVELS)[mine]
        return unlike


def _distances(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(len(points), len(others)) distances between two sets of (x, y) points."""
    offsets = points[:, None, :] - others[None, :, :]
    return np.hypot(offsets[..., 0], offsets[..., 1])


def _cells(frame: np.ndarray, square: tuple[int, int, int], moved: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, int]:
    """About CHANGE_CELLS x CHANGE_CELLS cells of the square (its part inside the frame),
    each the mean of CELL_SAMPLES x CELL_SAMPLES single pixels, channels averaged: enough
    to see a hand come in, cheap enough for every frame. And the cells' pitch in frame pixels.
    moved: the same pixels' places moved by (x, y) pixels (kept inside the frame): what
    moved that far since is sampled where it was."""
    x0, y0, side = square
    height, width = frame.shape[:2]
    step = max(1, side // (CHANGE_CELLS * CELL_SAMPLES))
    top, bottom, left, right = max(0, y0), min(height, y0 + side), max(0, x0), min(width, x0 + side)
    dx, dy = moved
    if 0 <= top + dy and bottom + dy <= height and 0 <= left + dx and right + dx <= width:
        pixels = frame[top + dy:bottom + dy:step, left + dx:right + dx:step, :3]
    else:
        ys = np.clip(np.arange(top, bottom, step) + dy, 0, height - 1)
        xs = np.clip(np.arange(left, right, step) + dx, 0, width - 1)
        pixels = frame[ys[:, None], xs[None, :], :3]
    # channel by channel (as numpy's mean adds them, for a sixteenth of its time over a 3-long axis)
    grey = (pixels[:, :, 0].astype(np.float32) + pixels[:, :, 1] + pixels[:, :, 2]) / np.float32(3.0)
    rows, cols = grey.shape[0] // CELL_SAMPLES, grey.shape[1] // CELL_SAMPLES
    if rows == 0 or cols == 0:
        return grey, step
    cells = grey[:rows * CELL_SAMPLES, :cols * CELL_SAMPLES].reshape(rows, CELL_SAMPLES, cols, CELL_SAMPLES)
    return cells.mean(axis=(1, 3)), step * CELL_SAMPLES


def _face_cores(square: tuple[int, int, int], cells: tuple[int, int], pitch: int, face_boxes) -> np.ndarray:
    """Which of _cells' cells (by their centres) lie within the middle FACE_CORE of a face's box."""
    centre_x, centre_y = _cell_centres(square, cells, pitch)
    core = np.zeros(cells, bool)
    for x0, y0, x1, y1 in face_boxes:
        margin_x, margin_y = (1.0 - FACE_CORE) / 2 * (x1 - x0), (1.0 - FACE_CORE) / 2 * (y1 - y0)
        core |= (((centre_y > y0 + margin_y) & (centre_y < y1 - margin_y))[:, None]
                 & ((centre_x > x0 + margin_x) & (centre_x < x1 - margin_x))[None, :])
    return core


def _cell_centres(square: tuple[int, int, int], cells: tuple[int, int], pitch: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame x of each column of _cells' cells and the frame y of each row, at their middles."""
    return (max(0, square[0]) + (np.arange(cells[1]) + 0.5) * pitch,
            max(0, square[1]) + (np.arange(cells[0]) + 0.5) * pitch)
