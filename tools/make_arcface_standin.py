"""Generate a random-weight ONNX model with w600k_r50's signature AND its size: an IResNet-50
(insightface's ArcFace backbone: a 3x3 stem, stages of [3, 4, 14, 3] pre-activation residual
blocks at 64/128/256/512 channels with BatchNorm and PReLU, BN, a 25088 -> 512 dense layer,
BN), input [N,3,112,112] -> [N,512]. About 43.6 M parameters (174 MB) and ~12 GFLOP per face
(multiply-adds counted twice; insightface's 6.3 "GFLOPs" counts them once), so benchmarks
measure the real model's cost. Random weights: the output means nothing. Never commit the file.

    python -m tools.make_arcface_standin models/w600k_r50_standin.onnx
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from tools.make_inswapper_standin import _Builder


def _bn(b: _Builder, x: str, channels: int) -> str:
    b.params += 4 * channels
    return b.node("BatchNormalization", [x, b.const(np.ones(channels, np.float32)), b.const(np.zeros(channels, np.float32)),
                                         b.const(np.zeros(channels, np.float32)), b.const(np.ones(channels, np.float32))],
                  epsilon=1e-5)


def _prelu(b: _Builder, x: str, channels: int) -> str:
    b.params += channels
    return b.node("PRelu", [x, b.const(np.full((channels, 1, 1), 0.25, np.float32))])


def build(path: str, seed: int = 0, layers=(3, 4, 14, 3)) -> tuple[int, int]:
    b = _Builder(seed)
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])
    output = helper.make_tensor_value_info("683", TensorProto.FLOAT, ["None", 512])
    x = _prelu(b, _bn(b, b.conv("input.1", 3, 64, 3, 112), 64), 64)
    channels, size = 64, 112
    for stage, (count, width) in enumerate(zip(layers, (64, 128, 256, 512))):
        for block in range(count):
            stride = 2 if block == 0 else 1
            out_size = size // stride
            y = _bn(b, x, channels)
            y = _prelu(b, _bn(b, b.conv(y, channels, width, 3, size), width), width)
            y = _bn(b, b.conv(y, width, width, 3, out_size, stride=stride), width)
            shortcut = x
            if block == 0:
                shortcut = _bn(b, b.conv(x, channels, width, 1, out_size, stride=stride), width)
            x = b.node("Add", [y, shortcut])
            channels, size = width, out_size
    x = _bn(b, x, 512)
    x = b.node("Flatten", [x], axis=1)
    fc = b.weight((512 * 7 * 7, 512))
    b.flops += 2 * 512 * 7 * 7 * 512
    x = b.node("MatMul", [x, fc])
    x = _bn(b, b.node("Unsqueeze", [x, b.const(np.array([2, 3], np.int64))]), 512)
    b.nodes.append(helper.make_node("Flatten", [x], ["683"], axis=1, name="to_output"))
    graph = helper.make_graph(b.nodes, "w600k_r50_size_standin", [image], [output], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="obs-faceswap-tools")
    model.ir_version = 8
    onnx.save(model, path)
    return b.params, b.flops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="models/w600k_r50_standin.onnx")
    args = parser.parse_args(argv)
    params, flops = build(args.path)
    print(f"{args.path}: {params / 1e6:.1f} M parameters, {flops / 1e9:.1f} GFLOP per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
