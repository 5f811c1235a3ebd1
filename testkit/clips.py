"""Video files for OBS's media source in a chosen pixel format, made with the ffmpeg that
imageio-ffmpeg ships (no system ffmpeg needed).

The media source (ffmpeg_source) hands libobs each decoded frame in the file's own pixel
format when libobs has that format (shared/media-playback: yuv420p -> I420, nv12 -> NV12,
yuyv422 -> YUY2, ...): a raw-video file in a given pix_fmt is how a test makes an async
source deliver exactly that format, like a webcam or capture card would.
"""

from __future__ import annotations

import os
import subprocess

# ffmpeg pix_fmt -> the OBS video_format name libobs reports for its frames
PIX_FMTS = {
    "yuv420p": "I420", "nv12": "NV12", "yuyv422": "YUY2", "uyvy422": "UYVY", "yvyu422": "YVYU",
    "yuv422p": "I422", "yuv444p": "I444", "bgra": "BGRA", "rgba": "RGBA", "bgr0": "BGRX",
    "yuva420p": "I40A", "yuva422p": "I42A", "yuva444p": "YUVA",
}
RENDER_PATH_PIX_FMTS = {"yuv420p10le": "I010"}   # 10-bit: libobs has it, the camera path leaves it to video_render


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def still_clip(image: str, folder: str, pix_fmt: str = "nv12", seconds: float = 2.0, fps: int = 30) -> str:
    """`image` as a `seconds`-long raw-video clip in `pix_fmt` (made once per folder)."""
    stem = os.path.splitext(os.path.basename(image))[0]
    path = os.path.join(folder, f"{stem}-{pix_fmt}.nut")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        subprocess.run([ffmpeg(), "-v", "error", "-y", "-loop", "1", "-i", image, "-t", str(seconds), "-r", str(fps),
                        "-pix_fmt", pix_fmt, "-c:v", "rawvideo", "-f", "nut", path + ".part"], check=True)
        os.replace(path + ".part", path)
    return path
