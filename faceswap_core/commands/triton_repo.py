"""`faceswap triton-repo OUT`: the folder a GPU machine serves the neural engine's models
from with NVIDIA Triton Inference Server (faceswap_core/remote/triton_repo.py)."""

from __future__ import annotations

import argparse
import secrets

from .. import schema
from ..errors import FaceSwapError
from ..remote import served, triton_repo
from .setting_flags import argument_for


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "triton-repo", help="write a Triton model repository to serve the models from another machine's GPU",
        description="Writes OUT/models (the recognizer and the swap model, wrapped so that only uint8 face crops "
                    "and identity vectors cross the network), OUT/start-server.sh (the official Triton container "
                    "on the GPU, gRPC on port 8001) and, with --tls, OUT/tls. Copy OUT to the GPU machine and run "
                    "start-server.sh there; in OBS choose runtime 'Triton server' and type its address.")
    parser.add_argument("out", metavar="OUT", help="the folder to write (made again where it exists)")
    parser.add_argument("--backend", choices=triton_repo.BACKENDS, default="onnxruntime",
                        help="onnxruntime (default; a GPU with the TensorRT accelerator) or python (ONNX Runtime "
                             "on the server's CPU inside Triton's Python backend: for checking a set-up)")
    parser.add_argument("--accelerator", choices=triton_repo.ACCELERATORS, default="tensorrt",
                        help="tensorrt (default: builds an engine on first use, then cached in OUT/trt_cache) or "
                             "cuda (ONNX Runtime's CUDA, no build)")
    parser.add_argument("--precision", choices=triton_repo.PRECISIONS, default="fp16",
                        help="TensorRT's precision: fp16 (default, fastest) or fp32 (for GPUs where fp16 gives "
                             "broken faces)")
    parser.add_argument("--precision-file", dest="file_precision", choices=schema.BY_KEY["precision"].values(),
                        default="auto", help="which installed swap model file to serve (default: fp32 if installed)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--key", default="", help="a key every request must carry (Triton's restricted protocol); "
                                               "type the same in OBS's 'Server key'")
    key.add_argument("--make-key", action="store_true", help="make a random key, printed at the end")
    parser.add_argument("--tls", metavar="HOST", action="append", default=[],
                        help="serve over TLS with a new certificate for this host name or address (repeat for "
                             "several); copy OUT/tls/server.crt to the streaming PC")
    parser.add_argument("--threads", type=int, default=0,
                        help="ONNX Runtime's threads per model in the python backend (default 0: all cores)")
    for key in ("recognizer_file", "swapper_file"):
        setting = schema.BY_KEY[key]
        parser.add_argument(setting.flag, dest=key, **argument_for(setting))
    parser.add_argument("--model-dir", default=None, help=schema.BY_KEY["model_dir"].help)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..engines.neural import resolve_model_paths

    if args.threads < 0:
        raise FaceSwapError("--threads must be 0 (all cores) or more.")
    paths = resolve_model_paths(args.model_dir, args.file_precision,
                                {"recognizer": args.recognizer_file, "swapper": args.swapper_file},
                                roles=("recognizer", "swapper"))
    key = secrets.token_urlsafe(24) if args.make_key else args.key
    if any(ch.isspace() or ch in "=,:\"'" for ch in key):
        raise FaceSwapError("The key may not hold spaces, quotes, '=', ',' or ':' (Triton's option syntax); "
                            "use letters, digits, '-' and '_'.")
    written = triton_repo.write_repository(args.out, paths, backend=args.backend, accelerator=args.accelerator,
                                           precision=args.precision, key=key, tls_hosts=tuple(args.tls),
                                           threads=args.threads)
    for item in written:
        batching = f"up to {item.batch} faces per request" if item.batch else "one face per request (fixed batch)"
        print(f"{item.model.name}: from {item.source}; {batching}")
    print(f"Wrote {args.out}. On the GPU machine: sh {args.out}/start-server.sh "
          f"(port {served.DEFAULT_PORT}). In OBS: runtime 'Triton server', address GPU-MACHINE:{served.DEFAULT_PORT}"
          f"{', Server uses TLS with ' + args.out + '/tls/server.crt' if args.tls else ''}.")
    if args.make_key:
        print(f"Server key (type it in OBS's 'Server key'): {key}")
    return 0
