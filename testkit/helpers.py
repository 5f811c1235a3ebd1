"""Helpers for the tests: Xvfb on a free display, test media, raw frames, processes,
optional packages."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceswap_core.link import liveness
from testkit import REPO, pythonpath_env  # noqa: F401  (REPO: tests and tools find the project here)
from testkit.libobs_host import channels_held as channel_files  # noqa: F401  (the channels a process holds)
from testkit.obs_installs import HOST, ObsInstall

LIBOBS = HOST.libobs_file()


def require_module(module: str, why: str):
    """Import or skip; in CI (CI=true) a missing package fails instead, so tests that need
    it can never pass by silently skipping."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"{module} cannot be imported in CI ({error}): {why}", pytrace=False)
        pytest.skip(f"{module} is not installed: {why}", allow_module_level=True)


def require_obs(install: ObsInstall = HOST) -> None:
    """Skip unless this OBS installation can run here, and Xvfb is installed."""
    problem = install.problem()
    if problem:
        pytest.skip(problem)
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is absent: apt-get install xvfb xauth")


def host_process(module: str, arguments: list[str], display: str, install: ObsInstall = HOST) -> tuple[list[str], dict]:
    """The command and environment that run a libobs host (`testkit.libobs_host`,
    `testkit.fault_host`) in `install`, on the Python its obspython was built for."""
    env = pythonpath_env(dict(os.environ, DISPLAY=display), install.scripting_dir)
    return install.command([install.python, "-m", module, *arguments]), env


def start_xvfb(screen: str = "1920x1200x24") -> tuple[subprocess.Popen, str]:
    """Xvfb on the first free display number from :90 (its lock file decides)."""
    for number in range(90, 190):
        if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
            continue
        process = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", screen, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break   # lost the race for this number: try the next
            if os.path.exists(f"/tmp/.X11-unix/X{number}"):
                return process, f":{number}"
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
            process.wait()
    pytest.skip("could not start Xvfb on any display from :90 to :189")


def worker_python() -> str:
    """The interpreter the filter starts its worker with in tests: this test run's own."""
    return sys.executable


def read_bgra(path: Path, width: int, height: int) -> np.ndarray:
    return np.fromfile(path, np.uint8).reshape(height, width, 4)


def frame_of(clip: Path, index: int) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {clip}"
    return frame


def processes_running(pid: int) -> bool:
    """Whether `pid` runs; a zombie counts as gone (the link's own rule)."""
    return liveness.pid_alive(pid)


def stop_leaving_nothing(app, workers: list[int]) -> None:
    """Stop OBS tidily: it exits 0, and no worker and no channel of its outlive it."""
    pid = app.process.pid
    assert app.stop() == 0
    deadline = time.monotonic() + 5
    while any(processes_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(processes_running(w) for w in workers), "a worker outlived OBS"
    assert channel_files(pid) == [], "a shared-memory channel outlived OBS"


def worker_pids(parent: int | None = None) -> list[int]:
    """Every live faceswap_core.worker process on the machine, or those `parent` started (leak checks)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        if "faceswap_core.worker" in command_line(int(entry)) and processes_running(int(entry)):
            if parent is None or parent_pid(int(entry)) == parent:
                pids.append(int(entry))
    return pids


def command_line(pid: int) -> list[str]:
    """The process's arguments ([] once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\x00")[:-1]
    except OSError:
        return []


def parent_pid(pid: int) -> int:
    """The parent's pid, -1 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def is_swapped(judge, source_face, original_bgr: np.ndarray, shot_bgr: np.ndarray) -> bool:
    """Polling form of judge_swap: False, not a failure, while the shot shows no face."""
    from testkit.judge import identity_distance

    after = judge.largest(shot_bgr)
    if after is None:
        return False
    before = judge.largest(original_bgr)
    return identity_distance(after.descriptor, source_face.descriptor) < identity_distance(before.descriptor, source_face.descriptor)


def judge_swap(judge, source_face, original_bgr: np.ndarray, output_bgr: np.ndarray) -> tuple[float, float]:
    """(distance before, distance after) to the source identity; swapped means after < before."""
    from testkit.judge import identity_distance

    before = judge.largest(original_bgr)
    after = judge.largest(np.ascontiguousarray(output_bgr))
    assert before is not None, "the judge finds no face in the input"
    assert after is not None, "the judge finds no face in the output"
    return identity_distance(before.descriptor, source_face.descriptor), identity_distance(after.descriptor, source_face.descriptor)
