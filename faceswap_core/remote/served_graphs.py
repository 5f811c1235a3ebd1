"""The graphs a Triton server runs: the catalogued recognizer and swapper, each wrapped so
that what crosses the network is what `served` describes (uint8 BGR crops in and out, raw
embeddings in), and the work the worker does around the local models happens inside.

Wrapping reproduces the local engine's arithmetic op for op (ArcFace's (x - 127.5) / 127.5,
the swap's /255 and its truncating *255 back to uint8, `emap` between two normalisations),
so a remote frame equals a local one within a level. Only ops present since opset 8 are
added, so the wrapper fits whatever opset the wrapped file was exported with.
"""

from __future__ import annotations

import numpy as np

from .. import model_catalog as catalog
from ..errors import FaceSwapError
from . import served

BATCH_AXIS = "N"
CHECK_ITEMS = 2          # the batch check: this many items in one run against one run each


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise FaceSwapError("Writing a Triton repository needs the onnx package; install it with: "
                            "pip install 'obs-faceswap[neural]'.") from None
    return onnx, helper, numpy_helper


class _Wrapper:
    """Adds nodes and constants in front of and behind one loaded model's graph."""

    def __init__(self, model, role: str):
        onnx, self.helper, self.numpy_helper = _onnx()
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.served = served.BY_ROLE[role]
        weights = {init.name for init in self.graph.initializer}
        self.own_inputs = [arg for arg in self.graph.input if arg.name not in weights]
        wanted = len(self.served.inputs)
        if len(self.own_inputs) != wanted or not self.graph.output:
            raise FaceSwapError(f"The {role} model has {len(self.own_inputs)} inputs, the {role} family has {wanted}; "
                                f"is the file the catalogued {role}?")
        self.own_names = [self._rename(arg.name) for arg in self.own_inputs]
        self.own_output = self._rename(self.graph.output[0].name)
        self.nodes = []
        self.count = 0
        self.front = 0   # how many of self.nodes go in front of the wrapped graph

    def _rename(self, name: str) -> str:
        """A tensor of the file under a name no served tensor has (inswapper's `target` is
        both its input's name and ours)."""
        renamed = f"faceswap_own_{name}"
        for node in self.graph.node:
            node.input[:] = [renamed if item == name else item for item in node.input]
            node.output[:] = [renamed if item == name else item for item in node.output]
        return renamed

    def name(self, what: str) -> str:
        self.count += 1
        return f"faceswap_{what}_{self.count}"

    def const(self, array: np.ndarray) -> str:
        name = self.name("const")
        self.graph.initializer.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or self.name(kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [output], name=self.name(f"op_{kind.lower()}"), **attrs))
        return output

    def cast(self, value: str, to: int, output: str | None = None) -> str:
        return self.op("Cast", [value], output, to=to)

    def reverse_channels(self, value: str) -> str:
        """BGR <-> RGB on the last axis (NHWC)."""
        return self.op("Gather", [value, self.const(np.array([2, 1, 0], np.int64))], axis=3)

    def unit(self, value: str, length: int) -> str:
        """value / max(|value|, 1e-12) per row, as recognizer.normalise does."""
        squared = self.op("Mul", [value, value])
        summed = self.op("MatMul", [squared, self.const(np.ones((length, 1), np.float32))])
        norm = self.op("Max", [self.op("Sqrt", [summed]), self.const(np.array(1e-12, np.float32))])
        return self.op("Div", [value, norm])

    def elem_type(self, arg) -> int:
        return arg.type.tensor_type.elem_type

    def finish(self, batch) -> object:
        """The wrapped model: the served inputs and outputs (batch axis `batch`: 'N' or 1)
        in place of the file's own, stale intermediate shapes dropped."""
        helper, tensor_types = self.helper, self.onnx.TensorProto
        kinds = {"UINT8": tensor_types.UINT8, "FP32": tensor_types.FLOAT}
        graph = self.graph
        del graph.input[:]    # the file's own inputs, and its weights where an older export lists them too
        del graph.output[:]
        graph.input.extend(helper.make_tensor_value_info(t.name, kinds[t.dtype], [batch, *t.shape])
                           for t in self.served.inputs)
        graph.output.extend(helper.make_tensor_value_info(t.name, kinds[t.dtype], [batch, *t.shape])
                            for t in self.served.outputs)
        del graph.value_info[:]
        nodes = list(graph.node)
        del graph.node[:]
        graph.node.extend(self.nodes[: self.front] + nodes + self.nodes[self.front:])
        return self.model


def _wrap_recognizer(model, batch):
    wrap = _Wrapper(model, "recognizer")
    float_ = wrap.onnx.TensorProto.FLOAT
    own = wrap.own_inputs[0]
    face = wrap.cast(wrap.served.inputs[0].name, float_)
    scaled = wrap.op("Div", [wrap.op("Sub", [wrap.reverse_channels(face), wrap.const(np.array(127.5, np.float32))]),
                             wrap.const(np.array(127.5, np.float32))])
    wrap.cast(wrap.op("Transpose", [scaled], perm=[0, 3, 1, 2]), wrap.elem_type(own), wrap.own_names[0])
    wrap.front = len(wrap.nodes)
    wrap.cast(wrap.own_output, float_, wrap.served.outputs[0].name)
    return wrap.finish(batch)


def _wrap_swapper(model, emap: np.ndarray, batch):
    wrap = _Wrapper(model, "swapper")
    own_emap = model.graph.initializer[-1]    # the file's emap, used by no node: the wrapper holds a float32 copy
    if not any(own_emap.name in node.input for node in model.graph.node):
        model.graph.initializer.remove(own_emap)
    float_ = wrap.onnx.TensorProto.FLOAT
    target, source = wrap.own_inputs
    crop = wrap.cast(wrap.served.inputs[0].name, float_)
    scaled = wrap.op("Div", [wrap.reverse_channels(crop), wrap.const(np.array(255.0, np.float32))])
    wrap.cast(wrap.op("Transpose", [scaled], perm=[0, 3, 1, 2]), wrap.elem_type(target), wrap.own_names[0])
    identity = wrap.unit(wrap.served.inputs[1].name, 512)
    latent = wrap.unit(wrap.op("MatMul", [identity, wrap.const(np.asarray(emap, np.float32))]), 512)
    wrap.cast(latent, wrap.elem_type(source), wrap.own_names[1])
    wrap.front = len(wrap.nodes)
    picture = wrap.op("Mul", [wrap.cast(wrap.own_output, float_), wrap.const(np.array(255.0, np.float32))])
    clipped = wrap.op("Min", [wrap.op("Max", [picture, wrap.const(np.array(0.0, np.float32))]),
                              wrap.const(np.array(255.0, np.float32))])
    bgr = wrap.reverse_channels(wrap.op("Transpose", [clipped], perm=[0, 2, 3, 1]))
    wrap.cast(bgr, wrap.onnx.TensorProto.UINT8, wrap.served.outputs[0].name)
    return wrap.finish(batch)


def served_graph(role: str, path: str, batch="N", emap: np.ndarray | None = None):
    """The served model for `role` from the model file at `path` (an onnx ModelProto).
    emap: the swapper's latent map (read from the file when None)."""
    onnx, _, _ = _onnx()
    try:
        model = onnx.load(path)
    except Exception as error:
        raise FaceSwapError(f"The {role} model {path} could not be read ({error}): a catalogued file is "
                            f"mended with {catalog.REINSTALL_ADVICE}; a file of your own, by choosing a working "
                            "one.") from None
    if role == "recognizer":
        wrapped = _wrap_recognizer(model, batch)
    else:
        from ..neural.swapper import read_emap

        wrapped = _wrap_swapper(model, read_emap(path) if emap is None else emap, batch)
    try:
        onnx.checker.check_model(wrapped)
    except Exception as error:
        raise FaceSwapError(f"The served {role} graph made from {path} is not valid ONNX ({error}); "
                            f"is the file the catalogued {role}?") from None
    return wrapped


def sample_inputs(model: served.ServedModel, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs for `count` items: face-like uint8 crops and unit-scale identity vectors."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for tensor in model.inputs:
        shape = (count, *tensor.shape)
        feeds[tensor.name] = (rng.integers(30, 225, shape, dtype=np.uint8) if tensor.dtype == "UINT8"
                              else rng.normal(size=shape).astype(np.float32))
    return feeds


def same_outputs(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal within a level for pictures, within float rounding for vectors."""
    if a.shape != b.shape:
        return False
    if a.dtype == np.uint8:
        return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(initial=0)) <= 1
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))


def batches(role: str, model) -> bool:
    """Whether the wrapped graph, given CHECK_ITEMS items in one run, gives what one run
    per item gives: the proof that lets the repository declare a dynamic batch. A graph
    that fails on the batch (inswapper_128's own axis is fixed at 1) does not batch."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4   # a graph that fails on a batch is an expected answer here, not a warning
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = sample_inputs(served.BY_ROLE[role], CHECK_ITEMS)
    try:
        together = session.run(None, feeds)[0]
        alone = np.concatenate([session.run(None, {k: v[i:i + 1] for k, v in feeds.items()})[0]
                                for i in range(CHECK_ITEMS)])
    except Exception:
        return False
    return same_outputs(together, alone)
