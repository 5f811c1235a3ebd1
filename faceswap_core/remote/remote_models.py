"""The recognizer and the swapper as the neural engine uses them, run on a Triton server.

They keep the local classes' methods (ArcFaceRecognizer's crop/embed, InSwapper's
latent/run_many), so the engine's frame code is the same for both. The identity sent is
the unit embedding: `emap` is applied inside the served graph. `local`: the same role's
local model, which runs while the server is away when the user chose that fallback;
without it, ServerAway goes up and the engine passes the frame through.
"""

from __future__ import annotations

import numpy as np

from ..errors import BrokenSwapOutput
from ..worker.in_flight import InFlight
from ..neural.recognizer import ArcFaceRecognizer, normalise
from ..neural.swapper import InSwapper
from . import served
from .triton_link import ServerAway, TritonLink


class RemoteRecognizer(ArcFaceRecognizer):
    def __init__(self, link: TritonLink, local: ArcFaceRecognizer | None = None):
        self.link = link
        self.local = local
        self.size = served.RECOGNIZER.inputs[0].shape[0]

    def raw_embeddings(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 512), np.float32)
        try:
            return self.link.infer(served.RECOGNIZER, {"face": np.stack(crops)}).astype(np.float32)
        except ServerAway:
            if self.local is None:
                raise
            return self.local.raw_embeddings(crops)


class RemoteSwapper:
    def __init__(self, link: TritonLink, local: InSwapper | None = None):
        self.link = link
        self.local = local
        self.size = served.SWAPPER.inputs[0].shape[0]

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """What the served graph takes for an identity: the unit embedding, (1, 512)."""
        return normalise(np.ravel(embedding)).reshape(1, -1)

    def run_many(self, crops: list[np.ndarray], latents: list[np.ndarray]) -> list[np.ndarray]:
        return self.send_many(crops, latents).result()

    def send_many(self, crops: list[np.ndarray], latents: list[np.ndarray]) -> InFlight:
        """Every crop of a frame (each with its identity) in one round trip, sent now;
        the caller does other work until it wants the faces."""
        try:
            reply = self.link.send(served.SWAPPER, {"target": np.stack(crops), "identity": np.concatenate(latents)})
        except ServerAway:
            if self.local is None:
                raise
            return InFlight.done(self._run_locally(crops, latents))

        def receive():
            try:
                swapped = reply.result()
            except ServerAway:
                if self.local is None:
                    raise
                return self._run_locally(crops, latents)
            flat = swapped.reshape(len(swapped), -1)
            if (flat.max(axis=1) == flat.min(axis=1)).any():
                # NaN cast to uint8 inside the served graph: the fp16 failure some GPUs show, on the server
                raise BrokenSwapOutput(f"The Triton server {self.link.address} returns broken faces (one flat "
                                       "colour: TensorRT fp16 on that GPU); make its repository again with "
                                       "faceswap triton-repo --precision fp32 and restart the server.")
            return list(swapped)

        return InFlight(receive, waits_on=reply)

    def _run_locally(self, crops, latents) -> list[np.ndarray]:
        return self.local.run_many(crops, [self.local.latent(latent) for latent in latents])
