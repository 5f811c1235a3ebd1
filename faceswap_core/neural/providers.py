"""ONNX Runtime execution providers and sessions.

Picks the best provider that is both compiled into the installed onnxruntime package and
usable, or the one the user names; says which package to install when it is missing.
Each model gets one `ModelSession`, created once and reused for every frame; on GPU
providers it runs through IOBinding so constant inputs (the swap latent) stay on the
device between frames.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from ..errors import FaceSwapError
from ..model_catalog import REINSTALL_ADVICE
from ..schema import ORT_PROVIDERS, provider_key

CPU = "CPUExecutionProvider"

# short name -> onnxruntime provider name, best first (the order `auto` tries them in).
PROVIDERS: dict[str, str] = ORT_PROVIDERS
ALIASES = {"trt": "tensorrt", "dml": "directml", "gpu": "cuda"}

# provider short name -> the pip package that contains it.
PACKAGE_FOR = {
    "tensorrt": "onnxruntime-gpu (and NVIDIA TensorRT)",
    "cuda": "onnxruntime-gpu",
    "rocm": "onnxruntime-rocm",
    "directml": "onnxruntime-directml",
    "coreml": "onnxruntime (the macOS wheel)",
    "openvino": "onnxruntime-openvino",
    "cpu": "onnxruntime",
}
ORT_PACKAGES = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-rocm",
    "onnxruntime-silicon",
    "onnxruntime-qnn",
)
# Where IOBinding can keep tensors on the device: provider -> OrtValue device type.
BINDING_DEVICE = {
    "TensorrtExecutionProvider": "cuda",
    "CUDAExecutionProvider": "cuda",
    "ROCMExecutionProvider": "cuda",
    "DmlExecutionProvider": "dml",
}


CUDA_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _preload_cuda_libraries(ort) -> None:
    """Load CUDA and cuDNN from the nvidia-* wheels before the first CUDA session.

    The installer's route for NVIDIA cards is onnxruntime-gpu[cuda,cudnn]: CUDA and cuDNN
    come as pip wheels, which the CUDA provider does not search by itself; without this
    it finds no libcudnn, and ONNX Runtime quietly runs on the CPU (seconds per frame).
    preload_dlls (ONNX Runtime 1.21+) looks in those wheels first, then the system's
    paths, and does nothing harmful where a system CUDA or PyTorch's is already loaded.
    Older versions lack it and need a system CUDA, as their docs say.
    """
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception:   # noqa: BLE001 - a missing library shows when the session starts
        pass


def _import_ort():
    try:
        import onnxruntime
    except ImportError:
        raise FaceSwapError(
            "The neural engine needs ONNX Runtime; install it with: pip install 'obs-faceswap[neural]'."
        ) from None
    return onnxruntime


def installed_ort_packages() -> list[str]:
    """The onnxruntime distributions installed, e.g. ['onnxruntime-gpu']; two at once is a known trap."""
    found = []
    for name in ORT_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def available_providers() -> list[str]:
    return list(_import_ort().get_available_providers())


short_name = provider_key


def normalise(name: str) -> str:
    """'CUDA', 'cuda', 'CUDAExecutionProvider', 'gpu' -> 'cuda'; unknown names raise."""
    key = (name or "").strip().lower()
    key = ALIASES.get(key, key)
    if key in PROVIDERS:
        return key
    for short, full in PROVIDERS.items():
        if key == full.lower():
            return short
    known = ", ".join(["auto", *PROVIDERS])
    raise FaceSwapError(f"Unknown execution provider '{name}'; choose one of: {known}.")


@dataclass(frozen=True)
class ProviderChoice:
    """The providers handed to ONNX Runtime, first = preferred, CPU last as the fallback."""

    providers: tuple[str, ...]
    options: tuple[dict, ...]

    @property
    def primary(self) -> str:
        return self.providers[0]


def provider_options(provider: str, cache_dir: str | None = None, *, device_id: int = 0, fp16: bool = True) -> dict:
    """Complete options per provider, as ONNX Runtime's provider_options take them.

    GPU providers get the device to run on (device_id; several GPUs in one machine).
    TensorRT builds an engine per model and input shape, which takes minutes: it is cached
    under cache_dir/tensorrt (engines and the timing cache), and builds in fp16 when fp16 is
    set (the swap's `source` latent is computed in fp32 outside the graph either way).
    CUDA's fp16 comes from the fp16 model file instead (it has no precision option).
    """
    device_id = int(device_id)
    if device_id < 0:
        raise FaceSwapError(f"The GPU number must be 0 or more, not {device_id}.")
    if provider == "TensorrtExecutionProvider":
        options = {"device_id": device_id, "trt_fp16_enable": bool(fp16), "trt_engine_cache_enable": True}
        if cache_dir:
            folder = os.path.join(cache_dir, "tensorrt")
            options["trt_engine_cache_path"] = folder
            options["trt_timing_cache_enable"] = True
            options["trt_timing_cache_path"] = folder
        return options
    if provider == "CUDAExecutionProvider":
        # EXHAUSTIVE (the default) searches convolution algorithms for seconds on the first frame;
        # kSameAsRequested keeps the arena from doubling past what the models need (OBS shares the GPU).
        return {"device_id": device_id, "cudnn_conv_algo_search": "HEURISTIC",
                "arena_extend_strategy": "kSameAsRequested", "do_copy_in_default_stream": True,
                "cudnn_conv_use_max_workspace": "1"}
    if provider in ("ROCMExecutionProvider", "DmlExecutionProvider"):
        return {"device_id": device_id}
    if provider == "CoreMLExecutionProvider" and _ort_version() >= (1, 20):
        # Named options arrived in 1.20; older builds take none (and refuse unknown ones).
        return {"ModelFormat": "MLProgram", "MLComputeUnits": "ALL"}
    return {}


def _ort_version() -> tuple[int, int]:
    try:
        major, minor = metadata.version("onnxruntime").split(".")[:2]
    except (metadata.PackageNotFoundError, ValueError):
        try:
            major, minor = _import_ort().__version__.split(".")[:2]
        except (FaceSwapError, ValueError):
            return (0, 0)
    try:
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def choose_providers(
    requested: str | None = "auto", available: list[str] | None = None, cache_dir: str | None = None,
    *, device_id: int = 0, fp16: bool = True,
) -> ProviderChoice:
    """Resolve 'auto' or a named provider against what this onnxruntime build offers."""
    if available is None:
        available = available_providers()
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        chosen = [full for full in PROVIDERS.values() if full in available and full != CPU]
        chosen = chosen[:1]
    else:
        short = normalise(requested)
        full = PROVIDERS[short]
        if full not in available:
            packages = installed_ort_packages()
            have = ", ".join(packages) if packages else "no onnxruntime package"
            offered = ", ".join(short_name(p) for p in available) or "none"
            if len(packages) > 1:
                raise FaceSwapError(
                    f"Several ONNX Runtime packages are installed ({have}) and shadow each other, so {short} "
                    f"is not available; pip uninstall all of them, then pip install {PACKAGE_FOR[short]} alone."
                )
            raise FaceSwapError(
                f"The {short} provider is not in the installed ONNX Runtime ({have}; it offers: {offered}); "
                f"uninstall that and pip install {PACKAGE_FOR[short]}, or choose --provider auto."
            )
        chosen = [full] if full != CPU else []
    if chosen and chosen[0] == PROVIDERS["tensorrt"] and PROVIDERS["cuda"] in available:
        # Nodes TensorRT cannot take run on CUDA rather than falling back to the CPU.
        chosen.append(PROVIDERS["cuda"])
    chosen.append(CPU)
    return ProviderChoice(tuple(chosen), tuple(provider_options(p, cache_dir, device_id=device_id, fp16=fp16)
                                               for p in chosen))


@dataclass
class _Bound:
    binding: object
    constants: dict = field(default_factory=dict)


class ModelSession:
    """One ONNX Runtime session for one model file, created once, run many times.

    `run(feeds)` returns the outputs as numpy arrays in the model's output order. Inputs
    given to `set_constant` (the swap latent) are kept as device tensors where the
    provider has a device (CUDA, TensorRT, ROCm, DirectML), so each frame copies only the
    image crop to the GPU.
    """

    def __init__(self, path: str, choice: ProviderChoice | None = None, *, use_binding: bool | None = None,
                 threads: int = 0, label: str = "model", fix: str = REINSTALL_ADVICE):
        ort = _import_ort()
        self.path = path
        self.fix = fix            # what to do about this file: reinstall it, or choose another
        self.label = label
        choice = choice or choose_providers("cpu")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        if choice.primary == "DmlExecutionProvider":
            # DirectML cannot use memory patterns or parallel execution (ONNX Runtime's docs).
            options.enable_mem_pattern = False
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        for provider_opts in choice.options:
            cache = provider_opts.get("trt_engine_cache_path")
            if cache:
                os.makedirs(cache, exist_ok=True)
        options.log_severity_level = 3
        # Idle ORT threads otherwise spin for a while after each run, taking the cores from
        # the pre/post-processing in between and from OBS itself (its encoder, its UI).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if choice.primary in CUDA_PROVIDERS:
            _preload_cuda_libraries(ort)
        try:
            self.session = ort.InferenceSession(
                path, sess_options=options, providers=list(choice.providers), provider_options=list(choice.options)
            )
        except Exception as error:  # onnxruntime raises its own exception types per failure
            name = os.path.basename(path)
            if not os.path.exists(path):
                raise FaceSwapError(f"The model file {path} is missing; {fix}.") from None
            raise FaceSwapError(
                f"The model file {name} could not be loaded ({type(error).__name__}); "
                f"it is damaged or not an ONNX model: {fix}."
            ) from None
        self.providers = list(self.session.get_providers())
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()
        self.input_names = [i.name for i in self.inputs]
        self.output_names = [o.name for o in self.outputs]
        self.device = BINDING_DEVICE.get(self.providers[0], "cpu")
        self.device_id = int(choice.options[0].get("device_id", 0)) if choice.options else 0
        self.use_binding = (self.device != "cpu") if use_binding is None else bool(use_binding)
        self._bound = _Bound(self.session.io_binding()) if self.use_binding else None
        self._constants: dict[str, np.ndarray] = {}
        self.run_seconds = 0.0  # time inside ONNX Runtime, for benchmarks (per session, one thread)
        self.runs = 0

    @property
    def provider(self) -> str:
        return self.providers[0]

    def input_dtype(self, index: int = 0) -> np.dtype:
        return np.float16 if self.inputs[index].type == "tensor(float16)" else np.float32

    def set_constant(self, name: str, value: np.ndarray) -> None:
        """An input that stays the same across many runs (bound once on the device)."""
        value = np.ascontiguousarray(value)
        self._constants[name] = value
        if self._bound is not None:
            ort = _import_ort()
            try:
                ort_value = ort.OrtValue.ortvalue_from_numpy(value, self.device, self.device_id)
            except Exception:  # a build that cannot allocate on this device: keep it in RAM
                ort_value = ort.OrtValue.ortvalue_from_numpy(value)
            self._bound.constants[name] = ort_value
            self._bound.binding.bind_ortvalue_input(name, ort_value)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        started = time.perf_counter()
        try:
            return self._run(feeds)
        finally:
            self.run_seconds += time.perf_counter() - started
            self.runs += 1

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._bound is None:
            all_feeds = dict(self._constants)
            all_feeds.update(feeds)
            return self.session.run(self.output_names, all_feeds)
        binding = self._bound.binding
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name, ort_value in self._bound.constants.items():
            if name not in feeds:  # a feed may have replaced it in an earlier run
                binding.bind_ortvalue_input(name, ort_value)
        for name in self.output_names:
            binding.bind_output(name, "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
