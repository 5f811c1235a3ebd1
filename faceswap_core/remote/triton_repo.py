"""`faceswap triton-repo OUT`: everything a GPU box needs to serve the neural engine's heavy
models with NVIDIA Triton Inference Server, in one folder to copy there.

    OUT/models/faceswap_recognizer/{config.pbtxt, 1/model.onnx}
    OUT/models/faceswap_swapper/{config.pbtxt, 1/model.onnx}
    OUT/tls/{server.crt, server.key}     with --tls HOST: for a server outside the home network
    OUT/start-server.sh                  the `docker run` that serves it (key and TLS included)

The served graphs come from the installed, hash-checked models (or the user's own files)
through served_graphs. The batch axis is declared dynamic only where a check proved that a
batch gives what single runs give; otherwise `max_batch_size: 0` and the client sends one
request per face. The default backend is onnxruntime with the TensorRT accelerator and an
engine cache; `--backend python` serves the same graphs through ONNX Runtime inside a
Python-backend model.py (a server without the onnxruntime backend, and the tests here).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import FaceSwapError
from . import served
from .served_graphs import batches, served_graph

BACKENDS = ("onnxruntime", "python")
ACCELERATORS = ("tensorrt", "cuda")
PRECISIONS = ("fp16", "fp32")
TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"   # Triton 2.51.0, the server the tests run
MOUNT = "/faceswap"            # where start-server.sh mounts OUT inside the container
WORKSPACE_BYTES = 2 << 30      # TensorRT's builder workspace


@dataclass(frozen=True)
class ServedFile:
    model: served.ServedModel
    source: str       # the model file it was made from
    batch: int        # max_batch_size in its config: MAX_BATCH, or 0 (one face per request)


def _dims(shape) -> str:
    return ", ".join(str(size) for size in shape)


def _tensors(kind: str, tensors, fixed_batch: bool) -> str:
    rows = [f'  {{ name: "{t.name}" data_type: TYPE_{t.dtype} dims: [ {_dims(((1,) if fixed_batch else ()) + t.shape)} ] }}'
            for t in tensors]
    return f"{kind} [\n" + ",\n".join(rows) + "\n]\n"


def _warmup(item: ServedFile) -> str:
    """One request at load, before the server answers: TensorRT builds its engine then (minutes
    the first time), not on a streamer's first frames, which would time out meanwhile."""
    rows = " ".join(f'inputs {{ key: "{t.name}" value: {{ data_type: TYPE_{t.dtype} '
                    f'dims: [ {_dims(((1,) if not item.batch else ()) + t.shape)} ] random_data: true }} }}'
                    for t in item.model.inputs)
    return f'model_warmup [ {{ name: "first_request" batch_size: 1 {rows} }} ]\n'


def config_text(item: ServedFile, backend: str, accelerator: str = "tensorrt", precision: str = "fp16",
                threads: int = 0) -> str:
    """The model's config.pbtxt. threads: ONNX Runtime's threads in the Python backend (0: all)."""
    model = item.model
    text = (f'name: "{model.name}"\nbackend: "{backend}"\nmax_batch_size: {item.batch}\n'
            + _tensors("input", model.inputs, not item.batch) + _tensors("output", model.outputs, not item.batch))
    if item.batch:
        text += "dynamic_batching { max_queue_delay_microseconds: 0 }\n"
    text += _warmup(item)
    if backend == "python":
        return text + ("instance_group [ { kind: KIND_CPU count: 1 } ]\n"
                       f'parameters {{ key: "threads" value: {{ string_value: "{threads}" }} }}\n')
    text += "instance_group [ { kind: KIND_GPU count: 1 } ]\n"
    if accelerator == "tensorrt":
        cache = f"{MOUNT}/trt_cache/{model.name}"
        parameters = {"precision_mode": precision.upper(), "max_workspace_size_bytes": str(WORKSPACE_BYTES),
                      "trt_engine_cache_enable": "true", "trt_engine_cache_path": cache}
        rows = " ".join(f'parameters {{ key: "{key}" value: "{value}" }}' for key, value in parameters.items())
        text += ("optimization { execution_accelerators { gpu_execution_accelerator: [ "
                 f'{{ name: "tensorrt" {rows} }} ] }} }}\n')
    return text


def start_script(key: str, tls: bool, port: int = served.DEFAULT_PORT) -> str:
    """The GPU box's start command: the official container, gRPC only, on `port`."""
    options = [f"--model-repository={MOUNT}/models", "--allow-http=false", "--allow-metrics=false"]
    if tls:
        options += ["--grpc-use-ssl=true", f"--grpc-server-cert={MOUNT}/tls/server.crt",
                    f"--grpc-server-key={MOUNT}/tls/server.key"]
    if key:
        options.append(f"--grpc-restricted-protocol={served.RESTRICTED}:{served.KEY_NAME}={key}")
    lines = " \\\n    ".join(options)
    caches = " ".join(f'"$here/trt_cache/{model.name}"' for model in served.SERVED)
    return ("#!/bin/sh\n"
            "# Serves obs-faceswap's models with NVIDIA Triton Inference Server on this machine's GPU.\n"
            "# Needs Docker and the NVIDIA Container Toolkit. Made by: faceswap triton-repo\n"
            'here="$(cd "$(dirname "$0")" && pwd)"\n'
            f"mkdir -p {caches}\n"
            f'exec docker run --rm --gpus all -p {port}:{served.DEFAULT_PORT} -v "$here":{MOUNT} {TRITON_IMAGE} \\\n'
            f"  tritonserver {lines}\n")


def write_repository(out: str | Path, paths: dict[str, str], *, backend: str = "onnxruntime",
                     accelerator: str = "tensorrt", precision: str = "fp16", key: str = "",
                     tls_hosts: tuple[str, ...] = (), threads: int = 0, say=print) -> list[ServedFile]:
    """Write OUT (see the module's docstring) from model files by role; returns what was served."""
    if backend not in BACKENDS:
        raise FaceSwapError(f"Unknown Triton backend '{backend}'; choose one of: {', '.join(BACKENDS)}.")
    out = Path(out)
    models = out / "models"
    for model in served.SERVED:
        shutil.rmtree(models / model.name, ignore_errors=True)   # a repository made again is made whole
    written = []
    for model in served.SERVED:
        source = paths[model.role]
        say(f"{model.name}: wrapping {source}")
        graph = served_graph(model.role, source)
        say(f"{model.name}: checking whether a batch of faces gives what single faces give")
        batch = served.MAX_BATCH if batches(model.role, graph) else 0
        if not batch:
            say(f"{model.name}: it does not (its batch axis is fixed): one face per request")
            graph = served_graph(model.role, source, batch=1)
        folder = models / model.name / served.MODEL_VERSION
        folder.mkdir(parents=True, exist_ok=True)
        graph_file = folder / "model.onnx"
        graph_file.write_bytes(graph.SerializeToString())
        if backend == "python":
            shutil.copyfile(Path(__file__).with_name("python_backend_model.py"), folder / "model.py")
        item = ServedFile(model, source, batch)
        (models / model.name / "config.pbtxt").write_text(config_text(item, backend, accelerator, precision, threads))
        written.append(item)
    if tls_hosts:
        from .tls import write_server_certificate

        write_server_certificate(out / "tls", tls_hosts)
        say(f"tls: a certificate for {', '.join(tls_hosts)} in {out / 'tls'}; copy server.crt to the streaming PC")
    script = out / "start-server.sh"
    script.write_text(start_script(key, bool(tls_hosts)))
    script.chmod(0o700)   # it holds the key
    return written
