"""What a mark strength that follows the picture's texture would buy, for BENCHMARKS.md
(issue 33 asks for one "at the same or better PSNR"). A trial, not the product's marker.

  python -m tools.bench_mark_texture [--clips occ_wave.mp4 lp_d12.mp4] [--frames 90]

Each clip's frames scaled to 720p, marked three ways: today's uniform strength 3; a gain
per cell from the cell's own fine detail (its energy at mark.DETAIL_SAMPLES a cell,
relative to the frame's median, to the power 0.7 and kept within 0.4-2.5x, or to the power
1 within 0.5-2x), scaled so that the mark's energy, and so the PSNR, stays as it was; and
uniform strength 5 for scale. Each written losslessly, then VP9 500 kbit/s, x264 2.5 Mbit/s
and 360p 400 kbit/s (one thread): the mean bit vote along the session's word per frame,
whether the whole clip's votes decode, and the agreement `faceswap verify`'s reader gives
them; the x264 CRF 23 file's size (the bitrate the mark costs at constant quality).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import cv2
import numpy as np

from faceswap_core.provenance import mark
from faceswap_core.provenance.mark_layout import COLUMNS, ROWS, SHAPE_GAIN, cell_signs, codeword_bits
from testkit.encodes import encode, psnr, rate, reframed
from tools.bench_mark import frames_at, write_lossless

SESSION = bytes([0x5A, 0xC3, 0x17])
WAYS = {"uniform 3": None, "texture ^0.7, 0.4-2.5x": (0.7, 0.4, 2.5), "texture ^1, 0.5-2x": (1.0, 0.5, 2.0),
        "uniform 5": None}


def texture_gain(y: np.ndarray, power: float, low: float, high: float) -> np.ndarray:
    """Per cell: its detail's energy against the frame's median, within low..high, scaled
    to a mean square of 1 (the same energy as a uniform mark)."""
    detail = 1.0 / mark.cell_weights(y, COLUMNS, ROWS) - mark.DETAIL_FLOOR
    gain = np.clip((np.maximum(detail, 1e-3) / max(float(np.median(detail)), 1e-3)) ** (power / 2), low, high)
    return gain / np.sqrt(np.mean(gain * gain))


def marked(frame: np.ndarray, way: str) -> np.ndarray:
    if WAYS[way] is None:
        return mark.Marker(SESSION, int(way.split()[-1])).embed(frame)
    height, width = frame.shape[:2]
    gain = texture_gain(mark.luma(frame), *WAYS[way])
    signs = np.array(cell_signs(SESSION), np.float32).reshape(ROWS, COLUMNS) * gain
    signs = cv2.resize(signs.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
    change = np.rint(signs * mark.cell_shape(width, height) * (mark.DEFAULT_STRENGTH * SHAPE_GAIN))
    return np.clip(frame.astype(np.float32) + change[:, :, None], 0, 255).astype(np.uint8)


def read(path: str) -> str:
    word = np.where(np.array(codeword_bits(SESSION)) > 0, 1.0, -1.0)
    reader, capture, along, total = mark.MarkReader(), cv2.VideoCapture(path), [], 0.0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        votes = reader.votes(frame)
        along.append(float((votes * word).mean()))
        total = total + votes
    capture.release()
    reading = mark.decode(total)
    decoded = "decodes" if reading is not None and reading.session_id == SESSION else "no"
    spread = (total * word).std()
    return f"{statistics.mean(along):.2f} / {decoded} ({(total * word).mean() / spread:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="+", default=["occ_wave.mp4", "lp_d12.mp4"])
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    print("| clip | strength | PSNR dB | largest change | VP9 500k: vote / all frames (agreement) | x264 2.5M | "
          "360p 400k | CRF 23 KiB |\n|---|---|---|---|---|---|---|---|")
    for clip in args.clips:
        frames = frames_at((1280, 720), args.frames / 30, (clip,))
        with tempfile.TemporaryDirectory() as folder:
            for way in WAYS:
                out = [marked(frame, way) for frame in frames]
                quality = statistics.median(psnr(a, b) for a, b in zip(frames, out))
                largest = max(int(np.abs(a.astype(np.int16) - b).max()) for a, b in zip(frames, out))
                lossless = write_lossless(out, os.path.join(folder, "marked.mkv"))
                cells = [read(reframed(lossless, os.path.join(folder, "v.webm"), "null", "-b:v", "500k")),
                         read(encode(lossless, os.path.join(folder, "a.mp4"), *rate("2500k"))),
                         read(encode(lossless, os.path.join(folder, "f.mp4"), *rate("400k"), size=(640, 360)))]
                size = os.path.getsize(encode(lossless, os.path.join(folder, "c.mp4"), "-crf", "23")) // 1024
                print(f"| {clip} | {way} | {quality:.2f} | {largest} | {' | '.join(cells)} | {size} |", flush=True)


if __name__ == "__main__":
    main()
