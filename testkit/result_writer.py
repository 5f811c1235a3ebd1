"""A worker's output side at full speed, for the channel's two-slot test.

    python -m testkit.result_writer CHANNEL_FILE SECONDS

Publishes results as fast as it can until its stdin closes (at most SECONDS): result k fills its whole frame with the
byte k % 251 and carries k as its frame time, so a reader can tell a torn copy (two
values) or a result read with another's fields (time != seq) from a whole one. Prints
{"published": N, "dropped": M} as JSON (dropped: the slot it needed stayed pinned).
"""

from __future__ import annotations

import json
import sys
import threading
import time

from faceswap_core.link import Channel, Frame


def main(argv: list[str]) -> int:
    path, seconds = argv[0], float(argv[1])
    channel = Channel.attach(path)
    exchange = channel.exchange
    width = channel.get("in_width")
    height = channel.get("in_height")
    size = width * height * 4
    published = dropped = 0
    end = time.monotonic() + seconds
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    while time.monotonic() < end and not closed.is_set():
        seq = channel.get("out_seq") + 1
        slot = exchange.claim_output()
        if slot is None:
            dropped += 1
            continue
        offset = channel.output_offset(slot)
        channel.mm[offset:offset + size] = bytes([seq % 251]) * size
        exchange.publish_result(Frame(seq, width, height, width * 4, seq), width * 4, 1, 0)
        published += 1
    channel.close(unlink=False)
    print(json.dumps({"published": published, "dropped": dropped}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
