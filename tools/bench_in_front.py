"""What keeping what is in front of the face costs per frame: keeping off against on, interleaved.

    .venv/bin/python -m tools.bench_in_front [--engine landmark] [--height 720] [--runs 5]

Two scenes, each a clip scaled to the canvas's height in the middle of a 16:9 canvas (a
webcam's picture; occ_wave's face is too small for the face mesh at `faceswap bench`'s 70%):
- nothing in front: lp_d19 (a webcam talking head): what the hands' search costs while it
  finds nothing, and the covers' measure of the face (every frame);
- a hand in front: occ_wave's frames 5-40 (a hand crosses the face from frame ~15; played
  back and forth): the hand tracked and its mask drawn over the face on most frames.
(occ_mask_hand's masked face, scaled to 720 lines, is not found by the face mesh.)
Each run times every frame of the scene with keeping off, then on (the order alternates
between runs). A run's figure is its mean per frame, not its median: the hands' search
runs on some frames only, and a median would pick the frames without it. Printed: the median
over runs of each run's mean total ms, the added ms, and the in-front stages' own means.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from faceswap_core.engines import create_engine
from faceswap_core.options import SwapOptions
from testkit.judge import media, read_frames


def scenes() -> dict[str, list]:
    wave = read_frames(media("occ_wave.mp4"))[5:41]
    return {"nothing in front (lp_d19)": read_frames(media("lp_d19.mp4"), 60),
            "a hand in front (occ_wave 5-40)": wave + wave[::-1]}


def on_canvas(frame: np.ndarray, height: int) -> np.ndarray:
    width = round(height * 16 / 9) // 2 * 2
    scaled = cv2.resize(frame, (min(width, round(frame.shape[1] * height / frame.shape[0])), height),
                        interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 40, np.uint8)
    x = (width - scaled.shape[1]) // 2
    canvas[:, x:x + scaled.shape[1]] = scaled
    return canvas


def mean_stages(engine, frames: list, warmup: int = 5) -> dict[str, float]:
    """Each stage's mean ms over the frames after the first `warmup`, and "cpu": the CPU
    time the whole process spent per frame meanwhile (every thread: the hands' search runs
    beside the detection, so "total", the frame's wall time, does not show all of it)."""
    engine.reset()
    sums: dict[str, float] = {}
    timed = 0
    cpu = 0.0
    for index, frame in enumerate(frames):
        before = time.process_time()
        engine.process(frame, index / 30.0)
        if index < warmup:
            continue
        cpu += time.process_time() - before
        timed += 1
        for stage, ms in engine.last_report.stage_ms.items():
            sums[stage] = sums.get(stage, 0.0) + ms
    return {**{stage: total / timed for stage, total in sums.items()}, "cpu": cpu * 1e3 / timed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="landmark")
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    engine = create_engine(args.engine, SwapOptions())
    engine.set_source_file(str(media("fr_obama.jpg")))
    print(f"| scene ({args.engine}, {round(args.height * 16 / 9) // 2 * 2}x{args.height}) | off ms | on ms | "
          "added ms | off CPU ms | on CPU ms | added CPU ms | hands ms | in_front ms | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, frames in scenes().items():
        totals: dict[bool, list[float]] = {False: [], True: []}
        cpus: dict[bool, list[float]] = {False: [], True: []}
        stages: dict[str, list[float]] = {"hands": [], "in_front": []}
        for run in range(args.runs):
            for keep in ((False, True) if run % 2 == 0 else (True, False)):
                engine.set_options(SwapOptions(keep_in_front=keep))
                result = mean_stages(engine, [on_canvas(frame, args.height) for frame in frames])
                totals[keep].append(result["total"])
                cpus[keep].append(result["cpu"])
                if keep:
                    for stage in stages:
                        stages[stage].append(result.get(stage, 0.0))
        off, on = statistics.median(totals[False]), statistics.median(totals[True])
        cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
        print(f"| {name} | {off:.1f} | {on:.1f} | {on - off:+.1f} | {cpu_off:.1f} | {cpu_on:.1f} | "
              f"{cpu_on - cpu_off:+.1f} | {statistics.median(stages['hands']):.2f} | "
              f"{statistics.median(stages['in_front']):.2f} | {args.runs} |", flush=True)
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
