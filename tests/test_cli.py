"""The `faceswap` command as a user runs it: real processes, real files, one-line errors."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from testkit import visual_checks
from testkit.cli import FACESWAP, run
from testkit.judge import FaceJudge, identity_distance, media, read_frames



def _probe(path: Path) -> dict:
    from faceswap_core.media import ffmpeg_executable
    # ffmpeg -i prints stream info on stderr and exits 1 without an output: enough to read it.
    info = subprocess.run([ffmpeg_executable(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return {"audio": "Audio:" in info, "fps": next((part.split()[0] for part in info.split(",") if " fps" in part), None)}


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("faceswap:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_demo_writes_a_side_by_side_image(tmp_path):
    result = run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "faceswap-demo.png"
    assert str(written) in result.stdout
    image = cv2.imread(str(written))
    assert image is not None
    height, width = image.shape[:2]
    panel = (width - height) // 2       # square source panel, then target and result
    target, swapped = image[:, -2 * panel:-panel], image[:, -panel:]
    changed = np.abs(target.astype(int) - swapped.astype(int)).max(axis=2) > 30
    # Her face changed and nothing else did: measured on her skin (her glasses' frames,
    # which stay hers, and her hat are not skin), and past her face's outline grown by 30%.
    points = FaceJudge().landmarks(target)
    assert points is not None, "no face judged in the demo's target panel"
    outline = np.vstack([points[visual_checks.JAW], points[visual_checks.BROWS][::-1]])
    assert changed[visual_checks.skin(target.shape, points)].mean() > 0.12
    assert changed[~visual_checks.polygon_mask(target.shape, outline, 1.3)].mean() < 0.002


def test_swap_image_to_image(tmp_path):
    output = tmp_path / "out.png"
    frame = tmp_path / "frame.png"
    capture = cv2.VideoCapture(str(media("lp_d19.mp4")))
    ok, image = capture.read()
    capture.release()
    cv2.imwrite(str(frame), image)
    result = run("swap", "--source", media("fr_obama.jpg"), "--input", frame, "--output", output)
    assert result.returncode == 0, result.stderr
    assert "Tip: The photo's mouth is open or smiling broadly" in result.stderr
    swapped = cv2.imread(str(output))
    judge = FaceJudge()
    source = judge.largest(cv2.imread(str(media("fr_obama.jpg"))))
    before, after = judge.largest(image), judge.largest(swapped)
    assert identity_distance(after.descriptor, source.descriptor) < identity_distance(before.descriptor, source.descriptor)


def test_swap_video_keeps_fps_frames_and_audio(tmp_path):
    clip = media("lp_d19.mp4")
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media("fr_obama.jpg"), "--input", clip, "--output", output)
    assert result.returncode == 0, result.stderr
    original, produced = _probe(clip), _probe(output)
    assert original["audio"] and produced["audio"]
    assert produced["fps"] == original["fps"]
    count = lambda path: int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))  # noqa: E731
    assert count(output) == count(clip)
    assert f"({count(clip)} frames, all swapped;" in result.stdout, result.stdout


def test_video_without_audio_and_odd_size(tmp_path):
    clip = tmp_path / "odd.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 24, (321, 241))
    for index in range(10):
        writer.write(np.full((241, 321, 3), index * 20, dtype=np.uint8))
    writer.release()
    output = tmp_path / "out.mp4"
    result = run("swap", "--source", media("fr_obama.jpg"), "--input", clip, "--output", output)
    assert result.returncode == 0, result.stderr
    assert _probe(output)["audio"] is False
    assert int(cv2.VideoCapture(str(output)).get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    # flat grey frames: the closing line says none was swapped, and why
    assert "(10 frames: 0 swapped, 10 unswapped (no face was found: 10);" in result.stdout, result.stdout


@pytest.mark.parametrize("case, expected", [
    ("missing_source", "does not exist"),
    ("no_face_source", "No face was found"),
    ("bad_index", "choose a face index"),
    ("missing_input", "does not exist"),
    ("camera", "could not be opened"),
    ("bad_output", "Unknown output type"),
    ("nothing_to_do", "Nothing to do"),
    ("unknown_engine", None),
])
def test_errors_are_one_sentence(tmp_path, case, expected):
    source, frame = media("fr_obama.jpg"), media("lp_d19.mp4")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, dtype=np.uint8))
    args = {
        "missing_source": ["--source", tmp_path / "nope.jpg", "--input", frame, "--output", tmp_path / "o.mp4"],
        "no_face_source": ["--source", blank, "--input", frame, "--output", tmp_path / "o.mp4"],
        "bad_index": ["--source", source, "--face-index", "3", "--input", frame, "--output", tmp_path / "o.mp4"],
        "missing_input": ["--source", source, "--input", tmp_path / "nope.mp4", "--output", tmp_path / "o.mp4"],
        "camera": ["--source", source, "--input", "camera:57", "--output", tmp_path / "o.mp4"],
        "bad_output": ["--source", source, "--input", frame, "--output", tmp_path / "o.xyz"],
        "nothing_to_do": ["--source", source, "--input", frame],
        "unknown_engine": ["--source", source, "--input", frame, "--output", tmp_path / "o.mp4", "--engine", "nope"],
    }[case]
    result = run("swap", *args)
    if expected is None:   # argparse's own usage error names the valid choices
        assert result.returncode == 2 and "landmark" in result.stderr and "Traceback" not in result.stderr
        return
    assert expected in _one_line_error(result)


def test_bench_reports_every_stage_and_size(tmp_path):
    result = run("bench", "--frames", "5", "--warmup", "2", "--repeats", "1", "--heights", "480,720", "--faces", "1")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "x" in line.split("|")[1]]
    assert [row.split("|")[1].strip() for row in rows] == ["852x480", "1280x720"]
    header = [cell.strip() for cell in result.stdout.splitlines()[0].strip("|").split("|")]
    for stage in ("detect", "hands", "warp", "colour", "blend", "total", "cpu"):   # cpu: the process's, per frame
        assert f"{stage} ms" in header
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == "1/1"                       # the face was found
        # every stage takes time, but the hands' search: with no hand near the face it runs on
        # every other frame only (its median may round to 0), and nothing is kept in front
        assert all(float(value) > 0 for name, value in zip(header[2:], cells[2:])
                   if name not in ("hands ms", "in_front ms")), cells
    # the frames as OBS's read-back path hands them (BGRA): the face found and swapped just the same
    bgra = run("bench", "--frames", "3", "--warmup", "2", "--repeats", "1", "--heights", "480", "--faces", "1", "--bgra")
    assert bgra.returncode == 0, bgra.stderr
    assert [line.split("|")[2].strip() for line in bgra.stdout.splitlines() if line.startswith("| 852x480")] == ["1/1"]


def test_screen_capture_and_preview_on_a_virtual_display(tmp_path, display):
    env = {**os.environ, "DISPLAY": display}
    output = tmp_path / "screen.mp4"
    result = subprocess.run([*FACESWAP, "swap", "--source", str(media("fr_obama.jpg")), "--input", "screen:1",
                             "--output", str(output), "--preview", "--max-frames", "3"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(output))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (1920, 1200)


def test_preview_keys_cycle_the_faces_and_turn_the_swap_off_and_on():
    """The preview's keys on a real engine with two --source photos: n wears the second
    (prepared at the start: nothing is prepared at the key), n again goes round to the
    first, p back, 1 wears the second, the space bar shows the camera's own face and
    brings the swap back, a digit past the list and other keys change nothing."""
    from faceswap_core.commands.swap import FaceKeys
    from faceswap_core.engines import create_engine
    from faceswap_core.engines.base import listed_faces
    from testkit.judge import read_frames

    frame = read_frames(media("lp_d19.mp4"), 1)[0]
    photos = [str(media("fr_obama.jpg")), str(media("if_t1.jpg"))]
    engine = create_engine("landmark")
    try:
        for photo in photos[::-1]:
            engine.set_source_file(photo)
        worn = {}
        for index, photo in enumerate(photos):
            engine.set_source_file(photo)
            worn[index] = engine.process_image(frame)
        engine.set_source_file(photos[0])
        prepare = engine._prepare_source
        calls = []
        engine._prepare_source = lambda *a: calls.append(a) or prepare(*a)
        keys = FaceKeys(engine, listed_faces(photos[0], 0, (), photos[1:]))

        def shows() -> str:
            output = engine.process_image(frame)
            if np.array_equal(output, frame):
                return "camera"
            return next(str(index) for index, picture in worn.items() if np.array_equal(output, picture))

        assert shows() == "0"
        for key, expected in (("n", "1"), ("n", "0"), ("p", "1"), ("0", "0"), ("1", "1"), (" ", "camera"),
                              ("9", "camera"), (" ", "1"), ("x", "1"), ("9", "1")):
            keys.press(ord(key))
            assert shows() == expected, (key, expected)
        keys.press(None)
        assert shows() == "1" and calls == []
    finally:
        engine.close()


def test_the_preview_window_switches_faces_on_a_key(tmp_path, display):
    """`faceswap swap` on a clip with two --source and --preview, on a virtual display: n
    typed into the preview window (xdotool, as testkit.obs_gui types into OBS) switches the
    face from the next frames on; the frames written before wear the first photo, those
    after the second, none unswapped."""
    import shutil

    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is absent: apt-get install xdotool")
    clip = media("lp_d19.mp4")
    photos = [str(media("fr_obama.jpg")), str(media("if_t1.jpg"))]
    worn = {}
    for index, photo in enumerate(photos):   # each face alone, for reference
        out = tmp_path / f"alone{index}.mp4"
        assert run("swap", "--source", photo, "--input", str(clip), "--output", str(out), "--max-frames", "90",
                   "--no-mark").returncode == 0
        worn[index] = read_frames(out)
    env = {**os.environ, "DISPLAY": display}
    output = tmp_path / "switched.mp4"
    process = subprocess.Popen([*FACESWAP, "swap", "--source", photos[0], "--source", photos[1], "--input", str(clip),
                                "--output", str(output), "--max-frames", "90", "--no-mark", "--preview"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # mapped, not only created: focus on a window not yet shown fails (X's BadMatch)
        window = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name",
                                 "faceswap preview \\(n/p: face"],
                                env=env, capture_output=True, text=True, timeout=120).stdout.split()[0]
        time.sleep(0.5)   # some frames with the first face
        deadline = time.monotonic() + 60
        while subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, capture_output=True,
                             timeout=60).returncode != 0:
            assert time.monotonic() < deadline and process.poll() is None, "the preview never took the focus"
            time.sleep(0.2)
        subprocess.run(["xdotool", "key", "n"], env=env, check=True, timeout=60)
        _, errors = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    frames = read_frames(output)
    closer = [int(np.abs(frame.astype(int) - worn[1][index]).mean() < np.abs(frame.astype(int) - worn[0][index]).mean())
              for index, frame in enumerate(frames)]
    switched = closer.index(1) if 1 in closer else len(closer)
    assert 0 < switched < len(closer) and all(closer[switched:]), closer
    camera = read_frames(clip, len(frames))
    unswapped = [index for index, frame in enumerate(frames)   # nearer the camera's own frame than either face
                 if np.abs(frame.astype(int) - camera[index]).mean()
                 < min(np.abs(frame.astype(int) - worn[face][index]).mean() for face in (0, 1))]
    assert unswapped == [], unswapped


def test_several_sources_swap_with_the_first(tmp_path):
    """`faceswap swap` with two --source: both prepared (a photo without a face is refused
    at the start, not at its key), the output wears the first (unmarked: each run's mark
    has its own session)."""
    output = tmp_path / "out.png"
    result = run("swap", "--source", str(media("fr_obama.jpg")), "--source", str(media("if_t1.jpg")),
                 "--input", str(media("dlib_2008_002506.jpg")), "--output", str(output), "--no-mark")
    assert result.returncode == 0, result.stderr
    single = tmp_path / "single.png"
    assert run("swap", "--source", str(media("fr_obama.jpg")), "--input", str(media("dlib_2008_002506.jpg")),
               "--output", str(single), "--no-mark").returncode == 0
    assert float(np.abs(cv2.imread(str(output)).astype(int) - cv2.imread(str(single))).mean()) < 0.05
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 128, np.uint8))
    refused = run("swap", "--source", str(media("fr_obama.jpg")), "--source", str(wall),
                  "--input", str(media("dlib_2008_002506.jpg")), "--output", str(tmp_path / "no.png"))
    assert refused.returncode != 0 and "No face was found" in _one_line_error(refused)


def test_preview_without_a_display_says_so(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([*FACESWAP, "swap", "--source", str(media("fr_obama.jpg")), "--input",
                             str(media("fr_obama.jpg")), "--preview"], capture_output=True, text=True, env=env)
    assert "needs a desktop session" in _one_line_error(result)


def test_progress_bar_counts_and_estimates():
    import io

    from faceswap_core.progress import Progress

    stream = io.StringIO()
    progress = Progress(total=40, label="swapping", stream=stream, force=True)
    for _ in range(40):
        progress.advance()
    progress.close()
    text = stream.getvalue()
    assert "40/40 frames" in text and "s left" in text and text.endswith("\n")
    assert Progress(total=5, label="x", stream=io.StringIO()).enabled is False   # not a terminal: silent


def test_readme_settings_table_is_the_schemas():
    """The README's table of OBS settings is generated from the schema: regenerate it with
    python -m tools.settings_table --write."""
    from tools import settings_table

    text = settings_table.README.read_text()
    assert settings_table.readme_with_table(text) == text
