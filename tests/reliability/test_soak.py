"""The short soak CI runs: 2 minutes of 720p30 through the standalone host (tools/soak.py).

The 30-minute version is a benchmark (BENCHMARKS.md, "Reliability soak"), not run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from testkit import helpers
from testkit.judge import media

pytestmark = [pytest.mark.obs, pytest.mark.soak]


def test_two_minute_soak(display, camera_images, tmp_path):
    media("lp_d3.mp4")   # skips without the shared media
    env = helpers.pythonpath_env(dict(os.environ, DISPLAY=display))
    run = subprocess.run([sys.executable, "-m", "tools.soak", "--minutes", "2", "--out", str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    result = json.loads((tmp_path / "soak.json").read_text())
    print(run.stdout)
    # libobs's own leak count for a host that never had a filter (obs_add_data_path leaks)
    command, host_env = helpers.host_process("testkit.fault_host", [
        "--out", str(tmp_path / "bare"), "--image", str(camera_images["small"]),
        "--photo", str(media("fr_obama.jpg")), "--python", sys.executable], display)
    subprocess.run(command, env=host_env, check=True, capture_output=True, timeout=120)
    baseline = json.loads((tmp_path / "bare" / "summary.json").read_text())["memory_leaks"]
    assert result["memory_leaks"] == baseline, result["memory_leaks"]
    assert result["swapping"] and result["results_drawn"] > 0, result
    assert result["draws"]["original"] == 0 and result["draws"]["nothing"] == 0, (
        f"frames the filter drew without a result after the warm-up: {result['draws']}")
    # libobs skips ("lags") frames when the 2 cores are busy: a figure, not the filter failing to draw
    assert result["frames_rendered"] >= 0.5 * result["measured_s"] * 30, "libobs stopped rendering"
    assert result["restarts"] == 0 and result["hangs"] == 0 and not result["render_failed"], result
    for key in ("obs_rss_mb", "worker_rss_mb"):
        assert result[key]["growth"] < 50, f"{key}: {result[key]}"
    assert result["clean_exit"], "a worker or a channel file outlived the host"
    assert result["latency_ms"]["n"] > 0
    assert run.returncode == 0, run.stdout + run.stderr
