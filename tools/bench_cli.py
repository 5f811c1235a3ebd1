"""What the swap adds to a file render, against a plain decode and x264 encode of the same
frames (issue 34's CLI goal: at most 0.8x):

    python -m tools.bench_cli [--clip CLIP] [--frames 600] [--repeat 3] [-- SWAP FLAGS...]

Per frame, CPU time of every process involved (the CLI and its ffmpeg encoder; ffmpeg alone
for the copy), marginal: each command runs on a short prefix of the clip (SHORT frames) and
on --frames, and the difference is divided by the frames between, so start-up, the photo's
preparation and the credentials' signing fall out. The copy is ffmpeg decoding the clip
and encoding it as `faceswap swap` writes video (libx264 veryfast, crf 18, yuv420p).
Runs alternate copy and swap; the table shows medians. Default clip: the 720p talking
head that tools.bench_latency makes (lp_d3 on a canvas, 24 s).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from faceswap_core.media import ffmpeg_executable
from testkit.judge import MEDIA
from tools.bench_latency import numbered_clip

SHORT = 60


def _spent(command: list[str]) -> tuple[float, float]:
    """(CPU seconds of the command and every process it waited for, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def copy_command(clip: Path, frames: int, out: Path) -> list[str]:
    return [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-frames:v", str(frames),
            "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(out)]


def swap_command(clip: Path, frames: int, out: Path, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "faceswap_core.cli", "swap", "--source", str(MEDIA / "fr_obama.jpg"),
            "--input", str(clip), "--output", str(out), "--max-frames", str(frames), *flags]


def per_frame(command, frames: int) -> tuple[float, float]:
    """Marginal (CPU ms, wall ms) per frame between SHORT and `frames` frames."""
    short_cpu, short_wall = _spent(command(SHORT))
    long_cpu, long_wall = _spent(command(frames))
    return ((long_cpu - short_cpu) * 1e3 / (frames - SHORT), (long_wall - short_wall) * 1e3 / (frames - SHORT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", default="", help="a video (default: the 720p30 talking head bench_latency makes)")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("flags", nargs="*", help="after --: flags for faceswap swap")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fs-cli-"))
    clip = Path(args.clip) if args.clip else numbered_clip(folder, 1280, 720, 30)
    out = folder / "out.mp4"
    copies, swaps = [], []
    for run in range(args.repeat):
        copies.append(per_frame(lambda frames: copy_command(clip, frames, out), args.frames))
        swaps.append(per_frame(lambda frames: swap_command(clip, frames, out, args.flags), args.frames))
        print(f"run {run + 1}: copy {copies[-1][0]:.2f} ms CPU ({copies[-1][1]:.2f} wall), "
              f"swap {swaps[-1][0]:.2f} ms CPU ({swaps[-1][1]:.2f} wall) per frame", flush=True)
    copy_cpu, copy_wall = np.median(copies, axis=0)
    swap_cpu, swap_wall = np.median(swaps, axis=0)
    print("| clip | copy (decode + x264 veryfast) ms CPU / wall | faceswap swap ms CPU / wall "
          "| added by the swap, ms CPU | added / copy |")
    print("|---|---|---|---|---|")
    print(f"| {clip.name}, {args.frames - SHORT} frames | {copy_cpu:.2f} / {copy_wall:.2f} | {swap_cpu:.2f} / "
          f"{swap_wall:.2f} | {swap_cpu - copy_cpu:.2f} | {(swap_cpu - copy_cpu) / copy_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
