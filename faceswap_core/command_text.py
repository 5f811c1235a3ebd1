"""A command as the user types it into their own shell, each word quoted for that shell.

Fix commands name the user's own folders, which have spaces ("C:\\Users\\Jane Doe",
"~/OBS Stuff"): printed bare, they break where the user pastes them. Standard library
only (the doctor and OBS's side print them too).
"""

from __future__ import annotations

import shlex
import subprocess
import sys


def command_text(*words, platform: str = sys.platform) -> str:
    """POSIX shells: shlex quoting. Windows: the C runtime's quoting (cmd.exe and
    PowerShell alike), and PowerShell's call operator when the program itself is quoted
    (PowerShell reads a quoted first word as a string, not a program)."""
    words = [str(word) for word in words]
    if not platform.startswith("win"):
        return shlex.join(words)
    text = subprocess.list2cmdline(words)
    return f"& {text}" if text.startswith('"') else text
