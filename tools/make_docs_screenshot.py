"""Takes docs/images/obs-filter-properties.png from a headless OBS run (Xvfb):

    python -m tools.make_docs_screenshot

Starts OBS with the generated test config (the filter on an image source showing the demo's
public-domain portrait of Grace Hopper, the source photo the demo's astronaut), waits for
the swap, opens the source's Filters window through obs-websocket (it shows the selected
filter's properties next to the preview), makes it tall with xdotool (apt: xdotool; optional)
and grabs the screen with ffmpeg's x11grab.
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

OUT = helpers.REPO / "docs" / "images" / "obs-filter-properties.png"


def grab(display: str, path: Path) -> np.ndarray:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "x11grab", "-video_size", "1920x1200",
                    "-i", display, "-frames:v", "1", str(path)], check=True)
    return cv2.imread(str(path))


def main() -> int:
    xvfb, display = helpers.start_xvfb()
    root = Path(tempfile.mkdtemp(prefix="fs-docs-"))
    # Public-domain people only in the README: the demo's pictures (see commands/demo.py).
    source, camera = sample_pictures()
    image, photo = root / "camera.png", root / "astronaut.png"
    cv2.imwrite(str(image), camera)
    cv2.imwrite(str(photo), source)
    app = ObsApp(ObsConfig(root, image, camera.shape[1], camera.shape[0],
                           {"source_photo": str(photo), "python": sys.executable}), display)
    try:
        client = app.connect()
        time.sleep(6)   # the worker starts and the swap shows
        client.open_input_filters_dialog(CAMERA)
        time.sleep(2)
        # no window manager under Xvfb: make the window tall enough to show every property
        subprocess.run(["xdotool", "search", "--name", "Filters for", "windowmove", "0", "0", "windowsize", "1000", "1190"],
                       env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=False)
        time.sleep(2)
        shot = grab(display, root / "screen.png")
        cropped = shot[:1190, :1000]   # the Filters window, moved to the top-left corner
        OUT.parent.mkdir(parents=True, exist_ok=True)
        from PIL import Image   # a 128-colour palette keeps the PNG small for the README

        Image.fromarray(cv2.cvtColor(cropped, cv2.COLOR_BGR2RGB)).quantize(128).save(OUT, optimize=True)
        print(OUT, cropped.shape)
    finally:
        app.stop()
        xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
