"""Face mapping rules, and execution-provider choice and fallback.

GPU providers cannot exist on this machine: their availability is given as a list (the
same list onnxruntime.get_available_providers() returns), and the session tests use the
real CPU provider.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceswap_core.errors import FaceSwapError
from faceswap_core.neural import providers
from faceswap_core.neural.mapping import FaceMapping, Identity
from faceswap_core.neural.providers import ModelSession, choose_providers
from faceswap_core.neural.recognizer import identity_distance, normalise


def _identity(seed: int) -> Identity:
    vector = normalise(np.random.default_rng(seed).normal(size=512))
    return Identity(vector, vector.reshape(1, -1), f"id{seed}")


def _near(identity: Identity, noise: float, seed: int) -> np.ndarray:
    return normalise(identity.embedding + noise * np.random.default_rng(seed).normal(size=512) / np.sqrt(512))


def test_identity_distance():
    a = _identity(1).embedding
    assert identity_distance(a, a * 5) == pytest.approx(0.0, abs=1e-6)
    assert identity_distance(a, -a) == pytest.approx(2.0, abs=1e-6)
    assert 0.8 < identity_distance(a, _identity(2).embedding) < 1.2


def test_all_mode_swaps_every_face_without_identities():
    source = _identity(0)
    mapping = FaceMapping("all")
    assert not mapping.needs_identity
    assert mapping.assign(3, source) == [source, source, source]


def test_reference_mode_swaps_only_matching_faces():
    source, person, other = _identity(0), _identity(1), _identity(2)
    mapping = FaceMapping("reference", max_distance=0.5, reference=person.embedding)
    faces = np.stack([other.embedding, _near(person, 0.3, 5), _identity(3).embedding])
    assert mapping.assign(3, source, faces) == [None, source, None]
    with pytest.raises(ValueError):
        mapping.assign(3, source, None)


def test_pairs_mode_matches_each_person_once_closest_first():
    alice, bob = _identity(10), _identity(11)
    to_alice, to_bob = _identity(20), _identity(21)
    mapping = FaceMapping("pairs", max_distance=0.5, pairs=[(alice.embedding, to_alice), (bob.embedding, to_bob)])
    faces = np.stack([_near(bob, 0.2, 1), _identity(99).embedding, _near(alice, 0.1, 2), _near(alice, 0.4, 3)])
    # face 2 is closer to alice than face 3, so alice's source goes to face 2 only
    assert mapping.assign(4, None, faces) == [to_bob, None, to_alice, None]
    assert mapping.assign(0, None, np.zeros((0, 512))) == []


def test_mapping_validates_its_settings():
    with pytest.raises(FaceSwapError):
        FaceMapping("nearest")
    with pytest.raises(FaceSwapError):
        FaceMapping("all", max_distance=0.0)
    assert not FaceMapping("reference").ready and not FaceMapping("pairs").ready


GPU_BOX = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
WINDOWS_AMD = ["DmlExecutionProvider", "CPUExecutionProvider"]
MAC = ["CoreMLExecutionProvider", "AzureExecutionProvider", "CPUExecutionProvider"]
INTEL = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize("available,best", [(GPU_BOX, "TensorrtExecutionProvider"),
                                            (WINDOWS_AMD, "DmlExecutionProvider"),
                                            (MAC, "CoreMLExecutionProvider"),
                                            (INTEL, "OpenVINOExecutionProvider"),
                                            (["CPUExecutionProvider"], "CPUExecutionProvider")])
def test_auto_picks_the_best_available_with_cpu_fallback(available, best):
    choice = choose_providers("auto", available)
    assert choice.primary == best
    assert choice.providers[-1] == "CPUExecutionProvider"
    assert len(choice.options) == len(choice.providers)


def test_named_provider_and_aliases():
    assert choose_providers("cuda", GPU_BOX).providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert choose_providers("CUDAExecutionProvider", GPU_BOX).primary == "CUDAExecutionProvider"
    assert choose_providers("dml", WINDOWS_AMD).primary == "DmlExecutionProvider"
    assert choose_providers("cpu", GPU_BOX).providers == ("CPUExecutionProvider",)
    trt = choose_providers("tensorrt", GPU_BOX, cache_dir="/tmp/models")
    assert trt.options[0]["trt_engine_cache_enable"] and trt.options[0]["trt_engine_cache_path"].startswith("/tmp/models")


def test_missing_provider_names_installed_package_and_the_one_to_install():
    with pytest.raises(FaceSwapError) as error:
        choose_providers("cuda", ["CPUExecutionProvider"])
    message = str(error.value)
    installed = providers.installed_ort_packages()
    assert installed and installed[0].split()[0] in message  # e.g. "onnxruntime 1.32.0"
    assert "pip install onnxruntime-gpu" in message
    with pytest.raises(FaceSwapError, match="onnxruntime-directml"):
        choose_providers("directml", GPU_BOX)
    with pytest.raises(FaceSwapError, match="Unknown execution provider 'npu'"):
        choose_providers("npu", GPU_BOX)


def test_real_session_reports_its_provider_and_runs(recognizer_model):
    session = ModelSession(str(recognizer_model), choose_providers("auto"))
    assert session.provider in providers.available_providers()
    blob = np.zeros((2, 3, 112, 112), np.float32)
    assert session.run({session.input_names[0]: blob})[0].shape == (2, 512)
    bound = ModelSession(str(recognizer_model), use_binding=True)
    np.testing.assert_allclose(bound.run({bound.input_names[0]: blob})[0], session.run({session.input_names[0]: blob})[0])


def test_engine_with_a_missing_provider_fails_with_the_package_hint(recognizer_model, swapper_model):
    from faceswap_core.engines import create_engine
    if "CUDAExecutionProvider" in providers.available_providers():
        pytest.skip("this machine has CUDA")
    paths = {"detector": str(swapper_model), "recognizer": str(recognizer_model), "swapper": str(swapper_model)}
    with pytest.raises(FaceSwapError, match="onnxruntime-gpu"):
        create_engine("neural", model_paths=paths, provider="cuda")


def test_two_onnxruntime_packages_are_named_as_the_problem(monkeypatch):
    # Which distributions are installed is read from package metadata; two at once cannot be
    # installed here without breaking the venv, so the metadata answer is replaced.
    monkeypatch.setattr(providers, "installed_ort_packages", lambda: ["onnxruntime 1.32.0", "onnxruntime-gpu 1.32.0"])
    with pytest.raises(FaceSwapError, match="Several ONNX Runtime packages.*uninstall all of them.*onnxruntime-gpu alone"):
        choose_providers("cuda", ["CPUExecutionProvider"])


@pytest.mark.parametrize("name,preloads", [("cuda", 1), ("tensorrt", 1), ("cpu", 0)])
def test_cuda_libraries_are_preloaded_before_a_cuda_session(recognizer_model, monkeypatch, name, preloads):
    # No CUDA here: the choice is made for a described GPU box, and ONNX Runtime (CPU build)
    # then runs the session on the CPU. What is checked is the order: the nvidia-* wheels'
    # libraries are loaded before the session that needs them, and only for CUDA/TensorRT.
    import onnxruntime

    calls = []
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda *args, **kwargs: calls.append(args), raising=False)
    original = onnxruntime.InferenceSession
    monkeypatch.setattr(onnxruntime, "InferenceSession",
                        lambda *args, **kwargs: (calls.append("session"), original(*args, **kwargs))[1])
    session = ModelSession(str(recognizer_model), choose_providers(name, GPU_BOX))
    assert calls == [()] * preloads + ["session"]
    assert session.provider == "CPUExecutionProvider"
