"""The worker's end of a channel, driven from a test: start a real worker on a channel the
test made, hand it frames and read its results the way the filter does."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from faceswap_core.link import liveness
from testkit import REPO


def start_worker(channel, *extra, owner=None, python=sys.executable):
    """The worker as the filter starts it: told the channel's address, handed its memfd."""
    return subprocess.Popen(
        [python, "-m", "faceswap_core.worker", "--channel", channel.address, "--token", channel.token,
         "--owner-pid", str(owner or os.getpid()), *extra],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, pass_fds=channel.pass_fds,
    )


def wait_until(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def hand_over(channel, frame_bgra):
    height, width = frame_bgra.shape[:2]
    view = np.ndarray((height, width, 4), np.uint8, channel.mm, channel.in_offset, (width * 4, 4, 1))
    view[...] = frame_bgra
    del view
    channel.set("in_width", width)
    channel.set("in_height", height)
    channel.set("in_stride", width * 4)
    channel.set("in_time_ns", liveness.now_ns())
    channel.set("in_seq", channel.get("in_seq") + 1)


def read_result(channel):
    width, height, stride = channel.output_geometry()
    view = np.ndarray((height, width, 4), np.uint8, channel.mm, channel.newest_output_offset(), (stride, 4, 1))
    result = view.copy()
    del view
    return result
