"""What the program-picture mark costs OBS per frame, for BENCHMARKS.md.

  python -m tools.bench_program_mark [--rounds 3] [--size 512]

Starts OBS (this machine's, under a fresh Xvfb) with a camera scene and a Face Swap
filter, then alternates the filter's "Invisible mark" off and on, and reads OBS's own
average frame render time (obs-websocket GetStats) after each switch has settled. Here
OBS renders with Mesa's llvmpipe (software): the figure is an upper bound, not a GPU's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2

from testkit import helpers
from testkit.judge import FaceJudge, media
from testkit.obs_app import CAMERA, FILTER, ObsApp, ObsConfig, wait_swapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=512, help="the canvas, square")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-program-mark-"))
    target = folder / "target.png"
    cv2.imwrite(str(target), cv2.resize(helpers.frame_of(media("lp_d3.mp4"), 30), (args.size, args.size)))
    xvfb, display = helpers.start_xvfb()
    app = None
    try:
        config = ObsConfig(folder / "obs", target, args.size, args.size,
                           {"source_photo": str(media("fr_obama.jpg")), "python": helpers.worker_python()})
        app = ObsApp(config, display)
        app.connect()
        judge = FaceJudge()
        wait_swapped(app, judge, judge.largest(cv2.imread(str(media("fr_obama.jpg")))), cv2.imread(str(target)))
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for marked in (False, True):
                app.client.set_source_filter_settings(CAMERA, FILTER, {"mark": marked}, True)
                time.sleep(3.0)        # OBS's average is over recent frames
                times[marked].append(app.client.get_stats().average_frame_render_time)
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(f"| {args.size}x{args.size} canvas, llvmpipe | {off:.1f} | {on:.1f} | +{on - off:.1f} ms |")
        print(f"rounds (off, on): {[(round(a, 1), round(b, 1)) for a, b in zip(times[False], times[True])]}")
    finally:
        if app is not None:
            app.stop()
        xvfb.terminate()


if __name__ == "__main__":
    main()
