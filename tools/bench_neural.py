"""Per-stage CPU cost of the neural engine at 720p, with a swapper of the real size.

    python -m tools.make_inswapper_standin models/inswapper_128_standin.onnx   # once, 554 MB
    python -m tools.bench_neural --swapper models/inswapper_128_standin.onnx

The detector is the real SCRFD-500M from ../shared/models (or --detector FILE); the
recognizer a small stand-in (face mapping 'all' never runs it per frame). Frames are a
talking-head clip scaled onto a 1280x720 canvas. Prints milliseconds per stage (medians)
and the CPU-side overhead: everything that is not ONNX Runtime running a model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def canvas_720p(frame: np.ndarray) -> np.ndarray:
    scale = 600 / frame.shape[0]
    face = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    canvas = np.full((720, 1280, 3), 60, np.uint8)
    y, x = (720 - face.shape[0]) // 2, (1280 - face.shape[1]) // 2
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


def compare_pixel_boost(engine, frames, boosts: list[str]) -> int:
    """Milliseconds per face for each swap size: rounds over the frames, each frame swapped at
    every size in turn (interleaved, so machine load hits all alike); medians."""
    from dataclasses import replace

    stages = {boost: {} for boost in boosts}
    for index, frame in enumerate(frames):
        for boost in boosts:
            engine.set_options(replace(engine.options, pixel_boost=boost))
            engine.process(frame, index / 25)
            if index == 0:
                continue   # warm-up: first-run allocations at each size
            report = engine.last_report
            assert len(report.boxes) == 1, "the benchmark frame must show exactly one face"
            for key, value in report.stage_ms.items():
                stages[boost].setdefault(key, []).append(value)
            print(f"frame {index} {boost}: swap {report.stage_ms['swap']:.0f} ms", file=sys.stderr, flush=True)
    print(f"720p, 1 face, {len(frames) - 1} interleaved rounds, CPU provider; ms per face (median)")
    print("| stage | " + " | ".join(f"{boost} px" for boost in boosts) + " |")
    print("|---|" + "---|" * len(boosts))
    keys = ["align", "swap", "paste_warp", "total"]
    for key in keys:
        print(f"| {key} | " + " | ".join(f"{statistics.median(stages[b][key]):.1f}" for b in boosts) + " |")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swapper", required=True, help="inswapper-sized ONNX file (tools/make_inswapper_standin.py)")
    parser.add_argument("--detector", default=str(SHARED / "models" / "scrfd_500m_bnkps.onnx"),
                        help="a real SCRFD file, so the frames have faces to swap")
    parser.add_argument("--det10g", default=None,
                        help="det_10g-sized stand-in (tools/make_scrfd_standin.py): its cost per detection is measured too")
    parser.add_argument("--clip", default=str(SHARED / "media" / "lp_d12.mp4"))
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--det-size", type=int, default=640)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--pixel-boost", default="",
                        help="compare these swap sizes per face instead, e.g. 128,256,512 (interleaved rounds)")
    args = parser.parse_args(argv)

    from testkit import standins
    from faceswap_core.engines import create_engine
    from faceswap_core.options import SwapOptions

    with tempfile.TemporaryDirectory() as tmp:
        recognizer = standins.build_recognizer(Path(tmp) / "rec.onnx")
        paths = {"detector": args.detector, "recognizer": str(recognizer), "swapper": args.swapper}
        engine = create_engine("neural", SwapOptions(), model_paths=paths, det_size=args.det_size,
                               redetect_after=0.0, threads=args.threads, provider="cpu")
        engine.set_source_file(str(SHARED / "media" / "fr_obama.jpg"))
        capture = cv2.VideoCapture(args.clip)
        frames = []
        while len(frames) < args.frames + 1:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(canvas_720p(frame))
        if args.pixel_boost:
            return compare_pixel_boost(engine, frames, args.pixel_boost.split(","))
        sessions = {"detector": engine.detector.session, "swapper": engine.swapper.session}
        engine.process(frames[0], 0.0)  # warm-up: first-run allocations
        stages: dict[str, list[float]] = {}
        model_ms: dict[str, list[float]] = {"detector": [], "swapper": []}
        for index, frame in enumerate(frames[1:], start=1):
            before = {k: s.run_seconds for k, s in sessions.items()}
            engine.process(frame, index / 25)
            for key, value in engine.last_report.stage_ms.items():
                stages.setdefault(key, []).append(value)
            for key, session in sessions.items():
                model_ms[key].append((session.run_seconds - before[key]) * 1e3)
        big = None
        if args.det10g:
            from faceswap_core.neural.detector import ScrfdDetector
            from faceswap_core.neural.providers import ModelSession, choose_providers
            detector = ScrfdDetector(ModelSession(args.det10g, choose_providers("cpu"), threads=args.threads), args.det_size)
            detector.detect(frames[0])
            big_total, big_model = [], []
            for frame in frames[1:]:
                before = detector.session.run_seconds
                started = time.perf_counter()
                detector.detect(frame)
                big_total.append((time.perf_counter() - started) * 1e3)
                big_model.append((detector.session.run_seconds - before) * 1e3)
            big = statistics.median(big_total), statistics.median(big_model)
        # Detection when reused between frames (faces barely moved).
        reuse = create_engine("neural", SwapOptions(), model_paths=paths, det_size=args.det_size, provider="cpu")
        reuse_ms = []
        for index in range(20):
            started = time.perf_counter()
            reuse.detect(frames[1], index * 0.01)
            reuse_ms.append((time.perf_counter() - started) * 1e3)

    median = {k: statistics.median(v) for k, v in stages.items()}
    models = {k: statistics.median(v) for k, v in model_ms.items()}
    total = median["total"]
    in_models = models["detector"] + models["swapper"]
    overhead = total - in_models
    print(f"720p, {len(frames) - 1} frames, 1 face, det_size {args.det_size}, CPU provider")
    for key, value in median.items():
        print(f"  {key:<12} {value:9.1f} ms")
    print(f"  detector model run  {models['detector']:8.1f} ms   (pre/post-processing {median['detect'] - models['detector']:.1f} ms)")
    print(f"  swapper model run   {models['swapper']:8.1f} ms   (blob/convert {median['swap'] - models['swapper']:.1f} ms)")
    if big:
        print(f"  det_10g-size detector {big[0]:6.1f} ms per detection (model run {big[1]:.1f} ms, "
              f"pre/post-processing {big[0] - big[1]:.1f} ms)")
    print(f"  detection reused    {statistics.median(reuse_ms[1:]):8.2f} ms")
    print(f"  CPU-side overhead   {overhead:8.1f} ms = {100 * overhead / total:.2f}% of {total:.0f} ms")
    gpu_swap = 2.37  # H200 fp16, CUDA graphs (docs/models.md); a GPU detector run is ~1 ms
    projected = overhead + gpu_swap + 1.0
    print(f"  with the models on an H200-class GPU (swap {gpu_swap} ms + detect ~1 ms): overhead "
          f"{overhead:.1f} of {projected:.1f} ms = {100 * overhead / projected:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
