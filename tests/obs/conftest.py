import pytest

from testkit import helpers   # tests/conftest.py holds display, judge, source_face


@pytest.fixture(scope="session")
def target_png(tmp_path_factory):
    """A real talking-head frame (lp_d3.mp4, frame 30) as the 'camera' image."""
    import cv2
    from testkit.judge import media

    frame = helpers.frame_of(media("lp_d3.mp4"), 30)
    path = tmp_path_factory.mktemp("media") / "target.png"
    cv2.imwrite(str(path), frame)
    return path
