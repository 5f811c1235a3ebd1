"""Contact sheets of the landmark engine's output, as a viewer sees it, with the worst frames.

    .venv/bin/python -m tools.contact_sheet [--out DIR] [--frames 6] [--clips lp_d19.mp4 ...]
        [--sources astronaut fr_obama.jpg] [--limit N] [--mirror]

For each source photo (scikit-image's astronaut, whose fringe covers her forehead, and
fr_obama.jpg) and each clip of ../shared/media, the engine runs over every frame in order
(as the filter does: tracking and smoothing need the stream); evenly spaced frames are
drawn as input | output pairs, one row per clip, one sheet per source. Each frame is also
scored by testkit.visual_checks (hair on the forehead, glasses kept, dark smudges around
the mouth, skin made much darker than the target's); the worst frames of each score are
printed, written to worst.txt, and drawn on a second sheet per source, so what a number
says can be looked at. Needs the test extras (dlib) and ../shared/media.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

CELL = 200          # pixels per panel side on a sheet
WORST_PER_SCORE = 3


def _source(name: str) -> np.ndarray:
    from testkit.judge import MEDIA
    from testkit import visual_checks

    if name == "astronaut":
        return visual_checks.astronaut()
    image = cv2.imread(str(MEDIA / name))
    if image is None:
        raise SystemExit(f"{MEDIA / name} is absent or unreadable")
    return image


def _panel(image: np.ndarray, label: str) -> np.ndarray:
    scale = CELL / max(image.shape[:2])
    panel = np.zeros((CELL, CELL, 3), np.uint8)
    small = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    panel[:small.shape[0], :small.shape[1]] = small
    cv2.putText(panel, label, (4, CELL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(panel, label, (4, CELL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def _row(pairs: list[tuple[np.ndarray, np.ndarray, str]], columns: int) -> np.ndarray:
    panels = []
    for before, after, label in pairs:
        panels += [_panel(before, label), _panel(after, "output")]
    while len(panels) < 2 * columns:
        panels.append(np.zeros((CELL, CELL, 3), np.uint8))
    return np.hstack(panels)


def run_clip(engine, frames: list[np.ndarray], fps: float) -> list[np.ndarray]:
    engine.reset()
    return [engine.process(frame, index / fps) for index, frame in enumerate(frames)]


def main(argv: list[str] | None = None) -> int:
    from testkit import visual_checks
    from testkit.judge import MEDIA, FaceJudge, read_frames

    from faceswap_core.engines import create_engine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="contact-sheets", help="folder for the sheets (default %(default)s)")
    parser.add_argument("--frames", type=int, default=6, help="frames per clip on the sheet")
    parser.add_argument("--clips", nargs="*", default=None, help="clips of ../shared/media (default: all lp_*.mp4)")
    parser.add_argument("--sources", nargs="*", default=["astronaut", "fr_obama.jpg"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N frames of each clip (a quick look)")
    parser.add_argument("--mirror", action="store_true", help="flip the clips left to right, as a webcam shows them")
    args = parser.parse_args(argv)

    clips = args.clips or sorted(path.name for path in MEDIA.glob("lp_*.mp4"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    judge = FaceJudge()
    report = []
    for source_name in args.sources:
        source = _source(source_name)
        engine = create_engine("landmark")
        info = engine.set_source(source)
        scorer = visual_checks.Scorer(judge, source)
        rows, worst_rows = [], []
        for clip in clips:
            frames = read_frames(MEDIA / clip, args.limit)
            if args.mirror:
                frames = [np.ascontiguousarray(frame[:, ::-1]) for frame in frames]
            fps = cv2.VideoCapture(str(MEDIA / clip)).get(cv2.CAP_PROP_FPS) or 30.0
            outputs = run_clip(engine, frames, fps)
            picks = np.linspace(0, len(frames) - 1, args.frames).round().astype(int)
            rows.append(_row([(frames[i], outputs[i], f"{clip} #{i}") for i in picks], args.frames))
            scores = [scorer.score(frame, output) for frame, output in zip(frames, outputs)]
            worst = []
            for name in visual_checks.SCORES:
                ranked = sorted((s[name], i) for i, s in enumerate(scores) if s and s.get(name) is not None)
                if not ranked:
                    continue
                values = np.array([value for value, _ in ranked])
                line = (f"{source_name:>14} {clip:>10} {name:>14}: median {np.median(values):7.3f}  "
                        f"worst " + ", ".join(f"#{i} {v:.3f}" for v, i in ranked[::-1][:WORST_PER_SCORE]))
                print(line, flush=True)
                report.append(line)
                worst += [(frames[i], outputs[i], f"{clip} #{i} {name}") for _, i in ranked[::-1][:1]]
            worst_rows.append(_row(worst, len(visual_checks.SCORES)))
        engine.close()
        stem = os.path.splitext(source_name)[0]
        header = _panel(source, f"source {source_name}")
        if info.tips:
            print(f"{source_name} tips: " + " | ".join(info.tips))
        for name, sheet_rows in ((f"sheet-{stem}.png", rows), (f"worst-{stem}.png", worst_rows)):
            width = max(row.shape[1] for row in sheet_rows)
            sheet_rows = [np.hstack([row, np.zeros((CELL, width - row.shape[1], 3), np.uint8)]) for row in sheet_rows]
            top = np.hstack([header, np.zeros((CELL, width - CELL, 3), np.uint8)])
            cv2.imwrite(str(out / name), np.vstack([top] + sheet_rows))
            print(f"wrote {out / name}")
    (out / "worst.txt").write_text("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
