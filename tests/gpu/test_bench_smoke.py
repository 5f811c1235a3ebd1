"""tools/bench_gpu.py end to end with tiny stand-ins on the CPU (--smoke): the device
machine's run must not be the first time the script runs."""

from __future__ import annotations

from testkit import torch_check

torch_check.require_torch()

import json

from tools import bench_gpu


def test_smoke_run_writes_every_number(tmp_path):
    out = tmp_path / "out" / "bench.json"
    assert bench_gpu.main(["--smoke", "--models", str(tmp_path / "models"), "--out", str(out),
                           "--device", "cpu", "--compare-eager"]) == 0
    result = json.loads(out.read_text())
    assert result["smoke"] and result["device"] == "cpu" and result["frame"] == [1920, 1080]
    assert result["batched_swap"] is True and "error" not in result
    assert result["graphs"] is False and "CUDA" in result["graph_note"]  # no graphs without CUDA
    for faces in (1, 4):
        entry = result[f"faces_{faces}"]
        assert entry["faces"] == faces and entry["worker_ms"]["n"] == 3
        assert entry["worker_ms"]["median"] > 0 and entry["pipelined_interval_ms"]["median"] > 0
        assert entry["model_ms"]["swapper_calls_per_frame"] == 1
        assert set(entry["device_stage_ms"]) >= {"upload", "align+swap", "paste", "download"}
        assert entry["rest_ms_median"] == entry["worker_ms"]["median"] - entry["model_ms"]["total_median"]
