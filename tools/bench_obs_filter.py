"""Benchmark of the OBS filter in a standalone libobs host (Xvfb, Mesa llvmpipe):

    python -m tools.bench_obs_filter [--seconds 8] [--display :NN]

For 720p and 1080p it runs the host without and with the filter (real worker, landmark
engine, a real talking-head frame scaled onto the canvas) and prints a Markdown table:
libobs's average graphics-thread frame time, the time spent in our video_render, and the
end-to-end latency from a frame entering the filter to its swapped version being drawn.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


import cv2
import numpy as np

from testkit import helpers
from testkit.judge import MEDIA

SIZES = ((1280, 720), (1920, 1080))


def canvas(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The clip's frame scaled to the canvas height and centred (webcam-like framing)."""
    scaled = cv2.resize(frame, (height, height), interpolation=cv2.INTER_CUBIC)
    out = np.zeros((height, width, 3), np.uint8)
    out[:] = scaled[:, :1].mean(axis=(0, 1))
    left = (width - height) // 2
    out[:, left:left + height] = scaled
    return out


def run(display: str, image: Path, photo: Path, seconds: float, with_filter: bool) -> dict:
    out = Path(tempfile.mkdtemp(prefix="fs-bench-"))
    command, env = helpers.host_process("testkit.libobs_host", [
        "--image", str(image), "--out", str(out), "--frames", "0", "--bench-seconds", str(seconds),
        "--python", sys.executable], display)
    command += ["--photo", str(photo)] if with_filter else ["--no-filter"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    return json.loads((out / "summary.json").read_text())


def medians(runs: list[dict]) -> dict:
    """Per-key median over runs (numbers only)."""
    keys = [key for key, value in runs[0].items() if isinstance(value, (int, float)) and not isinstance(value, bool)]
    return {key: sorted(run[key] for run in runs)[len(runs) // 2] for key in keys}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--display", default="")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the table shows medians")
    args = parser.parse_args()
    xvfb = None
    display = args.display
    if not display:
        xvfb, display = helpers.start_xvfb()
    try:
        frame = helpers.frame_of(MEDIA / "lp_d3.mp4", 30)
        rows = []
        for width, height in SIZES:
            image = Path(tempfile.mkdtemp(prefix="fs-bench-")) / f"camera_{height}p.png"
            cv2.imwrite(str(image), canvas(frame, width, height))
            plain = [run(display, image, MEDIA / "fr_obama.jpg", args.seconds, False) for _ in range(args.repeat)]
            swapped = [run(display, image, MEDIA / "fr_obama.jpg", args.seconds, True) for _ in range(args.repeat)]
            rows.append((f"{height}p", medians(plain), medians(swapped)))
        print("| canvas | OBS frame time, no filter (ms) | OBS frame time, with filter (ms) "
              "| our video_render (ms) | end-to-end latency (ms) | of which the worker's swap (ms) "
              "| results drawn / frames handed over |")
        print("|---|---|---|---|---|---|---|")
        for name, plain, swapped in rows:
            print(f"| {name} | {plain['obs_frame_ms']} | {swapped['obs_frame_ms']} | {swapped['filter_render_ms']} "
                  f"| {swapped['latency_ms']} | {swapped['worker_ms']} | {swapped['results_drawn']} / {swapped['frames_sent']} |")
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
