"""The delay the filter adds, measured from outside it, on both frame paths:

    python -m tools.bench_latency [--repeat 3] [--display :NN]

For 720p30, 720p60 and 1080p30 it makes a clip of a talking head (lp_d3.mp4 on a canvas)
whose frames carry their number at the left edge, plays it through a media source in a
standalone libobs host (testkit/latency_host.py) and reads every output frame's number
against its timestamp, with the filter off and on in turns. Added latency = where a
number shows with the filter minus where it shows without, in ms and in frames (median
and 95th percentile over every frame of every run); plus libobs's frame time with and
without, frames libobs lagged, the filter's own time on the graphics thread (busy,
and idle waiting for the worker), the share of frames whose swap showed in the camera's
own output frame (added latency under half a frame), and the worker process's CPU time
per result it published (all its threads, from /proc). First a check of the method: OBS's Video Delay (Async)
filter set to 100 ms must read as 100 ms. Prints a Markdown table for BENCHMARKS.md.
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

from testkit import clips, helpers
from testkit.faulty_worker import make_faulty_python
from testkit.judge import MEDIA
from testkit.latency_host import BITS, CODE_LEFT, CODE_PITCH, CODE_TOP, SQUARE
from tools.bench_obs_filter import canvas

CONFIGS = ((1280, 720, 30), (1280, 720, 60), (1920, 1080, 30))
# a frame small enough for this machine's worker to answer within the wait budget: the
# camera path's same-frame case (python -m tools.bench_latency --configs 640x360x30)
SETTLE_S = 0.5            # of each phase, left out: the switch itself
CLIP_SECONDS = 24.0       # longer than the warm-up and six phases: never loops


def numbered_clip(folder: Path, width: int, height: int, fps: int) -> Path:
    path = folder / f"numbered-{width}x{height}-{fps}.mp4"
    if path.exists():
        return path
    capture = cv2.VideoCapture(str(MEDIA / "lp_d3.mp4"))
    source = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        source.append(frame)
    capture.release()
    scale = height / 720
    encoder = subprocess.Popen([clips.ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                                "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset",
                                "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p", "-g", str(fps), str(path)],
                               stdin=subprocess.PIPE)
    for number in range(int(CLIP_SECONDS * fps)):
        # the talking head at its own 30 fps pace whatever the clip's rate
        picture = canvas(source[(number * 30 // fps) % len(source)], width, height)
        for bit in range(BITS):
            x, y = int(CODE_LEFT * scale), int((CODE_TOP + bit * CODE_PITCH) * scale)
            white = (number >> (BITS - 1 - bit)) & 1
            cv2.rectangle(picture, (x, y), (x + int(SQUARE * scale) - 1, y + int(SQUARE * scale) - 1),
                          (255, 255, 255) if white else (0, 0, 0), -1)
        encoder.stdin.write(picture.tobytes())
    encoder.stdin.close()
    if encoder.wait() != 0:
        raise SystemExit("ffmpeg could not encode the numbered clip")
    return path


def first_showings(frames, fps: int) -> dict[int, list[float]]:
    """Per phase: for every number, when it first showed minus when it is due (ns), past
    the phase's first SETTLE_S."""
    interval = 1e9 / fps
    started, first = {}, {}
    for timestamp, number, phase in frames:
        if phase < 0:
            continue
        started.setdefault(phase, timestamp)
        first.setdefault((phase, number), timestamp)
    lateness: dict[int, list[float]] = {}
    for (phase, number), timestamp in first.items():
        if timestamp - started[phase] > SETTLE_S * 1e9:
            lateness.setdefault(phase, []).append(timestamp - number * interval)
    return lateness


def added_latency_ms(summary: dict) -> list[float]:
    """Every on-phase frame's delay over the off phases' median, in ms."""
    lateness = first_showings(summary["frames"], summary["fps"])
    phases = summary["phases"]
    off = [value for phase, values in lateness.items() if not phases[phase]["on"] for value in values]
    baseline = float(np.median(off))
    return [(value - baseline) / 1e6 for phase, values in lateness.items() if phases[phase]["on"] for value in values]


def run(display: str, clip: Path, width: int, height: int, fps: int, path: str, delay_ms: int = 0,
        python: str = sys.executable) -> dict:
    out = Path(tempfile.mkdtemp(prefix="fs-latency-"))
    arguments = ["--clip", str(clip), "--size", f"{width}x{height}", "--fps", str(fps), "--path", path,
                 "--out", str(out), "--python", python, "--photo", str(MEDIA / "fr_obama.jpg")]
    if delay_ms:
        arguments += ["--delay-filter", str(delay_ms)]
    command, env = helpers.host_process("testkit.latency_host", arguments, display)
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    return json.loads((out / "summary.json").read_text())


def phase_median(runs: list[dict], key: str, on: bool):
    values = [phase[key] for run in runs for phase in run["phases"]
              if phase["on"] == on and phase.get(key) is not None]
    return float(np.median(values)) if values else float("nan")


def row(label: str, runs: list[dict], fps: int) -> str:
    added = np.array([value for run in runs for value in added_latency_ms(run)])
    interval = 1000 / fps
    lagged_on = sum(phase["lagged"] for run in runs for phase in run["phases"] if phase["on"])
    lagged_off = sum(phase["lagged"] for run in runs for phase in run["phases"] if not phase["on"])
    frames_on = sum(phase["frames"] for run in runs for phase in run["phases"] if phase["on"])
    frames_off = sum(phase["frames"] for run in runs for phase in run["phases"] if not phase["on"])
    median, p95 = np.median(added), np.percentile(added, 95)
    same_frame = float(np.mean(np.abs(added) < interval / 2)) if added.size else float("nan")
    cpu = phase_median(runs, "worker_cpu_ms", True)
    return (f"| {label} | {median:.1f} ({median / interval:.2f}) | {p95:.1f} ({p95 / interval:.2f}) | "
            f"{same_frame:.0%} | {cpu:.1f} ({cpu / interval:.0%}) | "
            f"{phase_median(runs, 'worker_ms', True):.1f} | {phase_median(runs, 'obs_frame_ms', False):.1f} / "
            f"{phase_median(runs, 'obs_frame_ms', True):.1f} | {lagged_off}/{frames_off} / {lagged_on}/{frames_on} | "
            f"{phase_median(runs, 'filter_busy_ms', True):.2f} / {phase_median(runs, 'filter_wait_ms', True):.1f} | "
            f"{_answers(runs)} |")


def _answers(runs: list[dict]) -> str:
    """The camera path's frames handed over, over every on phase: shown with their own
    answer / with an earlier one / handed over with no wait (the worker's time said too late)."""
    totals = {key: sum(phase.get(key, 0) for run in runs for phase in run["phases"] if phase["on"])
              for key in ("handed", "own", "late", "unwaited")}
    if not totals["handed"]:
        return "-"
    return f"{totals['own']} / {totals['late']} / {totals['unwaited']} of {totals['handed']}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the table pools their frames")
    parser.add_argument("--display", default="")
    parser.add_argument("--clips", default="", help="folder for the numbered clips (kept between runs)")
    parser.add_argument("--configs", default="", help="WxHxFPS,... instead of 720p30, 720p60 and 1080p30")
    parser.add_argument("--paths", default="camera,render", help="which frame paths: camera, render or both")
    parser.add_argument("--no-check", action="store_true", help="skip the Video Delay check of the method")
    parser.add_argument("--stand-in", action="store_true",
                        help="a worker that answers in about a millisecond (testkit.faulty_worker 'instant'): "
                             "the paths' own figures, without an engine's time")
    args = parser.parse_args()
    xvfb = None
    display = args.display
    if not display:
        xvfb, display = helpers.start_xvfb()
    folder = Path(args.clips or tempfile.mkdtemp(prefix="fs-clips-"))
    folder.mkdir(parents=True, exist_ok=True)
    python = make_faulty_python(folder / "pythons", "instant") if args.stand_in else sys.executable
    worker = ", stand-in worker (1 ms)" if args.stand_in else ""
    lines = ["| configuration | added latency ms (frames), median | p95 | swapped in the camera's own frame "
             "| worker CPU ms per result (of a frame's interval) | worker ms | OBS frame ms off / on | "
             "lagged off / on | filter on the graphics thread ms: busy / waiting "
             "| camera path: own answer / earlier answer / not waited for, of handed over |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    try:
        if not args.no_check:
            clip = numbered_clip(folder, 1280, 720, 30)
            runs = [run(display, clip, 1280, 720, 30, "camera", delay_ms=100) for _ in range(args.repeat)]
            lines.append(row("check: OBS Video Delay (Async) 100 ms, 720p30", runs, 30))
            print(lines[-1], flush=True)
        configs = [tuple(int(v) for v in item.split("x")) for item in args.configs.split(",")] if args.configs else CONFIGS
        for width, height, fps in configs:
            clip = numbered_clip(folder, width, height, fps)
            results = {path: [] for path in args.paths.split(",")}
            for _ in range(args.repeat):          # interleaved: the machine's noise hits both paths alike
                for path in results:
                    results[path].append(run(display, clip, width, height, fps, path, python=python))
            for path, runs in results.items():
                name = "camera path" if path == "camera" else "GPU read-back path"
                lines.append(row(f"{name}, {height}p{fps}{worker}", runs, fps))
                print(lines[-1], flush=True)
    finally:
        if xvfb is not None:
            xvfb.terminate()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
