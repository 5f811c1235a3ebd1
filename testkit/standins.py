"""Tiny ONNX graphs with the real models' signatures, built at test time with onnx.helper.

They have the real input/output names, ranks, dtypes and value ranges, so every line of
the loading and running code runs on them; their weights are random (seeded), so their
outputs mean nothing, but they are deterministic functions of the pixels, which is what
parity with insightface's reference code needs. Node names avoid insightface's 'Sub'/'Mul'
prefixes, which would make its ArcFace class assume an MXNet export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def _init(name: str, array: np.ndarray):
    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="obs-faceswap-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_detector(path: Path, *, rank: int = 2, seed: int = 0, fixed_size: int | None = None,
                   score_bias: float = -2.0) -> Path:
    """An SCRFD-shaped detector: 9 outputs (scores, boxes, keypoints for strides 8/16/32,
    2 anchors per cell), rank 2 ([N, C], like det_10g) or rank 3 ([1, N, C]).

    Each output is a 1x1 convolution of the image average-pooled to that stride, so scores,
    boxes and keypoints change with the pixels; boxes are positive distances.
    """
    rng = np.random.default_rng(seed)
    h = w = fixed_size if fixed_size else None
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, h or "height", w or "width"])
    nodes, inits, outputs = [], [], []
    kinds = [("score", 1, "Sigmoid"), ("bbox", 4, "Softplus"), ("kps", 10, None)]
    names = {}
    for kind, channels, act in kinds:
        for stride in (8, 16, 32):
            out_name = f"{kind}_{stride}" if rank == 3 else str(len(names) + 400)
            names[(kind, stride)] = out_name
    for kind, channels, act in kinds:
        for stride in (8, 16, 32):
            tag = f"{kind}{stride}"
            pooled = f"pool{stride}_{kind}"
            nodes.append(helper.make_node("AveragePool", ["input.1"], [pooled], kernel_shape=[stride, stride],
                                          strides=[stride, stride], name=f"standin_pool_{tag}"))
            weight = rng.normal(0, 2.5 if kind == "score" else 0.6, size=(2 * channels, 3, 1, 1)).astype(np.float32)
            bias = np.full(2 * channels, score_bias if kind == "score" else 0.0, np.float32)
            if kind == "bbox":
                bias[:] = 1.0
            inits += [_init(f"w_{tag}", weight), _init(f"b_{tag}", bias)]
            conv = f"conv_{tag}"
            nodes.append(helper.make_node("Conv", [pooled, f"w_{tag}", f"b_{tag}"], [conv], name=f"standin_conv_{tag}"))
            last = conv
            if act:
                nodes.append(helper.make_node(act, [conv], [f"act_{tag}"], name=f"standin_act_{tag}"))
                last = f"act_{tag}"
            # [1, 2C, H, W] -> [1, H, W, 2C] -> [H*W*2, C] (anchor-major within each cell)
            nodes.append(helper.make_node("Transpose", [last], [f"t_{tag}"], perm=[0, 2, 3, 1], name=f"standin_t_{tag}"))
            shape = [1, -1, channels] if rank == 3 else [-1, channels]
            inits.append(_init(f"shape_{tag}", np.array(shape, np.int64)))
            out_name = names[(kind, stride)]
            nodes.append(helper.make_node("Reshape", [f"t_{tag}", f"shape_{tag}"], [out_name], name=f"standin_r_{tag}"))
            dims = [1, None, channels] if rank == 3 else [None, channels]
            outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, dims))
    graph = helper.make_graph(nodes, "scrfd_standin", [inp], outputs, inits)
    return _save(graph, path)


def build_recognizer(path: Path, *, seed: int = 1) -> Path:
    """[N,3,112,112] -> [N,512]: an 8x8 strided convolution, then a dense layer."""
    rng = np.random.default_rng(seed)
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, ["None", 512])
    inits = [
        _init("conv_w", rng.normal(0, 0.05, size=(8, 3, 8, 8)).astype(np.float32)),
        _init("flat_shape", np.array([0, -1], np.int64)),
        _init("fc_w", rng.normal(0, 0.05, size=(8 * 14 * 14, 512)).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Conv", ["input.1", "conv_w"], ["c"], strides=[8, 8], name="standin_conv"),
        helper.make_node("Relu", ["c"], ["r"], name="standin_relu"),
        helper.make_node("Reshape", ["r", "flat_shape"], ["f"], name="standin_flat"),
        helper.make_node("MatMul", ["f", "fc_w"], ["683"], name="standin_fc"),
    ]
    return _save(helper.make_graph(nodes, "arcface_standin", [inp], [out], inits), path)


def build_swapper(path: Path, *, seed: int = 2, fp16: bool = False, nan: bool = False, flat: bool = False,
                  size: int = 128, batch: int | str = 1, one_per_run: bool = False) -> Path:
    """inswapper_128's signature: target [1,3,128,128] + source [1,512] -> output in [0,1].

    output = sigmoid(4 * (target - 0.5) + tint(source)): the face keeps its structure and
    its colour shifts with the identity latent, visibly. `emap` (512x512) is the LAST
    initializer, as in the real file. fp16=True makes the fp16 variant (float16 inputs,
    outputs and weights, emap included); nan=True one whose output is NaN, flat=True one
    whose output is all 0 (the black box): the two fp16 failures some GPUs show. size:
    the crop size (the graph is per pixel, so a 256 model with the same seed is the direct
    computation pixel boost's tiles must equal); batch "N": a dynamic batch axis.
    one_per_run=True: a graph that runs one face per run only (its reshape names batch 1), as
    the real file's fixed batch axis does.
    """
    rng = np.random.default_rng(seed)
    ftype = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    npt = np.float16 if fp16 else np.float32
    target = helper.make_tensor_value_info("target", ftype, [batch, 3, size, size])
    source = helper.make_tensor_value_info("source", ftype, [batch, 512])
    output = helper.make_tensor_value_info("output", ftype, [batch, 3, size, size])
    emap = rng.normal(0, 1.0 / np.sqrt(512), size=(512, 512)).astype(npt)
    inits = [
        _init("half", np.array(0.5, npt)),
        _init("gain", np.array(4.0, npt)),
        _init("tint_w", rng.normal(0, 1.5, size=(512, 3)).astype(npt) * npt(np.sqrt(512) / 8)),
        _init("tint_shape", np.array([1 if one_per_run else -1, 3, 1, 1], np.int64)),  # -1: any batch
        _init("emap", emap),  # last, as in the real model
    ]
    nodes = [
        helper.make_node("Sub", ["target", "half"], ["centred"], name="standin_centre"),
        helper.make_node("Mul", ["centred", "gain"], ["scaled"], name="standin_gain"),
        helper.make_node("MatMul", ["source", "tint_w"], ["tint"], name="standin_tint"),
        helper.make_node("Reshape", ["tint", "tint_shape"], ["tint4"], name="standin_tint4"),
        helper.make_node("Add", ["scaled", "tint4"], ["logit"], name="standin_add"),
        helper.make_node("Sigmoid", ["logit"], ["output"] if not (nan or flat) else ["squashed"], name="standin_out"),
    ]
    if flat:
        inits.insert(0, _init("zero", np.array(0.0, npt)))
        nodes.append(helper.make_node("Mul", ["squashed", "zero"], ["output"], name="standin_flat"))
    if nan:
        inits.insert(0, _init("minus_one", np.array(-1.0, npt)))
        nodes += [helper.make_node("Mul", ["squashed", "minus_one"], ["negative"], name="standin_neg"),
                  helper.make_node("Sqrt", ["negative"], ["output"], name="standin_nan")]
    return _save(helper.make_graph(nodes, "inswapper_standin", [target, source], [output], inits), path)


def build_occluder(path: Path, *, size: int = 256, shape: tuple | None = None) -> Path:
    """An XSeg occluder's signature: face [N,S,S,3] BGR in [0,1] -> mask [N,S,S,1] in [0,1],
    1 where the face shows. This one says the face shows where red outweighs blue (skin)
    and is covered where blue outweighs red: mask = clip(0.5 + 4 * (R - B), 0, 1). shape:
    another output shape, for a file that does not fit."""
    face = helper.make_tensor_value_info("in_face", TensorProto.FLOAT, ["N", size, size, 3])
    mask = helper.make_tensor_value_info("out_mask", TensorProto.FLOAT, list(shape or ("N", size, size, 1)))
    inits = [_init("blue_at", np.array([0], np.int64)), _init("red_at", np.array([2], np.int64)),
             _init("axis", np.array([3], np.int64)), _init("one", np.array([1], np.int64)),
             _init("red_end", np.array([3], np.int64)),
             _init("gain", np.array(4.0, np.float32)), _init("half", np.array(0.5, np.float32)),
             _init("low", np.array(0.0, np.float32)), _init("high", np.array(1.0, np.float32))]
    nodes = [
        helper.make_node("Slice", ["in_face", "blue_at", "one", "axis"], ["blue"], name="occluder_blue"),
        helper.make_node("Slice", ["in_face", "red_at", "red_end", "axis"], ["red"], name="occluder_red"),
        helper.make_node("Sub", ["red", "blue"], ["redder"], name="occluder_sub"),
        helper.make_node("Mul", ["redder", "gain"], ["scaled"], name="occluder_gain"),
        helper.make_node("Add", ["scaled", "half"], ["shifted"], name="occluder_shift"),
        helper.make_node("Clip", ["shifted", "low", "high"], ["out_mask"] if shape is None else ["clipped"],
                         name="occluder_clip"),
    ]
    if shape is not None:
        inits.append(_init("out_shape", np.array(shape, np.int64)))
        nodes.append(helper.make_node("Reshape", ["clipped", "out_shape"], ["out_mask"], name="occluder_reshape"))
    return _save(helper.make_graph(nodes, "xseg_standin", [face], [mask], inits), path)


def build_face_parser(path: Path, *, size: int = 512, classes: int = 19) -> Path:
    """A face-parsing model's signature (BiSeNet on CelebAMask-HQ): face [N,3,S,S] RGB,
    ImageNet-normalised -> class scores [N,19,S,S]. One 1x1 convolution: "skin" (class 1)
    scores R - B, "background" (class 0) B - R, every other class -10: skin reads as the
    face, blue as something in front of it. classes: another count, for a file that does
    not fit."""
    face = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])
    scores = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", classes, size, size])
    weight = np.zeros((classes, 3, 1, 1), np.float32)
    bias = np.full(classes, -10.0, np.float32)
    weight[1, 0], weight[1, 2], bias[1] = 1.0, -1.0, 0.0
    weight[0, 0], weight[0, 2], bias[0] = -1.0, 1.0, 0.0
    nodes = [helper.make_node("Conv", ["input", "weight", "bias"], ["output"], name="parser_classes")]
    return _save(helper.make_graph(nodes, "parser_standin", [face], [scores],
                                   [_init("weight", weight), _init("bias", bias)]), path)


def build_enhancer(path: Path, *, size: int = 512, offset: float = 0.3, batch: int | str = 1) -> Path:
    """A face restorer's signature (GFPGAN/GPEN): input [1,3,S,S] RGB in [-1,1] -> output the
    same shape and range. The stand-in brightens by `offset` (clipped), a "detail" that is
    easy to see and to measure where it lands."""
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 3, size, size])
    inits = [_init("offset", np.array(offset, np.float32)), _init("low", np.array(-1.0, np.float32)),
             _init("high", np.array(1.0, np.float32))]
    nodes = [helper.make_node("Add", ["input", "offset"], ["raised"], name="standin_raise"),
             helper.make_node("Clip", ["raised", "low", "high"], ["output"], name="standin_clip")]
    return _save(helper.make_graph(nodes, "enhancer_standin", [inp], [out], inits), path)
