"""The video face mesh (vision.face_mesh's followed faces) against mediapipe's own video graph.

The followed faces run mediapipe's own subgraphs on a crop around each face and search for
new faces only now and then (issue 34: the detector had run on every frame). These tests
hold them to what mediapipe's graph gives on the same real clips, and check when they
search: a face coming in, a face lost, a face followed alone.
"""

from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np
import pytest

from faceswap_core.vision import face_mesh, mediapipe_graphs
from faceswap_core.vision.face_mesh import (QUIET_SEARCH_EVERY, QUIET_SEARCHES, SEARCH_EVERY, DetectedFace,
                                             FaceMeshDetector)
from testkit.judge import media, read_frames


def _mediapipe_video(frames: list[np.ndarray], max_faces: int) -> list[list[np.ndarray]]:
    """Each frame's meshes (largest first) from mediapipe's own video graph, as it was used."""
    graph = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max_faces,
                                            refine_landmarks=True, min_detection_confidence=0.5,
                                            min_tracking_confidence=0.5)
    found = []
    try:
        for frame in frames:
            height, width = frame.shape[:2]
            result = graph.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            meshes = [np.array([(p.x, p.y) for p in face.landmark], dtype=np.float32) * np.float32([width, height])
                      for face in result.multi_face_landmarks or ()]
            found.append(sorted(meshes, key=lambda points: -_size(points)))
    finally:
        graph.close()
    return found


def _followed(frames: list[np.ndarray], max_faces: int) -> tuple[list[list[np.ndarray]], int]:
    """Each frame's meshes from the followed faces, and how many searches ran."""
    detector = FaceMeshDetector(max_faces)
    searches = [0]
    search = detector._graph._find

    def counted(image):
        searches[0] += 1
        return search(image)

    detector._graph._find = counted
    try:
        return [[face.points for face in detector.detect(frame)] for frame in frames], searches[0]
    finally:
        detector.close()


def _size(points: np.ndarray) -> float:
    return DetectedFace(points).size


@pytest.mark.parametrize("clip", ["lp_d3.mp4", "lp_d10.mp4", "occ_wave.mp4"])
def test_followed_faces_are_mediapipes_own_meshes_with_a_search_every_few_frames(clip):
    """Talking heads (a turned head, a wave across the face): the same face on every frame
    mediapipe's own graph finds one, the points within 0.2% of the face's size of its points
    (mean; measured: 0.02-0.03%: the crop shows the model the same pixels), while the
    detector, which mediapipe ran on every frame (four faces allowed, one there), runs on
    about one frame in SEARCH_EVERY."""
    frames = read_frames(media(clip), 150)
    reference = _mediapipe_video(frames, 4)
    followed, searches = _followed(frames, 4)
    assert sum(bool(meshes) for meshes in reference) > 0.9 * len(frames)
    errors = []
    for theirs, ours in zip(reference, followed):
        assert len(ours) == len(theirs)
        if theirs:
            errors.append(float(np.abs(theirs[0] - ours[0]).mean()) / _size(theirs[0]))
    assert np.median(errors) < 0.001 and np.mean(errors) < 0.002, (np.median(errors), np.mean(errors), max(errors))
    assert searches <= len(frames) // SEARCH_EVERY + 3, searches


@pytest.mark.parametrize("alone", [5, QUIET_SEARCHES * SEARCH_EVERY + 2 * QUIET_SEARCH_EVERY + 7])
def test_a_face_that_comes_in_is_found_within_the_search_interval_and_a_lost_one_at_once(alone):
    """One face, then a second one beside it (fr_two_people's pair, the right face hidden at
    first): the second is found within SEARCH_EVERY frames, also after the first was alone
    and still long enough for the searches to slow down (its coming is a change). Then an
    empty frame: no face, and the next frame with faces finds them on that very frame
    (nothing followed: every frame is searched)."""
    photo = cv2.imread(str(media("fr_two_people.jpg")))
    both = [face.points for face in FaceMeshDetector(2, static=True).detect(photo)]
    assert len(both) == 2
    right = max(both, key=lambda points: points[:, 0].mean())
    one = photo.copy()
    x0, y0 = np.floor(right.min(axis=0)).astype(int) - 10
    x1, y1 = np.ceil(right.max(axis=0)).astype(int) + 10
    one[max(0, y0):y1, max(0, x0):x1] = 90
    empty = np.full_like(photo, 90)
    frames = [one] * alone + [photo] * (SEARCH_EVERY + 2) + [empty] + [photo]
    detector = FaceMeshDetector(4)
    try:
        counts = [len(detector.detect(frame)) for frame in frames]
    finally:
        detector.close()
    assert counts[:alone] == [1] * alone
    came = counts.index(2, alone) - alone
    assert came < SEARCH_EVERY, counts
    assert counts[-2:] == [0, 2], counts


def test_a_still_streamer_alone_is_searched_around_only_every_few_seconds():
    """One face, nothing else changing (a frame repeated): a round of searches (the whole
    frame and each quarter tile) finds nobody else, then the searches (two detector runs,
    3-4 ms at 720p) come every QUIET_SEARCH_EVERY frames instead of every SEARCH_EVERY;
    lp_d19's talking head (lips, blinks, small moves) slows them down too."""
    still = [read_frames(media("lp_d10.mp4"), 1)[0]] * 150
    talking = read_frames(media("lp_d19.mp4"), 150)
    for frames in (still, talking):
        detector = FaceMeshDetector(4)
        searches = []
        find = detector._graph._find
        detector._graph._find = lambda image: searches.append(1) or find(image)
        try:
            assert all(len(detector.detect(frame)) == 1 for frame in frames)
        finally:
            detector.close()
        round_of_searches = 1 + QUIET_SEARCHES * SEARCH_EVERY
        assert len(searches) <= 1 + QUIET_SEARCHES + (len(frames) - round_of_searches) // QUIET_SEARCH_EVERY + 1, \
            len(searches)


def test_two_squares_on_one_face_keep_one_face():
    """A second followed square that drifted onto the same face as the first (two faces
    crossing) holds the same face: one face comes back, not two copies of it."""
    frame = read_frames(media("lp_d10.mp4"), 1)[0]
    detector = FaceMeshDetector(4)
    try:
        assert len(detector.detect(frame)) == 1
        followed = detector._graph._followed
        first = followed[0]
        detector._graph._followed = followed + [mediapipe_graphs.ReadSquare(first.cx + 4, first.cy, first.width,
                                                                            first.height, first.rotation)]
        assert len(detector.detect(frame)) == 1
        assert len(detector._graph._followed) == 1
    finally:
        detector.close()


def test_a_large_face_is_read_on_a_scaled_crop_as_on_the_frame():
    """A close-up on a 2048x2048 frame (lp_d10 scaled up four times): the crop around the
    face is larger than CROP_MAX_SIDE and is scaled down before the model reads it; the mesh
    lands where mediapipe's own graph puts it on the clip's own frame (within 1.5% of the
    face's size)."""
    small = read_frames(media("lp_d10.mp4"), 1)[0]
    frame = cv2.resize(small, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    reference = _mediapipe_video([small], 1)[0][0] * 4
    detector = FaceMeshDetector(1)
    try:
        faces = detector.detect(frame)
        square = detector._graph._followed[0]
    finally:
        detector.close()
    assert len(faces) == 1
    assert square.width > face_mesh.CROP_MAX_SIDE
    assert float(np.abs(faces[0].points - reference).mean()) / _size(reference) < 0.015


def test_four_small_faces_are_found_through_the_tiles():
    """Four people on a 720p camera (the bundled portrait, four times, as `faceswap bench
    --faces 4` draws it): mediapipe's detector on the whole frame finds none of them (each
    face is about 15 pixels at its 128-pixel input); the searches, each adding one quarter
    tile in turn, find all four within four searches."""
    from faceswap_core.commands.bench import compose
    from faceswap_core.commands.demo import sample_pictures

    frame = compose(sample_pictures()[1], 720, 4)
    whole = FaceMeshDetector(4, static=True)
    try:
        assert len(whole.detect(frame)) == 0
    finally:
        whole.close()
    detector = FaceMeshDetector(4)
    try:
        counts = [len(detector.detect(frame)) for _ in range(4 * SEARCH_EVERY + 1)]
    finally:
        detector.close()
    assert counts[3 * SEARCH_EVERY] == 4, counts   # the fourth search (frames 0, 10, 20, 30)
    assert counts == sorted(counts), counts       # a face found stays followed


def test_landmarks_read_from_their_bytes_equal_the_fields():
    """The points read from the serialized landmark list are the protobuf's own floats, bit
    for bit, on a real face; a list whose landmarks carry more fields (visibility, as hands'
    and poses' do) is read field by field, also right."""
    from mediapipe.framework.formats import landmark_pb2

    frame = read_frames(media("lp_d3.mp4"), 1)[0]
    graph = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
    try:
        landmarks = graph.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).multi_face_landmarks[0]
    finally:
        graph.close()
    fields = np.array([(p.x, p.y) for p in landmarks.landmark], dtype=np.float32)
    assert fields.shape == (478, 2)
    assert np.array_equal(mediapipe_graphs.normalized_points(landmarks), fields)
    richer = landmark_pb2.NormalizedLandmarkList()
    richer.CopyFrom(landmarks)
    richer.landmark[5].visibility = 0.5
    assert np.array_equal(mediapipe_graphs.normalized_points(richer), fields)
    depth = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)
    assert np.array_equal(mediapipe_graphs.normalized_points(landmarks, depth=True), depth)
    assert np.array_equal(mediapipe_graphs.normalized_points(richer, depth=True), depth)


def test_the_landmark_graph_finds_its_model_when_it_is_the_first_graph_in_the_process(tmp_path):
    """The landmark graph is not one of mediapipe's SolutionBase graphs, which set where
    mediapipe's .tflite files are; it opens its model when its run starts, on mediapipe's
    own threads. Made first in a process (a test asking for the video mesh before anything
    else), it failed to load its model or not by which thread came first. In a fresh
    process, made alone and left to open: it reads the face."""
    import json
    import subprocess
    import sys

    frame = read_frames(media("lp_d3.mp4"), 1)[0]
    detector = FaceMeshDetector(1)
    try:
        assert detector.detect(frame)
        square = detector._graph._followed[0]
    finally:
        detector.close()
    np.save(tmp_path / "frame.npy", frame)
    height, width = frame.shape[:2]
    code = f"""
import json, time, sys
import numpy as np
from faceswap_core.vision import face_mesh, mediapipe_graphs
from mediapipe.python import packet_creator
reader = mediapipe_graphs.LandmarkReader(face_mesh._LANDMARK_GRAPH, {{"with_attention": packet_creator.create_bool(True)}})
time.sleep(1.0)   # the run has started and its model loader has opened (or failed to)
frame = np.load({str(tmp_path / "frame.npy")!r})
square = mediapipe_graphs.ReadSquare(*json.loads(sys.argv[1]))
found = reader.read([(mediapipe_graphs.rgb(frame), square.rect(0, 0, {width}, {height}))])
print("landmarks" if found[0][0] is not None else "none")
"""
    result = subprocess.run([sys.executable, "-c", code, json.dumps([square.cx, square.cy, square.width,
                                                                     square.height, square.rotation])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("landmarks"), result.stdout + result.stderr[-2000:]
