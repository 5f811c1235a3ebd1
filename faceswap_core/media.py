"""Where frames come from and go to, for the CLI: image files, video files, cameras and
screens in; image or video files (with the input's audio) and a preview window out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from .errors import FaceSwapError
from .vision.photo import load_photo

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}


@dataclass
class Frame:
    image: np.ndarray     # BGR uint8
    timestamp: float      # seconds since the input started (drives smoothing)


class FrameSource:
    """Frames in order; `total` is known for files, None for live inputs."""

    fps: float = 30.0
    total: int | None = None
    audio_path: str | None = None   # a file whose audio track the output should keep
    is_still: bool = False
    live: bool = False              # frames come as they happen (a camera, a screen): none may wait

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
    def __init__(self, path: str):
        self._capture = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            raise FaceSwapError(f"The video '{os.path.basename(path)}' could not be opened; check it plays in a video player.")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = count if count > 0 else None
        self.audio_path = path

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self._capture.read()
            if not ok:
                break
            yield Frame(image, index / self.fps)
            index += 1
        if index == 0:
            raise FaceSwapError("The video has no readable frames; it may be damaged, so export or download it again.")

    def close(self) -> None:
        self._capture.release()


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
            yield Frame(np.ascontiguousarray(shot[:, :, :3]), time.monotonic() - started)

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
    input's audio copied over when it has any."""

    def __init__(self, path: str, width: int, height: int, fps: float, audio_path: str | None):
        self._path = path
        self._size = (width, height)
        command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:.6f}", "-i", "-"]
        if audio_path:
            command += ["-i", audio_path, "-map", "0:v:0", "-map", "1:a?", "-c:a", "aac", "-b:a", "192k"]
        # yuv420p needs even sizes: pad odd ones by a pixel rather than fail.
        command += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        try:
            self._process.stdin.write(np.ascontiguousarray(image).tobytes())
        except BrokenPipeError:
            raise FaceSwapError(f"ffmpeg stopped writing '{self._path}': {self._error()}") from None

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
        return VideoSink(path, width, height, source.fps, source.audio_path)
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
