"""The worker supervisor on its own (no OBS): start, crash, back-off, interpreter change, stop."""

from __future__ import annotations

import os
import signal
import sys
import time

from faceswap_core import link
from faceswap_core.obs.supervisor import HANG_S, WorkerSupervisor

from testkit import helpers
from testkit.worker_channel import wait_until


def test_bad_interpreter_is_reported_then_a_good_one_starts(tmp_path):
    supervisor = WorkerSupervisor({"python": str(tmp_path / "no-python"), "source_photo": ""})
    try:
        wait_until(lambda: "Cannot start the worker Python" in supervisor.last_error, what="the error")
        assert not supervisor.worker_up
        assert supervisor.next_start_at > 0          # backing off, not spinning
        supervisor.publish_settings({"python": sys.executable, "source_photo": ""})
        wait_until(lambda: supervisor.channel.state() == link.STATE_NO_SOURCE, what="the worker to run")
        assert supervisor.worker_up and supervisor.last_error == ""
    finally:
        supervisor.stop()


def test_crash_is_seen_at_once_and_restarted_with_backoff():
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""})
    try:
        wait_until(lambda: supervisor.channel.state() == link.STATE_NO_SOURCE, what="the worker to run")
        first = supervisor.worker_pid()
        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)
        # noticed at once (the next frame shows the original), not after a hang's HANG_S
        wait_until(lambda: not supervisor.worker_up, timeout=HANG_S, what="the crash to be noticed")
        assert time.monotonic() - killed_at < HANG_S / 2
        wait_until(lambda: supervisor.worker_up and supervisor.worker_pid() not in (None, first), timeout=30,
                   what="the restart")
        assert supervisor.restarts == 1
        assert "exit code" in supervisor.last_error or supervisor.last_error == ""
    finally:
        supervisor.stop()
    assert helpers.channel_files(os.getpid()) == []
    assert not helpers.processes_running(first)


def test_stop_ends_the_worker_and_closes_the_channel():
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""})
    assert len(helpers.channel_files(os.getpid())) == 1
    wait_until(lambda: supervisor.worker_pid() is not None, what="the worker to start")
    pid = supervisor.worker_pid()
    started = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - started < 3
    assert not helpers.processes_running(pid)
    assert helpers.channel_files(os.getpid()) == []
    supervisor.stop()   # idempotent


def test_bigger_frames_get_a_bigger_channel():
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""})
    try:
        wait_until(lambda: supervisor.worker_up, what="the worker to start")
        old = supervisor.channel
        supervisor.need_frame_size(2560, 1440)
        wait_until(lambda: supervisor.channel is not old and supervisor.worker_up
                   and supervisor.channel.state() == link.STATE_NO_SOURCE, what="the new channel")
        assert supervisor.channel.capacity >= 2560 * 1440 * 4 > old.capacity
        assert len(helpers.channel_files(os.getpid())) == 1, "the old channel is still held"
        assert supervisor.channel.read_settings()[1]["source_photo"] == ""   # settings carried over
    finally:
        supervisor.stop()


def test_a_worker_python_without_the_project_says_so(tmp_path):
    """The last line the worker printed (here: the import error) reaches the status line."""
    wrapper = tmp_path / "python-without-project"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')   # no site-packages, no cwd
    wrapper.chmod(0o755)
    supervisor = WorkerSupervisor({"python": str(wrapper), "source_photo": ""})
    try:
        wait_until(lambda: "No module named" in supervisor.last_error, what="the import error")
        assert "faceswap_core" in supervisor.last_error
        assert not supervisor.worker_up
    finally:
        supervisor.stop()
