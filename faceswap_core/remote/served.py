"""What crosses the network between the worker and a Triton server, described once.

The repository writer (triton_repo), the served graphs (served_graphs), the Python-backend
model (python_backend_model) and the client (triton_link, remote_models) all read these
tables, so a tensor's name, type or shape is written here only.

Only face crops and identity vectors cross, never a frame: an aligned crop as uint8 BGR
(48 KB at 128x128, four times less than float32), and the raw ArcFace embedding. The
pixel scaling, the channel order, and the swap model's `emap` product (applied outside
the real inswapper graph) are folded into the served graphs, so the streaming PC needs no
copy of those models at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str                # Triton's name for the type: UINT8, FP32
    shape: tuple[int, ...]    # one item's, without the batch axis


@dataclass(frozen=True)
class ServedModel:
    name: str                 # the folder in the repository and the name on the wire
    role: str                 # the neural engine's role it replaces
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]

    def tensor(self, name: str) -> Tensor:
        return next(tensor for tensor in (*self.inputs, *self.outputs) if tensor.name == name)


RECOGNIZER = ServedModel(
    "faceswap_recognizer", "recognizer",
    inputs=(Tensor("face", "UINT8", (112, 112, 3)),),            # the aligned crop, BGR
    outputs=(Tensor("embedding", "FP32", (512,)),),               # not normalised, as the model gives it
)
SWAPPER = ServedModel(
    "faceswap_swapper", "swapper",
    inputs=(Tensor("target", "UINT8", (128, 128, 3)),            # the aligned crop, BGR
            Tensor("identity", "FP32", (512,))),                  # the source's embedding (any length)
    outputs=(Tensor("swapped", "UINT8", (128, 128, 3)),),         # the swapped crop, BGR
)
SERVED = (RECOGNIZER, SWAPPER)
BY_ROLE = {model.role: model for model in SERVED}

MODEL_VERSION = "1"
MAX_BATCH = 8          # faces per request when the graph batches (pixel boost 256 sends 4 per face)
# Triton's restricted-protocol option: every gRPC call must carry this header with the key.
# The server is started with --grpc-restricted-protocol=<PROTOCOLS>:faceswap-key=<key>, and
# Triton expects the header under its own prefix.
KEY_NAME = "faceswap-key"
KEY_HEADER = "triton-grpc-protocol-" + KEY_NAME
RESTRICTED = "health,metadata,inference,shared-memory,model-config,model-repository,statistics,trace,logging"
DEFAULT_PORT = 8001    # Triton's gRPC port
