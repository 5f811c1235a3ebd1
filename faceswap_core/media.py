"""Where frames come from and go to, for the CLI: image files, video files, cameras and
screens in; image or video files (with the input's audio) and a preview window out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from .bgra import bgr_copy
from .errors import FaceSwapError
from .link import pixel_formats as pf
from .worker import pixel_convert
from .vision.photo import load_photo

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}


@dataclass
class Frame:
    image: np.ndarray     # BGR uint8
    timestamp: float      # seconds since the input started (drives smoothing)
    planes: list | None = None   # a video file's I420 planes the image was read from (VideoFileSource)


class FrameSource:
    """Frames in order; `total` is known for files, None for live inputs."""

    fps: float = 30.0
    total: int | None = None
    audio_path: str | None = None   # a file whose audio track the output should keep
    is_still: bool = False
    live: bool = False              # frames come as they happen (a camera, a screen): none may wait
    stream: "VideoStream | None" = None   # a video file's raw frames as decoded (VideoFileSource)

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ImageSource(FrameSource):
    is_still = True
    total = 1

    def __init__(self, path: str):
        self._image = load_photo(path, max_side=8192)

    def frames(self) -> Iterator[Frame]:
        yield Frame(self._image, 0.0)


class VideoFileSource(FrameSource):
    """A video file decoded by ffmpeg into a pipe. A 4:2:0 stream (nearly every camera,
    phone and OBS recording) comes as its own planes, read into BGR for the engine with the
    stream's colour matrix, and goes out as those planes with only the swapped pixels
    converted back (Render): no full-frame conversion either way, and every pixel the swap
    did not touch reaches the encoder as it was decoded. Other streams come as BGR."""

    def __init__(self, path: str):
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise FaceSwapError(f"The video '{os.path.basename(path)}' could not be opened; check it plays in a video player.")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        self.total = count if count > 0 else None
        self.audio_path = path
        self._path = path
        self.stream = probe_video(path)
        self._frames: RawFrames | None = None

    def frames(self) -> Iterator[Frame]:
        stream = self.stream
        self._frames = RawFrames([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", self._path,
                                  "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo",
                                  "-pix_fmt", stream.pipe_format, "-"], stream.frame_bytes)
        index = 0
        try:
            for data in self._frames:
                yield stream.frame(data, index / self.fps)
                index += 1
        finally:   # ended, or left by its reader
            said = self._frames.close()
        if index == 0:
            raise FaceSwapError("The video has no readable frames; it may be damaged, so export or download it "
                                f"again{' (ffmpeg: ' + said + ')' if said else ''}.")

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()


class RawFrames:
    """Frames of `frame_bytes` each from an ffmpeg command's output pipe, each in an array of
    its own. ffmpeg's messages go to a temporary file, not a pipe: a damaged file's many
    lines cannot block it. (The CLI's video input and `verify` read video this way.)"""

    def __init__(self, command: list[str], frame_bytes: int):
        self.frame_bytes = frame_bytes
        self._said = ""
        self._errors = tempfile.TemporaryFile()
        self._process: subprocess.Popen | None = subprocess.Popen(command, stdout=subprocess.PIPE,
                                                                   stderr=self._errors)

    def __iter__(self) -> Iterator[np.ndarray]:
        while self._process is not None:
            data = np.empty(self.frame_bytes, np.uint8)
            if not _read_into(self._process.stdout, data):
                return
            yield data

    def close(self) -> str:
        """ffmpeg stopped (killed where it is still running); its last message line, '' if none."""
        if self._process is not None:
            self._process.stdout.close()
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None
            self._errors.seek(0)
            lines = self._errors.read().decode(errors="replace").strip().splitlines()
            self._errors.close()
            self._said = lines[-1] if lines else ""
        return self._said


def _read_into(pipe, data: np.ndarray) -> bool:
    """Fill `data` from the pipe; False at the end of the stream (a partial last frame too)."""
    view, filled = memoryview(data).cast("B"), 0
    while filled < len(view):
        count = pipe.readinto(view[filled:])
        if not count:
            return False
        filled += count
    return True


# ffmpeg's name of a stream's colour matrix -> its luma weights (kr, kb)
LUMA_WEIGHTS = {"bt709": (0.2126, 0.0722), "bt470bg": (0.299, 0.114), "smpte170m": (0.299, 0.114),
                "fcc": (0.30, 0.11), "smpte240m": (0.212, 0.087), "bt2020nc": (0.2627, 0.0593),
                "bt2020c": (0.2627, 0.0593)}
PLANAR_420 = ("yuv420p", "yuvj420p")


@dataclass(frozen=True)
class VideoStream:
    """A file's video as ffmpeg decodes it (after turning it upright): the pixel format,
    size and colour tags its raw frames carry."""

    pixel_format: str
    width: int
    height: int
    full_range: bool = False
    space: str = ""        # the colour matrix's name, '' when the file does not say
    primaries: str = ""
    transfer: str = ""
    pixel_aspect: str = ""  # a pixel's width:height where not square ('4:3' for anamorphic HDV), else ''

    @property
    def planar(self) -> bool:
        return self.pixel_format in PLANAR_420

    @property
    def pipe_format(self) -> str:
        """What ffmpeg is asked to pipe: the stream's own 4:2:0 planes, else BGR."""
        return self.pixel_format if self.planar else "bgr24"

    @property
    def frame_bytes(self) -> int:
        if not self.planar:
            return self.width * self.height * 3
        return pf.frame_bytes(pf.I420, self.width, self.height, self._strides)

    @property
    def _strides(self) -> tuple[int, ...]:
        return tuple(plane.row_bytes for plane in pf.planes(pf.I420, self.width, self.height))

    @property
    def matrix(self) -> tuple:
        """YUV -> RGB as the file says; untagged, as players guess: BT.709 for HD, else BT.601."""
        hd = self.width >= 1280 or self.height > 576
        kr, kb = LUMA_WEIGHTS.get(self.space, LUMA_WEIGHTS["bt709" if hd else "bt470bg"])
        return pixel_convert.yuv_matrix(kr, kb, self.full_range)

    def frame(self, data: np.ndarray, timestamp: float) -> Frame:
        if not self.planar:
            return Frame(data.reshape(self.height, self.width, 3), timestamp)
        planes = pixel_convert.plane_views(data, 0, pf.I420, self.width, self.height, self._strides)
        image = pixel_convert.to_bgr(planes, pf.I420, self.width, self.height, self.matrix)
        return Frame(image, timestamp, planes)

    def write_back(self, frame: Frame, after: np.ndarray) -> None:
        """Into a frame's own planes (from `frame`): the pixels `after` changed from its
        picture, converted back with the matrix it was read with."""
        pixel_convert.write_back(frame.planes, frame.planes, frame.image, after, pf.I420, self.width, self.height,
                                 self.matrix)

    def tags_filter(self) -> str:
        """ffmpeg filters (each followed by a comma) that tag raw frames as this stream's
        were, so the output is shown as the input was: its pixels' shape, and its colour tags
        where its planes are piped as they are (frames piped as BGR are written as BT.601)."""
        filters = [f"setsar={self.pixel_aspect.replace(':', '/')}"] if self.pixel_aspect else []
        if self.planar:
            values = (("range", "pc" if self.full_range else "tv"), ("colorspace", self.space),
                      ("color_primaries", self.primaries), ("color_trc", self.transfer))
            filters.append("setparams=" + ":".join(f"{name}={value}" for name, value in values if value))
        return "".join(f"{part}," for part in filters)


def probe_video(path: str) -> VideoStream:
    """What ffmpeg's decode of the first video frame gives (its output stream's line:
    pixel format, colour tags, size after any rotation)."""
    said = subprocess.run([ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", path, "-map", "0:v:0",
                           "-frames:v", "1", "-f", "null", "-"], capture_output=True, text=True,
                          errors="replace").stderr
    output = said[said.find("Output #0"):] if "Output #0" in said else ""
    line = next((line for line in output.splitlines() if " Video: " in line), "")
    parts = _top_level_parts(line.split(" Video: ", 1)[-1])
    size = next((re.match(r"(\d+)x(\d+)", part) for part in parts if re.match(r"\d+x\d+", part)), None)
    if len(parts) < 3 or size is None:
        raise FaceSwapError(f"The video '{os.path.basename(path)}' could not be decoded; check it plays in a video "
                            "player.")
    format_name, _, inside = parts[1].partition("(")
    tags = [tag.strip() for tag in inside.rstrip(")").split(",")]
    space = primaries = transfer = ""
    for tag in tags:
        names = tag.split("/")
        if len(names) == 3:
            space, primaries, transfer = names
        elif tag in LUMA_WEIGHTS:
            space = primaries = transfer = tag
    space, primaries, transfer = ("" if name in ("unknown", "reserved") else name for name in (space, primaries, transfer))
    aspect = next((found.groups() for part in parts if (found := re.search(r"\[SAR (\d+):(\d+) ", part))), None)
    square = aspect is None or aspect[0] == aspect[1] or "0" in aspect
    return VideoStream(format_name.strip(), int(size.group(1)), int(size.group(2)),
                       full_range="pc" in tags or format_name.startswith("yuvj"),
                       space=space, primaries=primaries, transfer=transfer,
                       pixel_aspect="" if square else ":".join(aspect))


def _top_level_parts(text: str) -> list[str]:
    """'h264 (High), yuv420p(tv, bt709), 1280x720' -> its comma-separated parts, commas
    inside brackets kept."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


class CameraSource(FrameSource):
    live = True

    def __init__(self, index: int):
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            raise FaceSwapError(
                f"Camera {index} could not be opened; check it is connected and not in use by another program, "
                f"or try camera:{index + 1}.")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._index = index

    def frames(self) -> Iterator[Frame]:
        started = time.monotonic()
        while True:
            ok, image = self._capture.read()
            if not ok:
                raise FaceSwapError(f"Camera {self._index} stopped sending frames; reconnect it and start again.")
            yield Frame(image, time.monotonic() - started)

    def close(self) -> None:
        self._capture.release()


class ScreenSource(FrameSource):
    live = True

    def __init__(self, monitor: int):
        try:
            import mss
            self._grabber = mss.mss()
        except Exception as error:  # mss raises its own ScreenShotError, or XOpenDisplay errors
            raise FaceSwapError(f"Screen capture is not available here ({error}); run it on a desktop session.") from None
        monitors = self._grabber.monitors   # [0] is all monitors together, then each one
        if not 0 <= monitor < len(monitors):
            raise FaceSwapError(f"There is no screen {monitor}; choose screen:0 (all) to screen:{len(monitors) - 1}.")
        self._monitor = monitors[monitor]

    def frames(self) -> Iterator[Frame]:
        started = time.monotonic()
        while True:
            shot = np.asarray(self._grabber.grab(self._monitor))    # BGRA
            yield Frame(bgr_copy(shot), time.monotonic() - started)

    def close(self) -> None:
        self._grabber.close()


def open_source(spec: str) -> FrameSource:
    """An input from the command line: a file path, camera:N or screen[:N]."""
    if spec.startswith("camera:"):
        return CameraSource(_device_number(spec, "camera"))
    if spec == "screen" or spec.startswith("screen:"):
        return ScreenSource(_device_number(spec, "screen") if ":" in spec else 1)
    if not os.path.exists(spec):
        raise FaceSwapError(f"The input '{spec}' does not exist; give an image, a video, camera:N or screen:N.")
    extension = os.path.splitext(spec)[1].lower()
    if extension in VIDEO_EXTENSIONS:
        return VideoFileSource(spec)
    if extension in IMAGE_EXTENSIONS:
        return ImageSource(spec)
    # Unknown extension: try it as a video first (OpenCV reads many containers), then as an image.
    capture = cv2.VideoCapture(spec)
    is_video = capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 1
    capture.release()
    return VideoFileSource(spec) if is_video else ImageSource(spec)


def _device_number(spec: str, kind: str) -> int:
    try:
        return int(spec.split(":", 1)[1])
    except ValueError:
        raise FaceSwapError(f"'{spec}' is not a valid {kind}; write {kind}:0, {kind}:1, ...") from None


class FrameSink:
    def write(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ImageSink(FrameSink):
    def __init__(self, path: str):
        self._path = path

    def write(self, image: np.ndarray) -> None:
        ok = cv2.imwrite(self._path, image)
        if not ok:
            raise FaceSwapError(f"Could not write '{self._path}'; check the folder exists and is writable.")


def ffmpeg_executable() -> str:
    """ffmpeg from imageio-ffmpeg's wheel (always there), else one on PATH."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if not found:
            raise FaceSwapError("Writing video needs ffmpeg; run: pip install imageio-ffmpeg") from None
        return found


class VideoSink(FrameSink):
    """H.264 MP4 (or the container the extension names) through an ffmpeg pipe, with the
    input's audio copied over when it has any. Frames go in as BGR pictures, or as a 4:2:0
    stream's own planes (`stream`: the input's pixel format and colour tags, kept)."""

    def __init__(self, path: str, width: int, height: int, fps: float, audio_path: str | None,
                 stream: VideoStream | None = None):
        self._path = path
        self._size = (width, height)
        raw = stream.pipe_format if stream is not None else "bgr24"
        command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", raw, "-s", f"{width}x{height}", "-r", f"{fps:.6f}", "-i", "-"]
        if audio_path:
            command += ["-i", audio_path, "-map", "0:v:0", "-map", "1:a?", "-c:a", "aac", "-b:a", "192k"]
        # yuv420p needs even sizes: pad odd ones by a pixel rather than fail.
        tags = stream.tags_filter() if stream is not None else ""
        command += ["-vf", f"{tags}pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "18", "-pix_fmt", raw if raw != "bgr24" else "yuv420p", "-movflags", "+faststart", path]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write_planes(self, planes: list[np.ndarray]) -> None:
        """A frame as the planes of the stream given at the start, in order."""
        self._send([np.ascontiguousarray(plane) for plane in planes])

    def _send(self, arrays: list[np.ndarray]) -> None:
        """Contiguous arrays' bytes down the pipe, as they are (no copy)."""
        try:
            for array in arrays:
                self._process.stdin.write(memoryview(array).cast("B"))
        except BrokenPipeError:
            raise FaceSwapError(f"ffmpeg stopped writing '{self._path}': {self._error()}") from None

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._send([np.ascontiguousarray(image)])

    def close(self) -> None:
        if self._process.stdin and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except BrokenPipeError:
                pass
        if self._process.wait() != 0:
            raise FaceSwapError(f"ffmpeg could not write '{self._path}': {self._error()}")

    def _error(self) -> str:
        message = (self._process.stderr.read() or b"").decode(errors="replace").strip().splitlines()
        return message[-1] if message else "unknown error; check the folder is writable"


def open_sink(path: str, source: FrameSource, width: int, height: int) -> FrameSink:
    extension = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FaceSwapError(f"The folder '{folder}' does not exist; create it or choose another output path.")
    if extension in IMAGE_EXTENSIONS:
        if not source.is_still:
            raise FaceSwapError("The input is a video or live source; give the output a video name such as out.mp4.")
        return ImageSink(path)
    if extension in VIDEO_EXTENSIONS:
        return VideoSink(path, width, height, source.fps, source.audio_path, source.stream)
    raise FaceSwapError(f"Unknown output type '{extension or path}'; end the name with .png, .jpg or .mp4.")


class PreviewWindow:
    """An OpenCV window where a display exists; q or Esc asks to stop, another key is kept
    for the caller (take_key)."""

    def __init__(self, keys_help: str = ""):
        if os.name == "posix" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
                and os.uname().sysname != "Darwin":
            raise FaceSwapError("--preview needs a desktop session (no display found); leave it out or use --output.")
        self.title = f"faceswap preview ({keys_help + ', ' if keys_help else ''}q to quit)"
        self._key: int | None = None

    def show(self, image: np.ndarray) -> bool:
        """False once the user closed the window or pressed q/Esc."""
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        if key != 0xFF:
            self._key = key
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def take_key(self) -> int | None:
        """The last key pressed since the last call (None: none)."""
        key, self._key = self._key, None
        return key

    def close(self) -> None:
        cv2.destroyAllWindows()
