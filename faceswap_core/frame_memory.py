"""A frame-sized buffer freed is kept for the next frame instead of going back to the system.

glibc hands out blocks above its mmap threshold (128 KB at first, raised to the largest
block freed, at most 32 MB) as fresh pages, and gives the top of its heap back once more
than twice that lies free there. A camera frame's conversions allocate and free a few
frame-sized arrays every frame (BGR, the up-sampled chroma, the masks over the frame), so
every frame paid for fresh pages, each touched once, then returned: on a 720p I420 frame,
the conversion to BGR took 3.0 ms (4.0 of CPU) where the same work into kept memory takes
0.5 (1.0 of CPU) (BENCHMARKS.md). Fixed thresholds keep those pages: the process holds at
most TRIM_THRESHOLD of freed memory, and reuses it.

Set once, early, in the worker's and the CLI's `main`. Other C libraries (macOS's, Windows'
and musl's allocators) are left as they are: not measured, not reached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from .obs.foreign import Functions

GLIBC_FUNCTIONS = {
    "mallopt": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),   # 1 when the setting was taken
}
# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024     # glibc's upper bound: a 4K BGR frame (24.9 MB) still comes from the heap
TRIM_THRESHOLD = 128 * 1024 * 1024    # freed memory kept before the heap's top goes back


def keep_freed_frames() -> bool:
    """Fix glibc's thresholds; False where the C library is not glibc (or refused them)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = Functions(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), GLIBC_FUNCTIONS)
    except (OSError, AttributeError):   # a C library without mallopt
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
