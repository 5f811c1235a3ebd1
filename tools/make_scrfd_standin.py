"""Generate a random-weight SCRFD detector with det_10g's signature and compute: input
[1,3,H,W] (dynamic), 9 rank-2 outputs (scores, boxes, keypoints for strides 8/16/32, 2
anchors), ~10.5 GFLOP at 640x640. For benchmarks only: its detections mean nothing.

    python -m tools.make_scrfd_standin models/det_10g_standin.onnx
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from tools.make_inswapper_standin import _Builder


def build(path: str, seed: int = 0) -> tuple[int, int]:
    b = _Builder(seed)
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])
    relu = lambda x: b.node("Relu", [x])  # noqa: E731
    # FLOPs are counted at 640x640 (size_out is that side's feature size).
    x = relu(b.conv("input.1", 3, 32, 3, 320, stride=2))
    x = relu(b.conv(x, 32, 64, 3, 160, stride=2))
    s8 = relu(b.conv(x, 64, 128, 3, 80, stride=2))
    for _ in range(2):
        s8 = relu(b.conv(s8, 128, 128, 3, 80))
    s16 = relu(b.conv(s8, 128, 256, 3, 40, stride=2))
    s16 = relu(b.conv(s16, 256, 256, 3, 40))
    s32 = relu(b.conv(s16, 256, 256, 3, 20, stride=2))
    outputs, heads = [], {}
    for stride, feat, channels, size in ((8, s8, 128, 80), (16, s16, 256, 40), (32, s32, 256, 20)):
        heads[stride] = relu(b.conv(feat, channels, 64, 3, size))
    out_index = 0
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride, size in ((8, 80), (16, 40), (32, 20)):
            y = b.conv(heads[stride], 64, 2 * width, 1, size)
            if kind == "score":
                y = b.node("Sigmoid", [b.node("Add", [y, b.const(np.array(-6.0, np.float32))])])
            y = b.node("Transpose", [y], perm=[0, 2, 3, 1])
            name = str(448 + out_index)  # det_10g's outputs have numeric names
            out_index += 1
            b.nodes.append(helper.make_node("Reshape", [y, b.const(np.array([-1, width], np.int64))], [name], name=f"out_{name}"))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, width]))
    graph = helper.make_graph(b.nodes, "scrfd_10g_size_standin", [image], outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="obs-faceswap-tools")
    model.ir_version = 8
    onnx.save(model, path)
    return b.params, b.flops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="models/det_10g_standin.onnx")
    args = parser.parse_args(argv)
    params, flops = build(args.path)
    print(f"{args.path}: {params / 1e6:.1f} M parameters, {flops / 1e9:.1f} GFLOP at 640x640")
    return 0


if __name__ == "__main__":
    sys.exit(main())
