"""Faults in the real OBS application (Debian's obs-studio under Xvfb, obs-websocket).

One OBS run for the module (CI time) with four cameras in one scene, each with its own
Face Swap filter and worker: a healthy one (SIGSTOPped below), one whose engine raises
on every 3rd frame, one whose saved settings are malformed (wrong types, a deleted
photo), and one with a slow engine (busy when OBS exits). Before the end the script is
reloaded from OBS's Scripts window (xdotool presses the button: obs-websocket cannot). The
last test exits OBS with SIGINT while that worker holds a frame and checks what is left,
including OBS's own memory-leak count in its log.

"Swapped" here means the face region differs from the camera image (no identity judge:
tests/obs already proves identity; these tests are about staying up), except after the
reloads, where the identity judge proves the new workers swap.
"""

from __future__ import annotations

import os
import signal
import time

import cv2
import numpy as np
import pytest

from testkit import helpers
from testkit.faulty_worker import make_faulty_python
from testkit.judge import media
from testkit.obs_app import CAMERA, ObsApp, ObsConfig
from testkit.obs_gui import ObsWindows

pytestmark = pytest.mark.obs
RAISING, MALFORMED, BUSY = "Raising", "Malformed", "Busy"
FILTERS = 4                  # one Face Swap filter per camera
RELOADS = 3
SCRIPT_LOADED = "]: Loaded python script: obs_faceswap.py"   # OBS's scripting plugin logs these
SCRIPT_UNLOADED = "]: Unloaded python script: obs_faceswap.py"
LOG_BYTES = 1 << 24          # the whole log: OBS writes a few kB a minute here
CLICK_HEARD_S = 15.0        # a reload's press shows in the log (the script unloaded) within this, or was lost


@pytest.fixture(scope="module")
def app(display, camera_images, tmp_path_factory):
    pytest.importorskip("obsws_python", reason="obsws-python is not installed: pip install obsws-python")
    root = tmp_path_factory.mktemp("obs-faults")
    photo = str(media("fr_obama.jpg"))
    config = ObsConfig(root, camera_images["main"], 512, 512, {"source_photo": photo, "python": helpers.worker_python()},
                       extra_cameras={
                           RAISING: {"source_photo": photo, "python": make_faulty_python(root / "py", "raise-every:3")},
                           MALFORMED: {"source_photo": str(root / "deleted.jpg"), "enabled": "yes", "face_index": "x",
                                       "opacity": [1], "max_faces": None, "engine": 12,
                                       "python": make_faulty_python(root / "py", "none")},
                           BUSY: {"source_photo": photo, "python": make_faulty_python(root / "py", "slow:0.5")},
                       })
    running = ObsApp(config, display)
    running.connect()
    yield running
    running.stop()


def workers_of(app) -> dict[str, int]:
    """OBS's worker processes by camera name (told apart by their launcher's fault)."""
    found = {}
    name = {"raise-every": RAISING, "\x00none\x00": MALFORMED, "slow:": BUSY}
    for pid in helpers.worker_pids(parent=app.process.pid):
        command = "\x00".join(helpers.command_line(pid)) + "\x00"
        found[next((camera for key, camera in name.items() if key in command), CAMERA)] = pid
    return found


def wait_workers(app, count: int, when: str, gone=()) -> list[int]:
    """Exactly `count` live workers of OBS, none of them in `gone` (the ones a reload stopped)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = helpers.worker_pids(parent=app.process.pid)
        if len(workers) == count and not set(workers) & set(gone):
            return workers
        time.sleep(0.1)
    pytest.fail(f"{when}: OBS runs workers {workers}, expected {count} and none of {list(gone)}; "
                f"log: {app.log_tail()}")


def wait_log_count(app, line: str, count: int, step: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while app.log_tail(LOG_BYTES).count(line) < count:
        if time.monotonic() > deadline or app.process.poll() is not None:
            pytest.fail(f"{step}: OBS's log has {app.log_tail(LOG_BYTES).count(line)} x '{line}', "
                        f"expected {count}; log: {app.log_tail()}")
        time.sleep(0.1)


def reload_once(app, windows, reload: int) -> None:
    """Press Reload Scripts for the reload-th time, again if OBS showed no sign of it within
    CLICK_HEARD_S: on a loaded machine a click landing while the Scripts window was still
    being laid out went nowhere once (no unload, no load in 30 s). A reload that had begun
    unloads first, so a second press is made only where the first was surely lost."""
    windows.reload_scripts()
    deadline = time.monotonic() + CLICK_HEARD_S
    while time.monotonic() < deadline:
        if app.log_tail(LOG_BYTES).count(SCRIPT_UNLOADED) >= reload:
            return
        time.sleep(0.1)
    windows.reload_scripts()


def differs(shot, original) -> bool:
    changed = (np.abs(shot.astype(int) - original.astype(int)).max(axis=2) > 24).mean()
    return changed > 0.01   # the swapped face: a few percent of the frame


def is_original(shot, original) -> bool:
    difference = np.abs(shot.astype(int) - original.astype(int))
    return difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8


def wait_shot(app, source, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shot = app.screenshot(source)
        if predicate(shot):
            return shot
        time.sleep(0.1)
    pytest.fail(f"{source}: {what} within {timeout} s; OBS log: {app.log_tail()}")


def test_all_four_workers_run(app):
    deadline = time.monotonic() + 30
    while len(workers_of(app)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(workers_of(app)) == {CAMERA, RAISING, MALFORMED, BUSY}, workers_of(app)
    assert len(helpers.channel_files(app.process.pid)) == 4


def test_sigstopped_worker_shows_the_original_then_recovers(app, camera_images):
    original = cv2.imread(str(camera_images["main"]))
    wait_shot(app, CAMERA, lambda shot: differs(shot, original), 40, "no swap")
    pid = workers_of(app)[CAMERA]
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        wait_shot(app, CAMERA, lambda shot: is_original(shot, original), 2.5, "the original did not show")
        assert time.monotonic() - stopped <= 3.0   # 2.5 s plus one screenshot's round trip
        wait_shot(app, CAMERA, lambda shot: differs(shot, original), 15, "the swap did not come back")
        deadline = time.monotonic() + 5
        while helpers.processes_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not helpers.processes_running(pid), "the hung worker was not killed"
        assert workers_of(app)[CAMERA] != pid
    finally:
        if helpers.processes_running(pid):
            os.kill(pid, signal.SIGKILL)


def test_engine_errors_do_not_stop_the_stream(app, camera_images):
    original = cv2.imread(str(camera_images["main"]))
    wait_shot(app, RAISING, lambda shot: differs(shot, original), 40, "no swap")
    pid = workers_of(app)[RAISING]
    # One result in three is the original (the frame the engine raised on), so each shot is
    # swapped with p = 2/3. 30 shots, at least 10 swapped: a false alarm about once in 20,000
    # runs (10 shots needing 5 failed by chance about one run in 13, and did in CI).
    shots = []
    for _ in range(30):
        time.sleep(0.2)
        shots.append(differs(app.screenshot(RAISING), original))
    # (a failure here once showed long runs of originals, cause not found: the log's lines
    # about the workers go with it)
    worker_lines = [line for line in app.log_tail(20000).splitlines() if "[obs-faceswap]" in line][-20:]
    assert workers_of(app)[RAISING] == pid, f"an engine error on a frame cost the worker: {worker_lines}"
    assert sum(shots) >= 10, f"with one frame in three failing, the stream must go on swapping: {shots}; {worker_lines}"


def test_malformed_saved_settings_load_and_pass_through(app, camera_images):
    original = cv2.imread(str(camera_images["main"]))
    filters = app.client.get_source_filter_list(MALFORMED).filters
    assert [f["filterKind"] for f in filters] == ["obs_faceswap_filter"]
    assert filters[0]["filterEnabled"]
    pid = workers_of(app)[MALFORMED]
    time.sleep(1.0)
    assert is_original(app.screenshot(MALFORMED), original), "a deleted photo must leave the camera untouched"
    assert workers_of(app)[MALFORMED] == pid, "malformed settings made the worker restart"
    assert "error in " not in app.log_tail(200000), "a filter callback raised while loading the settings"


def test_reloading_the_script_from_the_scripts_window(app, display, camera_images, judge, source_face, tmp_path):
    """Tools > Scripts > Reload Scripts in the real app, RELOADS times in a row (a user editing
    the script or updating obs-faceswap does this): each reload must stop the old workers,
    start exactly one new one per filter, leave no channel behind and keep every filter
    swapping. OBS's own leak count is checked at exit by the next test, on this same OBS."""
    original = cv2.imread(str(camera_images["main"]))
    windows = ObsWindows(display, app.process.pid, tmp_path)
    old = wait_workers(app, FILTERS, "before the first reload")
    channels = len(helpers.channel_files(app.process.pid))   # all workers up: /dev/shm files or memfds
    for reload in range(1, RELOADS + 1):
        reload_once(app, windows, reload)
        wait_log_count(app, SCRIPT_LOADED, reload + 1, f"reload {reload}: the script loaded again")
        log = app.log_tail(LOG_BYTES)
        assert log.count(SCRIPT_UNLOADED) == reload, f"reload {reload}: the script did not unload once per reload"
        assert log.rindex(SCRIPT_UNLOADED) < log.rindex(SCRIPT_LOADED)
        assert "error in " not in log, f"reload {reload}: a filter callback raised; log: {app.log_tail()}"
        new = wait_workers(app, FILTERS, f"after reload {reload}", gone=old)
        for camera in (CAMERA, RAISING, MALFORMED, BUSY):
            filters = app.client.get_source_filter_list(camera).filters
            assert [(f["filterKind"], f["filterEnabled"]) for f in filters] == [("obs_faceswap_filter", True)], camera
        wait_shot(app, CAMERA, lambda shot: helpers.is_swapped(judge, source_face, original, shot), 60,
                  f"no swap (by the identity judge) after reload {reload}")
        assert app.process.poll() is None, f"OBS exited after reload {reload}; log: {app.log_tail()}"
        assert sorted(helpers.worker_pids(parent=app.process.pid)) == sorted(new), "workers changed while idle"
        held = helpers.channel_files(app.process.pid)
        assert len(held) == channels, f"reload {reload} left channels behind: {held}, {channels} before reloading"
        old = new


def test_exit_while_a_worker_is_busy_leaves_nothing(app):
    workers = list(workers_of(app).values())
    assert workers
    helpers.stop_leaving_nothing(app, workers)
    assert app.memory_leaks() == 0, f"OBS reported leaks at exit; log: {app.log_tail()}"
