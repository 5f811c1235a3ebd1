"""The glasses' search on a stream (vision.glasses.GlassesWatch): a face that has worn none
for a while is searched only every few frames (issue 34: the search is a tenth of a frame's
cost and most streamers wear none), yet glasses put on are found within those few frames
and glasses worn are followed on every frame. Real clips: lp_d10 (no glasses), lp_d19
(metal frames, found on every frame by the search itself)."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap_core.vision import eyes, glasses
from faceswap_core.vision.face_mesh import FaceMeshDetector, MeshTopology
from testkit.judge import media, read_frames


@pytest.fixture(scope="module")
def faces():
    """(frame, mesh) of 60 frames without glasses, then 40 with, as one stream would bring them."""
    found = []
    for clip, count in (("lp_d10.mp4", 60), ("lp_d19.mp4", 40)):
        detector = FaceMeshDetector(1)
        try:
            for frame in read_frames(media(clip), count):
                meshes = detector.detect(frame)
                assert meshes, clip
                found.append((frame, meshes[0].points))
        finally:
            detector.close()
    return found


def test_a_bare_face_is_searched_every_few_frames_and_glasses_put_on_are_found_within_them(faces, monkeypatch):
    topology = MeshTopology.from_mediapipe()
    searched = []
    search = glasses.find

    def counted(*args):
        searched.append(len(seen))
        return search(*args)

    monkeypatch.setattr(glasses, "find", counted)
    watch, seen = glasses.GlassesWatch(), []
    for frame, points in faces:
        lenses = [eyes.lens_region(points[eye]) for eye in topology.eyes]
        seen.append(watch.find(frame, points, topology, lenses, 0) is not None)
    bare, worn = np.array(seen[:60]), np.array(seen[60:])
    assert not bare.any()
    # every frame until BARE_FOR searches found none, then one frame in RECHECK_EVERY
    after = [frame for frame in searched if glasses.BARE_FOR <= frame < 60]
    assert len(after) <= (60 - glasses.BARE_FOR) // glasses.RECHECK_EVERY + 1, searched
    assert len([frame for frame in searched if frame < 60]) < 0.6 * 60
    # put on at frame 60: found within RECHECK_EVERY frames, then on every frame
    first = int(np.argmax(worn))
    assert worn.any() and first < glasses.RECHECK_EVERY, worn
    assert worn[first:].all(), worn
    assert [frame for frame in searched if frame >= 60 + first] == list(range(60 + first, 100))


def test_without_the_watch_every_frame_is_searched_and_the_same_glasses_are_found(faces):
    """Control: the search itself finds lp_d19's frames on each of its frames and nothing on
    lp_d10's, so what the watch leaves out on a bare face is nothing it would have found."""
    topology = MeshTopology.from_mediapipe()
    found = [glasses.find(frame, points, topology, [eyes.lens_region(points[eye]) for eye in topology.eyes])
             is not None for frame, points in faces]
    assert not any(found[:60]) and all(found[60:])
