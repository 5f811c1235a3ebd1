"""OpenCV's worker threads sleep between its parallel loops instead of spinning.

OpenCV's own thread pool (pthreads: the opencv-python wheels for Linux) keeps its threads
busy-waiting for a while after every parallel loop, so that the next one starts at once.
The engines run hundreds of small OpenCV calls a frame, so those threads spun through the
gaps between them: on two cores the landmark engine's process used 15.0 ms of CPU a 720p
frame for 11.6 ms of wall time, against 12.2 ms of CPU and 10.9 ms of wall time with no
spinning (BENCHMARKS.md). On a streamer's machine that CPU is OBS's, the encoder's and
the game's. One thread (cv2.setNumThreads(1)) saved as much CPU but cost wall time.

OpenCV reads these settings once, when cv2 is loaded: `sleep_between_loops` must run
before anything imports cv2 (the worker's and the CLI's main do it first). Windows' and
macOS's wheels use their systems' own thread pools, which these settings do not reach.
"""

from __future__ import annotations

import os
import sys

# OpenCV's parallel_impl.cpp: spin iterations a worker waits for the next loop, the main
# thread waits for a loop's end, and the pause instructions per spin before it yields
NO_ACTIVE_WAIT = {"OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": "0", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN": "0",
                  "OPENCV_THREAD_POOL_ACTIVE_WAIT_PAUSE_LIMIT": "0"}


def sleep_between_loops() -> bool:
    """Set the pool's waits to none unless the user set them; False when cv2 was loaded
    already (too late for this process)."""
    if "cv2" in sys.modules:
        return False
    for name, value in NO_ACTIVE_WAIT.items():
        os.environ.setdefault(name, value)
    return True
