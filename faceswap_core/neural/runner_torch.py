"""Running the ONNX model files with PyTorch: the graph converted to torch modules by
onnx2torch, on CUDA, ROCm, Apple MPS or the CPU.

Why a second runtime: most users who have a GPU-enabled PyTorch have no GPU build of ONNX
Runtime (and the peers leave AMD and Apple users on the CPU); and with the models as torch
modules, the frame can stay on the GPU from upload to download (gpu_pipeline), their calls
can be captured in a CUDA graph and replayed (CudaGraphCall), and faces can be batched.

Precision: 'fp16' runs the converted module in half precision (the fp16 model file is
half already). The swap's `source` input is computed outside the graph, in fp32
(InSwapper.latent, or gpu_pipeline for batches), and only then cast: the emap latent math
never runs in fp16. Outputs are handed back as float32.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import types
from dataclasses import dataclass

import numpy as np

from ..errors import FaceSwapError
from ..model_catalog import REINSTALL_ADVICE

DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("fp32", "fp16")
_ONNX_FLOAT16 = 10
_IMPORT_LOCK = threading.Lock()  # onnx2torch's import may briefly stand in for torchvision


def import_torch():
    try:
        import torch
    except ImportError:
        raise FaceSwapError(
            "The torch model runtime needs PyTorch; install it with: pip install 'obs-faceswap[gpu]' "
            "(or a PyTorch build for your GPU from pytorch.org, then pip install onnx2torch)."
        ) from None
    return torch


def import_onnx2torch():
    """onnx2torch, importable without torchvision.

    onnx2torch imports torchvision at load time for two operators (NonMaxSuppression,
    RoiAlign) that none of the face models use. Where torchvision is missing (PyPI's
    torchvision does not load beside every torch build), a placeholder stands in for it
    during the import only and is removed afterwards, so no other code sees it; a model
    that did use those two operators would fail when run, naming torchvision.
    """
    import_torch()
    with _IMPORT_LOCK:
        if "onnx2torch" in sys.modules:
            return sys.modules["onnx2torch"]
        placeholder = None
        try:
            importlib.import_module("torchvision")
        except Exception:  # ImportError, or torchvision's own failure to load beside this torch
            placeholder = _torchvision_placeholder()
            sys.modules.update(placeholder)
        try:
            return importlib.import_module("onnx2torch")
        except ImportError:
            raise FaceSwapError("The torch model runtime needs onnx2torch; install it with: "
                                "pip install 'obs-faceswap[gpu]' (or pip install onnx2torch).") from None
        finally:
            for name, module in (placeholder or {}).items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]


def _torchvision_placeholder() -> dict[str, types.ModuleType]:
    def missing(*_args, **_kwargs):
        raise FaceSwapError("This model uses NonMaxSuppression or RoiAlign, which need torchvision; "
                            "install the torchvision build that matches your torch.")

    root, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = missing
    root.ops = ops
    return {"torchvision": root, "torchvision.ops": ops}


def resolve_device(name: str | None = "auto"):
    """'auto' -> the best device torch has here (CUDA/ROCm, then MPS, then CPU); a named one
    that torch cannot use raises with what to install."""
    torch = import_torch()
    name = (name or "auto").strip().lower()
    if name == "gpu":
        name = "cuda"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in ("cuda", "mps", "cpu"):
        raise FaceSwapError(f"Unknown torch device '{name}'; choose one of: {', '.join(DEVICES)} (or cuda:N).")
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None and getattr(torch.version, "hip", None) is None \
                else "a GPU build that finds no usable GPU (driver?)"
            raise FaceSwapError(f"PyTorch {torch.__version__} here is {build}, so it cannot run on cuda; install "
                                "the CUDA (NVIDIA) or ROCm (AMD) build from pytorch.org, or use --device cpu.")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise FaceSwapError(f"There is no GPU number {index}; this machine has {torch.cuda.device_count()}.")
        return torch.device("cuda", index)
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise FaceSwapError("Apple's Metal (mps) is not available to PyTorch here (it needs macOS 12.3+ on "
                                "Apple silicon or an AMD GPU); use --device cpu.")
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class TensorInfo:
    """An input or output as onnxruntime's NodeArg describes it (name, shape, type)."""

    name: str
    shape: list
    type: str


def _infos(values, skip: set[str]) -> list[TensorInfo]:
    infos = []
    for value in values:
        if value.name in skip:
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
        infos.append(TensorInfo(value.name, shape, "tensor(float16)" if tensor.elem_type == _ONNX_FLOAT16
                                else "tensor(float)"))
    return infos


_SHAPE_ARGUMENTS = {"OnnxResize": (1, 2, 3), "OnnxResizeV10": (1,), "OnnxReshape": (1,), "OnnxSlice": (1, 2, 3, 4),
                    "OnnxExpand": (1,), "OnnxTile": (1,), "OnnxPadDynamic": (1, 2)}


def shape_constant_names(module) -> set[str]:
    """The converted graph's constants that are shapes, axes, indices or resize factors:
    every integer constant, and the float ones a Resize reads as its scales."""
    container = getattr(module, "initializers", None)
    graph = getattr(module, "graph", None)
    if container is None or graph is None:
        return set()
    host = set()
    for node in graph.nodes:
        if node.op != "call_module":
            continue
        kind = type(module.get_submodule(node.target)).__name__
        for index in _SHAPE_ARGUMENTS.get(kind, ()):
            if index < len(node.args) and getattr(node.args[index], "op", None) == "get_attr":
                host.add(node.args[index].target.split(".", 1)[1])
    for name, buffer in container.named_buffers(recurse=False):
        if not (buffer.is_floating_point() or buffer.is_complex()):
            host.add(name)
    return host


def _host_shape_module(start: int, end):
    torch = import_torch()

    class HostShape(torch.nn.Module):
        """ONNX Shape, answered on the host: a CPU int64 tensor (onnx2torch makes it on the
        input's device, and every Reshape that reads it then waits for the GPU)."""

        def __init__(self):
            super().__init__()
            self.start, self.end = start, end

        def forward(self, input_tensor):
            return torch.tensor(input_tensor.shape[self.start:self.end], dtype=torch.int64)

    return HostShape()


def host_side_shapes(module) -> int:
    """Replace the converted graph's Shape operators by HostShape; returns how many.

    SCRFD exports compute their output reshapes from Shape -> Gather -> Concat chains; with
    the shapes on the host the whole chain runs there and no kernel waits for it."""
    count = 0
    for name, child in list(module.named_modules()):
        if type(child).__name__ == "OnnxShape" and name:
            parent_name, _, child_name = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, child_name, _host_shape_module(getattr(child, "_start", 0), getattr(child, "_end", None)))
            count += 1
    return count


def _keep_shape_constants_on_host(module) -> None:
    """Move the graph's shape-like constants (integer tensors: shapes, axes, indices; and the
    scales/sizes a Resize reads) back to the CPU.

    onnx2torch reads them as Python numbers on every call (`torch.Size(shape)`,
    `.tolist()`); on the GPU each such read waits for the device, which breaks CUDA-graph
    capture and stalls the CPU between kernels. They are tiny and never used as image data.
    """
    container = getattr(module, "initializers", None)
    for name in shape_constant_names(module):
        setattr(container, name, getattr(container, name).to("cpu"))
    host_side_shapes(module)


class TorchRunner:
    """One ONNX file as a torch module on one device; the ModelRunner interface, plus
    `run_tensors` for inputs that are already on the device."""

    def __init__(self, path: str, *, device: str = "auto", precision: str | None = None, label: str = "model",
                 threads: int = 0, channels_last: bool = False, fix: str = REINSTALL_ADVICE):
        torch = import_torch()
        onnx2torch = import_onnx2torch()
        import onnx

        if precision is not None and precision not in PRECISIONS:
            raise FaceSwapError(f"Unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
        self.path = str(path)
        self.label = label
        self.fix = fix            # what to do about this file: reinstall it, or choose another
        self.device = resolve_device(device)
        if not os.path.exists(self.path):
            raise FaceSwapError(f"The model file {self.path} is missing; {fix}.")
        try:
            model = onnx.load(self.path)
            module = onnx2torch.convert(model)
        except FaceSwapError:
            raise
        except Exception as error:  # onnx's and onnx2torch's own error types
            raise FaceSwapError(
                f"The model file {os.path.basename(self.path)} could not be converted for PyTorch "
                f"({type(error).__name__}: {str(error)[:200]}); use --runtime onnxruntime for it.") from None
        weights = {init.name for init in model.graph.initializer}
        self.inputs = _infos(model.graph.input, weights)
        self.outputs = _infos(model.graph.output, set())
        del model
        self.input_names = [i.name for i in self.inputs]
        self.output_names = [o.name for o in self.outputs]
        file_half = any(i.type == "tensor(float16)" for i in self.inputs)
        if precision is None:  # the file's own precision
            precision = "fp16" if file_half else "fp32"
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        if self.dtype == torch.float32 and file_half:
            module = module.float()
        module = module.to(self.device, dtype=self.dtype).eval()
        on_host = self.device.type != "cpu"
        if on_host:
            _keep_shape_constants_on_host(module)
        self.module = module
        self.precision = "fp16" if self.dtype == torch.float16 else "fp32"
        if threads and self.device.type == "cpu":
            torch.set_num_threads(int(threads))
        self.batches = False
        self._constants: dict = {}
        self.run_seconds = 0.0
        self.runs = 0
        self.channels_last = False
        self.note = ""
        if on_host and not self._runs():
            # a shape constant used as data here: convert again and keep everything on the device
            module = onnx2torch.convert(onnx.load(self.path)).to(self.device, dtype=self.dtype).eval()
            self.module = module
            self.note = "shape constants on the device (CUDA graphs will fall back to eager)"
        if channels_last and self.device.type != "cpu":
            self._try_channels_last()

    def _example(self) -> dict:
        """Zeros of each input's shape: batch 1 and 64 pixels where the file leaves them open."""
        torch = import_torch()
        return {i.name: torch.zeros([d if isinstance(d, int) else (1 if k == 0 else 64) for k, d in enumerate(i.shape)])
                for i in self.inputs}

    def _runs(self) -> bool:
        try:
            self.run_tensors(self._example())
            return True
        except Exception:  # any operator failure: the caller falls back
            return False

    def _try_channels_last(self) -> None:
        """NHWC weights and activations (tensor cores prefer them); kept only if the converted
        graph runs that way (an operator that views memory as NCHW would fail)."""
        torch = import_torch()
        self.module = self.module.to(memory_format=torch.channels_last)
        self.channels_last = True
        try:
            self.run_tensors(self._example())
        except Exception as error:  # onnx2torch operator kinds are open-ended
            self.module = self.module.to(memory_format=torch.contiguous_format)
            self.channels_last = False
            self.note = f"channels_last off ({type(error).__name__}: {str(error)[:120]})"

    @property
    def provider(self) -> str:
        return f"torch-{self.device.type}"

    def input_dtype(self, index: int = 0) -> np.dtype:
        """What numpy callers feed: the file's own input type (the module casts)."""
        return np.float16 if self.inputs[index].type == "tensor(float16)" else np.float32

    def set_constant(self, name: str, value: np.ndarray) -> None:
        """An input that stays the same across runs, kept on the device."""
        torch = import_torch()
        self._constants[name] = torch.as_tensor(np.ascontiguousarray(value)).to(self.device, self.dtype)

    def _prepare(self, name: str, value):
        torch = import_torch()
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
        tensor = tensor.to(self.device, self.dtype, non_blocking=True)
        if self.channels_last and tensor.dim() == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def run_tensors(self, feeds: dict) -> list:
        """Outputs (float32 tensors on the device, file order) for tensors or arrays by input name."""
        torch = import_torch()
        args = []
        for name in self.input_names:
            if name in feeds:
                args.append(self._prepare(name, feeds[name]))
            elif name in self._constants:
                args.append(self._constants[name])
            else:
                raise FaceSwapError(f"{self.label} needs the input '{name}'.")
        with torch.inference_mode():
            result = self.module(*args)
        result = list(result) if isinstance(result, (list, tuple)) else [result]
        return [r.float() for r in result]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        started = time.perf_counter()
        try:
            outputs = self.run_tensors(feeds)
            return [o.cpu().numpy().astype(np.float16 if info.type == "tensor(float16)" else np.float32, copy=False)
                    for o, info in zip(outputs, self.outputs)]
        finally:
            self.run_seconds += time.perf_counter() - started
            self.runs += 1

    def probe_batching(self, count: int = 2, seed: int = 0) -> bool:
        """Whether the graph, though its signature says batch 1, computes N items per call
        exactly as N single calls (no reshape in it pins the batch); sets `batches`."""
        torch = import_torch()
        fixed = [i for i in self.inputs if isinstance(i.shape[0], int) and i.shape[0] == 1]
        if not fixed or any(not all(isinstance(d, int) for d in i.shape) for i in fixed):
            self.batches = not fixed
            return self.batches
        generator = torch.Generator().manual_seed(seed)
        feeds = {i.name: torch.rand([count, *i.shape[1:]], generator=generator) for i in fixed}
        try:
            together = self.run_tensors(feeds)
            single = [self.run_tensors({k: v[j:j + 1] for k, v in feeds.items()}) for j in range(count)]
        except Exception:  # a reshape that pins batch 1 fails here: one face per call then
            self.batches = False
            return False
        # structural, not numerical: a pinned batch gives other numbers or fails outright
        tolerance = 5e-2 if self.dtype == torch.float16 else 1e-3
        self.batches = all(
            tuple(out.shape) == (count, *single[0][k].shape[1:]) and
            all(torch.allclose(out[j:j + 1], single[j][k], atol=tolerance, rtol=tolerance) for j in range(count))
            for k, out in enumerate(together))
        return self.batches


class CudaGraphCall:
    """A function of device tensors (a TorchRunner's call, or a whole stage around one)
    captured once as a CUDA graph for fixed input shapes, then replayed: one launch instead of
    hundreds of kernel launches per frame (the CPU cost that keeps a GPU idle between small
    kernels).

    function(feeds: dict of tensors) -> list of tensors, with no host synchronisation inside.
    Inputs are copied into static buffers; the returned outputs are the graph's own static
    buffers, overwritten by the next replay (use or copy them before). CUDA only.
    """

    def __init__(self, function, example: dict, device=None, warmup: int = 3):
        torch = import_torch()
        if isinstance(function, TorchRunner):
            runner = function
            function, device = runner.run_tensors, runner.device
            example = {k: runner._prepare(k, v) for k, v in example.items()}
        if device is None or torch.device(device).type != "cuda":
            raise FaceSwapError("CUDA graphs need a CUDA device.")
        self.function = function
        self.static = {k: v.clone() for k, v in example.items()}
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):  # first calls allocate, tune cuDNN, fill caches
            for _ in range(warmup):
                function(self.static)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = function(self.static)

    def __call__(self, feeds: dict) -> list:
        for name, value in feeds.items():
            self.static[name].copy_(value, non_blocking=True)
        self.graph.replay()
        return self.outputs
