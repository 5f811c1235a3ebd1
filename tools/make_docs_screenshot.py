"""Takes docs/images/obs-filter-properties.png (and -neural.png, the neural engine chosen)
from a headless OBS run (Xvfb):

    python -m tools.make_docs_screenshot

Starts OBS with the generated test config (the filter on an image source showing the demo's
public-domain portrait of Grace Hopper, the source photo the demo's astronaut), waits for
the swap, opens the source's Filters window through obs-websocket (it shows the selected
filter's properties next to the preview), makes it tall with xdotool (apt: xdotool; optional)
and grabs the screen with x11grab (imageio-ffmpeg's ffmpeg).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


import cv2
import numpy as np

from testkit import helpers
from faceswap_core.commands.demo import sample_pictures
from testkit.obs_app import CAMERA, ObsApp, ObsConfig

IMAGES = helpers.REPO / "docs" / "images"
SCREEN = (1920, 3600)          # tall: every setting of the filter shows without scrolling
WINDOW = (1000, 3560)
LANDMARK_HEIGHT = 2150         # the landmark engine has fewer settings


def grab(display: str, path: Path) -> np.ndarray:
    import imageio_ffmpeg   # its ffmpeg has x11grab; no system ffmpeg needed

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "x11grab",
                    "-video_size", "{}x{}".format(*SCREEN),
                    "-i", display, "-frames:v", "1", str(path)], check=True)
    return cv2.imread(str(path))


def fit_window(display: str, height: int) -> None:
    """No window manager under Xvfb: xdotool moves the Filters window to the corner and
    sizes it (the preview takes a share of the height, the settings the rest)."""
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
    subprocess.run(["xdotool", "search", "--name", "Filters for", "windowmove", "0", "0", "windowsize",
                    str(WINDOW[0]), str(height)], env=env, check=False)
    subprocess.run(["xdotool", "mousemove", str(WINDOW[0] + 50), "5"], env=env, check=False)
    time.sleep(2)


def save(shot: np.ndarray, name: str, height: int) -> None:
    from PIL import Image   # a 128-colour palette keeps the PNG small for the README

    cropped = shot[:height, :WINDOW[0]]   # the Filters window, moved to the top-left corner
    out = IMAGES / name
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(cv2.cvtColor(cropped, cv2.COLOR_BGR2RGB)).quantize(128).save(out, optimize=True)
    print(out, cropped.shape)


def shoot(display: str, root: Path, settings: dict, name: str, height: int) -> None:
    """One OBS run with the filter's `settings`: its Filters window, once the worker runs."""
    # Public-domain people only in the README: the demo's pictures (see commands/demo.py).
    source, camera = sample_pictures()
    folder = Path(tempfile.mkdtemp(prefix="obs-", dir=root))
    image, photo = folder / "camera.png", root / "astronaut.png"
    cv2.imwrite(str(image), camera)
    cv2.imwrite(str(photo), source)
    app = ObsApp(ObsConfig(folder, image, camera.shape[1], camera.shape[0],
                           {"source_photo": str(photo), "python": sys.executable, **settings}), display)
    try:
        client = app.connect()
        time.sleep(8)   # the worker starts, and the swap (or the status saying what is missing) shows
        client.open_input_filters_dialog(CAMERA)
        time.sleep(2)
        fit_window(display, height)
        save(grab(display, folder / "screen.png"), name, height)
    finally:
        app.stop()


def main() -> int:
    xvfb, display = helpers.start_xvfb("{}x{}x24".format(*SCREEN))
    root = Path(tempfile.mkdtemp(prefix="fs-docs-"))
    try:
        shoot(display, root, {}, "obs-filter-properties.png", LANDMARK_HEIGHT)
        # the neural engine chosen: its settings show, and the status says what it needs
        shoot(display, root, {"engine": "neural"}, "obs-filter-properties-neural.png", WINDOW[1])
    finally:
        xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
