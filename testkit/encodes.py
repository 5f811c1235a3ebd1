"""The encodes a stream or an upload puts a video through, made with the ffmpeg that
imageio-ffmpeg ships: x264 on one thread, so every run writes the same bytes."""

from __future__ import annotations

import re
import subprocess

import numpy as np

from faceswap_core.media import ffmpeg_executable


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """A picture's PSNR against another of the same size (8-bit levels), in dB."""
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / error))


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


# What reposts, players and short-video platforms do to a picture's geometry, as ffmpeg
# filter graphs on [0:v] ({w}x{h}: the source's size; [1:v]: another clip behind it)
REFRAMES = {
    "crop 1% a side, scaled back": "crop=iw*0.98:ih*0.98,scale={w}:{h}",
    "crop 4% a side, scaled back": "crop=iw*0.92:ih*0.92,scale={w}:{h}",
    "crop 10% a side, scaled back": "crop=iw*0.8:ih*0.8,scale={w}:{h}",
    "letterbox 1440x810 in 1920x1080": "scale=1440:810,pad=1920:1080:240:135",
    "9:16 over bars": "scale=1080:-2,pad=1080:1920:0:(oh-ih)/2",
    "9:16 over a blurred fill": "split[a][b];[a]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,"
                                "boxblur=20[bg];[b]scale=1080:-2[fg];[bg][fg]overlay=0:(H-h)/2",
    "at 50% inside another clip": "[1:v]scale=1920:1080[bg];[0:v]scale=960:540[fg];[bg][fg]overlay=700:400:shortest=1",
    # 40% of the picture's own size: a 720p picture 512 pixels wide, in a 1080p frame
    "at 40% of its size inside another clip": "[1:v]scale=1920:1080[bg];[0:v]scale=iw*0.4:-2[fg];"
                                              "[bg][fg]overlay=300:200:shortest=1",
}


def reframed(source, target, graph: str, *settings, size=(0, 0)) -> str:
    """source through an ffmpeg filter graph (REFRAMES: {w}, {h} filled from size; [1:v]
    is lp_d19 from ../shared/media), then x264 on one thread with `settings`, or VP9 when
    target ends in .webm."""
    from testkit.judge import media

    graph = graph.format(w=size[0], h=size[1])
    codec = (["-c:v", "libvpx-vp9", "-row-mt", "0"] if str(target).endswith(".webm")
             else ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"])
    extra = ["-i", str(media("lp_d19.mp4"))] if "[1:v]" in graph else []
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", "-i", str(source), *extra, "-filter_complex", graph,
                    "-an", *codec, "-threads", "1", *settings, str(target)], check=True)
    return str(target)


def swapped_clip(folder, size, *flags, clip: str = "lp_d12.mp4") -> tuple[str, str]:
    """A 3-second clip at `size` made by `faceswap swap` (fr_obama.jpg as the photo), and
    the session it printed ('' when it printed none)."""
    from testkit.cli import run
    from testkit.judge import media

    driving = encode(media(clip), folder / f"in-{size[0]}x{size[1]}.mp4", "-crf", "12", "-frames:v", "90", size=size)
    out = folder / f"swapped-{size[0]}x{size[1]}{'-'.join(flags)}.mp4"
    result = run("swap", "--source", media("fr_obama.jpg"), "--input", driving, "--output", out, *flags)
    assert result.returncode == 0, result.stderr
    found = re.search(r"session ([0-9a-f]{6})", result.stdout)
    return str(out), found.group(1) if found else ""
