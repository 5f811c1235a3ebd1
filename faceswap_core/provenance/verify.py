"""What a file says about itself: its content credentials (C2PA) and the invisible mark in
its pictures.

A video is decoded by the bundled ffmpeg straight to brightness with its own shape, the
longer side at most 960 pixels (the mark's cells are a share of the frame, so any size
reads the same, and small is fast), its votes summed per one-second window (the last one
also takes the frames left over), each window decoded. A mirrored copy is read as well.
Where nothing is found over the whole frame, the picture may no longer fill it (cropped and scaled, letterboxed, a picture-in-picture, a
vertical reframe): the mark's grid is looked for on the mean of the frames read
(mark_grid), and where one decodes there, the video is read again at that place. Where
none does and the frame is larger than READ_SIDE, the mean is taken again at up to
FINE_READ_SIDE and searched for the cells too small to see at READ_SIDE (a small
picture-in-picture).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import FaceSwapError
from ..media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, RawFrames, ffmpeg_executable
from ..progress import Progress
from . import mark, mark_grid
from .credentials import CredentialFinding, read_credentials

READ_SIDE = 960            # frames are read with the longer side at most this many pixels (mark_grid's scale)
FINE_READ_SIDE = 1440      # where nothing is found, a larger frame's mean is searched again at up to this,
# for cells too small at READ_SIDE: a 720p picture at 40% of its size in a 1080p frame (512 pixels
# wide) has 4 reading pixels a cell at 960, under mark_grid.MIN_CELL, and 6 at 1440 (found, 3 s for
# a 3 s clip; at 1920 also one at 35%, but an unmarked 1080p clip took 8 s instead of 3.5)
VIDEO_KINDS = VIDEO_EXTENSIONS | {".flv", ".ts"}   # what OBS records, too
ENOUGH_WINDOWS = 5          # this many windows agreeing: stop reading a long video
PROVES_NOTHING = ("This proves nothing about the file: both can be lost (a re-upload, cropping, heavy editing) or "
                  "removed, and other tools add neither.")
NOTHING_FOUND = f"nothing found (no content credentials, no obs-faceswap mark). {PROVES_NOTHING}"
NOT_SAID = "nothing in it says it is a face swap:"


@dataclass
class MarkFinding:
    found: bool
    session: str = ""
    mirrored: bool = False
    windows_read: int = 0         # one per second of video, 1 for a picture
    windows_decoded: int = 0      # those that decoded to the session
    frames_read: int = 0
    frames_decoded: int = 0       # single frames that decoded to the session on their own
    placed: str = ""              # where the marked picture lies when it does not fill the frame

    def words(self) -> str:
        if not self.found:
            return "no obs-faceswap mark"
        where = (f"{self.windows_decoded} of {self.windows_read} windows of about a second" if self.frames_read > 1
                 else "the picture")
        part = f" ({self.placed})" if self.placed else ""
        return (f"obs-faceswap mark found: session {self.session}"
                f"{' (mirrored)' if self.mirrored else ''}, in {where}{part}: made with a face swap")


@dataclass
class FileReport:
    path: str
    kind: str                     # "image" or "video"
    mark: MarkFinding = field(default_factory=lambda: MarkFinding(False))
    credentials: CredentialFinding = field(default_factory=CredentialFinding)
    error: str = ""

    @property
    def says_face_swap(self) -> bool:
        """Something in the file says it is a face swap: the mark, or valid credentials that
        name one (credentials naming no face swap, a camera's own, say nothing of the kind)."""
        return self.mark.found or (self.credentials.state in ("valid", "trusted") and self.credentials.swapped)

    @property
    def status(self) -> int:
        """The answer to "is this a face swap?": 0 the file says it is (the mark, or valid
        credentials naming a face swap), 1 nothing says so (or unreadable), 2 credentials
        present but invalid."""
        if self.credentials.state == "invalid":
            return 2
        return 0 if self.says_face_swap else 1

    def line(self) -> str:
        if self.error:
            known = f"{self.credentials.words()}; " if self.credentials.state != "none" else ""
            return f"{self.path}: {known}could not read its pictures: {self.error}"
        if self.status == 1 and self.credentials.state == "none":
            return f"{self.path}: {NOTHING_FOUND}"
        if self.status == 1:
            return f"{self.path}: {NOT_SAID} {self.credentials.words()}; {self.mark.words()}. {PROVES_NOTHING}"
        return f"{self.path}: {self.credentials.words()}; {self.mark.words()}"

    def as_dict(self) -> dict:
        found = self.credentials
        return {"path": self.path, "kind": self.kind, "status": self.status, "face_swap": self.says_face_swap,
                "error": self.error,
                "credentials": {"state": found.state, "signer": found.signer, "generator": found.generator,
                                "actions": found.actions, "swapped": found.swapped, "session": found.session,
                                "failures": found.failures},
                "mark": {"found": self.mark.found, "session": self.mark.session, "mirrored": self.mark.mirrored,
                         "windows_read": self.mark.windows_read, "windows_decoded": self.mark.windows_decoded,
                         "frames_read": self.mark.frames_read, "frames_decoded": self.mark.frames_decoded,
                         "placed": self.mark.placed}}


def files_under(paths: list[str]) -> list[str]:
    """The pictures and videos named, a folder's (recursively) in name order."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                found += [os.path.join(root, name) for name in sorted(names) if file_kind(name)]
        elif os.path.exists(path):
            found.append(path)
        else:
            raise FaceSwapError(f"'{path}' does not exist.")
    return found


def file_kind(path: str) -> str:
    """'image', 'video' or '' from the file's name."""
    extension = os.path.splitext(path)[1].lower()
    return "image" if extension in IMAGE_EXTENSIONS else "video" if extension in VIDEO_KINDS else ""


def check_file(path: str, progress: bool = False, anchors_pem: str = "") -> FileReport:
    """anchors_pem: root certificates to trust (PEM), such as another install's root.pem."""
    kind = file_kind(path) or "video"     # an unknown extension: let ffmpeg try
    report = FileReport(path, kind)
    try:
        report.credentials = read_credentials(path, anchors_pem)
        report.mark = read_image_mark(path) if kind == "image" else read_video_mark(path, progress)
    except FaceSwapError as error:
        report.error = str(error)
    return report


def read_image_mark(path: str) -> MarkFinding:
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FaceSwapError("not a picture OpenCV can open")
    reading, mirrored = mark.read_picture(image)
    if reading is not None:
        return MarkFinding(True, reading.session, mirrored, 1, 1, 1, 1)
    height, width = image.shape[:2]
    size = read_size(width, height)
    small = cv2.resize(mark.luma(image), size, interpolation=cv2.INTER_AREA)
    reading, mirrored, place = mark_grid.read_placed(small)
    if reading is None:
        return MarkFinding(False, windows_read=1, frames_read=1)
    return MarkFinding(True, reading.session, mirrored, 1, 1, 1, 1, _placed_words(place, size, (width, height)))


def read_size(width: int, height: int, side: int = READ_SIDE) -> tuple[int, int]:
    """The size frames are read at: their own shape, the longer side at most `side`, even."""
    scale = min(1.0, side / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _placed_words(place: mark_grid.Placement, read: tuple[int, int], frame: tuple[int, int]) -> str:
    """Where the marked picture lies, in the file's own pixels."""
    scale = frame[0] / read[0]
    x0, y0 = place.x0 * scale, place.y0 * scale
    width, height = place.cell_w * mark.COLUMNS * scale, place.cell_h * mark.ROWS * scale
    return f"a {width:.0f}x{height:.0f} picture at ({x0:.0f}, {y0:.0f}) in the {frame[0]}x{frame[1]} frame"


def video_facts(path: str) -> tuple[float, int, tuple[int, int] | None]:
    """(frames per second, frame count or 0, (width, height) as decoded, or None) from the
    container and its first frame (the decoder's own turn for a rotated phone video)."""
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        opened = capture.isOpened()
        fps = capture.get(cv2.CAP_PROP_FPS) if opened else 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if opened else 0
        ok, frame = capture.read() if opened else (False, None)
    finally:
        capture.release()
    size = (frame.shape[1], frame.shape[0]) if ok else None
    return (fps if 1.0 <= fps <= 240.0 else 30.0), max(count, 0), size


@dataclass
class _Pass:
    """One reading of a video's frames, as it is and mirrored."""

    frames: int = 0
    windows: int = 0
    decoded: list = field(default_factory=lambda: [Counter(), Counter()])
    single: list = field(default_factory=lambda: [Counter(), Counter()])
    mean: np.ndarray | None = None        # the mean luma of the frames read (for a pass over the whole frame)
    last: tuple | None = None             # the last whole window's sums and the sessions they decoded to

    def end_window(self, sums: list[np.ndarray]) -> None:
        """A second of votes (as it is, mirrored) decoded and cleared; kept as `last` for the
        frames that may be left over at the end."""
        self.windows += 1
        self.last = [votes.copy() for votes in sums], [_tally(counts, votes) for counts, votes in zip(self.decoded, sums)]
        for votes in sums:
            votes[:] = 0

    def end_reading(self, sums: list[np.ndarray], left_over: int) -> None:
        """The frames after the last whole second join it rather than being dropped: occ_wave's
        58 frames are one window of 58, not 30. At 360p and 400 kbit/s that window's agreement
        was 2.39 (median of 60 sessions, under MIN_AGREEMENT for 6) and is 2.79 (none under).
        A clip shorter than a second is its own window."""
        if not left_over:
            return
        if self.last is None:
            self.end_window(sums)
            return
        last_sums, sessions = self.last
        for variant, session in enumerate(sessions):
            counts = self.decoded[variant]
            if session:
                counts[session] -= 1
                if not counts[session]:
                    del counts[session]
            _tally(counts, last_sums[variant] + sums[variant])

    def finding(self, placed: str = "") -> MarkFinding:
        best = max(((counts.most_common(1)[0], variant) for variant, counts in enumerate(self.decoded) if counts),
                   default=None, key=lambda item: item[0][1])
        # one window is enough for a short clip; a longer one needs two that agree
        if best is None or best[0][1] < min(2, self.windows):
            return MarkFinding(False, windows_read=self.windows, frames_read=self.frames)
        (session, hits), variant = best
        return MarkFinding(True, session, bool(variant), self.windows, hits, self.frames, self.single[variant][session],
                           placed)


def read_video_mark(path: str, progress: bool = False, enough_windows: int = ENOUGH_WINDOWS) -> MarkFinding:
    """The mark in a video; reading stops once `enough_windows` windows agree."""
    fps, count, frame_size = video_facts(path)
    size = read_size(*frame_size) if frame_size else (640, 360)
    whole = _read_pass(path, fps, count, size, None, progress, enough_windows)
    found = whole.finding()
    if found.found or whole.mean is None:
        return found
    reading, _, place = mark_grid.read_placed(whole.mean)
    fine = read_size(*frame_size, FINE_READ_SIDE) if frame_size else size
    if reading is None and fine != size:
        # a small picture inside a large frame: the frames' mean at the finer scale, searched
        # for the cells READ_SIDE could not see (the larger ones it did see are not again)
        mean = _read_pass(path, fps, count, fine, None, progress, enough_windows, vote=False).mean
        smallest_seen = mark_grid.MIN_CELL * fine[0] / size[0]
        reading, _, place = mark_grid.read_placed(mean, largest=smallest_seen * mark_grid.CELL_STEP)
        size = fine
    if reading is None:
        return found
    placed = _read_pass(path, fps, count, size, place, progress, enough_windows)
    return placed.finding(_placed_words(place, size, frame_size or size))


def _read_pass(path: str, fps: float, count: int, size: tuple[int, int], place: mark_grid.Placement | None,
               progress: bool, enough_windows: int, vote: bool = True) -> _Pass:
    """The frames' votes per one-second window, over the whole frame or at a place; with
    vote=False, only the whole frames' mean (for a search at another scale)."""
    window = max(1, round(fps))
    width, height = size
    command = [ffmpeg_executable(), "-v", "error", "-i", path, "-map", "0:v:0", "-vf", f"scale={width}:{height}",
               "-pix_fmt", "gray", "-f", "rawvideo", "-"]
    frames = RawFrames(command, width * height)
    words = f"reading {os.path.basename(path)}" + ("" if place is None and vote else
                                                   " again where its picture lies" if place is not None else
                                                   " again, finer, for a small picture")
    bar = Progress(count or None, words, force=progress)
    reader = mark.MarkReader()
    sums = [np.zeros(mark.BITS), np.zeros(mark.BITS)]      # as it is, mirrored
    total = np.zeros((height, width), np.float64) if place is None else None
    result = _Pass()
    in_window = 0
    try:
        for data in frames:
            luma = data.reshape(height, width)
            if total is not None:
                total += luma
            result.frames += 1
            bar.advance()
            if not vote:
                continue
            picture = luma.astype(np.float32)
            read = reader.cells_and_weights(picture) if place is None else place.cells_and_weights(picture, reader)
            for variant, votes in enumerate(mark.both_ways(*read)):
                sums[variant] += votes
                _tally(result.single[variant], votes)
            in_window += 1
            if in_window == window:
                result.end_window(sums)
                in_window = 0
                if max(max(counts.values(), default=0) for counts in result.decoded) >= enough_windows:
                    break
        result.end_reading(sums, in_window)
    finally:
        bar.close()
        error = frames.close()
    if result.frames == 0:
        raise FaceSwapError(error or "no video frames in it")
    if total is not None:
        result.mean = (total / result.frames).astype(np.float32)
    return result


def _tally(counts: Counter, votes: np.ndarray) -> str:
    """The session the votes decode to, counted once more in `counts` ('' when none)."""
    reading = mark.decode(votes)
    if reading is None:
        return ""
    counts[reading.session] += 1
    return reading.session
