"""What the camera path's conversions cost per frame, format by format:

    python -m tools.bench_pixel_formats [--size 1280x720] [--runs 5]

For each format the worker converts (worker.pixel_convert): the frame to BGR for the
engine, the swapped pixels back into the frame's own format (a 400-pixel face's box
changed, as a swap changes it) and the mark on its brightness, in ms: medians of `--runs`
runs of 30 calls each, after one untimed call (the first call in a process starts
OpenCV's threads), with glibc keeping freed frames as the worker has it (frame_memory).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from faceswap_core import schema
from faceswap_core.frame_memory import keep_freed_frames
from faceswap_core.link import pixel_formats as pf
from faceswap_core.provenance.stamp import OutputStamp
from faceswap_core.worker import pixel_convert
from testkit.judge import media, read_frames
from tools.bench_obs_filter import canvas


def timed(call, runs: int, calls: int = 30) -> float:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - started) / calls * 1e3)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    keep_freed_frames()
    width, height = (int(value) for value in args.size.split("x"))
    matrix = pixel_convert.yuv_matrix(0.2126, 0.0722, False)
    face = canvas(read_frames(media("lp_d3.mp4"), 1)[0], width, height)
    stamp = OutputStamp(schema.clamped({"source_photo": str(media("fr_obama.jpg"))}))
    rng = np.random.default_rng(0)
    box = (slice(height // 2 - 200, height // 2 + 200), slice(width // 2 - 200, width // 2 + 200))
    print(f"| format ({width}x{height}) | to BGR ms | write-back ms | mark ms |")
    print("|---|---|---|---|")
    for format_ in sorted(pixel_convert.CONVERTIBLE):
        geometry = (format_, width, height, [plane.row_bytes for plane in pf.planes(format_, width, height)])
        frame = rng.integers(16, 236, pf.frame_bytes(*geometry), dtype=np.uint8)
        answer = np.empty_like(frame)
        inputs = pixel_convert.plane_views(frame, 0, *geometry)
        outputs = pixel_convert.plane_views(answer, 0, *geometry)
        before = pixel_convert.to_bgr(inputs, format_, width, height, matrix)
        after = before.copy()
        after[box[0], box[1], :3] = face[box]
        to_bgr = timed(lambda: pixel_convert.to_bgr(inputs, format_, width, height, matrix), args.runs)
        back = timed(lambda: pixel_convert.write_back(outputs, inputs, before, after, format_, width, height, matrix),
                     args.runs)
        mark = timed(lambda: pixel_convert.change_brightness(outputs, format_, width, height, stamp.embed_mark),
                     args.runs)
        print(f"| {pf.name(format_)} | {to_bgr:.2f} | {back:.2f} | {mark:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
