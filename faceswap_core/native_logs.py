"""Keeping mediapipe's and TensorFlow Lite's C++ chatter out of what users read.

Those libraries log their set-up straight to file descriptor 2 from their own threads
("INFO: Created TensorFlow Lite XNNPACK delegate", absl "W0000 ..." lines), at any time,
before any log level can be set. Silencing fd 2 around each call loses the race: a line
begun outside a window ends up glued to the next real message. Instead, a process that
shows messages to people (the CLI, the worker) routes fd 2 through a pipe once, at start;
a thread drops those known lines and passes everything else on, and Python's own stderr
writes to the real descriptor directly, so tracebacks never depend on that thread.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading

NOISE = re.compile(
    rb"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog"
    rb"|[IW]\d{4} \d\d:\d\d:\d\d)"
)


def filter_native_stderr() -> None:
    """Route fd 2 through the noise filter for the rest of the process (call once, early)."""
    try:
        real = os.dup(2)
    except OSError:   # no stderr at all (a GUI launch): nothing to filter
        return
    sys.stderr.flush()
    sys.stderr = io.TextIOWrapper(io.FileIO(real, "w", closefd=False), line_buffering=True,
                                  errors="backslashreplace")
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    threading.Thread(target=_pump, args=(read_end, real), name="native-stderr-filter", daemon=True).start()


def _pump(read_end: int, real: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
        if kept:
            os.write(real, kept)
    if pending and not NOISE.match(pending):
        os.write(real, pending)
