import os
import shutil

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from faceswap_core.link import Channel
from testkit import helpers

# the stand-in models and the insightface reference, shared by every folder that runs models
pytest_plugins = ["testkit.model_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def signing_credentials(tmp_path_factory):
    """Every `faceswap` the tests start signs with one test install's certificate, made in a
    temporary folder, never the user's own; yields that folder (its root.pem is the anchor)."""
    folder = tmp_path_factory.mktemp("credentials")
    saved = os.environ.get("FACESWAP_CREDENTIALS_DIR")
    os.environ["FACESWAP_CREDENTIALS_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("FACESWAP_CREDENTIALS_DIR", None)
    else:
        os.environ["FACESWAP_CREDENTIALS_DIR"] = saved


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test marked `obs` skips, saying what to install, where Debian's obs-studio or Xvfb is absent."""
    if item.get_closest_marker("obs"):
        helpers.require_obs()


@pytest.fixture(scope="session")
def display():
    """One Xvfb display for the whole session (OBS, libobs hosts, screen capture): each start
    takes a display number and a second, and no test needs a display of its own."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is absent: apt-get install xvfb xauth")
    process, name = helpers.start_xvfb()
    yield name
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def judge():
    """The independent identity judge (dlib), loaded once: OBS and reliability tests share it."""
    from testkit.judge import FaceJudge

    return FaceJudge()


@pytest.fixture(scope="session")
def source_face(judge):
    """The source photo's face as the judge sees it: a swap moves the output towards it."""
    import cv2
    from testkit.judge import media

    face = judge.largest(cv2.imread(str(media("fr_obama.jpg"))))
    assert face is not None
    return face


@pytest.fixture
def channel():
    """The channel the filter makes: a sealed memfd on Linux, a file elsewhere."""
    created = Channel.create(512, 512)
    yield created
    created.close()


@pytest.fixture
def channel_file(tmp_path):
    """A channel file, the fallback where there is no memfd."""
    created = Channel.create(512, 512, directory=str(tmp_path))
    yield created
    created.close()
