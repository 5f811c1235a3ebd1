"""Generate a random-weight ONNX model with inswapper_128's signature AND its size:
7x7 conv encoder down to 32x32x1024, six residual blocks of two 3x3 1024-channel convs with
AdaIN modulated by the 512-d latent, a bilinear-upsampling decoder, tanh; `emap` last.
About 138 M parameters (554 MB fp32) and ~340 GFLOP per face, so benchmarks measure the
real model's cost. Random weights: the output means nothing. Never commit the file.

    python -m tools.make_inswapper_standin models/inswapper_128_standin.onnx
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.flops = 0
        self.params = 0
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def weight(self, shape, scale=None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        array = (self.rng.standard_normal(size=shape, dtype=np.float32) * np.float32(scale))
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(array, name))
        self.params += array.size
        return name

    def const(self, array) -> str:
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, size_out, stride=1) -> str:
        w = self.weight((cout, cin, k, k))
        b = self.const(np.zeros(cout, np.float32))
        self.params += cout
        self.flops += 2 * cin * cout * k * k * size_out * size_out
        return self.node("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)

    def adain(self, x, channels, latent) -> str:
        scale = self.const(np.ones(channels, np.float32))
        bias = self.const(np.zeros(channels, np.float32))
        normed = self.node("InstanceNormalization", [x, scale, bias], epsilon=1e-5)
        style = self.node("Gemm", [latent, self.weight((512, 2 * channels), 0.02), self.const(np.zeros(2 * channels, np.float32))])
        self.params += 2 * channels
        shaped = self.node("Reshape", [style, self.const(np.array([-1, 2, channels, 1, 1], np.int64))])  # any batch
        gamma, beta = self.node("Gather", [shaped, self.const(np.array(0, np.int64))], axis=1), None
        beta = self.node("Gather", [shaped, self.const(np.array(1, np.int64))], axis=1)
        one_plus = self.node("Add", [gamma, self.const(np.array(1.0, np.float32))])
        return self.node("Add", [self.node("Mul", [normed, one_plus]), beta])


def build(path: str, seed: int = 0, divide: int = 1) -> tuple[int, int]:
    """divide > 1 makes every layer that many times narrower (same operators and shapes
    otherwise): a small copy for tests of the runtimes."""
    b = _Builder(seed)
    c1, c2, c3, c4 = (128 // divide, 256 // divide, 512 // divide, 1024 // divide)
    target = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128])
    source = helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])
    relu = lambda x: b.node("LeakyRelu", [x], alpha=0.2)  # noqa: E731
    x = relu(b.conv("target", 3, c1, 7, 128))
    x = relu(b.conv(x, c1, c2, 3, 64, stride=2))
    x = relu(b.conv(x, c2, c3, 3, 32, stride=2))
    x = relu(b.conv(x, c3, c4, 3, 32))
    for _ in range(6):
        y = b.node("Relu", [b.adain(b.conv(x, c4, c4, 3, 32), c4, "source")])
        y = b.adain(b.conv(y, c4, c4, 3, 32), c4, "source")
        x = b.node("Add", [x, y])
    scales = b.const(np.array([1, 1, 2, 2], np.float32))
    empty = b.const(np.array([], np.float32))
    x = b.node("Resize", [x, empty, scales], mode="linear")
    x = relu(b.conv(x, c4, c3, 3, 64))
    x = b.node("Resize", [x, empty, scales], mode="linear")
    x = relu(b.conv(x, c3, c2, 3, 128))
    x = relu(b.conv(x, c2, c1, 3, 128))
    x = b.node("Tanh", [b.conv(x, c1, 3, 7, 128)])
    half = b.const(np.array(0.5, np.float32))
    x = b.node("Mul", [b.node("Add", [x, b.const(np.array(1.0, np.float32))]), half])
    b.nodes.append(helper.make_node("Identity", [x], ["output"], name="to_output"))
    emap = b.rng.standard_normal(size=(512, 512), dtype=np.float32) / np.float32(np.sqrt(512))
    b.inits.append(numpy_helper.from_array(emap, "emap"))  # last, as in the real file
    graph = helper.make_graph(b.nodes, "inswapper_128_size_standin", [target, source], [output], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="obs-faceswap-tools")
    model.ir_version = 8
    onnx.save(model, path)
    return b.params + emap.size, b.flops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="models/inswapper_128_standin.onnx")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params, flops = build(args.path, args.seed)
    print(f"{args.path}: {params / 1e6:.1f} M parameters, {flops / 1e9:.0f} GFLOP per face (convolutions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
