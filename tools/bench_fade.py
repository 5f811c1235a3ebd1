"""What a cross-fade between two faces costs a frame: the landmark engine at 720p (lp_d19 on
a 16:9 canvas), a frame's mean time while nothing fades against while a fade runs (a fade
of 10 s, so every timed frame is inside it), interleaved over 6 runs.

    .venv/bin/python -m tools.bench_fade
"""

from __future__ import annotations

import statistics as st
import time

from tools.bench_in_front import on_canvas
from faceswap_core.engines import create_engine
from faceswap_core.options import SwapOptions
from testkit.judge import media, read_frames


def run_mean_ms(frames: list, photos: list[str], fading: bool) -> float:
    """One run: the engine wears photos[0] for 5 frames, switches to photos[1], and the
    rest of the frames are timed."""
    engine = create_engine("landmark", SwapOptions(switch_fade_ms=10_000 if fading else 0))
    try:
        engine.set_source_file(photos[1])
        engine.set_source_file(photos[0])
        for index, frame in enumerate(frames[:5]):
            engine.process(frame, index / 30)
        engine.set_source_file(photos[1])
        times = []
        for index, frame in enumerate(frames[5:], 5):
            started = time.perf_counter()
            engine.process(frame, index / 30)
            times.append((time.perf_counter() - started) * 1e3)
        return st.mean(times)
    finally:
        engine.close()


def main() -> int:
    frames = [on_canvas(frame, 720) for frame in read_frames(media("lp_d19.mp4"), 60)]
    photos = [str(media("fr_obama.jpg")), str(media("if_t1.jpg"))]
    means: dict[bool, list[float]] = {True: [], False: []}
    for run in range(6):
        for fading in ((True, False) if run % 2 == 0 else (False, True)):
            means[fading].append(run_mean_ms(frames, photos, fading))
    print(f"no fade {st.median(means[False]):.2f} ms, fading {st.median(means[True]):.2f} ms a 720p frame "
          "(median over 6 runs of each run's mean)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
