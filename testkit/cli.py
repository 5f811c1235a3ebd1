"""The `faceswap` command as a user runs it: a real process, its output as text."""

from __future__ import annotations

import subprocess
import sys

FACESWAP = [sys.executable, "-m", "faceswap_core.cli"]


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*FACESWAP, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
