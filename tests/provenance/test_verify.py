"""`faceswap verify` on what `faceswap swap` writes, after the encodes a stream or an upload
puts it through (ffmpeg's x264 with one thread, so every run encodes the same bytes)."""

from __future__ import annotations

import json
import subprocess

import cv2
import pytest

from faceswap_core.media import ffmpeg_executable
from testkit.cli import run
from testkit.encodes import encode, rate, swapped_clip
from testkit.judge import media


def verify(*paths) -> tuple[int, list[dict]]:
    result = run("verify", "--json", *paths)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    clip_720, session = swapped_clip(folder, (1280, 720))
    clip_1080, session_1080 = swapped_clip(folder, (1920, 1080))
    return folder, clip_720, session, clip_1080, session_1080


def test_the_mark_survives_stream_encodes(clips):
    folder, clip_720, session, clip_1080, session_1080 = clips
    assert session and session_1080 and session != session_1080
    assert cv2.VideoCapture(clip_720).get(cv2.CAP_PROP_FRAME_WIDTH) == 1280
    encodes = {
        "720p x264 veryfast 2.5 Mbit/s": (encode(clip_720, folder / "cbr.mp4", *rate("2500k")), session),
        "720p x264 veryfast CRF 28": (encode(clip_720, folder / "crf28.mp4", "-crf", "28"), session),
        "1080p 6 Mbit/s, then 720p 2.5 Mbit/s": (
            encode(encode(clip_1080, folder / "1080.mp4", *rate("6000k")), folder / "1080-720.mp4", *rate("2500k"),
                   size=(1280, 720)), session_1080),
    }
    for name, (path, expected) in encodes.items():
        status, (report,) = verify(path)
        assert status == 0, (name, report)
        assert report["mark"]["session"] == expected, name
        assert report["mark"]["windows_read"] == 3 and report["mark"]["windows_decoded"] >= 2, (name, report)


def test_the_frames_after_the_last_whole_second_are_read(clips, tmp_path):
    """A clip of 1.5 seconds: a second of the unmarked camera, then half a second of the
    marked swap. The half second joins the window before it; it was dropped, and nothing
    was found."""
    folder, clip_720, session, _, _ = clips
    second = round(cv2.VideoCapture(clip_720).get(cv2.CAP_PROP_FPS))
    half = second // 2
    joined = str(tmp_path / "joined.mp4")
    graph = (f"[0:v]trim=end_frame={second},setpts=PTS-STARTPTS,setsar=1[a];"
             f"[1:v]trim=start_frame={second}:end_frame={second + half},setpts=PTS-STARTPTS,setsar=1[b];"
             "[a][b]concat=n=2:v=1[v]")
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", "-i", str(folder / "in-1280x720.mp4"), "-i", clip_720,
                    "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-threads", "1", "-crf", "12",
                    "-pix_fmt", "yuv420p", joined], check=True)
    status, (report,) = verify(joined)
    assert status == 0 and report["mark"]["session"] == session, report
    assert report["mark"]["windows_read"] == 1 and report["mark"]["frames_read"] == second + half, report


def test_unmarked_video_verifies_as_nothing_found(clips, tmp_path):
    folder = clips[0]
    unmarked = encode(folder / "in-1280x720.mp4", tmp_path / "unmarked.mp4", *rate("2500k"))
    result = run("verify", unmarked)
    assert result.returncode == 1
    assert "nothing found" in result.stdout and "proves nothing" in result.stdout
    no_mark, session = swapped_clip(tmp_path, (1280, 720), "--no-mark", "--no-credentials")
    assert not session
    status, (report,) = verify(no_mark)
    assert status == 1 and not report["mark"]["found"] and report["mark"]["windows_read"] == 3


def test_pictures_and_a_folder(tmp_path):
    for name in ("swapped.png", "swapped.jpg"):
        result = run("swap", "--source", media("fr_obama.jpg"), "--input", media("if_t1.jpg"),
                     "--output", tmp_path / name)
        assert result.returncode == 0, result.stderr
    (tmp_path / "notes.txt").write_text("not a picture")
    original = tmp_path / "original.jpg"
    original.write_bytes(media("if_t1.jpg").read_bytes())
    status, reports = verify(tmp_path)
    found = {report["path"].rsplit("/", 1)[1]: report["mark"]["found"] for report in reports}
    assert found == {"original.jpg": False, "swapped.jpg": True, "swapped.png": True}
    assert status == 1                      # one file says nothing
    assert verify(tmp_path / "swapped.jpg")[0] == 0
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    result = run("verify", broken)
    assert result.returncode == 1 and "could not read its picture" in result.stdout
