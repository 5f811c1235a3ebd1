"""The neural engine's command-line options, for the `swap` command (and any other that
creates engines) to add with add_engine_arguments(parser) and pass on with engine_kwargs(args)."""

from __future__ import annotations

import argparse

from ..errors import FaceSwapError
from .mapping import DEFAULT_MAX_DISTANCE
from .providers import PROVIDERS


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("neural engine (--engine neural)")
    group.add_argument("--provider", default="auto", choices=["auto", *PROVIDERS],
                       help="ONNX Runtime execution provider (default: the best one installed)")
    group.add_argument("--runtime", default="onnxruntime", choices=["onnxruntime", "torch"],
                       help="what runs the models: ONNX Runtime (--provider), or PyTorch (--device; needs the gpu "
                            "extra), which keeps the whole frame on the GPU")
    group.add_argument("--device", default="auto", metavar="DEVICE",
                       help="with --runtime torch: auto, cuda (NVIDIA, or AMD with PyTorch's ROCm build), cuda:N, mps "
                            "(Apple), cpu")
    group.add_argument("--gpu", type=int, default=0, metavar="N",
                       help="with --runtime onnxruntime: which GPU the provider uses (default 0)")
    group.add_argument("--model-dir", default=None, metavar="DIR",
                       help="models folder (default: $FACESWAP_MODEL_DIR or the per-user data folder)")
    group.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16"],
                       help="swap model file: fp32 (default when installed) or fp16 (half the download)")
    group.add_argument("--det-size", type=int, default=640, metavar="PIXELS",
                       help="detector input size, a multiple of 32; 320 is faster for webcam close-ups")
    group.add_argument("--reference", default=None, metavar="PHOTO",
                       help="swap only the person in this photo (face mapping by identity)")
    group.add_argument("--pair", action="append", default=[], metavar="SOURCE=TARGET",
                       help="the person in photo TARGET becomes the person in photo SOURCE; repeat for several people")
    group.add_argument("--match-distance", type=float, default=DEFAULT_MAX_DISTANCE, metavar="D",
                       help=f"identity distance (1 - cosine) under which faces match (default {DEFAULT_MAX_DISTANCE})")


def engine_kwargs(args: argparse.Namespace) -> dict:
    """create_engine('neural', options, **engine_kwargs(args))."""
    pairs = []
    for item in getattr(args, "pair", None) or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise FaceSwapError(f"--pair takes SOURCE=TARGET (two photo paths), not '{item}'.")
        pairs.append((source, target))
    if pairs and getattr(args, "reference", None):
        raise FaceSwapError("Use either --reference or --pair, not both.")
    return {
        "provider": args.provider,
        "runtime": getattr(args, "runtime", "onnxruntime"),
        "device": getattr(args, "device", "auto"),
        "device_id": getattr(args, "gpu", 0),
        "model_dir": args.model_dir,
        "precision": args.precision,
        "det_size": args.det_size,
        "reference_photo": args.reference,
        "pairs": pairs or None,
        "max_distance": args.match_distance,
    }
