"""The worker process, for real: a channel (the memfd it inherits, or a file), `python -m
faceswap_core.worker`, the engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from faceswap_core import link
from faceswap_core.link import layout, memory
from testkit.judge import FaceJudge, identity_distance, media

from testkit.worker_channel import hand_over, read_result, start_worker, wait_until


@pytest.fixture
def target():
    capture = cv2.VideoCapture(str(media("lp_d3.mp4")))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


@pytest.mark.parametrize("kind", ["channel", "channel_file"])
def test_worker_swaps_frames_through_the_channel(kind, request, target):
    channel = request.getfixturevalue(kind)
    channel.write_settings({"engine": "landmark", "source_photo": str(media("fr_obama.jpg")), "face_index": 0})
    worker = start_worker(channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        assert channel.get("worker_pid") == worker.pid
        if channel.path is None:   # it maps the memfd it inherited, under the same number
            assert os.readlink(f"/proc/{worker.pid}/fd/{channel.pass_fds[0]}").startswith(f"/memfd:{memory.MEMFD_NAME}")
        frame = cv2.cvtColor(target, cv2.COLOR_BGR2BGRA)
        for _ in range(3):
            hand_over(channel, frame)
            wait_until(channel.worker_free, what="the frame to be processed")
        assert channel.get("out_seq") == 3
        assert "smiling broadly" in channel.note() and channel.error() == ""   # the photo's tip, not an error
        result = read_result(channel)
        assert result.shape == frame.shape
        assert (result[:, :, 3] == 255).all()
        assert channel.get("out_faces") == 1 and channel.get("process_us") > 0
        assert channel.get("out_in_time_ns") == channel.get("in_time_ns")
        judge = FaceJudge()
        source = judge.largest(cv2.imread(str(media("fr_obama.jpg"))))
        before = identity_distance(judge.largest(target).descriptor, source.descriptor)
        after = identity_distance(judge.largest(np.ascontiguousarray(result[:, :, :3])).descriptor, source.descriptor)
        assert after < before
        # live settings: swap off -> the worker stops wanting frames
        channel.write_settings({"engine": "landmark", "source_photo": "", "face_index": 0})
        wait_until(lambda: channel.state() == link.STATE_NO_SOURCE, timeout=30, what="the no-source state")
        assert "source photo" in channel.error() and channel.note() == ""
    finally:
        worker.stdin.close()   # EOF: the worker exits by itself
        assert worker.wait(10) == 0
    assert channel.state() == link.STATE_STOPPED
    assert channel.path is None or os.path.exists(channel.path), "the worker removed a file whose owner is alive"


def test_worker_reports_an_unusable_photo_and_keeps_running(channel, tmp_path):
    channel.write_settings({"source_photo": str(tmp_path / "missing.jpg")})
    worker = start_worker(channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_ERROR, what="the error state")
        assert channel.error() and "\n" not in channel.error()
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()


def _grey_wall(folder):
    """A photo with no face in it."""
    path = folder / "wall.png"
    cv2.imwrite(str(path), np.full((300, 300, 3), 128, np.uint8))
    return path


def _judged_photo():
    """The dlib judge and its view of fr_obama.jpg's face."""
    judge = FaceJudge()
    return judge, judge.largest(cv2.imread(str(media("fr_obama.jpg")))).descriptor


def _swapped_distance(channel, frame, judge, photo) -> float:
    """One frame through the worker: the judge's distance from its swapped face to `photo`."""
    hand_over(channel, frame)
    wait_until(channel.worker_free, what="the frame to be processed")
    assert channel.get("out_faces") == 1, "a frame came out unswapped"
    return identity_distance(judge.largest(np.ascontiguousarray(read_result(channel)[:, :, :3])).descriptor, photo)


def test_a_photo_that_cannot_be_worn_keeps_the_face_worn_before(channel, target, tmp_path):
    """A photo picked while streaming that cannot be worn (no face in it, gone from disk):
    the status line says why, and the face worn until then stays on, not the camera's own
    face. A usable photo then takes over and the error goes."""
    no_face = _grey_wall(tmp_path)
    first = {"engine": "landmark", "source_photo": str(media("fr_obama.jpg")), "face_index": 0}
    channel.write_settings(first)
    worker = start_worker(channel)
    frame = cv2.cvtColor(target, cv2.COLOR_BGR2BGRA)
    judge, photo = _judged_photo()

    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        worn = _swapped_distance(channel, frame, judge, photo)
        for unusable in (no_face, tmp_path / "gone.jpg"):
            channel.write_settings({**first, "source_photo": str(unusable)})
            wait_until(lambda: unusable.name in channel.error(), timeout=30, what="the photo's error")
            assert channel.state() == link.STATE_RUNNING, channel.error()
            assert "worn before stays on" in channel.error()
            assert abs(_swapped_distance(channel, frame, judge, photo) - worn) < 0.05, "the face worn before is no longer on"
        channel.write_settings({**first, "source_photo": str(media("if_t1.jpg"))})
        wait_until(lambda: channel.error() == "", timeout=30, what="the error to go with a usable photo")
        assert channel.state() == link.STATE_RUNNING
        assert _swapped_distance(channel, frame, judge, photo) > worn + 0.05, "the usable photo did not take over"
    finally:
        worker.stdin.close()
        assert worker.wait(10) == 0


def test_worker_rejects_bad_frame_geometry(channel, target):
    channel.write_settings({"source_photo": str(media("fr_obama.jpg"))})
    worker = start_worker(channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        channel.set("in_width", 5000)
        channel.set("in_height", 5000)
        channel.set("in_stride", 20000)
        channel.set("in_seq", channel.get("in_seq") + 1)
        wait_until(channel.worker_free, timeout=30, what="the bad frame to be refused")
        assert "does not fit" in channel.error()
        assert channel.get("out_seq") == 0 and worker.poll() is None
    finally:
        worker.kill()
        worker.wait()


def test_worker_refuses_a_bad_header_without_touching_memory(channel):
    channel.mm[0:8] = b"GARBAGE\x00"
    before = bytes(channel.mm[:layout.HEADER_SIZE])
    worker = start_worker(channel)
    assert worker.wait(30) == 2
    assert b"magic" in worker.stderr.read()
    assert bytes(channel.mm[:layout.HEADER_SIZE]) == before


def test_worker_exits_when_the_file_is_removed(channel_file):
    worker = start_worker(channel_file, "--no-stdin-watch")
    wait_until(lambda: channel_file.get("worker_pid") == worker.pid, what="the worker to attach")
    os.unlink(channel_file.path)
    assert worker.wait(10) == 0


@pytest.mark.parametrize("kind", ["channel", "channel_file"])
def test_worker_exits_when_its_owner_is_gone_and_removes_a_file(kind, request):
    channel = request.getfixturevalue(kind)
    ghost = subprocess.Popen([sys.executable, "-c", "pass"])
    ghost.wait()
    worker = start_worker(channel, "--no-stdin-watch", owner=ghost.pid)
    assert worker.wait(30) == 0
    assert channel.path is None or not os.path.exists(channel.path)


def test_worker_marks_what_it_swaps_and_nothing_else(channel, target):
    """The invisible mark (and the label when chosen) go on swapped frames only: with the
    swap switched off the camera comes back exactly as it went in."""
    from faceswap_core.provenance import mark

    settings = {"engine": "landmark", "source_photo": str(media("fr_obama.jpg")), "face_index": 0}
    channel.write_settings(settings)
    worker = start_worker(channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        assert "marked (session " in channel.note()
        frame = cv2.cvtColor(target, cv2.COLOR_BGR2BGRA)
        hand_over(channel, frame)
        wait_until(channel.worker_free, what="the frame to be processed")
        reading, _ = mark.read_picture(np.ascontiguousarray(read_result(channel)[:, :, :3]))
        assert reading is not None and reading.session in channel.note()
        channel.write_settings({**settings, "enabled": False})
        seq = channel.get("out_seq")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:   # frames until one shows the new setting
            hand_over(channel, frame)
            wait_until(channel.worker_free, what="the frame to be processed")
            if np.array_equal(read_result(channel), frame):
                break
        assert np.array_equal(read_result(channel), frame), "a switched-off swap must pass frames through untouched"
        assert channel.get("out_seq") > seq
    finally:
        worker.stdin.close()
        assert worker.wait(10) == 0


def test_the_status_line_says_when_a_hand_is_kept_in_front(channel):
    """A real worker fed occ_wave's frames: the note names the kept hand while the hand
    is over the face, and stops naming it once the frames without it have run a second."""
    from testkit.judge import read_frames

    # 540x720, scaled to fit the test channel's 512x512
    frames = [cv2.resize(frame, (384, 512), interpolation=cv2.INTER_AREA) for frame in read_frames(media("occ_wave.mp4"))]
    channel.write_settings({"engine": "landmark", "source_photo": str(media("fr_obama.jpg")), "face_index": 0})
    worker = start_worker(channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        said = []
        for frame in frames[:30]:   # the hand crosses the face from frame ~15
            hand_over(channel, cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))
            wait_until(channel.worker_free, what="the frame to be processed")
            said.append("hand in front of the face" in channel.note())
        assert not any(said[:10]) and any(said[15:]), said
        # the frames after the wave, for over a second of the frames' own clock
        for frame in frames[45:] * 4:
            hand_over(channel, cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))
            wait_until(channel.worker_free, what="the frame to be processed")
        assert "hand in front" not in channel.note(), channel.note()
    finally:
        worker.stdin.close()
        assert worker.wait(10) == 0


def test_a_list_of_faces_is_prepared_once_and_switched_without_a_gap(channel, target, tmp_path):
    """A real worker with the source photo and two more faces, one of them unusable: the
    usable ones are prepared when the list arrives, the unusable one is named in the status
    line without stopping the swap, and a switch of the face in use (what a hotkey does)
    wears the other face on the very next frame, never an unswapped one, with the status
    line naming it. (The landmark engine moves the judge's identity to fr_obama.jpg's
    clearly, to if_t1.jpg's hardly: the switch shows as leaving the first face.) The switch must not prepare the face again: a photo prepared once
    lives in the worker, so the file can even be gone by then."""
    import shutil

    second = tmp_path / "second.jpg"
    shutil.copy(media("if_t1.jpg"), second)
    no_face = _grey_wall(tmp_path)
    faces = {"engine": "landmark", "source_photo": str(media("fr_obama.jpg")), "face_index": 0,
             "more_faces": [str(second), str(no_face)], "face_in_use": 0}
    channel.write_settings(faces)
    worker = start_worker(channel)
    frame = cv2.cvtColor(target, cv2.COLOR_BGR2BGRA)
    judge, photo = _judged_photo()

    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        note = channel.note()
        assert "face 0 of 3: fr_obama.jpg" in note and "face 2 (wall.png) is not ready" in note, note
        first = _swapped_distance(channel, frame, judge, photo)
        second.unlink()   # prepared already: the switch must not need the file
        channel.write_settings({**faces, "face_in_use": 1})
        wait_until(lambda: "face 1 of 3: second.jpg" in channel.note(), timeout=30, what="the switch")
        after = _swapped_distance(channel, frame, judge, photo)
        assert after > first + 0.15, (first, after)   # no longer the first photo's face
        channel.write_settings({**faces, "face_in_use": 0})
        wait_until(lambda: "face 0 of 3: fr_obama.jpg" in channel.note(), timeout=30, what="the switch back")
        back = _swapped_distance(channel, frame, judge, photo)
        assert abs(back - first) < 0.05, (first, back)
        assert channel.state() == link.STATE_RUNNING and channel.error() == ""
    finally:
        worker.stdin.close()
        assert worker.wait(10) == 0
