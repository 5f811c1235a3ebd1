"""Worker time per 1080p frame of the neural engine's GPU frame path (torch runtime), with
1 and 4 faces: median and p95, model time and the rest side by side, per stage.

Made for one call on the device machine (PyTorch with CUDA; nothing can be downloaded
there): it generates random-weight models of the real sizes itself (det_10g, w600k_r50,
inswapper_128: tools/make_*_standin.py), times them, and writes JSON and text results.

    python -m tools.bench_gpu --out $OUT/bench_gpu.json            # the device machine, ~3-6 min
    python -m tools.bench_gpu --smoke --out /tmp/bench_smoke.json  # tiny models, CPU, seconds

What one frame's worker time covers (serial): upload of the 1080p frame, detection
(letterbox on the device, det_10g-size model, threshold and decoding on the device, the kept
rows down, NMS), alignment crops, the swap of all faces in one call, paste-back, colour
correction and blending in each face's box, download of the boxes, and the output frame
(a host copy of the input with the boxes written in). Random weights detect nothing real,
so the faces swapped are planted: 1 or 4 faces (about 300 px, as a webcam close-up at
1080p gives) whose 5 keypoints move a little every frame; detection still runs in full on
every frame (no reuse between frames, the worst case). `pipelined` overlaps the next
frame's upload and detection (a second stream) with the current frame's swap: the time
between finished frames when frames keep coming.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np



def log(*parts) -> None:
    print(*parts, flush=True)


def make_models(folder: Path, smoke: bool) -> dict[str, str]:
    """Generate the random-weight models (skipped when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    if smoke:
        from testkit import standins

        return {"detector": str(standins.build_detector(folder / "det_smoke.onnx")),
                "recognizer": str(standins.build_recognizer(folder / "rec_smoke.onnx")),
                "swapper": str(standins.build_swapper(folder / "swap_smoke.onnx"))}
    from tools import make_arcface_standin, make_inswapper_standin, make_scrfd_standin

    paths = {"detector": folder / "det_10g_standin.onnx", "recognizer": folder / "w600k_r50_standin.onnx",
             "swapper": folder / "inswapper_128_standin.onnx"}
    builders = {"detector": make_scrfd_standin.build, "recognizer": make_arcface_standin.build,
                "swapper": make_inswapper_standin.build}
    for role, path in paths.items():
        if not path.exists():
            started = time.perf_counter()
            params, flops = builders[role](str(path))
            log(f"generated {path.name}: {params / 1e6:.1f} M parameters, {flops / 1e9:.1f} GFLOP, "
                f"{path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s")
    return {role: str(path) for role, path in paths.items()}


def planted_faces(count: int, width: int, height: int, face_px: float, rng) -> list[np.ndarray]:
    from faceswap_core.neural.alignment import ARCFACE_TEMPLATE

    scale = face_px / 112.0
    spots = [(0.5, 0.5)] if count == 1 else [((i % 2) * 0.5 + 0.25, (i // 2) * 0.5 + 0.27) for i in range(count)]
    faces = []
    for fx, fy in spots[:count]:
        centre = np.array([fx * width, fy * height]) - 56.0 * scale
        faces.append((ARCFACE_TEMPLATE * scale + centre + rng.normal(0, 2.0, (5, 2))).astype(np.float32))
    return faces


def synthetic_frames(count: int, width: int, height: int, rng) -> list[np.ndarray]:
    """Textured 1080p frames (a gradient with noise, shifted each frame), so nothing is constant."""
    base = np.zeros((height, width, 3), np.float32)
    base += np.linspace(30, 200, width, dtype=np.float32)[None, :, None]
    base += rng.normal(0, 20, (height, width, 3)).astype(np.float32)
    base = np.clip(base, 0, 255).astype(np.uint8)
    return [np.roll(base, 7 * i, axis=1) for i in range(count)]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))],
            "min": ordered[0], "max": ordered[-1], "n": len(ordered)}


class Clock:
    """Device time of a block: CUDA events on a GPU, wall time elsewhere."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"

    def time_ms(self, fn, repeats: int) -> list[float]:
        results = []
        for _ in range(repeats):
            if self.cuda:
                start, end = self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                results.append(start.elapsed_time(end))
            else:
                started = time.perf_counter()
                fn()
                results.append((time.perf_counter() - started) * 1e3)
        return results


def run(args, result: dict) -> dict:
    """Fills `result` as it goes, so a failure late in the run keeps what was measured."""
    import torch

    from faceswap_core.neural.detector import ScrfdDetector
    from faceswap_core.neural.gpu_pipeline import GpuFramePath
    from faceswap_core.neural.recognizer import ArcFaceRecognizer
    from faceswap_core.neural.runner_torch import TorchRunner, resolve_device
    from faceswap_core.neural.swapper import InSwapper, read_emap
    from faceswap_core.options import SwapOptions

    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolutions once
    precision = args.precision or ("fp16" if device.type in ("cuda", "mps") else "fp32")
    result.update({"device": str(device), "precision": precision, "torch": torch.__version__,
                   "python": platform.python_version(), "smoke": args.smoke, "frame": [args.width, args.height]})
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
    log(f"device {device} ({result.get('gpu', 'no GPU')}), precision {precision}, torch {torch.__version__}")
    started = time.perf_counter()
    paths = make_models(Path(args.models), args.smoke)
    result["generate_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    channels_last = device.type == "cuda" and not args.no_channels_last
    detector_runner = TorchRunner(paths["detector"], device=str(device), precision=precision, label="detector",
                                  channels_last=channels_last)
    swapper_runner = TorchRunner(paths["swapper"], device=str(device), precision=precision, label="swapper",
                                 channels_last=channels_last)
    recognizer = ArcFaceRecognizer(TorchRunner(paths["recognizer"], device=str(device), label="recognizer"))
    detector = ScrfdDetector(detector_runner, args.det_size)
    detector.retry_size = None  # random weights find no face; real frames with faces never retry
    swapper = InSwapper(swapper_runner, read_emap(paths["swapper"]))
    path = GpuFramePath(detector, swapper_runner, crop_size=swapper.size, use_graphs=not args.no_graphs)
    result["load_s"] = round(time.perf_counter() - started, 1)
    result["batched_swap"] = path.batches
    result["channels_last"] = {"detector": detector_runner.channels_last, "swapper": swapper_runner.channels_last,
                               "note": (detector_runner.note + " " + swapper_runner.note).strip()}
    log(f"models converted and loaded in {result['load_s']} s; swap batches faces: {path.batches}")

    rng = np.random.default_rng(0)
    frames = synthetic_frames(8, args.width, args.height, rng)
    options = SwapOptions()
    # The source identity: one recognizer run and the emap latent in fp32, as set_source does.
    started = time.perf_counter()
    source_crop = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    embedding = recognizer.raw_embeddings([source_crop])[0]
    latent = swapper.latent(embedding)
    result["source_ms"] = round((time.perf_counter() - started) * 1e3, 1)

    # A real-time worker would do the same after setup: the models' and buffers' objects are
    # never collected, so the collector does not walk them during frames.
    gc.collect()
    gc.freeze()
    clock = Clock(torch, device)
    for faces in args.faces:
        tracks = planted_faces(faces, args.width, args.height, args.face_px, rng)
        latents = [latent] * faces

        def keypoints(index):
            jitter = np.random.default_rng(index).normal(0, 0.7, (faces, 5, 2)).astype(np.float32)
            return [t + j for t, j in zip(tracks, jitter)]

        def serial(index):
            frame = frames[index % len(frames)]
            device_frame = path.upload(frame)
            path.detect(device_frame)
            return path.process(frame, keypoints(index), latents, options, device_frame)

        for index in range(args.warmup):  # captures the CUDA graphs, tunes cuDNN
            serial(index)
        totals, stages = [], {}
        detect_ms = []
        for index in range(args.frames):
            frame = frames[index % len(frames)]
            began = time.perf_counter()
            device_frame = path.upload(frame)
            path.detect(device_frame)
            detected = time.perf_counter()
            output, boxes = path.process(frame, keypoints(index), latents, options, device_frame)
            totals.append((time.perf_counter() - began) * 1e3)
            detect_ms.append((detected - began) * 1e3)
            for name, value in path.last_ms.items():
                stages.setdefault(name, []).append(value)
            assert len(boxes) == faces, f"{len(boxes)} of {faces} faces pasted"

        # Pipelined: frame i's swap queued, then frame i+1 uploaded and detected on a second stream.
        side = torch.cuda.Stream(device) if device.type == "cuda" else None
        intervals = []
        device_frame = path.upload(frames[0])
        path.detect(device_frame)
        last = time.perf_counter()
        for index in range(args.frames):
            frame = frames[index % len(frames)]
            pending = path.submit(frame, keypoints(index), latents, options, device_frame)
            device_frame = path.upload(frames[(index + 1) % len(frames)])
            if side is not None:
                with torch.cuda.stream(side):  # runs beside the swap queued on the main stream
                    path.detect(device_frame)
                torch.cuda.current_stream(device).wait_stream(side)
            else:
                path.detect(device_frame)
            path.collect(pending)
            now = time.perf_counter()
            intervals.append((now - last) * 1e3)
            last = now

        # Model time alone, on the same inputs (graph replay where the frame path uses it).
        blob = torch.zeros((1, 3, args.det_size, args.det_size), device=device)
        target = torch.rand((faces, 3, swapper.size, swapper.size), device=device)
        source = torch.as_tensor(np.repeat(latent, faces, axis=0), device=device)
        det_name = detector_runner.input_names[0]
        swap_feeds = {swapper_runner.input_names[0]: target, swapper_runner.input_names[1]: source}
        if not path.batches:
            swap_feeds = {k: v[:1] for k, v in swap_feeds.items()}
        repeats = max(5, args.frames // 2)
        det_model = clock.time_ms(lambda: path._call(detector_runner, {det_name: blob}, "detector-model"), repeats)
        swap_model = clock.time_ms(lambda: path._call(swapper_runner, swap_feeds, "swapper-model"), repeats)
        swap_calls = 1 if path.batches else faces
        model_median = statistics.median(det_model) + swap_calls * statistics.median(swap_model)
        entry = {
            "faces": faces,
            "worker_ms": summary(totals),
            "pipelined_interval_ms": summary(intervals),
            "detect_wall_ms": summary(detect_ms),
            "device_stage_ms": {name: summary(values) for name, values in stages.items()},
            "model_ms": {"detector": summary(det_model), "swapper_call": summary(swap_model),
                         "swapper_calls_per_frame": swap_calls, "total_median": model_median},
            "rest_ms_median": statistics.median(totals) - model_median,
        }
        if args.compare_eager and path.use_graphs:
            eager = GpuFramePath(detector, swapper_runner, crop_size=swapper.size, use_graphs=False)
            eager_ms = []
            for index in range(args.warmup + args.frames // 4):
                frame = frames[index % len(frames)]
                began = time.perf_counter()
                device_frame = eager.upload(frame)
                eager.detect(device_frame)
                eager.process(frame, keypoints(index), latents, options, device_frame)
                if index >= args.warmup:
                    eager_ms.append((time.perf_counter() - began) * 1e3)
            entry["eager_worker_ms"] = summary(eager_ms)
        result[f"faces_{faces}"] = entry
        log(f"{faces} face(s): worker {entry['worker_ms']['median']:.2f} ms median, p95 {entry['worker_ms']['p95']:.2f}; "
            f"pipelined {entry['pipelined_interval_ms']['median']:.2f} ms; models {model_median:.2f} ms "
            f"(detector {statistics.median(det_model):.2f}, swap {swap_calls} x {statistics.median(swap_model):.2f}); "
            f"rest {entry['rest_ms_median']:.2f} ms")
        log("   device stages (median ms): " + ", ".join(f"{k} {v['median']:.2f}" for k, v in entry["device_stage_ms"].items())
            + f"; detect (wall) {entry['detect_wall_ms']['median']:.2f}")
    result["graphs"] = path.use_graphs
    result["graph_note"] = path.graph_note
    if device.type == "cuda":
        result["max_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 1e9, 2)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the results as JSON here (and a .txt beside it)")
    parser.add_argument("--models", default="/tmp/faceswap_bench_models", help="where the generated models go")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=["fp32", "fp16"], default=None, help="default: fp16 on a GPU")
    parser.add_argument("--faces", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--face-px", type=float, default=300.0, help="face width in the frame")
    parser.add_argument("--det-size", type=int, default=640)
    parser.add_argument("--no-graphs", action="store_true", help="run the models eagerly (no CUDA graphs)")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--compare-eager", action="store_true",
                        help="also time the frame path without CUDA graphs (a quarter of the frames)")
    parser.add_argument("--smoke", action="store_true", help="tiny stand-in models and few frames: checks the script")
    args = parser.parse_args(argv)
    if args.smoke:
        args.frames, args.warmup = min(args.frames, 3), min(args.warmup, 1)
    started = time.perf_counter()
    result: dict = {}
    status = 0
    try:
        run(args, result)
    except Exception as error:  # keep what was measured, and say what failed
        import traceback

        traceback.print_exc()
        result["error"] = f"{type(error).__name__}: {error}"
        status = 1
    result["wall_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=1, default=float)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        Path(args.out).write_text(text)
        log(f"results in {args.out}")
    else:
        print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
