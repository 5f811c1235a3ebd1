"""The model-runner interface: ONNX Runtime's GPU provider options and its messages, and the
torch runner (onnx2torch) against ONNX Runtime on the CPU, on stand-ins with the real
signatures and on the real SCRFD-500M weights.

ONNX Runtime's GPU providers cannot exist here (CPU package only): their options are
checked as built, and their absence through the real onnxruntime's provider list.
"""

from __future__ import annotations

from testkit import torch_check

torch_check.require_torch()

import sys

import numpy as np
import pytest
import torch

from testkit import standins
from testkit.judge import media, shared_model
from faceswap_core.errors import FaceSwapError
from faceswap_core.neural.detector import ScrfdDetector
from faceswap_core.neural.providers import ModelSession
from faceswap_core.neural.recognizer import ArcFaceRecognizer
from faceswap_core.neural.runner_torch import CudaGraphCall, TorchRunner, resolve_device
from faceswap_core.neural.runners import ModelRunner, open_runner, run_batch, takes_batches
from faceswap_core.neural.swapper import InSwapper, read_emap

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA graphs); none here: "
                          "the device machine runs these and tools/bench_gpu.py")


# -- the torch runner against ONNX Runtime ------------------------------------------------
def _both(path, **kwargs):
    return ModelSession(str(path)), TorchRunner(str(path), device="cpu", **kwargs)


def test_both_runners_fit_the_interface(models):
    for runner in _both(models["rec"]):
        assert isinstance(runner, ModelRunner)
    session, runner = _both(models["swap"])
    assert runner.input_names == session.input_names and runner.output_names == session.output_names
    assert [i.shape for i in runner.inputs] == [i.shape for i in session.inputs]
    assert runner.provider == "torch-cpu" and runner.input_dtype(1) == np.float32


@pytest.mark.parametrize("key", ["det2", "det3"])
def test_detector_outputs_and_detections_match(models, key):
    session, runner = _both(models[key])
    rng = np.random.default_rng(3)
    blob = rng.uniform(-1, 1, size=(1, 3, 320, 256)).astype(np.float32)
    for ours, theirs in zip(runner.run({"input.1": blob}), session.run({"input.1": blob})):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)
    import cv2

    image = cv2.imread(str(media("if_t1.jpg")))
    a, b = ScrfdDetector(session), ScrfdDetector(runner)
    assert b.batched == (key == "det3")
    # Before NMS: the same anchors pass the threshold with the same scores. (The stand-in's
    # scores saturate, so equal scores may order differently after NMS by a 1e-7 difference;
    # detections after NMS are compared on the real weights below.)
    blob, scale = a.preprocess(image)
    ours, _ = b.decode(runner.run({"input.1": blob}), scale)
    theirs, _ = a.decode(session.run({"input.1": blob}), scale)
    assert len(ours) == len(theirs) > 50
    np.testing.assert_allclose(np.sort(ours[:, 4]), np.sort(theirs[:, 4]), atol=1e-5)
    np.testing.assert_allclose(np.sort(ours[:, :4], axis=0), np.sort(theirs[:, :4], axis=0), atol=1e-3)


def test_real_scrfd_weights_give_the_same_faces():
    import cv2

    path = shared_model("scrfd_500m_bnkps.onnx")
    session, runner = _both(path)
    image = cv2.imread(str(media("if_t1.jpg")))
    boxes, kps = ScrfdDetector(runner).detect_arrays(image)
    ref_boxes, ref_kps = ScrfdDetector(session).detect_arrays(image)
    assert len(boxes) == 6
    np.testing.assert_allclose(boxes, ref_boxes, atol=2e-3)
    np.testing.assert_allclose(kps, ref_kps, atol=2e-3)


def test_recognizer_embeddings_match_in_a_batch(models):
    session, runner = _both(models["rec"])
    crops = [np.random.default_rng(i).integers(0, 256, (112, 112, 3), dtype=np.uint8) for i in range(3)]
    ours = ArcFaceRecognizer(runner).raw_embeddings(crops)
    theirs = ArcFaceRecognizer(session).raw_embeddings(crops)
    assert ours.shape == (3, 512)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-5)


def test_swapper_outputs_and_bound_latent_match(models):
    session, runner = _both(models["swap"])
    emap = read_emap(str(models["swap"]))
    ours, theirs = InSwapper(runner, emap), InSwapper(session, emap)
    crop = np.random.default_rng(5).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    latent = theirs.latent(np.cos(np.arange(512.0)))
    assert np.abs(ours.run(crop, latent).astype(int) - theirs.run(crop, latent).astype(int)).max() <= 1
    ours.set_latent(latent)
    theirs.set_latent(latent)
    raw_ours = runner.run({"target": ours.blob(crop)})[0]
    raw_theirs = session.run({"target": theirs.blob(crop)})[0]
    np.testing.assert_allclose(raw_ours, raw_theirs, atol=1e-6)


def test_fp16_swapper_file_and_fp16_precision_stay_close_with_an_fp32_latent(models):
    session = ModelSession(str(models["swap"]))
    emap = read_emap(str(models["swap"]))
    reference = InSwapper(session, emap)
    crop = np.random.default_rng(6).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    latent = reference.latent(np.sin(np.arange(512.0)))
    assert latent.dtype == np.float32 and reference.emap.dtype == np.float32
    expected = reference.run(crop, latent).astype(int)
    half = TorchRunner(str(models["swap"]), device="cpu", precision="fp16")
    assert half.precision == "fp16" and half.input_dtype(0) == np.float32
    assert np.abs(InSwapper(half, emap).run(crop, latent).astype(int) - expected).max() <= 6
    file16 = TorchRunner(str(models["swap16"]), device="cpu")
    assert file16.precision == "fp16" and file16.input_dtype(0) == np.float16
    swapper16 = InSwapper(file16, read_emap(str(models["swap16"])))
    assert swapper16.emap.dtype == np.float32
    ref16 = InSwapper(ModelSession(str(models["swap16"])), read_emap(str(models["swap16"])))
    assert np.abs(swapper16.run(crop, latent).astype(int) - ref16.run(crop, latent).astype(int)).max() <= 2
    upcast = TorchRunner(str(models["swap16"]), device="cpu", precision="fp32")   # what --precision fp32 asks
    assert upcast.precision == "fp32" and upcast.input_dtype(0) == np.float16      # fed as the file says
    assert np.abs(InSwapper(upcast, read_emap(str(models["swap16"]))).run(crop, latent).astype(int) - expected).max() <= 6


def test_batching_is_probed_and_run_batch_falls_back_per_item(models, tmp_path):
    session, runner = _both(models["swap"])
    assert not takes_batches(runner, "target")      # the signature says batch 1 ...
    assert runner.probe_batching() is True           # ... but the graph computes N items exactly
    assert takes_batches(runner, "target") and not takes_batches(session, "target")
    rng = np.random.default_rng(8)
    feeds = {"target": rng.uniform(0, 1, (3, 3, 128, 128)).astype(np.float32),
             "source": rng.normal(size=(3, 512)).astype(np.float32)}
    batched = run_batch(runner, feeds, ["target", "source"])[0]
    looped = run_batch(session, feeds, ["target", "source"])[0]   # ORT refuses batch 3: one at a time
    assert batched.shape == looped.shape == (3, 3, 128, 128)
    np.testing.assert_allclose(batched, looped, atol=1e-5)
    # A graph whose reshape pins batch 1 is found out and run per item.
    import onnx

    model = onnx.load(str(models["swap"]))
    for init in model.graph.initializer:
        if init.name == "tint_shape":
            init.CopyFrom(onnx.numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "tint_shape"))
    pinned_path = tmp_path / "pinned.onnx"
    onnx.save(model, str(pinned_path))
    pinned = TorchRunner(str(pinned_path), device="cpu")
    assert pinned.probe_batching() is False
    np.testing.assert_allclose(run_batch(pinned, feeds, ["target", "source"])[0], looped, atol=1e-5)


def test_devices_and_failures_are_named():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(FaceSwapError, match="Unknown torch device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(FaceSwapError, match="cannot run on cuda.*pytorch.org"):
            resolve_device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        with pytest.raises(FaceSwapError, match="mps"):
            resolve_device("mps")
    with pytest.raises(FaceSwapError, match="missing"):
        TorchRunner("/nonexistent/model.onnx", device="cpu")
    with pytest.raises(FaceSwapError, match="Unknown model runtime"):
        open_runner("x.onnx", "tensorflow")


def test_onnx2torch_imports_without_leaving_a_torchvision_placeholder():
    try:
        import torchvision  # noqa: F401
        pytest.skip("torchvision is installed here: no placeholder is used")
    except ImportError:
        pass
    assert "onnx2torch" in sys.modules and "torchvision" not in sys.modules


def test_open_runner_makes_either_runtime(models):
    assert isinstance(open_runner(str(models["rec"]), "torch", device="cpu"), TorchRunner)
    assert isinstance(open_runner(str(models["rec"]), "onnxruntime"), ModelSession)


def test_cuda_graphs_refuse_the_cpu(models):
    runner = TorchRunner(str(models["swap"]), device="cpu")
    with pytest.raises(FaceSwapError, match="CUDA"):
        CudaGraphCall(runner, {"target": torch.zeros(1, 3, 128, 128), "source": torch.zeros(1, 512)})
    with pytest.raises(FaceSwapError, match="CUDA"):
        CudaGraphCall(runner.run_tensors, {"target": torch.zeros(1, 3, 128, 128)}, torch.device("cpu"))


@CUDA
def test_cuda_graph_replay_equals_eager(models):
    runner = TorchRunner(str(models["swap"]), device="cuda")
    feeds = {"target": torch.rand(2, 3, 128, 128, device="cuda"), "source": torch.randn(2, 512, device="cuda")}
    graph = CudaGraphCall(runner, feeds)
    fresh = {"target": torch.rand(2, 3, 128, 128, device="cuda"), "source": torch.randn(2, 512, device="cuda")}
    torch.testing.assert_close(graph(fresh)[0], runner.run_tensors(fresh)[0])


def test_shapes_answered_on_the_host_give_the_same_detections():
    """What a GPU runner does to SCRFD's Shape -> Gather -> Concat -> Reshape chains (so no
    kernel waits for them and CUDA graphs can be captured), done on the CPU: same outputs."""
    from faceswap_core.neural.runner_torch import _keep_shape_constants_on_host, host_side_shapes

    path = shared_model("scrfd_500m_bnkps.onnx")
    plain, tweaked = TorchRunner(str(path), device="cpu"), TorchRunner(str(path), device="cpu")
    kinds = {type(m).__name__ for m in tweaked.module.modules()}
    assert "OnnxShape" in kinds
    _keep_shape_constants_on_host(tweaked.module)
    kinds = {type(m).__name__ for m in tweaked.module.modules()}
    assert "OnnxShape" not in kinds and "HostShape" in kinds
    assert host_side_shapes(tweaked.module) == 0  # nothing left to replace
    assert tweaked._runs()
    blob = np.random.default_rng(9).uniform(-1, 1, (1, 3, 320, 288)).astype(np.float32)
    for a, b in zip(tweaked.run({"input.1": blob}), plain.run({"input.1": blob})):
        np.testing.assert_array_equal(a, b)
