"""The model-runner interface: what the detector, recognizer and swapper need from
whatever runs an ONNX file, and the one function that opens a file with a chosen runtime.

Two runtimes run the same ONNX files:
- `onnxruntime` (providers.ModelSession): CPU, CUDA, TensorRT (engine cache), ROCm,
  DirectML, CoreML, OpenVINO, with the matching onnxruntime package;
- `torch` (runner_torch.TorchRunner): the graph converted to PyTorch modules (onnx2torch),
  run on CUDA, ROCm (torch's ROCm build reports itself as CUDA), Apple MPS or the CPU.
  For users who have PyTorch but no GPU build of ONNX Runtime, AMD and Apple users among
  them, and the base of the GPU frame path (gpu_pipeline), which keeps frames on the device.

The model classes only use the members of `ModelRunner` below, so either runner fits.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import FaceSwapError
from ..model_catalog import REINSTALL_ADVICE

LOCAL_RUNTIMES = ("onnxruntime", "torch")   # what open_runner opens a file with
# triton: the recognizer and the swapper served by a Triton server (faceswap_core.remote), the
# detector on ONNX Runtime here; the engine builds those itself, open_runner never sees it
RUNTIMES = (*LOCAL_RUNTIMES, "triton")


@runtime_checkable
class ModelRunner(Protocol):
    """Load an ONNX file once, then run named inputs to outputs (in the file's output order).

    inputs/outputs: objects with .name, .shape (ints, or strings for dynamic axes) and
    .type ('tensor(float)' or 'tensor(float16)'), as onnxruntime's NodeArg has.
    """

    path: str
    label: str
    inputs: Sequence
    outputs: Sequence
    input_names: list[str]
    output_names: list[str]
    run_seconds: float
    runs: int

    @property
    def provider(self) -> str: ...

    def input_dtype(self, index: int = 0) -> np.dtype: ...

    def set_constant(self, name: str, value: np.ndarray) -> None: ...

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


def fits_shape(shape: Sequence, expected: Sequence) -> bool:
    """Whether a model's declared shape can hold `expected` (None: any size; a named,
    dynamic axis fits every size)."""
    return len(shape) == len(expected) and all(
        want is None or not isinstance(have, int) or have == want for have, want in zip(shape, expected))


def signature_problem(runner: ModelRunner, inputs: Sequence[Sequence], outputs: Sequence[Sequence]) -> str:
    """'' when the runner's inputs and outputs have these shapes (in order), else what differs,
    in words, for the one sentence a user gets about a model file they brought."""
    for kind, declared, wanted in (("inputs", runner.inputs, inputs), ("outputs", runner.outputs, outputs)):
        if len(declared) != len(wanted):
            return f"it has {len(declared)} {kind}, the family has {len(wanted)}"
        for arg, shape in zip(declared, wanted):
            if not fits_shape(list(arg.shape), shape):
                expected = "x".join("N" if size is None else str(size) for size in shape)
                return f"its {kind[:-1]} '{arg.name}' is {list(arg.shape)}, the family's is {expected}"
    return ""


def takes_batches(runner: ModelRunner, name: str) -> bool:
    """Whether input `name` accepts more than one item per call: a dynamic first axis, or a
    runner that found the graph batches anyway (TorchRunner.probe_batching)."""
    shape = runner.inputs[runner.input_names.index(name)].shape
    return not (isinstance(shape[0], int) and shape[0] == 1) or bool(getattr(runner, "batches", False))


def run_batch(runner: ModelRunner, feeds: dict[str, np.ndarray], batched: Sequence[str]) -> list[np.ndarray]:
    """Run N items (the first axis of the inputs named in `batched`; other inputs are shared)
    in one call where the model takes it, else one at a time; outputs concatenated."""
    count = len(feeds[batched[0]])
    if count <= 1 or all(takes_batches(runner, name) for name in batched):
        return runner.run(feeds)
    parts = [runner.run({k: (v[i:i + 1] if k in batched else v) for k, v in feeds.items()}) for i in range(count)]
    return [np.concatenate([part[j] for part in parts]) for j in range(len(parts[0]))]


def open_runner(path: str, runtime: str = "onnxruntime", *, choice=None, device: str = "auto",
                precision: str | None = None, threads: int = 0, label: str = "model",
                channels_last: bool = False, fix: str = REINSTALL_ADVICE) -> ModelRunner:
    """One runner for one model file.

    runtime 'onnxruntime' takes `choice` (providers.ProviderChoice) and `threads`; 'torch'
    takes `device` ('auto', 'cuda', 'cuda:1', 'mps', 'cpu'), `precision` ('fp32', 'fp16'; None: the file's own) and
    `channels_last` (NHWC memory on a GPU, kept only where the graph runs that way).
    `fix`: what the user does about a file that is missing or does not load (a catalogued
    file is installed again; the user's own file is replaced by the user).
    """
    if runtime == "onnxruntime":
        from .providers import ModelSession

        return ModelSession(path, choice, threads=threads, label=label, fix=fix)
    if runtime == "torch":
        from .runner_torch import TorchRunner

        return TorchRunner(path, device=device, precision=precision, label=label, threads=threads,
                           channels_last=channels_last, fix=fix)
    raise FaceSwapError(f"Unknown model runtime '{runtime}'; choose one of: {', '.join(LOCAL_RUNTIMES)}.")
