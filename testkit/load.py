"""A machine kept busy: CPU-bound processes beside a test, as a streamer's game and
encoder are beside OBS. Behaviour must not depend on them; only benchmarks judge speed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

SPIN = "import time\nwhile True:\n    sum(i * i for i in range(10000))\n"


@contextlib.contextmanager
def busy_cpus(count: int | None = None):
    """`count` processes (one per CPU by default) each keeping a core busy until the block ends."""
    count = count or os.cpu_count() or 2
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield spinners
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
