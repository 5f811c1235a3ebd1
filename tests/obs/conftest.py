import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/ for judge.py
sys.path.insert(0, str(Path(__file__).resolve().parent))       # tests/obs for helpers.py

import helpers  # noqa: E402


@pytest.fixture(scope="session")
def display():
    """An Xvfb display for libobs (no GPU, Mesa llvmpipe), stopped after the session."""
    helpers.require_obs()
    process, name = helpers.start_xvfb()
    yield name
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def judge():
    from judge import FaceJudge

    return FaceJudge()


@pytest.fixture(scope="session")
def source_face(judge):
    import cv2
    from judge import media

    face = judge.largest(cv2.imread(str(media("fr_obama.jpg"))))
    assert face is not None
    return face


@pytest.fixture(scope="session")
def target_png(tmp_path_factory):
    """A real talking-head frame (lp_d3.mp4, frame 30) as the 'camera' image."""
    import cv2
    from judge import media

    frame = helpers.frame_of(media("lp_d3.mp4"), 30)
    path = tmp_path_factory.mktemp("media") / "target.png"
    cv2.imwrite(str(path), frame)
    return path
