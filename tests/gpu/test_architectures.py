"""The generators of real-size models (tools/make_*_standin.py, used by the GPU benchmark)
build graphs with the real models' operators; here small copies of them run through both
runtimes and must agree, so the benchmark on the device runs what was checked here."""

from __future__ import annotations

from testkit import torch_check

torch_check.require_torch()

from pathlib import Path

import numpy as np
import pytest

from faceswap_core.neural.providers import ModelSession
from faceswap_core.neural.runner_torch import TorchRunner, shape_constant_names
from tools import make_arcface_standin, make_inswapper_standin, make_scrfd_standin


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("architectures")


def test_inswapper_architecture_matches_and_batches(folder):
    path = str(folder / "inswapper_small.onnx")
    make_inswapper_standin.build(path, divide=32)
    session, runner = ModelSession(path), TorchRunner(path, device="cpu")
    rng = np.random.default_rng(0)
    feeds = {"target": rng.uniform(0, 1, (1, 3, 128, 128)).astype(np.float32),
             "source": rng.normal(0, 0.05, (1, 512)).astype(np.float32)}
    ours, theirs = runner.run(feeds)[0], session.run(feeds)[0]
    assert ours.shape == (1, 3, 128, 128) and 0.0 <= ours.min() and ours.max() <= 1.0
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
    assert runner.probe_batching()  # its AdaIN reshape keeps the batch free (-1)
    runner._try_channels_last()      # what a GPU runner does: NHWC memory, same numbers
    assert runner.channels_last and not runner.note
    np.testing.assert_allclose(runner.run(feeds)[0], theirs, atol=2e-5)
    # Resize's scales and every integer constant are read on the host each call; weights are not.
    names = shape_constant_names(runner.module)
    buffers = dict(runner.module.initializers.named_buffers())
    assert any(buffers[n].is_floating_point() and buffers[n].numel() == 4 for n in names)   # [1, 1, 2, 2]
    assert all(buffers[n].numel() <= 5 for n in names)
    assert any(not buffers[n].is_floating_point() for n in names)


def test_arcface_architecture_matches(folder):
    path = str(folder / "arcface_small.onnx")
    params, _ = make_arcface_standin.build(path, layers=(1, 1, 1, 1))
    session, runner = ModelSession(path), TorchRunner(path, device="cpu")
    blob = np.random.default_rng(1).uniform(-1, 1, (2, 3, 112, 112)).astype(np.float32)
    ours, theirs = runner.run({"input.1": blob})[0], session.run({"input.1": blob})[0]
    assert ours.shape == (2, 512)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3 * float(np.abs(theirs).max()))


def test_scrfd_10g_architecture_matches(folder):
    path = str(folder / "det_10g.onnx")
    make_scrfd_standin.build(path)
    session, runner = ModelSession(path), TorchRunner(path, device="cpu")
    blob = np.random.default_rng(2).uniform(-1, 1, (1, 3, 160, 192)).astype(np.float32)
    theirs = session.run({"input.1": blob})
    ours = runner.run({"input.1": blob})
    runner._try_channels_last()
    assert runner.channels_last
    for outputs in (ours, runner.run({"input.1": blob})):
        assert len(outputs) == 9 and outputs[0].shape == (2 * 20 * 24, 1)
        for a, b in zip(outputs, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
