"""A Python the worker's venv can be built from: 3.10, 3.11 or 3.12, with venv and pip.

The installer itself runs on any Python 3.10+, but the worker's packages (mediapipe
0.10.21) exist only for 3.10-3.12. So when the Python running the installer is newer
(or lacks venv/ensurepip, as Debian's python3 without python3-venv does), look for
another one: the Windows `py` launcher, pythonX.Y on PATH, pyenv, python.org and
Homebrew installs on macOS.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ((3, 12), (3, 11), (3, 10))    # best first
PROBE = ("import sys, venv, ensurepip; "
         "print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])")


@dataclass(frozen=True)
class BasePython:
    command: tuple[str, ...]    # how to run it, e.g. ("py", "-3.12") or ("/usr/bin/python3.11",)
    executable: str
    version: tuple[int, int, int]

    @property
    def label(self) -> str:
        return f"Python {'.'.join(map(str, self.version))} ({self.executable})"


def supported(version: tuple[int, ...]) -> bool:
    return tuple(version[:2]) in SUPPORTED


def inspect(command: tuple[str, ...], timeout: float = 30.0) -> BasePython | None:
    """Run the candidate; None unless it starts and has venv and ensurepip."""
    try:
        done = subprocess.run([*command, "-c", PROBE], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) < 2:
        return None
    try:
        version = tuple(int(part) for part in lines[-1].split("."))
    except ValueError:
        return None
    return BasePython(command, lines[-2], version)  # type: ignore[arg-type]


def candidates(platform_name: str | None = None) -> list[tuple[str, ...]]:
    """Commands that might be a supported Python, best first (this one first)."""
    name = platform_name or sys.platform
    found: list[tuple[str, ...]] = [(sys.executable,)]
    for major, minor in SUPPORTED:
        if name.startswith("win"):
            found.append(("py", f"-{major}.{minor}"))
        exe = shutil.which(f"python{major}.{minor}")
        if exe:
            found.append((exe,))
        pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
        found += [(path,) for path in sorted(glob.glob(f"{pyenv_root}/versions/{major}.{minor}.*/bin/python3"), reverse=True)]
        if name == "darwin":
            found += [(f"/Library/Frameworks/Python.framework/Versions/{major}.{minor}/bin/python3",),
                      (f"/opt/homebrew/bin/python{major}.{minor}",), (f"/usr/local/bin/python{major}.{minor}",)]
        if name.startswith("win"):
            local = os.environ.get("LOCALAPPDATA", "")
            found.append((os.path.join(local, "Programs", "Python", f"Python{major}{minor}", "python.exe"),))
    unique: list[tuple[str, ...]] = []
    for command in found:
        if command not in unique:
            unique.append(command)
    return unique


def find(preferred: str | None = None) -> BasePython | None:
    """The given interpreter (--python), else the first supported candidate that works."""
    options = [(preferred,)] if preferred else candidates()
    for command in options:
        if len(command) == 1 and os.path.isabs(command[0]) and not os.path.exists(command[0]):
            continue
        found = inspect(command)
        if found is not None and supported(found.version):
            return found
    return None


def how_to_get_one(platform_name: str | None = None) -> str:
    """One sentence: where to get a supported Python on this OS."""
    name = platform_name or sys.platform
    if name.startswith("win"):
        return ("Install Python 3.12 from https://www.python.org/downloads/windows/ (tick 'Add python.exe to PATH'), "
                "then run the installer again.")
    if name == "darwin":
        return ("Install Python 3.12 from https://www.python.org/downloads/macos/ (or: brew install python@3.12), "
                "then run the installer again.")
    return ("Install Python 3.12, 3.11 or 3.10 with venv support (Debian/Ubuntu: sudo apt install python3-venv; "
            "or use pyenv), then run the installer again, or name one with --python PATH.")
