"""Per-frame cost of the link's handshake on both ends, against raw field access.

    .venv/bin/python -m tools.bench_link [--runs 7] [--frames 20000]

One "frame" is what the filter and the worker do per frame around the pixel copies:
hand over, take the frame, claim an output slot, publish the result, pin and take the result. "raw" is the same
sequence as field reads and writes with no Exchange (how render.py and worker.py did it
before the link), without the memory barriers. Runs are interleaved, medians printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from faceswap_core.link import Channel
from faceswap_core.link.layout import HeaderFields


def exchange_frames(channel: Channel, frames: int) -> float:
    exchange = channel.exchange
    seen = exchange.result_seq()
    started = time.perf_counter()
    for index in range(frames):
        exchange.hand_over(1280, 720, 5120, index)
        frame = exchange.take_frame()
        exchange.claim_output()
        exchange.publish_result(frame, 5120, 1, 9000)
        with exchange.newest_result(seen) as result:
            seen = result.seq
    return (time.perf_counter() - started) / frames * 1e6


def raw_frames(channel: Channel, frames: int) -> float:
    fields = HeaderFields(channel.mm)
    get, put = fields.get, fields.set
    started = time.perf_counter()
    seen = get("out_seq")
    for index in range(frames):
        for name, value in (("in_width", 1280), ("in_height", 720), ("in_stride", 5120), ("in_time_ns", index)):
            put(name, value)
        put("in_seq", get("in_seq") + 1)
        seq = get("in_seq")
        if seq != get("in_ack"):
            width, height, stride, when = get("in_width"), get("in_height"), get("in_stride"), get("in_time_ns")
            for name, value in (("out_width", width), ("out_height", height), ("out_stride", stride),
                                ("out_faces", 1), ("out_in_time_ns", when), ("process_us", 9000)):
                put(name, value)
            put("out_seq", get("out_seq") + 1)
            put("in_ack", seq)
        out = get("out_seq")
        if out != seen:
            seen = out
            get("out_width"), get("out_height"), get("out_stride"), get("out_in_time_ns")
    fields.release()
    return (time.perf_counter() - started) / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--frames", type=int, default=20000)
    args = parser.parse_args()
    channel = Channel.create(1280, 720)
    results = {"exchange": [], "raw": []}
    try:
        for _ in range(args.runs):
            results["exchange"].append(exchange_frames(channel, args.frames))
            results["raw"].append(raw_frames(channel, args.frames))
    finally:
        channel.close()
    for name, values in results.items():
        print(f"{name:9s} median {statistics.median(values):6.2f} us per frame (both ends), "
              f"runs {', '.join(f'{v:.2f}' for v in values)}")


if __name__ == "__main__":
    main()
