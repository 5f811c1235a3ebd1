"""Takes the README's install screenshots from a headless OBS run (Xvfb, Debian's obs-studio):

    python -m tools.make_install_screenshots

docs/images/obs-tools-scripts.png: OBS's Tools menu with *Scripts* selected.
docs/images/obs-scripts-window.png: the Scripts window with obs_faceswap.py loaded and its
description shown (the script is added through the generated scene collection, exactly
as Tools > Scripts > + records it).
Uses the test helpers (testkit), xdotool to drive the menu, ffmpeg to grab.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


import cv2

from testkit import helpers
from testkit.judge import MEDIA
from testkit.obs_app import ObsApp, ObsConfig

IMAGES = helpers.REPO / "docs" / "images"


def main() -> int:
    xvfb, display = helpers.start_xvfb()
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}

    def xdotool(*args: str) -> str:
        return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True).stdout.strip()

    def grab(path: Path):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "x11grab", "-video_size", "1920x1200",
                        "-i", display, "-frames:v", "1", str(path)], check=True)
        return cv2.imread(str(path))

    def save(image, name: str) -> None:
        from PIL import Image   # a 128-colour palette keeps the PNG small for the README

        path = IMAGES / name
        Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).quantize(128).save(path, optimize=True)
        print(path, image.shape)

    root = Path(tempfile.mkdtemp(prefix="fs-install-shots-"))
    image = root / "camera.png"
    cv2.imwrite(str(image), helpers.frame_of(MEDIA / "lp_d3.mp4", 30))
    app = ObsApp(ObsConfig(root, image, 512, 512, {"source_photo": str(MEDIA / "fr_obama.jpg"),
                                                   "python": sys.executable}), display)
    try:
        app.connect()
        time.sleep(6)
        main_window = xdotool("search", "--name", "^OBS ").split()[0]
        xdotool("windowactivate", "--sync", main_window)
        xdotool("key", "--window", main_window, "alt+t")
        time.sleep(1)
        for _ in range(3):   # Auto-Configuration Wizard, Automatic Scene Switcher, Output Timer, Scripts
            xdotool("key", "Down")
            time.sleep(0.3)
        time.sleep(1)
        shot = grab(root / "menu.png")
        save(shot[:260, :800], "obs-tools-scripts.png")
        xdotool("key", "Return")
        time.sleep(3)
        window = xdotool("search", "--name", "^Scripts$").split()
        if not window:
            raise RuntimeError("the Scripts window did not open")
        xdotool("windowmove", window[0], "0", "0")
        xdotool("windowsize", window[0], "1100", "560")
        time.sleep(2)
        shot = grab(root / "scripts.png")
        save(shot[:560, :1100], "obs-scripts-window.png")
    finally:
        app.stop()
        xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
