"""The encodes a stream or an upload puts a video through, made with the ffmpeg that
imageio-ffmpeg ships: x264 on one thread, so every run writes the same bytes."""

from __future__ import annotations

import subprocess

from faceswap_core.media import ffmpeg_executable


def rate(bits: str) -> list[str]:
    """Constant bitrate as a streaming encoder runs it ("2500k")."""
    kilo = int(bits[:-1])
    return ["-b:v", bits, "-maxrate", bits, "-bufsize", f"{2 * kilo}k", "-x264-params", "nal-hrd=cbr"]


def encode(source, target, *settings, size=None, preset: str = "veryfast") -> str:
    """source re-encoded by x264 with `settings` (rate(...) or ["-crf", "28"]), scaled to size."""
    scale = ["-vf", f"scale={size[0]}:{size[1]}"] if size else []
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", "-i", str(source), *scale, "-an", "-c:v", "libx264",
                    "-threads", "1", "-preset", preset, *settings, "-pix_fmt", "yuv420p", str(target)], check=True)
    return str(target)
