"""Frames per second of the neural engine with the face enhancer off and on, the enhancer
a stand-in that takes ten frame intervals per face (a GPU restorer's time, which leaves
the CPU free: it sleeps), so what is measured is what the frame path pays for it.

    python -m tools.bench_enhancer --rounds 3 --frames 120

Small stand-in swapper and recognizer, the real SCRFD-500M, a 720p talking-head clip;
rounds interleave off and on; medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2

from tools.bench_neural import SHARED, canvas_720p


class SlowRestorer:
    """A restorer that takes `seconds` per face, sleeping (the GIL is free meanwhile)."""

    def __init__(self, enhancer, seconds: float):
        self.enhancer, self.seconds = enhancer, seconds
        self.size, self.template = enhancer.size, enhancer.template
        self.matrix, self.crop = enhancer.matrix, enhancer.crop

    def enhance(self, crop):
        started = time.perf_counter()
        restored = self.enhancer.enhance(crop)
        time.sleep(max(0.0, self.seconds - (time.perf_counter() - started)))
        return restored


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(SHARED / "media" / "lp_d12.mp4"))
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fps", type=float, default=30.0, help="the stream's rate: the enhancer takes 10 intervals")
    args = parser.parse_args(argv)

    from faceswap_core.engines import create_engine
    from faceswap_core.neural.enhancer import FaceEnhancer
    from faceswap_core.neural.providers import ModelSession
    from faceswap_core.options import SwapOptions
    from testkit import standins

    capture = cv2.VideoCapture(args.clip)
    frames = []
    while len(frames) < args.frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(canvas_720p(frame))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"detector": str(SHARED / "models" / "scrfd_500m_bnkps.onnx"),
                 "recognizer": str(standins.build_recognizer(folder / "rec.onnx")),
                 "swapper": str(standins.build_swapper(folder / "swap.onnx"))}
        restorer_file = standins.build_enhancer(folder / "restorer.onnx")
        seconds = 10.0 / args.fps

        def open_restorer(name):
            return SlowRestorer(FaceEnhancer(ModelSession(str(restorer_file)), "ffhq"), seconds)

        rates = {"off": [], "on": []}
        results, enhance_ms, total_ms = [], [], []
        for round_index in range(args.rounds):
            for mode in ("off", "on"):
                options = SwapOptions(enhancer="off" if mode == "off" else "gpen_bfr_512")
                engine = create_engine("neural", options, model_paths=paths, provider="cpu",
                                       open_restorer=open_restorer)
                engine.set_source_file(str(SHARED / "media" / "fr_obama.jpg"))
                engine.process(frames[0], 0.0)
                if mode == "on":
                    while not engine._behind.free:      # the restorer's model is open before timing starts
                        time.sleep(0.01)
                started = time.perf_counter()
                for index, frame in enumerate(frames):
                    engine.process(frame, index / args.fps)
                    if mode == "on" and "enhance" in engine.last_report.stage_ms:
                        enhance_ms.append(engine.last_report.stage_ms["enhance"])
                        total_ms.append(engine.last_report.stage_ms["total"])
                rates[mode].append(len(frames) / (time.perf_counter() - started))
                if mode == "on":
                    results.append(engine._behind.results)
                engine.close()
                print(f"round {round_index + 1} {mode}: {rates[mode][-1]:.1f} fps", flush=True)
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    paired = statistics.median(b / a for a, b in zip(rates["off"], rates["on"]))
    print(f"720p, 1 face, {len(frames)} frames x {args.rounds} interleaved rounds; restorer {seconds * 1e3:.0f} ms "
          f"per face ({statistics.median(results)} restored results per run)")
    print(f"| enhancer | fps (median) |\n|---|---|\n| off | {off:.1f} |\n| on | {on:.1f} |")
    print(f"on / off: {paired:.3f} (median of the rounds' ratios); the frame path's enhance stage "
          f"{statistics.median(enhance_ms):.1f} ms of {statistics.median(total_ms):.1f} ms per frame (medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
