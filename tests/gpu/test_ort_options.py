"""ONNX Runtime's GPU path: the provider options it is given (device id, TensorRT's fp16
flag and engine and timing caches, CUDA's options) and what happens when a provider is
missing. The GPU providers cannot exist here (the CPU onnxruntime package only): their
options are checked as built, and their absence through the real onnxruntime's own list of
providers. Needs no torch.
"""

from __future__ import annotations

import onnxruntime as ort
import pytest

from faceswap_core.errors import FaceSwapError
from faceswap_core.neural import providers
from faceswap_core.neural.providers import ModelSession, choose_providers, provider_options

GPU_BOX = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


# -- ONNX Runtime: GPU provider options ---------------------------------------------------
def test_tensorrt_options_carry_device_fp16_and_both_caches(tmp_path):
    options = provider_options("TensorrtExecutionProvider", str(tmp_path), device_id=1, fp16=False)
    assert options["device_id"] == 1 and options["trt_fp16_enable"] is False
    assert options["trt_engine_cache_enable"] is True
    assert options["trt_engine_cache_path"] == str(tmp_path / "tensorrt")
    assert options["trt_timing_cache_enable"] is True and options["trt_timing_cache_path"] == str(tmp_path / "tensorrt")
    assert provider_options("TensorrtExecutionProvider")["trt_fp16_enable"] is True  # the default
    assert "trt_engine_cache_path" not in provider_options("TensorrtExecutionProvider")


def test_cuda_rocm_directml_options_name_the_device():
    cuda = provider_options("CUDAExecutionProvider", device_id=2)
    assert cuda["device_id"] == 2 and cuda["cudnn_conv_algo_search"] == "HEURISTIC"
    assert cuda["arena_extend_strategy"] == "kSameAsRequested"
    assert provider_options("ROCMExecutionProvider", device_id=1) == {"device_id": 1}
    assert provider_options("DmlExecutionProvider") == {"device_id": 0}
    assert provider_options("CPUExecutionProvider") == {}
    with pytest.raises(FaceSwapError, match="GPU number"):
        provider_options("CUDAExecutionProvider", device_id=-1)


def test_tensorrt_chain_keeps_cuda_before_the_cpu(tmp_path):
    choice = choose_providers("tensorrt", GPU_BOX, cache_dir=str(tmp_path), device_id=1)
    assert choice.providers == ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    assert [o.get("device_id") for o in choice.options] == [1, 1, None]
    only_trt = choose_providers("tensorrt", ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    assert only_trt.providers == ("TensorrtExecutionProvider", "CPUExecutionProvider")


@pytest.mark.parametrize("name,package", [("cuda", "onnxruntime-gpu"), ("tensorrt", "TensorRT"),
                                          ("rocm", "onnxruntime-rocm")])
def test_missing_gpu_provider_in_the_real_onnxruntime_says_what_to_install(name, package):
    available = ort.get_available_providers()
    if providers.PROVIDERS[name] in available:
        pytest.skip(f"this onnxruntime has {name}")
    with pytest.raises(FaceSwapError, match=package):
        choose_providers(name, available)


def test_engine_cache_folder_is_created_by_the_session(models, tmp_path):
    # The CPU provider ignores TensorRT's options, but the session prepares the cache folder.
    choice = choose_providers("tensorrt", GPU_BOX, cache_dir=str(tmp_path))
    cpu_only = providers.ProviderChoice(("CPUExecutionProvider",), ({},))
    session = ModelSession(str(models["rec"]), providers.ProviderChoice(cpu_only.providers, (choice.options[0],)))
    assert (tmp_path / "tensorrt").is_dir() and session.provider == "CPUExecutionProvider"
