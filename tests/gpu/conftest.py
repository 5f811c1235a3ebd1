"""The GPU frame path and the torch runtime, tested with PyTorch's CPU build.

PyTorch and onnx2torch are optional (the `gpu` extra): without them each test module skips
with the reason (torch_check.require_torch), unless FACESWAP_REQUIRE_TORCH=1 (set it in CI
once it installs them), where a missing package fails instead, so they cannot pass by
silently skipping. Tests that need CUDA skip with that reason on machines without it.
"""

from __future__ import annotations


import pytest
from pathlib import Path


from testkit import standins


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gpu_standins")
    return {
        "det2": standins.build_detector(folder / "det2.onnx", rank=2, seed=21),
        "det3": standins.build_detector(folder / "det3.onnx", rank=3, seed=22),
        "rec": standins.build_recognizer(folder / "rec.onnx"),
        "swap": standins.build_swapper(folder / "swap.onnx"),
        "swap16": standins.build_swapper(folder / "swap16.onnx", fp16=True),
    }
