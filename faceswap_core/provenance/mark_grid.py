"""Where the mark's grid lies in a picture it no longer fills: cropped and scaled up, in a
letterbox or pillarbox, shrunk inside a larger frame (picture-in-picture, a vertical
reframe), as reposts and players do.

The mark's cells (mark.py) are one period of sin x sin each, with a sign per cell. A
template of one cell slid over the picture answers most strongly, with either sign, where
it sits on a cell: its squared answer repeats with the cells whatever their signs, so the
squared answer's column and row sums carry a spectral line at half the cell's size.
Measured on the mean of a marked clip's frames after a 2.5 Mbit/s encode:
- the answer must be held to its own local size (divided by it, clipped at twice it):
  raw, the picture's own edges drowned the line, and the clip read like the same clip
  unmarked; a clip at its median over the frame failed where bars or a second picture
  fill most of it;
- the line alone places the cell to a percent or two in a narrow picture (a 9:16 reframe),
  where 64 cells then drift by a cell: each axis keeps its two clearest lines and twice
  their sizes (the answer repeats every half cell too), and a place is refined by the
  bits' votes before it is read.
The place itself: every 64 x 36 window of cells, on lattices at SUB x SUB sub-cell
offsets, weighed by how strongly the bits' votes speak there (the cells of each bit agree
only on the right window; the picture's content is as strong in the cells anywhere),
all windows at once by FFT. mark.decode keeps its guard, and a place found by searching
must agree more strongly (SEARCHED_AGREEMENT).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import fft

from .mark import (BITS, COLUMNS, OWNER, ROWS, SIGN, VOTE_CLIP, MarkReader, Reading, both_ways, cell_weights,
                   decode)

MIN_CELL = 5.0              # reading pixels: a picture at 40% of a 960-pixel-wide frame has 6 (a smaller
                            # one is looked for again at a finer reading scale: verify.FINE_READ_SIDE)
MAX_STRETCH = 1.35          # a picture cropped and scaled up fills at most this much of the frame per axis
CELL_STEP = 1.15            # the bank's step between cell sizes (a template within 7.5% still answers)
RATIOS = (0.4, 3.5)         # cell height / width: a 21:9 picture to a 9:16 one
CLIP = 2.0                  # the template's answer clipped at this many times its local size
FLOOR = 0.1                 # the local size's floor, of its median over the picture
MIN_LINE = 6.0              # the line must stand this far above the median of the spectrum around it
FINE = 0.1                  # the fine search spans this share either side of the bank's size
SUB = 4                     # sub-cell offsets tried per axis (then refined)
LIKELY = 2                  # lines kept per axis
LATTICE_CELL = 8            # pixels a cell has on the lattice the cells are read from
TRIED = 4                   # places kept per cell size
SIZES_TRIED = 16            # cell sizes whose places are weighed, clearest lines first
PLACES_TRIED = 8            # places refined and decoded, of all sizes, the strongest votes first
SCALE_STEP = 0.01           # the refinement's largest size change (of the cell), halved three times
SEARCHED_AGREEMENT = 3.0    # mark.decode's agreement a searched place needs (its own guard is 2.0)
FFT_WORKERS = -1            # the windows' 128 correlations on every core: `verify` is waited for, offline


@dataclass(frozen=True)
class Placement:
    """The marked picture's cell grid in a frame's pixels: its top-left corner and cell size
    (the picture spans COLUMNS x ROWS cells; parts may lie outside the frame)."""

    x0: float
    y0: float
    cell_w: float
    cell_h: float

    def picture(self, y: np.ndarray) -> np.ndarray:
        """The picture at LATTICE_CELL pixels a cell, from the frame's luma (outside the
        frame: its edge repeated, which a cell's zero-mean shape ignores)."""
        return self.lattice(y, COLUMNS, ROWS, cv2.BORDER_REPLICATE)

    def lattice(self, y: np.ndarray, columns: int, rows: int, border: int) -> np.ndarray:
        """columns x rows cells from the corner, at LATTICE_CELL pixels a cell."""
        sx, sy = LATTICE_CELL / self.cell_w, LATTICE_CELL / self.cell_h
        matrix = np.float32([[sx, 0, -self.x0 * sx], [0, sy, -self.y0 * sy]])
        return cv2.warpAffine(y, matrix, (columns * LATTICE_CELL, rows * LATTICE_CELL), flags=cv2.INTER_LINEAR,
                              borderMode=border)

    def inside(self, shape: tuple[int, ...]) -> np.ndarray:
        """Each cell's share inside a frame of that shape (ROWS x COLUMNS, 0..1): the
        repeated edge outside it is quiet, and weighed as quiet it would outvote the
        picture's cells with the nothing it carries."""
        def share(start: float, cell: float, count: int, limit: int) -> np.ndarray:
            low = start + cell * np.arange(count)
            return np.clip((np.minimum(low + cell, limit) - np.maximum(low, 0.0)) / cell, 0.0, 1.0)

        height, width = shape[:2]
        return np.outer(share(self.y0, self.cell_h, ROWS, height),
                        share(self.x0, self.cell_w, COLUMNS, width)).astype(np.float32)

    def cells_and_weights(self, y: np.ndarray, reader: MarkReader) -> tuple[np.ndarray, np.ndarray]:
        """The picture's cells' correlations and weights (mark.cell_weights, 0 outside the frame)."""
        cells, weights = reader.cells_and_weights(self.picture(y))
        return cells, weights * self.inside(y.shape)


def _sizes(limit: float) -> np.ndarray:
    count = max(1, int(np.floor(np.log(max(limit, MIN_CELL) / MIN_CELL) / np.log(CELL_STEP))) + 1)
    return MIN_CELL * CELL_STEP ** np.arange(count)


def _answer(y: np.ndarray, cell_w: float, cell_h: float) -> np.ndarray:
    """The one-cell template's squared answer at every place, clipped."""
    kx = np.sin(2 * np.pi * (np.arange(max(2, round(cell_w))) + 0.5) / cell_w).astype(np.float32)
    ky = np.sin(2 * np.pi * (np.arange(max(2, round(cell_h))) + 0.5) / cell_h).astype(np.float32)
    answer = cv2.sepFilter2D(y, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_REPLICATE)
    # against the answer's own local size (a few cells around), so busy content, flat bars
    # and a small picture inside a larger frame each count alike; a floor keeps flat bars' noise down
    reach = int(6 * max(cell_w, cell_h)) | 1
    local = np.sqrt(np.maximum(cv2.boxFilter(answer * answer, -1, (reach, reach)), 0.0))
    floor = FLOOR * float(np.median(local[::7, ::7])) + 1e-3
    answer = np.clip(answer / (local + floor), -CLIP, CLIP)
    return answer * answer


def _line(profile: np.ndarray, periods: np.ndarray) -> tuple[float, float]:
    """The strongest period among `periods` in a profile and how far it stands above the
    median of the others."""
    x = np.arange(len(profile), dtype=np.float64)
    centred = profile - profile.mean()
    power = np.abs(np.exp(-2j * np.pi * np.outer(1.0 / periods, x)) @ centred)
    best = int(np.argmax(power))
    return float(periods[best]), float(power[best] / (np.median(power) + 1e-9))


def cell_sizes(y: np.ndarray, largest: float | None = None) -> list[tuple[float, float]]:
    """The likely (cell width, cell height) pairs of a mark's grid in a luma image, most
    likely first; [] where no cell size stands out. Each axis keeps its LIKELY clearest
    lines (a busy picture has lines of its own) and the sizes twice theirs (the squared
    answer repeats every half cell too). largest: no cell side larger than this is
    looked for (a second search at a finer scale looks for the small cells only)."""
    height, width = y.shape
    cap = largest if largest is not None else float("inf")
    lines_w, lines_h = [], []
    for cell_w in _sizes(min(MAX_STRETCH * width / COLUMNS, cap)):
        for cell_h in _sizes(min(MAX_STRETCH * height / ROWS, cap)):
            if not RATIOS[0] <= cell_h / cell_w <= RATIOS[1]:
                continue
            energy = _answer(y, cell_w, cell_h)
            band = lambda size: np.linspace(size / 2 * (1 - FINE), size / 2 * (1 + FINE), 41)   # noqa: E731
            profiles = energy.sum(axis=0), energy.sum(axis=1)
            half_w, clear_w = _line(profiles[0], band(cell_w))
            half_h, clear_h = _line(profiles[1], band(cell_h))
            if min(clear_w, clear_h) >= MIN_LINE:
                lines_w.append((clear_w, half_w, profiles[0]))
                lines_h.append((clear_h, half_h, profiles[1]))
    chosen = []
    for lines in (lines_w, lines_h):
        kept = []
        for clear, half, profile in sorted(lines, key=lambda line: -line[0]):
            if len(kept) < LIKELY and all(abs(half / other - 1) > 0.03 for _, other in kept):
                # placed finely: 0.02% steps (64 cells drift an eighth of a cell at 0.2%)
                kept.append((clear, _line(profile, np.linspace(half * 0.99, half * 1.01, 101))[0]))
        chosen.append([(clear, 2 * half * twice) for clear, half in kept for twice in (1, 2)])
    pairs = [(min(cw, ch), w, h) for cw, w in chosen[0] for ch, h in chosen[1] if RATIOS[0] <= h / w <= RATIOS[1]]
    distinct: list[tuple[float, float]] = []
    for _, w, h in sorted(pairs, key=lambda pair: -pair[0]):
        if all(abs(w / w2 - 1) > 0.01 or abs(h / h2 - 1) > 0.01 for w2, h2 in distinct):
            distinct.append((w, h))
    return distinct


def placements(y: np.ndarray, reader: MarkReader | None = None, largest: float | None = None):
    """Where a marked picture may lie in a luma image, most likely first (a generator: a
    caller that decodes the first stops the search there). Every likely cell size's places
    are weighed by their bits' votes before any is tried: a codec's block grid draws lines
    as clear as the mark's (x264's 16-pixel blocks, read at half size, stood before a 9:16
    reframe's 8.44-pixel cells), but only the mark's cells vote together (99,000 against at
    most 5,000 for every other size's best place)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    reader = reader or MarkReader()
    weighed = [found for cell_w, cell_h in cell_sizes(y, largest)[:SIZES_TRIED]
               for found in _windows(y, cell_w, cell_h, reader)]
    for _, place in sorted(weighed, key=lambda item: -item[0])[:PLACES_TRIED]:
        yield place


def _bit_kernels() -> np.ndarray:
    """Per bit, as it is and mirrored: the key's sign on that bit's cells, 0 elsewhere
    (2 x BITS x ROWS x COLUMNS): a window's vote for a bit is its cells' correlation with it."""
    kernels = np.zeros((2, BITS, ROWS, COLUMNS), np.float32)
    for bit in range(BITS):
        kernels[0, bit] = np.where(OWNER == bit, SIGN, 0.0)
    # a mirrored picture's window holds -cells[:, ::-1] (mark.mirrored)
    kernels[1] = -kernels[0][:, :, ::-1]
    return kernels


def _windows(y: np.ndarray, cell_w: float, cell_h: float, reader: MarkReader) -> list[tuple[float, Placement]]:
    """The 64 x 36 windows of cells, on lattices at SUB x SUB sub-cell offsets, where the
    bits' votes speak most strongly (the cells of each bit agree only on the right window,
    as it is or mirrored), best first with that energy: every window's votes at once, as
    correlations of the lattice's cells with each bit's kernel (FFT)."""
    height, width = y.shape
    pad_x, pad_y = int(np.ceil(COLUMNS * (1 - 1 / MAX_STRETCH))), int(np.ceil(ROWS * (1 - 1 / MAX_STRETCH)))
    kernels, spectra = _bit_kernels(), {}
    found = []
    for sub_y in range(SUB):
        for sub_x in range(SUB):
            x0, y0 = sub_x * cell_w / SUB, sub_y * cell_h / SUB
            columns, rows = int((width - x0) // cell_w), int((height - y0) // cell_h)
            if columns < 1 or rows < 1:
                continue
            # the whole cells inside the frame (past its edge: nothing, not repeated pixels)
            warped = Placement(x0, y0, cell_w, cell_h).lattice(y, columns, rows, cv2.BORDER_CONSTANT)
            shape = (max(rows + 2 * pad_y, ROWS), max(columns + 2 * pad_x, COLUMNS))
            fast = (fft.next_fast_len(shape[0], real=True), fft.next_fast_len(shape[1], real=True))
            cells = np.zeros(fast, np.float32)
            weights = cell_weights(warped, columns, rows)
            cells[pad_y:pad_y + rows, pad_x:pad_x + columns] = np.clip(reader.cells(warped, columns, rows),
                                                                       -VOTE_CLIP, VOTE_CLIP) * (weights / weights.mean())
            if fast not in spectra:
                spectra[fast] = fft.rfft2(kernels, s=fast, workers=FFT_WORKERS).conj()
            votes = fft.irfft2(spectra[fast] * fft.rfft2(cells), s=fast, workers=FFT_WORKERS)
            energy = np.square(votes[:, :, :shape[0] - ROWS + 1, :shape[1] - COLUMNS + 1]).sum(axis=1).max(axis=0)
            origin_x, origin_y = x0 - pad_x * cell_w, y0 - pad_y * cell_h
            for index in np.argsort(energy, axis=None)[::-1][:TRIED]:
                row, column = np.unravel_index(index, energy.shape)
                found.append((float(energy[row, column]),
                              Placement(origin_x + column * cell_w, origin_y + row * cell_h, cell_w, cell_h)))
    return sorted(found, key=lambda item: -item[0])[:TRIED]


def _vote_energy(y: np.ndarray, place: Placement, reader: MarkReader) -> float:
    """How strongly the bits' votes speak there, as it is or mirrored (a mirrored camera)."""
    return max(float(np.square(votes).sum()) for votes in both_ways(*place.cells_and_weights(y, reader)))


def _refined(y: np.ndarray, place: Placement, reader: MarkReader) -> Placement:
    """The place moved and scaled a little where the bits' votes grow: the lattice's
    eighth of a cell and the size's estimate leave a little of the mark unread."""
    best = _vote_energy(y, place, reader)
    for step in (1.0, 0.5, 0.25, 0.12):
        improved = True
        while improved:
            improved = False
            for change in ({"x0": step * place.cell_w}, {"x0": -step * place.cell_w},
                           {"y0": step * place.cell_h}, {"y0": -step * place.cell_h},
                           {"cell_w": place.cell_w * SCALE_STEP * step}, {"cell_w": -place.cell_w * SCALE_STEP * step},
                           {"cell_h": place.cell_h * SCALE_STEP * step}, {"cell_h": -place.cell_h * SCALE_STEP * step}):
                (name, delta), = change.items()
                moved = _shifted(place, name, delta)
                energy = _vote_energy(y, moved, reader)
                if energy > best:
                    best, place, improved = energy, moved, True
    return place


def _shifted(place: Placement, name: str, delta: float) -> Placement:
    """A size change keeps the picture's centre where it was."""
    values = {"x0": place.x0, "y0": place.y0, "cell_w": place.cell_w, "cell_h": place.cell_h}
    values[name] += delta
    if name == "cell_w":
        values["x0"] -= delta * COLUMNS / 2
    if name == "cell_h":
        values["y0"] -= delta * ROWS / 2
    return Placement(**values)


def read_placed(y: np.ndarray, reader: MarkReader | None = None,
                largest: float | None = None) -> tuple[Reading | None, bool, Placement | None]:
    """The mark of a picture that does not fill the frame: (reading, mirrored, where).
    largest: the largest cell side looked for (see cell_sizes)."""
    reader = reader or MarkReader()
    y = np.ascontiguousarray(y, dtype=np.float32)
    for place in placements(y, reader, largest):
        # the lattice's eighth of a cell and the size's estimate (a line's place in a
        # narrow picture is off by a percent or two) leave some of the mark unread: the
        # refined place reads better, or at all (a video's frames are read again there)
        reading, mirrored = _decoded(y, place, reader)
        refined = _refined(y, place, reader)
        better, better_mirrored = _decoded(y, refined, reader)
        if better is not None and (reading is None or better.agreement > reading.agreement):
            return better, better_mirrored, refined
        if reading is not None:
            return reading, mirrored, place
    return None, False, None


def _decoded(y: np.ndarray, place: Placement, reader: MarkReader) -> tuple[Reading | None, bool]:
    for mirrored, votes in enumerate(both_ways(*place.cells_and_weights(y, reader))):
        reading = decode(votes)
        if reading is not None and reading.agreement >= SEARCHED_AGREEMENT:
            return reading, bool(mirrored)
    return None, False
