"""inswapper_128: the one-photo face swap model (fp32 or fp16 file).

Inputs `target` [1,3,128,128] RGB in [0,1] (the face aligned with the ArcFace template
shifted 8 px right) and `source` [1,512] = normalise(identity @ emap); output `output`
[1,3,128,128] RGB in [0,1]. `emap` is the graph's last initializer, read from the file.
"""

from __future__ import annotations

import numpy as np

from ..errors import BrokenSwapOutput, FaceSwapError
from ..model_catalog import REINSTALL_ADVICE
from ..worker.in_flight import InFlight
from .alignment import norm_crop
from .providers import ModelSession
from .recognizer import normalise
from .runners import run_batch, signature_problem


def read_emap(path: str, advice: str = REINSTALL_ADVICE) -> np.ndarray:
    """The 512x512 latent map: the last initializer of the swapper graph, as float32.
    advice: what the message tells the user to do (a file of their own is theirs to change)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise FaceSwapError("The neural engine needs the onnx package; install it with: pip install 'obs-faceswap[neural]'.") from None
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:
        raise FaceSwapError(f"The swap model {path} could not be read; {advice}.") from None
    if not model.graph.initializer:
        raise FaceSwapError(f"The swap model {path} has no weights; it is not inswapper_128: {advice}.")
    emap = numpy_helper.to_array(model.graph.initializer[-1]).astype(np.float32)
    if emap.shape != (512, 512):
        raise FaceSwapError(
            f"The swap model's last weight is {emap.shape}, not the 512x512 emap; "
            f"the file was rewritten or is not inswapper_128: {advice}."
        )
    return emap


FLAT_RANGE = 1.0 / 255.0   # a swapped face whose values span less than one level is one flat colour


def to_crop(output: np.ndarray) -> np.ndarray:
    """One output (3, S, S) RGB in [0, 1] as a BGR uint8 crop; raises BrokenSwapOutput for
    numbers that are no face (NaN, infinity: fp16 overflow; one flat colour: the black box)."""
    output = np.asarray(output, dtype=np.float32)
    if not np.isfinite(output).all() or float(output.max() - output.min()) < FLAT_RANGE:
        raise BrokenSwapOutput()
    rgb = output.transpose(1, 2, 0)
    return np.clip(255.0 * rgb, 0, 255).astype(np.uint8)[:, :, ::-1].copy()


class InSwapper:
    """Swaps one aligned 128x128 face crop to the identity of a source embedding."""

    def __init__(self, session: ModelSession, emap: np.ndarray):
        self.session = session
        names = session.input_names
        if len(names) != 2 or len(session.output_names) != 1:
            raise FaceSwapError(f"{session.label} does not have inswapper's inputs (target, source) and one output.")
        shape = session.inputs[0].shape
        self.size = int(shape[2]) if isinstance(shape[2], int) else 128
        self.target_name, self.source_name = names[0], names[1]
        self.target_dtype = session.input_dtype(0)
        self.source_dtype = session.input_dtype(1)
        self.emap = np.asarray(emap, dtype=np.float32)

    def check(self) -> None:
        """A swap model the user brought: inswapper_128's shapes, and a probe run whose output
        is a picture in [0, 1] (raises FaceSwapError with what does not fit)."""
        size = self.size
        problem = signature_problem(self.session, [(None, 3, size, size), (None, 512)], [(None, 3, size, size)])
        if not problem:
            rng = np.random.default_rng(0)
            crop = rng.integers(40, 220, (size, size, 3), dtype=np.uint8)
            output = np.asarray(self.session.run({self.target_name: self.blob(crop), self.source_name: np.ascontiguousarray(
                self.latent(rng.normal(size=512)), dtype=self.source_dtype)})[0], np.float32)
            if not np.isfinite(output).all() or output.min() < -0.05 or output.max() > 1.05:
                problem = (f"its output on a test face spans {output.min():.2f} to {output.max():.2f}, "
                           "not an RGB picture in 0 to 1")
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit inswapper_128: {problem}.")

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """The `source` input for an identity: normalise(normalised embedding @ emap), (1, 512)."""
        vector = normalise(np.ravel(embedding)).reshape(1, -1)
        return normalise(vector @ self.emap).astype(np.float32)

    def crop(self, image: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The aligned BGR crop and its 2x3 frame->crop matrix."""
        return norm_crop(image[:, :, :3], keypoints, self.size)

    def blob(self, crop: np.ndarray) -> np.ndarray:
        rgb = crop[:, :, ::-1].astype(np.float32) / 255.0
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=self.target_dtype)

    def set_latent(self, latent: np.ndarray) -> None:
        """Bind the source once (kept on the GPU where the provider has one)."""
        self.session.set_constant(self.source_name, np.ascontiguousarray(latent, dtype=self.source_dtype))

    def run_many(self, crops: list[np.ndarray], latents: list[np.ndarray]) -> list[np.ndarray]:
        """Several crops, each with its own identity's latent, in one batched call where the
        model takes batches (else one run each: the real file's batch is fixed at 1)."""
        blob = np.concatenate([self.blob(crop) for crop in crops])
        latent = np.ascontiguousarray(np.concatenate(latents), dtype=self.source_dtype)
        outputs = run_batch(self.session, {self.target_name: blob, self.source_name: latent},
                            [self.target_name, self.source_name])[0]
        return [to_crop(output) for output in outputs]

    def send_many(self, crops: list[np.ndarray], latents: list[np.ndarray]) -> InFlight:
        """run_many, as the engine asks every swapper for it (a server's answer comes later)."""
        return InFlight.done(self.run_many(crops, latents))

    def run(self, crop: np.ndarray, latent: np.ndarray | None = None) -> np.ndarray:
        """The swapped face as a BGR uint8 crop; latent None uses the one from set_latent."""
        feeds = {self.target_name: self.blob(crop)}
        if latent is not None:
            feeds[self.source_name] = np.ascontiguousarray(latent, dtype=self.source_dtype)
        output = self.session.run(feeds)[0]
        return to_crop(output[0])
