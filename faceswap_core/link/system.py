"""Which kind of system this process runs on, as the link needs to know it.

One value, decided once from facts that cannot change while the process runs. The code
that differs per system takes the system as a parameter, so every branch can be run
and tested on any machine (Windows, macOS and Flatpak ones are simulated on Linux).
"""

from __future__ import annotations

import os
import sys

LINUX = "linux"
FLATPAK = "flatpak"     # Linux, inside Flatpak's sandbox (com.obsproject.Studio)
MACOS = "macos"
WINDOWS = "windows"
FLATPAK_INFO = "/.flatpak-info"   # present in every Flatpak sandbox (flatpak-metadata(5))
FLATPAK_APP_ID = "com.obsproject.Studio"   # OBS's Flatpak: its app folder and ~/.var/app/<id>


def detect(platform: str | None = None, flatpak_info: str = FLATPAK_INFO) -> str:
    platform = platform or sys.platform
    if platform == "win32":
        return WINDOWS
    if platform == "darwin":
        return MACOS
    if os.path.exists(flatpak_info):
        return FLATPAK
    return LINUX


CURRENT = detect()
