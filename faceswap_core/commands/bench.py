"""`faceswap bench`: per-stage milliseconds and fps at 480p, 720p and 1080p, with one face
and with several.

Frames are webcam-like: a talking-head clip (or, with no --clip, the bundled demo
portrait drifting slowly, so tracking behaves as on video) placed on a 16:9 canvas.
Each configuration runs `--repeats` times and reports the median of the per-run medians,
because these machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from ..errors import FaceSwapError
from .engine_args import add_engine_arguments, engine_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="time each stage at 480p/720p/1080p",
                                   description="Per-stage milliseconds (medians) and fps.")
    parser.add_argument("--clip", help="talking-head video to use as the faces (default: bundled portrait)")
    parser.add_argument("--frames", type=int, default=120, help="timed frames per run (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=15, help="untimed frames first (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (default %(default)s)")
    parser.add_argument("--heights", default="480,720,1080", help="frame heights, 16:9 (default %(default)s)")
    parser.add_argument("--faces", default="1,4", help="faces per frame to test (default %(default)s)")
    parser.add_argument("--source", help="source photo (default: bundled astronaut)")
    parser.add_argument("--bgra", action="store_true",
                        help="frames in BGRA, as OBS's GPU read-back path hands them (default: BGR, as files)")
    add_engine_arguments(parser)
    parser.set_defaults(handler=run)


def _face_frames(clip: str | None, count: int) -> list[np.ndarray]:
    if clip:
        capture = cv2.VideoCapture(clip)
        frames = []
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        if not frames:
            raise FaceSwapError(f"No frames could be read from '{clip}'; check the file plays.")
        while len(frames) < count:              # play back and forth: no jump at the loop point
            frames += frames[::-1][: count - len(frames)]
        return frames
    from .demo import sample_pictures
    portrait = sample_pictures()[1]
    height, width = portrait.shape[:2]
    frames = []
    for index in range(count):
        shift = 6.0 * np.sin(index / 15.0)
        matrix = np.float32([[1, 0, shift], [0, 1, shift / 2]])
        frames.append(cv2.warpAffine(portrait, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return frames


def compose(face: np.ndarray, height: int, faces: int) -> np.ndarray:
    """A 16:9 canvas with `faces` copies of the face frame, each 70% of its cell's height."""
    width = round(height * 16 / 9) // 2 * 2
    canvas = np.full((height, width, 3), 40, dtype=np.uint8)
    columns = int(np.ceil(np.sqrt(faces)))
    rows = int(np.ceil(faces / columns))
    cell_w, cell_h = width // columns, height // rows
    side = int(min(cell_w, cell_h) * (0.7 if faces == 1 else 0.9))
    scaled = cv2.resize(face, (side * face.shape[1] // face.shape[0], side), interpolation=cv2.INTER_AREA)
    for index in range(faces):
        row, column = divmod(index, columns)
        y = row * cell_h + (cell_h - scaled.shape[0]) // 2
        x = column * cell_w + (cell_w - scaled.shape[1]) // 2
        canvas[y:y + scaled.shape[0], x:x + scaled.shape[1]] = scaled[:, : max(0, min(scaled.shape[1], width - x))]
    return canvas


def measure(engine, frames: list[np.ndarray], height: int, faces: int, warmup: int, repeats: int,
            bgra: bool = False) -> dict[str, float]:
    """Median over repeats of the per-run median of each stage, plus faces found and "cpu":
    the CPU time of the whole process per frame (a run's mean: every thread counts, and a
    search on some frames only is part of the cost a streamer's CPU pays). bgra: the frames
    with a fourth channel, as OBS's read-back path hands them."""
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        engine.reset()
        per_stage: dict[str, list[float]] = {}
        found = []
        cpu = 0.0
        for index, face in enumerate(frames[: warmup + len(frames)]):
            frame = compose(face, height, faces)
            if bgra:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
            before = time.process_time()
            engine.process(frame, index / 30.0)
            if index < warmup:
                continue
            cpu += time.process_time() - before
            found.append(len(engine.last_report.boxes))
            for stage, ms in engine.last_report.stage_ms.items():
                per_stage.setdefault(stage, []).append(ms)
        run = {stage: statistics.median(values) for stage, values in per_stage.items()}
        run["faces"] = statistics.median(found) if found else 0
        run["cpu"] = cpu * 1e3 / max(1, len(found))
        runs.append(run)
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[0]}


def run(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    if args.source:
        engine.set_source_file(args.source, args.face_index)
    else:
        from .demo import sample_pictures
        engine.set_source(sample_pictures()[0], args.face_index)
    heights = [int(value) for value in args.heights.split(",")]
    face_counts = [int(value) for value in args.faces.split(",")]
    frames = _face_frames(args.clip, args.warmup + args.frames)
    header = None
    for faces in face_counts:
        for height in heights:
            result = measure(engine, frames, height, faces, args.warmup, args.repeats, args.bgra)
            stages = [key for key in result if key not in ("faces", "total", "cpu")]
            if header is None:
                header = stages
                print("| frame | faces asked/found | " + " | ".join(f"{s} ms" for s in stages)
                      + " | total ms | fps | cpu ms |")
                print("|---" * (len(stages) + 5) + "|")
            total = result.get("total", 0.0)
            print(f"| {round(height * 16 / 9) // 2 * 2}x{height} | {faces}/{result['faces']:g} | "
                  + " | ".join(f"{result.get(s, 0.0):.2f}" for s in header)
                  + f" | {total:.2f} | {1000.0 / total if total else 0.0:.0f} | {result['cpu']:.2f} |", flush=True)
    engine.close()
    return 0
