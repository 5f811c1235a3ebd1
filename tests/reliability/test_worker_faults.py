"""The worker and its supervisor under faults, without OBS: real processes, real mmap.

    - an engine exception on one frame: that frame comes back unchanged, the next is swapped
    - only the filter that started the worker can feed it (parent; user and mode of a file;
      a memfd only when sealed against shrinking)
    - SIGSTOP and a frame stuck in the engine are noticed and the worker replaced
"""

from __future__ import annotations

import os
import pwd
import signal
import sys
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from faceswap_core import link
from faceswap_core.link import layout, memory
from faceswap_core.link import Channel
from faceswap_core.obs import supervisor as supervision
from faceswap_core.obs.supervisor import WorkerSupervisor
from testkit.faulty_worker import make_faulty_python
from testkit.worker_channel import hand_over as write_frame
from testkit.worker_channel import read_result, start_worker, wait_until
from testkit.judge import media

from testkit import helpers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(python, channel, *extra):
    return start_worker(channel, *extra, python=python)


def hand_over(channel, frame):
    """Hand a frame to the worker, wait for its answer, and read it back."""
    write_frame(channel, frame)
    wait_until(channel.worker_free, what="the frame to be answered")
    return read_result(channel)


@pytest.fixture(scope="module")
def camera_frame():
    return cv2.cvtColor(helpers.frame_of(media("lp_d3.mp4"), 30), cv2.COLOR_BGR2BGRA)


def test_engine_error_on_a_frame_passes_that_frame_through(channel, camera_frame, tmp_path):
    channel.write_settings({"source_photo": str(media("fr_obama.jpg"))})
    worker = start(make_faulty_python(tmp_path, "raise-every:2"), channel)
    try:
        wait_until(lambda: channel.state() == link.STATE_RUNNING, what="the worker to run")
        swapped = hand_over(channel, camera_frame)          # frame 1: the engine works
        assert channel.get("out_faces") == 1 and not np.array_equal(swapped, camera_frame)
        failed = hand_over(channel, camera_frame)           # frame 2: the engine raises
        assert np.array_equal(failed, camera_frame), "the failed frame must come back unchanged"
        assert channel.get("out_faces") == 0
        assert "Engine error on a frame" in channel.error() and "injected fault" in channel.error()
        again = hand_over(channel, camera_frame)            # frame 3: swapped again, same process
        assert channel.get("out_faces") == 1 and not np.array_equal(again, camera_frame)
        assert worker.poll() is None and channel.state() == link.STATE_RUNNING
        assert channel.get("out_seq") == 3
    finally:
        worker.kill()
        worker.wait()
    assert b"injected fault on frame 2" in worker.stderr.read()


# -- only the filter that started it ----------------------------------------------------------------
def refused(channel, python=sys.executable) -> str:
    worker = start(python, channel, "--no-stdin-watch")
    try:
        assert worker.wait(30) == 2, "the worker accepted a channel it must refuse"
    finally:
        worker.kill()
    return worker.stderr.read().decode()


def test_worker_refuses_a_channel_its_parent_did_not_create(channel):
    channel.set("owner_pid", 1)   # e.g. another process pointing a worker at OBS's channel
    assert "not by our parent" in refused(channel)
    assert channel.state() == link.STATE_STOPPED and channel.get("worker_pid") == 0, "it must not touch the channel"


def test_worker_refuses_a_channel_file_others_can_open(channel_file):
    os.chmod(channel_file.path, 0o644)
    assert "accessible to others" in refused(channel_file)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_worker_refuses_a_channel_file_of_another_user(channel_file):
    nobody = pwd.getpwnam("nobody")
    os.chown(channel_file.path, nobody.pw_uid, nobody.pw_gid)
    assert "another user" in refused(channel_file)


def inherited(fd: int) -> SimpleNamespace:
    """What start_worker needs of a channel, for a descriptor that is not one of ours."""
    return SimpleNamespace(address=f"{memory.FD_PREFIX}{fd}", pass_fds=(fd,), token="00" * 16)


@pytest.mark.skipif(not memory.memfd_supported(), reason="no memfd here")
def test_worker_refuses_a_memfd_that_can_shrink(channel):
    """A valid channel in a memfd without seals: someone could shrink it under the worker."""
    fd = os.memfd_create("unsealed", os.MFD_CLOEXEC)
    try:
        os.write(fd, bytes(channel.mm))   # our header, our pid: only the seal is missing
        message = refused(inherited(fd))
        assert "not sealed against shrinking" in message and message.count("\n") == 1, message
        assert os.pread(fd, layout.HEADER_SIZE, 0) == bytes(channel.mm[:layout.HEADER_SIZE]), "it must not touch it"
    finally:
        os.close(fd)


@pytest.mark.skipif(not memory.memfd_supported(), reason="no memfd here")
def test_worker_refuses_a_descriptor_that_is_not_a_channel():
    read_end, write_end = os.pipe()
    try:
        message = refused(inherited(read_end))
        assert "not shared memory" in message and message.count("\n") == 1, message
    finally:
        os.close(read_end)
        os.close(write_end)


def test_channel_names_are_unguessable_and_private(tmp_path):
    channels = [Channel.create(16, 16, directory=str(tmp_path)) for _ in range(20)]
    try:
        tokens = {os.path.basename(c.path).rsplit("-", 1)[1] for c in channels}
        assert len(tokens) == 20 and all(len(token) == 32 for token in tokens)   # 128 random bits each
        assert all(os.stat(c.path).st_mode & 0o777 == 0o600 for c in channels)
        assert all(os.stat(c.path).st_uid == os.getuid() for c in channels)
    finally:
        for created in channels:
            created.close()


# -- hangs ----------------------------------------------------------------------------------------------
def test_sigstopped_worker_is_replaced_within_two_seconds():
    logged = []
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""},
                                  log=lambda level, text: logged.append(text))
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.state() == link.STATE_NO_SOURCE,
                   what="the worker to run")
        pid = supervisor.worker_pid()
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        wait_until(lambda: not supervisor.worker_up, timeout=5, what="the hang to be noticed")
        assert time.monotonic() - stopped <= 2.5
        wait_until(lambda: supervisor.worker_up and supervisor.worker_pid() not in (None, pid), timeout=30,
                   what="a new worker")
        assert supervisor.hangs == 1
        wait_until(lambda: not helpers.processes_running(pid), timeout=10, what="the stopped worker to go")
        assert any("stopped responding" in line for line in logged), logged   # in OBS's log
        if sys.platform.startswith("linux"):   # the log says what the kernel saw: a stopped process
            assert any("kernel: state T (stopped)" in line for line in logged), logged
    finally:
        supervisor.stop()


def test_frame_stuck_in_the_engine_is_noticed(monkeypatch, tmp_path, camera_frame):
    """The heartbeat thread runs on, but one frame never comes back: replaced after FRAME_HANG_S."""
    monkeypatch.setattr(supervision, "FRAME_HANG_S", 1.0)
    slow = make_faulty_python(tmp_path, "slow:30")
    logged = []
    supervisor = WorkerSupervisor({"python": slow, "source_photo": str(media("fr_obama.jpg"))},
                                  log=lambda level, text: logged.append(text))
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.state() == link.STATE_RUNNING,
                   what="the worker to run")
        channel, pid = supervisor.channel, supervisor.worker_pid()
        write_frame(channel, camera_frame)
        handed = time.monotonic()
        wait_until(lambda: not supervisor.worker_up, timeout=5, what="the stuck frame to be noticed")
        assert 1.0 <= time.monotonic() - handed <= 2.5
        assert supervisor.hangs == 1 and "on one frame" in supervisor.last_error
        wait_until(lambda: not helpers.processes_running(pid), timeout=10, what="the stuck worker to go")
        if hasattr(signal, "SIGUSR1"):   # asked before the kill, the worker said where it was stuck
            wait_until(lambda: any("was stuck here" in line for line in logged), timeout=10, what="its stacks")
            stacks = next(line for line in logged if "was stuck here" in line)
            assert f"worker {pid} was stuck here" in stacks
            assert "faulty_worker.py" in stacks and " in slow" in stacks, stacks   # the sleeping frame
            assert "heartbeat" in stacks or stacks.count("Thread 0x") >= 1, stacks   # every thread
    finally:
        supervisor.stop()


def test_worker_that_never_starts_is_replaced_and_described(monkeypatch, tmp_path):
    """An interpreter that never reaches our code (here: it sleeps instead) stamps no heartbeat:
    replaced after START_HANG_S, the reason says it did not start, the log says what it was."""
    monkeypatch.setattr(supervision, "START_HANG_S", 1.0)
    launcher = tmp_path / "python-never"
    launcher.write_text("#!/bin/sh\nexec sleep 600\n")
    launcher.chmod(0o755)
    logged = []
    supervisor = WorkerSupervisor({"python": str(launcher), "source_photo": ""},
                                  log=lambda level, text: logged.append(text))
    try:
        wait_until(lambda: supervisor.hangs >= 1, timeout=5, what="the start to be given up")
        assert "did not start within 1 s" in supervisor.last_error
        killed = [line for line in logged if "killing it" in line]
        assert killed and "did not start" in killed[0]
        if sys.platform.startswith("linux"):
            assert "running sleep 600" in killed[0], killed
        assert not any("was stuck here" in line for line in logged)   # no Python ran: no stacks
        pid = int(killed[0].split()[1].rstrip(":"))
        wait_until(lambda: not helpers.processes_running(pid), timeout=10, what="the sleeping process to go")
    finally:
        supervisor.stop()
