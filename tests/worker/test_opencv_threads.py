"""OpenCV's thread pool sleeps between loops in the worker and the CLI (faceswap_core.opencv_threads).

OpenCV reads its pool's waits once, when cv2 is loaded: each case runs a fresh interpreter
that records the settings at the moment cv2 is first imported, whoever imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from faceswap_core.opencv_threads import NO_ACTIVE_WAIT
from testkit import pythonpath_env

WATCH = """
import importlib.abc, json, os, sys
seen = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "cv2" and not seen:
            seen.append({key: os.environ.get(key) for key in KEYS})
        return None
sys.meta_path.insert(0, Watch())
"""

RUNS = {
    # the worker's main, given a channel that is not there: it returns before any engine
    # is made; an engine made later imports cv2 in the same process
    "worker": "from faceswap_core.worker import service\nassert service.main(['--channel', '/nonexistent', "
              "'--token', '00', '--no-stdin-watch']) == 2\nimport cv2\n",
    # the CLI: its commands import cv2 as the parser is built
    "cli": "from faceswap_core import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n",
}


def _settings_when_cv2_loads(body: str, env: dict) -> dict:
    code = f"KEYS = {sorted(NO_ACTIVE_WAIT)!r}\n{WATCH}\n{body}\nprint(json.dumps(seen))\n"
    result = subprocess.run([sys.executable, "-c", code], env=pythonpath_env(env), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen, "cv2 was never imported: the case tests nothing"
    return seen[0]


def _clean_env() -> dict:
    return {key: value for key, value in os.environ.items() if key not in NO_ACTIVE_WAIT}


@pytest.mark.parametrize("process", sorted(RUNS))
def test_opencv_threads_sleep_between_loops_from_the_first_import(process):
    assert _settings_when_cv2_loads(RUNS[process], _clean_env()) == NO_ACTIVE_WAIT


def test_a_users_own_setting_is_kept():
    env = {**_clean_env(), "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": "500"}
    seen = _settings_when_cv2_loads(RUNS["worker"], env)
    assert seen == {**NO_ACTIVE_WAIT, "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": "500"}
