"""Video files through `faceswap swap`: read as ffmpeg decodes them (upright, in their own
4:2:0 planes and colour matrix), written back with only the swapped pixels changed and the
input's colour tags kept. Real ffmpeg processes, the real landmark engine, real clips."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap_core import media
from faceswap_core.commands.swap import Render
from faceswap_core.link import pixel_formats as pf
from faceswap_core.provenance.stamp import OutputStamp
from faceswap_core.worker import pixel_convert
from testkit.cli import run
from testkit.judge import media as media_file


def _stream_line(path: Path) -> str:
    """ffmpeg's own description of the file's video stream (its words, not our parser's)."""
    said = subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True).stderr
    return next(line for line in said.splitlines() if " Video: " in line)


def _raw_planes(path: Path, frames: int, pixel_format: str = "yuv420p") -> np.ndarray:
    """The first frames as ffmpeg decodes them, straight to raw bytes (the independent reference)."""
    raw = subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", pixel_format, "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(frames, -1)


def test_the_colour_matrix_is_the_standards():
    # BT.601 limited range written out from the standard (as tests/worker/test_pixel_convert does)
    ky, krv, kgu, kgv, kbu = 255 / 219, 1.402 * 255 / 224, -0.344136 * 255 / 224, -0.714136 * 255 / 224, 1.772 * 255 / 224
    written = (ky, 0.0, krv, -ky * 16 / 255 - krv * 128 / 255,
               ky, kgu, kgv, -ky * 16 / 255 - (kgu + kgv) * 128 / 255,
               ky, kbu, 0.0, -ky * 16 / 255 - kbu * 128 / 255)
    assert np.allclose(pixel_convert.yuv_matrix(0.299, 0.114, False), written, atol=2e-5)


@pytest.mark.parametrize("space, full", [("bt709", True), ("bt709", False), ("bt470bg", True)])
def test_a_frame_ffmpeg_converted_reads_back_as_the_photo(space, full):
    """ffmpeg turns a real photo into 4:4:4 YUV with a named matrix and range; ours reads it
    back within a rounding step."""
    photo = cv2.resize(cv2.imread(str(media_file("fr_obama.jpg"))), (320, 240), interpolation=cv2.INTER_AREA)
    raw = subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
                          "-pix_fmt", "bgr24", "-s", "320x240", "-i", "-", "-vf",
                          f"scale=out_color_matrix={space.replace('bt470bg', 'bt601')}:out_range={'full' if full else 'tv'}"
                          ":flags=accurate_rnd+full_chroma_int", "-f", "rawvideo", "-pix_fmt", "yuv444p", "-"],
                         input=photo.tobytes(), capture_output=True, check=True).stdout
    planes = list(np.frombuffer(raw, np.uint8).reshape(3, 240, 320))
    back = pixel_convert.to_bgr(planes, pf.I444, 320, 240, media.VideoStream(
        "yuv444p", 320, 240, full_range=full, space=space).matrix)
    error = np.abs(back.astype(int) - photo)
    assert error.mean() < 0.8 and np.percentile(error, 99.5) <= 3, (error.mean(), error.max())


def test_a_tagged_clips_frames_come_as_its_planes_and_its_matrix():
    clip = media_file("lp_d12.mp4")             # tagged BT.601 (smpte170m), limited range
    source = media.VideoFileSource(str(clip))
    assert (source.stream.pixel_format, source.stream.space, source.stream.full_range) == ("yuv420p", "smpte170m", False)
    reference = _raw_planes(clip, 3)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 3:
            break
    source.close()
    for frame, raw in zip(frames, reference):
        assert np.array_equal(np.concatenate([plane.ravel() for plane in frame.planes]), raw)
        # OpenCV's own BT.601 limited-range decoder of the same bytes: the second reference
        opencv = cv2.cvtColor(raw.reshape(-1, 512), cv2.COLOR_YUV2BGR_I420)
        assert np.abs(frame.image.astype(int) - opencv).mean() < 1.5


def test_the_swap_changes_only_the_pixels_it_swapped():
    """Render writes back into the decoded planes: where the engine left the picture alone,
    every Y, U and V byte is the decoder's own (no round trip through BGR)."""
    from faceswap_core.engines.landmark import LandmarkEngine

    clip = media_file("lp_d10.mp4")
    source = media.VideoFileSource(str(clip))
    engine = LandmarkEngine()
    engine.set_source_file(str(media_file("fr_obama.jpg")), 0)
    render = Render(None, source, None, OutputStamp({"mark": False, "label": False}))
    reference = _raw_planes(clip, 8)
    width, height = source.stream.width, source.stream.height
    swapped_frames = 0
    try:
        for index, frame in enumerate(source.frames()):
            before = frame.image.copy()
            result = engine.begin(frame.image, frame.timestamp).result()
            render.take(frame, result, engine.last_report)
            decoded = pixel_convert.plane_views(reference[index], 0, pf.I420, width, height,
                                                (width, width // 2, width // 2))
            changed = np.any(result != before, axis=2)
            luma_moved = frame.planes[0] != decoded[0]
            assert not luma_moved[~changed].any(), "a pixel the swap did not change was rewritten"
            chroma_changed = cv2.resize(changed.astype(np.uint8) * 255, (width // 2, height // 2),
                                        interpolation=cv2.INTER_AREA) > 0
            for plane, original in zip(frame.planes[1:], decoded[1:]):
                assert np.array_equal(plane[~chroma_changed], original[~chroma_changed])
            if changed.mean() > 0.05:
                swapped_frames += 1
                assert luma_moved[changed].mean() > 0.3   # and the swap itself went out
            if index == 7:
                break
    finally:
        source.close()
        engine.close()
    assert swapped_frames >= 6


@pytest.mark.parametrize("clip, expected", [("lp_d12.mp4", "yuv420p(tv, smpte170m/smpte170m/bt709"),
                                            ("occ_wave.mp4", "yuvj420p(pc"), ("lp_d10.mp4", "yuv420p(tv, bt709")])
def test_the_output_keeps_the_inputs_colour_tags(tmp_path, clip, expected):
    """And its square pixels (lp_d12 and lp_d10 say SAR 1:1, occ_wave nothing): no other shape."""
    assert expected in _stream_line(media_file(clip))
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media_file("fr_obama.jpg"), "--input", media_file(clip), "--output", output,
                 "--max-frames", "5", "--no-credentials")
    assert result.returncode == 0, result.stderr
    line = _stream_line(output)
    assert expected in line
    assert "SAR" not in line or "SAR 1:1" in line, line


@pytest.mark.parametrize("pixel_format", ["yuv420p", "yuv444p"])
def test_the_output_keeps_the_shape_of_the_inputs_pixels(tmp_path, pixel_format):
    """Anamorphic video (HDV's 1440x1080 shown as 16:9, DV, some capture cards) stores
    pixels that are not square and says so; a player stretches it by that. The output must
    say the same, or it shows squeezed. (Square pixels stay square: the colour tags' test.)"""
    clip = tmp_path / "anamorphic.mp4"
    subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-i",
                    str(media_file("lp_d19.mp4")), "-t", "0.3", "-vf", "scale=480:360,setsar=4/3", "-c:v", "libx264",
                    "-pix_fmt", pixel_format, "-crf", "12", str(clip)], check=True)
    assert "SAR 4:3 DAR 16:9" in _stream_line(clip)
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media_file("fr_obama.jpg"), "--input", clip, "--output", output,
                 "--no-credentials")
    assert result.returncode == 0, result.stderr
    assert "SAR 4:3 DAR 16:9" in _stream_line(output), _stream_line(output)


def test_a_rotated_phone_clip_comes_out_upright(tmp_path):
    """A phone stores a portrait clip sideways with a rotation to show it by; players turn
    it, so the swap does too (the face is found upright) and writes it upright."""
    rotated = tmp_path / "rotated.mp4"
    made = subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-display_rotation", "90",
                           "-i", str(media_file("lp_d19.mp4")), "-t", "1", "-c", "copy", str(rotated)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this ffmpeg cannot write a rotation ({made.stderr.strip()[-200:]})")
    sideways = tmp_path / "sideways.mp4"   # the same frames turned for real: stored as the viewer sees them
    subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-i", str(rotated), "-t", "1",
                    "-c:v", "libx264", "-crf", "12", str(sideways)], check=True)
    shown = cv2.VideoCapture(str(sideways)).read()[1]
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media_file("fr_obama.jpg"), "--input", rotated, "--output", output,
                 "--no-credentials")
    assert result.returncode == 0, result.stderr
    assert "all swapped" in result.stdout, result.stdout
    written = cv2.VideoCapture(str(output)).read()[1]
    assert written.shape == shown.shape
    assert np.abs(written.astype(int) - shown)[:, :40].mean() < 4   # the edge, far from the face: same picture


def test_a_clip_that_is_not_420_goes_through_bgr(tmp_path):
    """4:4:4 (screen recordings, some editors' exports) is read as BGR and written as 4:2:0."""
    clip = tmp_path / "full_chroma.mp4"
    subprocess.run([media.ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-i",
                    str(media_file("lp_d19.mp4")), "-t", "0.5", "-c:v", "libx264", "-pix_fmt", "yuv444p",
                    "-crf", "12", str(clip)], check=True)
    assert "yuv444p" in _stream_line(clip)
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media_file("fr_obama.jpg"), "--input", clip, "--output", output,
                 "--no-credentials")
    assert result.returncode == 0, result.stderr
    assert "all swapped" in result.stdout, result.stdout
    assert "yuv420p" in _stream_line(output)
    original, written = (cv2.VideoCapture(str(path)).read()[1] for path in (clip, output))
    assert written.shape == original.shape
    assert np.abs(written.astype(int) - original)[:, :40].mean() < 4


def test_a_damaged_video_says_so_and_leaves_no_ffmpeg_behind(tmp_path):
    """A file cut right after its header, one of noise, one whose pictures are zeroed (its
    header intact):
    `swap` and `verify` each end with a line that says what is wrong, no traceback, and the
    source's ffmpeg pipe is stopped when its reader leaves it early (media.RawFrames)."""
    clip = tmp_path / "clip.mp4"
    subprocess.run([media.ffmpeg_executable(), "-v", "error", "-y", "-i", str(media_file("lp_d10.mp4")), "-t", "1",
                    "-an", "-c:v", "libx264", "-movflags", "+faststart", str(clip)], check=True)
    data = clip.read_bytes()
    pictures = data.find(b"mdat") + 4
    (tmp_path / "cut.mp4").write_bytes(data[:pictures + 100])
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    (tmp_path / "zeroed.mp4").write_bytes(data[:pictures] + bytes(len(data) - pictures))
    for name in ("cut.mp4", "noise.mp4", "zeroed.mp4"):
        swapped = run("swap", "--source", media_file("fr_obama.jpg"), "--input", tmp_path / name,
                      "--output", tmp_path / f"out-{name}")
        assert swapped.returncode != 0 and "Traceback" not in swapped.stderr, swapped.stderr[-2000:]
        assert f"'{name}' could not be" in swapped.stderr, swapped.stderr[-2000:]
        verified = run("verify", tmp_path / name)
        assert "Traceback" not in verified.stderr + verified.stdout, verified.stderr[-2000:]
        assert "could not read its pictures: " in verified.stdout, verified.stdout

    source = media.VideoFileSource(str(clip))
    frames = source.frames()
    next(frames)
    process = source._frames._process
    frames.close()   # the reader leaves after one frame
    assert source._frames._process is None and process.poll() is not None
