"""Faults in the real OBS application (Debian's obs-studio under Xvfb, obs-websocket).

One OBS run for the module (CI time) with four cameras in one scene, each with its own
Face Swap filter and worker: a healthy one (SIGSTOPped below), one whose engine raises
on every 3rd frame, one whose saved settings are malformed (wrong types, a deleted
photo), and one with a slow engine (busy when OBS exits). The last test exits OBS with
SIGINT while that worker holds a frame and checks what is left, including OBS's own
memory-leak count in its log.

"Swapped" here means the face region differs from the camera image (no identity judge:
tests/obs already proves identity; these tests are about staying up).
"""

from __future__ import annotations

import os
import signal
import time

import cv2
import numpy as np
import pytest

import helpers
from faulty_worker import make_faulty_python
from judge import media
from obs_app import CAMERA, ObsApp, ObsConfig

pytestmark = pytest.mark.obs
RAISING, MALFORMED, BUSY = "Raising", "Malformed", "Busy"


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
    for pid in helpers.worker_pids():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if parent != app.process.pid:
            continue
        name = {"raise-every": RAISING, "\x00none\x00": MALFORMED, "slow:": BUSY}
        found[next((camera for key, camera in name.items() if key in command), CAMERA)] = pid
    return found


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
    swapped = 0
    for _ in range(10):
        time.sleep(0.2)
        swapped += differs(app.screenshot(RAISING), original)
    assert swapped >= 5, "with one frame in three failing, most screenshots must still be swapped"
    assert workers_of(app)[RAISING] == pid, "an engine error on a frame cost the worker"


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


def test_exit_while_a_worker_is_busy_leaves_nothing(app):
    workers = list(workers_of(app).values())
    assert workers
    pid = app.process.pid
    assert app.stop() == 0
    deadline = time.monotonic() + 5
    while any(helpers.processes_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(helpers.processes_running(w) for w in workers), "a worker outlived OBS"
    assert helpers.channel_files(pid) == [], "a shared-memory file outlived OBS"
    assert app.memory_leaks() == 0, f"OBS reported leaks at exit; log: {app.log_tail()}"
