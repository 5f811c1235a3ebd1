"""Tips about the source photo, on real photos and frames whose faces show each problem."""

from __future__ import annotations

import cv2
import pytest

from faceswap_core.engines import create_engine
from faceswap_core.engines.landmark import detect_in_photo
from faceswap_core.vision.face_mesh import FaceMeshDetector, MeshTopology
from faceswap_core.vision.photo_tips import photo_tips
from testkit.judge import media, read_frames


@pytest.fixture(scope="module")
def tips_of():
    detector = FaceMeshDetector(max_faces=10, static=True)
    topology = MeshTopology.from_mediapipe()

    def tips(image, index=0):
        return " ".join(photo_tips(detect_in_photo(detector, image)[index].points, topology))

    yield tips
    detector.close()


@pytest.fixture(scope="module")
def clip_frames():
    return {clip: read_frames(media(clip), last + 1) for clip, last in
            (("lp_d19.mp4", 0), ("lp_d10.mp4", 222), ("lp_d3.mp4", 300))}


def test_a_relaxed_front_facing_face_gets_no_tip(tips_of, clip_frames):
    assert tips_of(clip_frames["lp_d19.mp4"][0]) == ""
    assert tips_of(clip_frames["lp_d3.mp4"][284]) == ""      # turned a little: still fine


def test_a_laughing_photo_is_told_about_its_smile_lines(tips_of, clip_frames):
    tips = tips_of(cv2.imread(str(media("fr_obama.jpg"))))     # a broad smile, teeth showing
    assert "smiling broadly" in tips and "closed mouth" in tips
    assert "front-facing" not in tips and "open eyes" not in tips
    assert "smiling" in tips_of(clip_frames["lp_d3.mp4"][300])   # a mouth wide open


def test_shut_eyes_and_a_turned_head_are_named(tips_of, clip_frames):
    assert "open eyes" in tips_of(clip_frames["lp_d10.mp4"][222])   # a blink
    group = cv2.imread(str(media("if_t1.jpg")))
    assert "front-facing" in tips_of(group, 0)                    # a face in profile
    assert "front-facing" not in tips_of(group, 1)


def test_a_small_face_is_told_its_size(tips_of, clip_frames):
    small = cv2.resize(clip_frames["lp_d19.mp4"][0], (200, 200), interpolation=cv2.INTER_AREA)
    tips = tips_of(small)
    assert "pixels across" in tips and "at least 120" in tips


def test_the_engine_reports_the_tips_with_the_source():
    engine = create_engine("landmark")
    info = engine.set_source_file(str(media("fr_obama.jpg")))
    assert len(info.tips) == 1 and "smile" in info.tips[0]
