"""Fixtures for the reliability tests: reuse tests/obs's helpers (media, processes) and tests/conftest.py's display."""


import pytest

from testkit import helpers   # tests/conftest.py has display, judge, source_face


@pytest.fixture(scope="session")
def camera_images(tmp_path_factory):
    """A talking-head frame as the 'camera' at 512x512, and other sizes of it (PNG paths)."""
    import cv2
    import numpy as np
    from testkit.judge import media

    frame = helpers.frame_of(media("lp_d3.mp4"), 30)   # media() skips when ../shared/media is absent
    folder = tmp_path_factory.mktemp("camera")
    paths = {}

    def save(name, image):
        paths[name] = folder / f"{name}.png"
        cv2.imwrite(str(paths[name]), image)

    save("main", frame)
    save("small", cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA))
    save("r448", cv2.resize(frame, (448, 448), interpolation=cv2.INTER_AREA))
    wide = np.zeros((360, 640, 3), np.uint8)
    wide[:] = frame[0, 0]
    wide[:, 140:500] = cv2.resize(frame, (360, 360), interpolation=cv2.INTER_AREA)
    save("wide", wide)
    big = np.zeros((1152, 2048, 3), np.uint8)
    big[:] = frame[0, 0]
    big[320:832, 768:1280] = frame
    save("big", big)
    return paths

