"""Done-criterion 1: a standalone libobs host loads obs_faceswap.py, the filter swaps the
face of a real photo in rendered frames, and leaves every other pixel untouched.

The main run and the reload/resize run go through every OBS the suite has (this
machine's 29, and 30 and 32 in their chroots: testkit.obs_installs); the rest run on
this machine's OBS only (CI time)."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

from testkit import clips, helpers, occluders
from testkit.faulty_worker import SLOWER_THAN_A_FRAME_S, make_faulty_python
from testkit.judge import media, shared_model
from testkit.obs_installs import HOST, installs
from faceswap_core.obs.camera import WAIT_SHARE, WORKER_TIME_MARGIN

pytestmark = pytest.mark.obs


def run_host(display, out, *arguments, install=HOST, timeout=150):
    command, env = helpers.host_process("testkit.libobs_host", ["--out", str(out), *arguments], display, install)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module", params=installs(), ids=lambda install: install.name)
def obs_install(request):
    """Each OBS installation in turn; a chroot that is not built skips, saying how to build it."""
    helpers.require_obs(request.param)
    return request.param


@pytest.fixture(scope="module")
def host_run(display, target_png, tmp_path_factory, obs_install):
    out = tmp_path_factory.mktemp("host")
    summary = run_host(display, out, "--image", str(target_png), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "2", "--stress-seconds", "2",
                       install=obs_install)
    summary["expected_version"] = obs_install.version()
    return summary, out


def test_filter_swaps_the_face_in_rendered_frames(host_run, target_png, judge, source_face):
    summary, out = host_run
    assert summary["obs_version"].startswith(summary["expected_version"]), (summary["obs_version"], summary["expected_version"])
    assert summary["swapped"], summary
    assert summary["status"].startswith("running"), summary["status"]
    assert summary["status_shown"].startswith("running |") and "fps" in summary["status_shown"], summary
    assert "photo tip: The photo's mouth is open or smiling broadly" in summary["status_shown"], summary
    original = cv2.imread(str(target_png))
    frame = helpers.read_bgra(out / "frame1.bgra", summary["width"], summary["height"])
    before, after = helpers.judge_swap(judge, source_face, original, frame[:, :, :3])
    assert after < before, f"identity distance to the source photo: input {before:.3f}, output {after:.3f}"


def test_rest_of_frame_equals_input(host_run, target_png, judge):
    summary, out = host_run
    original = cv2.imread(str(target_png))
    passthrough = helpers.read_bgra(out / "original.bgra", summary["width"], summary["height"])
    assert np.array_equal(passthrough[:, :, :3], original), "the unfiltered image source differs from the PNG"
    early = helpers.read_bgra(out / "before_first_result.bgra", summary["width"], summary["height"])
    assert not summary["had_result_at_first_frame"]
    assert np.array_equal(early[:, :, :3], original), "before the first result the filter must show the original"
    frame = helpers.read_bgra(out / "frame1.bgra", summary["width"], summary["height"])
    changed = np.abs(frame[:, :, :3].astype(int) - original).max(axis=2) > 0
    assert changed.any(), "nothing changed"
    face = judge.largest(original)
    x0, y0, x1, y1 = face.box
    margin_x, margin_y = (x1 - x0) // 2, (y1 - y0) // 2
    region = np.zeros_like(changed)
    region[max(0, y0 - margin_y):y1 + margin_y, max(0, x0 - margin_x):x1 + margin_x] = True
    assert not (changed & ~region).any(), "pixels changed far from the face"
    assert (frame[:, :, 3] == 255).all()


def test_ui_callbacks_and_render_never_deadlock(host_run):
    """update + get_properties hammered from another thread for 2 s while frames render."""
    summary, _ = host_run
    assert not summary["stress_hung"]
    assert summary["stress_updates"] > 10 and summary["stress_properties"] > 10, summary
    assert summary["stress_results_drawn"] > 0, "rendering stalled while the UI thread was busy"


def test_nothing_left_behind(host_run):
    summary, _ = host_run
    assert summary["instances_left"] == 0
    assert summary["channels_left"] == [], "the shared memory outlived the filter"
    assert not helpers.processes_running(summary["worker_pid"]), "the worker outlived the filter"


def test_survives_script_reload_and_resolution_change(display, target_png, tmp_path, judge, source_face, obs_install):
    """Tools > Scripts > reload mid-stream, then the camera changes size: the filter follows."""
    smaller = tmp_path / "smaller.png"
    cv2.imwrite(str(smaller), cv2.resize(cv2.imread(str(target_png)), (448, 448), interpolation=cv2.INTER_AREA))
    summary = run_host(display, tmp_path / "out", "--image", str(target_png), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "1", "--reload", "--second-image", str(smaller),
                       install=obs_install)
    assert summary["unload_removed_channel"] and summary["unload_stopped_worker"], summary
    assert summary["unloaded_status"].startswith("Stopped"), summary["unloaded_status"]
    unloaded = helpers.read_bgra(tmp_path / "out" / "unloaded.bgra", 512, 512)
    assert np.array_equal(unloaded[:, :, :3], cv2.imread(str(target_png))), "after unload the filter must pass through"
    assert summary["reload_swapped"], summary
    assert summary["worker_pid_after_reload"] != summary["old_worker_pid"]
    assert summary["resized_swapped"] and summary["resized_to"] == [448, 448], summary
    frame = helpers.read_bgra(tmp_path / "out" / "frame0.bgra", 512, 512)[:448, :448, :3]
    before, after = helpers.judge_swap(judge, source_face, cv2.imread(str(smaller)), frame)
    assert after < before
    assert summary["instances_left"] == 0


def test_frames_bigger_than_1080p_grow_the_channel(display, target_png, tmp_path, judge, source_face):
    """A 2048x1152 source does not fit the default 1080p slots: the filter grows the channel."""
    frame = cv2.imread(str(target_png))
    big = np.zeros((1152, 2048, 3), np.uint8)
    big[:] = frame[0, 0]
    big[320:832, 768:1280] = frame
    image = tmp_path / "big.png"
    cv2.imwrite(str(image), big)
    summary = run_host(display, tmp_path / "out", "--image", str(image), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "1")
    assert summary["swapped"], summary
    output = helpers.read_bgra(tmp_path / "out" / "frame0.bgra", 2048, 1152)[:, :, :3]
    before, after = helpers.judge_swap(judge, source_face, big, output)
    assert after < before


def test_async_source_like_a_webcam(display, tmp_path, judge, source_face):
    """A media source playing a talking-head clip: async frames in YUV, like a webcam."""
    clip = media("lp_d3.mp4")
    summary = run_host(display, tmp_path / "out", "--media", str(clip), "--size", "512x512",
                       "--photo", str(media("fr_obama.jpg")), "--python", helpers.worker_python(), "--frames", "1")
    assert summary["swapped"], summary
    assert summary["path"] == "camera path (I420 frames)", summary["path"]   # filter_video, no read-back
    output = helpers.read_bgra(tmp_path / "out" / "frame0.bgra", 512, 512)[:, :, :3]
    before, after = helpers.judge_swap(judge, source_face, helpers.frame_of(clip, 30), output)
    assert after < before, f"identity distance to the source photo: clip {before:.3f}, output {after:.3f}"


def test_a_hand_in_front_of_the_face_stays_and_the_status_line_says_so(display, tmp_path):
    """occ_wave's frame 30 (fingers across the eye, a thumb at the lip) as the camera: in
    OBS's own output the hand's pixels stay the camera's (within the encoded-clip limit of
    the outlines drawn for it, testkit.occluders), and the filter's status line, read as
    the dialog shows it, names the hand."""
    item = next(item for item in occluders.ITEMS if occluders.label(item) == "occ_wave.mp4@30")
    frame = helpers.frame_of(media(item["file"]), item["frame"])
    image = tmp_path / "hand.png"
    cv2.imwrite(str(image), frame)
    summary = run_host(display, tmp_path / "out", "--image", str(image), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "1",
                       "--wait-status", "a hand in front of the face")
    assert summary["swapped"] and summary["status_waited"], summary
    assert "a hand in front of the face: kept in front" in summary["status_shown"], summary["status_shown"]
    height, width = frame.shape[:2]
    output = helpers.read_bgra(tmp_path / "out" / "frame0.bgra", width, height)[:, :, :3]
    moved = occluders.moved(output, frame)
    hand = occluders.outline(item, frame.shape)
    assert moved[hand].mean() <= occluders.limit(item), moved[hand].mean()
    assert (moved[~hand] > occluders.SWAPPED_LEVELS).sum() > 2000, "the face around the hand is still swapped"


def test_hotkeys_toggle_and_cycle_the_faces_without_a_gap_and_keep_their_bindings(display, target_png, tmp_path,
                                                                                   obs_install):
    """The filter registers its hotkeys with libobs on the source it sits on (libobs gives
    a filter none of its own; the names are what the scene collection saves, the
    descriptions what Settings > Hotkeys lists); fired as OBS's frontend and
    obs-websocket fire them, "next face" wears the second face with every output frame
    from the press on swapped (the first face until the worker switches, then the
    second, never the camera's own), "swap on/off" shows the camera and back, previous
    and "wear face 1" set the face; with a cross-fade the swap fades out rather than
    cutting to the camera; a key bound to "next face" is in what
    obs_save_source saves of the camera, is bound again on the camera and filter loaded
    from it (never shown: hotkeys follow the filter's source on every video tick), and is
    saved again from there."""
    from faceswap_core.obs.hotkeys import HOTKEYS

    out = tmp_path / "out"
    summary = run_host(display, out, "--image", str(target_png), "--photo", str(media("fr_obama.jpg")),
                       "--more-faces", str(media("if_t1.jpg")), "--python", helpers.worker_python(),
                       "--frames", "1", "--fade-ms", "400", install=obs_install)
    keys = summary["hotkeys"]
    assert keys["names"] == sorted(hotkey.name("Face Swap") for hotkey in HOTKEYS), keys["names"]
    assert keys["face_in_use_after_next"] == 1 and "face 1 of 2: if_t1.jpg" in keys["status_after_next"], keys
    original = cv2.imread(str(target_png)).astype(np.int16)
    read = lambda name: helpers.read_bgra(out / name, summary["width"], summary["height"])[:, :, :3]  # noqa: E731
    moved = [float(np.abs(read(name) - original).mean()) for name in keys["before"] + keys["frames"]]
    assert min(moved) > 0.5, moved   # swapped on every frame: the camera's own picture moves nothing
    first, second = read(keys["before"][-1]), read(keys["frames"][-1])
    assert float(np.abs(first.astype(np.int16) - second).mean()) > 0.5, "the face did not change"
    assert keys["enabled_after_toggle"] is False and keys["enabled_after_second_toggle"] is True, keys
    assert float(np.abs(read(keys["off"][0]) - original).mean()) < 0.1, "swap off: the camera's own picture"
    # with a 400 ms cross-fade: the swap fades out (frames between the swapped picture and
    # the camera's own) rather than cutting to the camera
    fading = [float(np.abs(read(name) - original).mean()) for name in keys["fading"]]
    swapped = moved[-1]
    assert any(0.15 * swapped < value < 0.85 * swapped for value in fading), (swapped, fading)
    assert keys["face_in_use_after_previous"] == 0 and keys["face_in_use_after_face_1"] == 1, keys
    saved = keys["saved_hotkeys"]["obs_faceswap.Face Swap.next_face"]
    assert [binding["key"] for binding in saved] == ["OBS_KEY_F13"], keys
    assert [binding["key"] for binding in keys["loaded_bindings"]] == ["OBS_KEY_F13"], keys
    resaved = keys["resaved_hotkeys"]["obs_faceswap.Face Swap.next_face"]
    assert [binding["key"] for binding in resaved] == ["OBS_KEY_F13"], keys


def test_after_another_filter(display, target_png, tmp_path, judge, source_face):
    """Face Swap after OBS's Crop/Pad filter: its input is the cropped frame, not the source."""
    summary = run_host(display, tmp_path / "out", "--image", str(target_png), "--crop-left", "64",
                       "--photo", str(media("fr_obama.jpg")), "--python", helpers.worker_python(), "--frames", "1")
    assert summary["swapped"], summary
    assert summary["filter_input_size"] == [448, 512]
    output = helpers.read_bgra(tmp_path / "out" / "frame0.bgra", 512, 512)[:, :448, :3]
    cropped = cv2.imread(str(target_png))[:, 64:]
    before, after = helpers.judge_swap(judge, source_face, cropped, output)
    assert after < before
    unchanged = np.abs(output.astype(int) - cropped).max(axis=2) == 0
    assert unchanged[:, :40].all() and unchanged[:, -40:].all(), "the cropped frame's edges must pass through"


def test_the_camera_path_waits_for_a_worker_slow_on_one_frame_in_four(display, target_png, tmp_path):
    """A worker that takes 50 ms longer on every fourth frame (a search, a busy moment) and
    its usual time on the others: the filter still waits for the answer to each frame it
    hands over. It used to judge by the last frame's time alone, so every slow frame stopped
    the wait for the next one, which the worker answers in its usual time: 27% of a real
    720p talking head's frames went unwaited for that way."""
    clip = clips.still_clip(str(target_png), str(tmp_path / "clips"), "nv12")
    sometimes = make_faulty_python(tmp_path / "worker", f"slow-every:4:{SLOWER_THAN_A_FRAME_S}")
    summary = run_host(display, tmp_path / "out", "--media", clip, "--size", "512x512",
                       "--photo", str(media("fr_obama.jpg")), "--python", sometimes, "--frames", "1",
                       "--bench-seconds", "6")
    assert summary["path"] == "camera path (NV12 frames)", summary["path"]
    bench = {key: summary.get(key) for key in ("frames_sent", "unwaited", "own_results", "late_results",
                                              "worker_ms", "results_drawn")}
    assert bench["frames_sent"] >= 40, bench
    if bench["worker_ms"] * WORKER_TIME_MARGIN > WAIT_SHARE * 1000 / 30:
        pytest.skip(f"the worker took {bench['worker_ms']} ms a frame on this busy machine: past the wait "
                    "budget on most frames, so no rule waits for it and there is nothing to tell apart")
    # the old rule left about one frame in four unwaited for here (36 of 151: after each slow one)
    assert bench["unwaited"] <= 0.05 * bench["frames_sent"], bench
    # most frames but the slow ones (one in four) answered in time; loose, for a busy
    # machine: the count above is what tells the rules apart
    assert bench["own_results"] >= 0.5 * bench["frames_sent"], bench


@pytest.mark.parametrize("camera", ["image", "media"], ids=["render-path", "camera-path"])
def test_the_microphone_follows_the_latency(display, target_png, tmp_path, camera):
    """"Keep this audio in sync" on a second source ("Mic", which already had its own 20 ms):
    its offset follows the filter's latency on top of the 20 ms, and returns to 20 ms when the
    filter is turned off (eye icon) and when it is taken off its source."""
    if camera == "image":
        source = ["--image", str(target_png)]
    else:
        source = ["--media", clips.still_clip(str(target_png), str(tmp_path / "clips"), "nv12"), "--size", "512x512"]
    # a worker slower than a frame on any machine: a fast one answers the camera path in time,
    # and then nothing delays the picture and there is no latency for the audio to follow
    slower = make_faulty_python(tmp_path / "worker", f"slow:{SLOWER_THAN_A_FRAME_S}")
    summary = run_host(display, tmp_path / "out", *source, "--photo", str(media("fr_obama.jpg")),
                       "--python", slower, "--frames", "1", "--sync-audio")
    assert summary["swapped"], summary
    assert summary["path"].startswith("camera path" if camera == "media" else "GPU read-back"), summary["path"]
    audio = summary["audio_sync"]
    assert "Mic" in audio["choices"], audio["choices"]
    latencies, offsets = np.array(audio["samples"]).T
    assert latencies.min() > 0, "the worker is slower than a frame: the picture is later than the camera's"
    # from 2 s after the swap showed. The follower moves at most 10 ms per 0.1 s on purpose (a
    # jump would skip audio), so a latency that drifts under load (83 -> 33 ms in 4 s seen on
    # the camera path) is trailed by a few ms; 10 ms is far below what a viewer notices
    # (ITU-R BT.1359: about 45 ms of audio before the picture).
    assert np.median(np.abs(offsets - latencies)) <= 10.0, audio["samples"]
    assert "'Mic' delayed" in audio["status"], audio["status"]
    assert abs(audio["disabled_ms"]) < 0.5, audio
    latencies, offsets = np.array(audio["enabled_again_samples"]).T   # from 2 s after the filter is on again
    assert np.median(np.abs(offsets - latencies)) <= 15.0, audio["enabled_again_samples"]
    assert abs(audio["after_removal_ms"]) < 0.5, audio


HIDDEN_S = 1.5   # the source off the output this long, then back (a scene switched away and back)


@pytest.mark.parametrize("camera", ["image", "media"], ids=["render-path", "camera-path"])
def test_a_camera_shown_again_never_shows_the_unswapped_face(display, target_png, tmp_path, camera):
    """Each time a scene with the camera comes back, the filter draws the last swapped picture
    until a fresh one comes: it drew the camera's own frame, the streamer's unswapped face,
    for two frames on the render path. On the camera path the worker here is slow on the
    first frame after a rest (a worker woken on a busy machine): that frame's answer is late,
    and the last answer stands in. What stood in counts no latency: its age is the gap's,
    which the microphone's offset must not follow."""
    if camera == "image":
        source, python = ["--image", str(target_png)], helpers.worker_python()
    else:
        source = ["--media", clips.still_clip(str(target_png), str(tmp_path / "clips"), "nv12"), "--size", "512x512"]
        python = make_faulty_python(tmp_path / "worker", "slow-after-rest:0.5:0.3")
    summary = run_host(display, tmp_path / "out", *source, "--photo", str(media("fr_obama.jpg")),
                       "--python", python, "--frames", "1", "--hide-seconds", str(HIDDEN_S))
    assert summary["swapped"], summary
    assert summary["path"].startswith("camera path" if camera == "media" else "GPU read-back"), summary["path"]
    shown = summary["shown_again"]
    # OBS's media source draws the first frame after it restarts without handing it to the
    # async filters (it preloads it): one unswapped frame there is OBS's, not the filter's;
    # a webcam has no such frame
    allowed = 0 if camera == "image" else 1
    assert max(shown["unswapped"]) <= allowed, shown
    assert shown["latencies_ms"] and max(shown["latencies_ms"]) < HIDDEN_S * 1000 * 2 / 3, shown["latencies_ms"]


NEURAL_SHOWN = {"runtime": True, "provider": True, "device": False, "precision": True, "extra_photos": True,
                "face_mapping": True, "pair1_photo": True, "pair4_person": True, "reference_photo": False,
                "match_distance": True, "swapper_file": True, "keep_glasses": False, "pixel_boost": True,
                "enhancer": True, "enhancer_blend": False, "enhancer_file": False}   # no enhancer chosen: its amount hides


def _file_list(*paths):
    """An editable file list as OBS saves it."""
    return [{"value": str(path), "selected": False, "hidden": False} for path in paths]


def test_neural_options_set_in_the_dialog_reach_the_worker(display, target_png, tmp_path, monkeypatch):
    """The neural settings through the filter's properties (what OBS's dialog does): the
    dialog shows them only for the neural engine and the chosen mapping, offers the
    providers the installer recorded, and the worker opens the models the settings name
    (stand-ins given as the user's own files: the real ones cannot be downloaded here) on
    the chosen provider; the status line says which provider and precision run."""
    from testkit import standins

    config = tmp_path / "obs-faceswap.json"
    config.write_text(json.dumps({"version": 1, "providers": ["cuda", "cpu"]}))
    monkeypatch.setenv("OBS_FACESWAP_CONFIG", str(config))
    recognizer = standins.build_recognizer(tmp_path / "my_recognizer.onnx")
    swapper = standins.build_swapper(tmp_path / "my_swapper.onnx")
    settings = {"engine": "neural", "runtime": "onnxruntime", "provider": "cpu", "precision": "fp32",
                "face_mapping": "pairs", "pair1_photo": str(media("fr_obama.jpg")), "pair1_person": str(target_png),
                "extra_photos": _file_list(media("dlib_2008_002506.jpg")), "swapper_file": str(swapper),
                "detector_file": str(shared_model("scrfd_500m_bnkps.onnx")),
                "recognizer_file": str(recognizer)}
    summary = run_host(display, tmp_path / "out", "--image", str(target_png), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "1", "--settings-json", json.dumps(settings))
    dialog = summary["dialog"]
    before, after = dialog["before"]["shown"], dialog["after"]["shown"]
    assert before["keep_glasses"] and not any(before[key] for key in NEURAL_SHOWN if key != "keep_glasses"), before
    assert {key: after[key] for key in NEURAL_SHOWN} == NEURAL_SHOWN, after
    assert dialog["after"]["providers"] == ["auto", "cuda", "cpu"]   # the values behind the labels
    read = dialog["read"]
    assert read["extra_photos"] == [str(media("dlib_2008_002506.jpg"))]
    assert read["pairs"] == [[str(media("fr_obama.jpg")), str(target_png)]]
    assert (read["engine"], read["face_mapping"], read["provider"]) == ("neural", "pairs", "cpu")
    status = dialog["status"]
    assert status.startswith("running |") and "neural on ONNX Runtime cpu, fp32 swap" in status, status
    assert "own detector, recognizer, swapper file" in status, status


def test_triton_settings_in_the_dialog_reach_a_real_server(display, target_png, tmp_path):
    """Runtime 'Triton server' in the filter's dialog: the server's settings show (the key as
    a password field, the certificate only with TLS on), the provider list hides, and the
    worker the filter starts swaps through a real Triton server (the bundled 2.51, stand-ins
    with the real signatures), which the status line names."""
    from testkit import standins, triton_server
    from faceswap_core.cli import main as faceswap
    from faceswap_core.obs.libobs import OBS_TEXT_DEFAULT, OBS_TEXT_PASSWORD

    helpers.require_module("tritonclient.grpc", "a dependency of the project: pip install -e .")
    if triton_server.skip_reason():
        pytest.skip(triton_server.skip_reason())
    repo = tmp_path / "repo"
    assert faceswap(["triton-repo", str(repo), "--backend", "python", "--key", "obs-key", "--threads", "1",
                     "--recognizer", str(standins.build_recognizer(tmp_path / "recognizer.onnx")),
                     "--swapper", str(standins.build_swapper(tmp_path / "swapper.onnx"))]) == 0
    with triton_server.TritonServer(repo / "models", key="obs-key") as server:
        settings = {"engine": "neural", "runtime": "triton", "server": server.address, "server_key": "obs-key",
                    "detector_file": str(shared_model("scrfd_500m_bnkps.onnx"))}
        summary = run_host(display, tmp_path / "out", "--image", str(target_png), "--photo",
                           str(media("fr_obama.jpg")), "--python", helpers.worker_python(), "--frames", "1",
                           "--settings-json", json.dumps(settings))
    dialog = summary["dialog"]
    shown = dialog["after"]["shown"]
    assert all(shown[key] for key in ("server", "server_key", "server_tls", "server_timeout_ms", "server_fallback"))
    assert not any(shown[key] for key in ("provider", "device", "server_certificate"))
    assert not dialog["before"]["shown"]["server"]   # the landmark engine: no server settings
    types = dialog["after"]["text_types"]
    assert types["server_key"] == OBS_TEXT_PASSWORD and types["server"] == OBS_TEXT_DEFAULT
    status = dialog["status"]
    assert status.startswith("running |") and f"neural on Triton {server.address}" in status, status


def test_neural_engine_without_models_says_which_command_installs_them(display, target_png, tmp_path, monkeypatch):
    monkeypatch.setenv("FACESWAP_MODEL_DIR", str(tmp_path / "models"))
    summary = run_host(display, tmp_path / "out", "--image", str(target_png), "--photo", str(media("fr_obama.jpg")),
                       "--python", helpers.worker_python(), "--frames", "1",
                       "--settings-json", json.dumps({"engine": "neural"}))
    status = summary["dialog"]["status"]
    assert "run: faceswap models install det_10g w600k_r50 inswapper_128" in status, status
