"""A contact sheet of what stays in front of the face: every occluder of ../shared/media.

    .venv/bin/python -m tools.in_front_sheet [--out /tmp/in_front.png] [--source fr_obama.jpg]

One row per hand-outlined item of testkit/occluders.json: the input with its outline
(green) | the landmark engine's output with keeping off | with keeping on, where the
pixels kept from the camera (the swap without keeping changed them, with keeping they are
the camera's own) are outlined in red. Cropped around the face and the outline.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from faceswap_core.engines import create_engine
from faceswap_core.options import SwapOptions
from testkit import occluders
from testkit.judge import media, read_frames

ROW = 260   # pixels per row


def swapped_pair(item: dict, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input, output keeping off, output keeping on) on the item's frame."""
    outputs = []
    frame = None
    for keep in (False, True):
        engine = create_engine("landmark", SwapOptions(keep_in_front=keep))
        engine.set_source_file(str(media(source)))
        if item["frame"] is None:
            frame = cv2.imread(str(media(item["file"])))
            outputs.append(engine.process_image(frame))
        else:
            for index, frame in enumerate(read_frames(media(item["file"]), item["frame"] + 1)):
                output = engine.process(frame, index / 30.0)
            outputs.append(output)
        engine.close()
    return frame, outputs[0], outputs[1]


def _outlined(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    drawn = image.copy()
    cv2.drawContours(drawn, contours, -1, colour, 1, cv2.LINE_AA)
    return drawn


def row(item: dict, source: str) -> np.ndarray:
    frame, unkept, kept = swapped_pair(item, source)
    outline = occluders.outline(item, frame.shape)
    changed = occluders.moved(unkept, frame) > occluders.SWAPPED_LEVELS
    camera = changed & (occluders.moved(kept, frame) <= 1)
    ys, xs = np.nonzero(changed | outline)
    pad = 12
    y0, y1 = max(0, ys.min() - pad), min(frame.shape[0], ys.max() + pad)
    x0, x1 = max(0, xs.min() - pad), min(frame.shape[1], xs.max() + pad)
    panels = [_outlined(frame, outline, (0, 255, 0)), unkept, _outlined(kept, camera, (0, 0, 255))]
    scale = ROW / (y1 - y0)
    panels = [cv2.resize(panel[y0:y1, x0:x1], (round((x1 - x0) * scale), ROW), interpolation=cv2.INTER_CUBIC)
              for panel in panels]
    strip = np.hstack(panels)
    label = f"{occluders.label(item)}: {item['what']}"
    cv2.putText(strip, label[:90], (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(strip, label[:90], (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/in_front.png")
    parser.add_argument("--source", default="fr_obama.jpg")
    args = parser.parse_args(argv)
    rows = [row(item, args.source) for item in occluders.ITEMS]
    width = max(strip.shape[1] for strip in rows)
    sheet = np.vstack([cv2.copyMakeBorder(strip, 0, 4, 0, width - strip.shape[1], cv2.BORDER_CONSTANT) for strip in rows])
    cv2.imwrite(args.out, sheet)
    print(f"wrote {args.out} ({len(rows)} rows: input with its outline | keeping off | keeping on, kept pixels in red)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
