"""`faceswap verify` where the marked picture no longer fills the frame, as reposts,
players and short-video platforms make it: cropped and scaled back up, letterboxed,
pillarboxed, placed small inside a larger frame, reframed to 9:16 over bars or a blurred
fill; each after x264 at 2.5 Mbit/s (one thread: the same bytes every run), and VP9 at
500 kbit/s. The same transforms of unmarked clips, and pictures made to look like a grid,
must not decode."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from faceswap_core.media import ffmpeg_executable
from testkit.cli import run
from testkit.encodes import REFRAMES, rate, reframed, swapped_clip

ON_1080 = ("crop 4% a side, scaled back", "at 50% inside another clip")
UNMARKED = ("crop 4% a side, scaled back", "9:16 over a blurred fill", "at 50% inside another clip",
            "at 40% of its size inside another clip")


def verify(path) -> tuple[int, dict]:
    result = run("verify", "--json", path)
    assert "Traceback" not in result.stderr, result.stderr
    (report,) = json.loads(result.stdout)
    return result.returncode, report


def transformed(clip: str, folder, name: str, size: tuple[int, int], target_name: str, *settings) -> str:
    return reframed(clip, folder / target_name, REFRAMES[name], *settings, size=size)


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("geometry")
    clips = {size: swapped_clip(folder, size) for size in ((1280, 720), (1920, 1080), (960, 720))}
    assert all(session for _, session in clips.values())
    return folder, clips


@pytest.mark.parametrize("size,name", [((1280, 720), name) for name in REFRAMES]
                         + [((1920, 1080), name) for name in ON_1080])
def test_the_mark_is_found_where_the_picture_lies(marked, size, name):
    folder, clips = marked
    clip, session = clips[size]
    slug = f"{size[1]}-{abs(hash(name)) % 10 ** 8}.mp4"
    status, report = verify(transformed(clip, folder, name, size, slug, *rate("2500k")))
    assert status == 0 and report["mark"]["session"] == session, (name, report)
    assert report["mark"]["windows_decoded"] >= 2, (name, report)
    if "1%" not in name:   # (a 1% crop may still read over the whole frame)
        assert "picture at" in report["mark"]["placed"], report["mark"]


def test_a_pillarboxed_4_3_clip_and_a_vp9_500k_one(marked):
    folder, clips = marked
    clip, session = clips[(960, 720)]
    boxed = reframed(clip, folder / "pillarbox.mp4", "scale=1440:1080,pad=1920:1080:240:0", *rate("2500k"))
    status, report = verify(boxed)
    assert status == 0 and report["mark"]["session"] == session, report
    found = re.search(r"(\d+)x(\d+) picture at \((-?\d+), (-?\d+)\)", report["mark"]["placed"])
    assert found and np.allclose([int(v) for v in found.groups()], [1440, 1080, 240, 0], atol=3), report["mark"]
    clip, session = clips[(1280, 720)]
    # (on this 3 s clip a 1920x1080 letterbox, and a 9:16 reframe for some sessions, at
    # 500 kbit/s are not found; on the 9 s of BENCHMARKS.md they are)
    for graph, name in (("null", "vp9.webm"), (REFRAMES["crop 4% a side, scaled back"], "vp9-cropped.webm")):
        status, report = verify(reframed(clip, folder / name, graph, "-b:v", "500k", size=(1280, 720)))
        assert status == 0 and report["mark"]["session"] == session, (name, report)


def test_a_small_face_before_fairy_lights_keeps_its_mark_at_low_bitrates(tmp_path):
    """occ_wave (540x720, a small face before fairy lights): the lights' own detail, the same
    on every frame, correlated with the cells as strongly as the mark that VP9 at 500 kbit/s
    or 360p at 400 kbit/s leaves, until the reader weighed each cell by how quiet it is
    (mark.cell_weights). Its unmarked twin at the same rates still reads as nothing."""
    clip, session = swapped_clip(tmp_path, (540, 720), clip="occ_wave.mp4")
    assert session
    for name, graph, settings in (("wave.webm", "null", ("-b:v", "500k")),
                                  ("wave-360p.mp4", "scale=270:360", rate("400k"))):
        status, report = verify(reframed(clip, tmp_path / name, graph, *settings))
        assert status == 0 and report["mark"]["session"] == session, (name, report)
    status, report = verify(reframed(tmp_path / "in-540x720.mp4", tmp_path / "unmarked.webm", "null", "-b:v", "500k"))
    assert status == 1 and not report["mark"]["found"], report


def test_the_same_transforms_of_unmarked_clips_find_nothing(marked):
    folder, _ = marked
    unmarked = str(folder / "in-1280x720.mp4")
    for name in UNMARKED:
        status, report = verify(transformed(unmarked, folder, name, (1280, 720), f"u-{abs(hash(name)) % 10 ** 8}.mp4",
                                            *rate("2500k")))
        assert status == 1 and not report["mark"]["found"], (name, report)


def _pictures(frames: list[np.ndarray], path) -> str:
    """Frames (BGR) written as a lossless-ish x264 clip."""
    height, width = frames[0].shape[:2]
    import subprocess

    process = subprocess.Popen([ffmpeg_executable(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                                "-s", f"{width}x{height}", "-r", "30", "-i", "-", "-c:v", "libx264", "-threads", "1",
                                "-crf", "10", "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    process.communicate(b"".join(frame.tobytes() for frame in frames))
    assert process.returncode == 0
    return str(path)


def test_pictures_made_to_look_like_a_grid_find_nothing(tmp_path):
    """Noise, flat grey, colour bars, and grids of sine bumps the size of the mark's cells
    (every bump the same sign, and random signs that are not the mark's key): the grid
    search finds a grid in the last two; none decodes."""
    rng = np.random.default_rng(3)
    height, width = 720, 1280
    u = (np.arange(width) + 0.5) * 64 / width
    v = (np.arange(height) + 0.5) * 36 / height
    bumps = np.outer(np.sin(2 * np.pi * v), np.sin(2 * np.pi * u))
    signs = cv2.resize(rng.choice([-1.0, 1.0], (36, 64)), (width, height), interpolation=cv2.INTER_NEAREST)
    def frames(pattern):   # noqa: E306
        return [np.clip(pattern + rng.normal(0, 2, pattern.shape), 0, 255).astype(np.uint8) for _ in range(45)]
    grey = np.full((height, width, 3), 128.0)
    bars = np.repeat(np.repeat(np.array([[[192, 192, 192], [0, 192, 192], [192, 192, 0], [0, 192, 0],
                                          [192, 0, 192], [0, 0, 192], [192, 0, 0]]], float), height, 0),
                     width // 7 + 1, 1)[:, :width]
    cases = {"noise": [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(45)],
             "flat": frames(grey), "colour bars": frames(bars),
             "bumps, one sign": frames(grey + 4 * bumps[:, :, None]),
             "bumps, random signs": frames(grey + 4 * (bumps * signs)[:, :, None])}
    for name, pictures in cases.items():
        clip = _pictures(pictures, tmp_path / f"{name.replace(' ', '_').replace(',', '')}.mp4")
        status, report = verify(clip)
        assert status == 1 and not report["mark"]["found"], (name, report)
        # shrunk inside a frame, as a picture-in-picture would be
        boxed = reframed(clip, tmp_path / f"boxed-{status}-{len(name)}.mp4", "scale=640:360,pad=1280:720:300:200",
                         *rate("2500k"))
        status, report = verify(boxed)
        assert status == 1 and not report["mark"]["found"], (name, report)
