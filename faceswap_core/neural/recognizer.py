"""ArcFace identity embeddings (insightface's w600k_r50 in buffalo_l)."""

from __future__ import annotations

import numpy as np

from ..errors import FaceSwapError
from .alignment import norm_crop
from .providers import ModelSession
from .runners import signature_problem


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity of two embeddings: 0 = same direction, 1 = unrelated, 2 = opposite."""
    a, b = normalise(np.ravel(a)), normalise(np.ravel(b))
    return float(1.0 - np.dot(a, b))


def combine_embeddings(embeddings: np.ndarray, max_distance: float) -> tuple[np.ndarray, list[int]]:
    """One identity from several photos of one person: the mean of their unit embeddings,
    made unit length again (what each photo gets wrong, light or angle, averages out).

    The first photo is the one the user chose as the source and always counts; another
    photo farther than max_distance from it is left out (its index returned): a photo of
    somebody else would pull the face towards them. Measured against the chosen photo, not
    the mean of the others, so one stranger cannot make the true photos look like outliers.
    """
    units = normalise(embeddings)
    left_out = [index for index in range(1, len(units)) if identity_distance(units[index], units[0]) > max_distance]
    kept = np.delete(units, left_out, axis=0)
    return normalise(kept.mean(axis=0)), left_out


class ArcFaceRecognizer:
    """A 512-d identity vector per face: align to 112x112, RGB, (x - 127.5) / 127.5."""

    mean = 127.5
    std = 127.5

    def __init__(self, session: ModelSession):
        self.session = session
        shape = session.inputs[0].shape
        if len(shape) != 4 or not isinstance(shape[2], int) or shape[2] != shape[3]:
            raise FaceSwapError(f"{session.label} does not take square face crops; it is not an ArcFace recognizer.")
        self.size = int(shape[2])
        self.batch = shape[0] if isinstance(shape[0], int) else None

    def check(self) -> None:
        """A recognizer the user brought: ArcFace's 112x112 crop in, 512 numbers out, and a
        probe run that gives a finite, non-zero identity (raises FaceSwapError)."""
        problem = signature_problem(self.session, [(None, 3, 112, 112)], [(None, 512)])
        if not problem:
            crop = np.random.default_rng(0).integers(40, 220, (112, 112, 3), dtype=np.uint8)
            vector = self.raw_embeddings([crop])[0]
            if not np.isfinite(vector).all() or float(np.linalg.norm(vector)) < 1e-6:
                problem = "its output on a test face is not a usable identity vector (zero or not finite)"
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit ArcFace (w600k_r50): {problem}.")

    def crop(self, image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        return norm_crop(image[:, :, :3], keypoints, self.size)[0]

    def raw_embeddings(self, crops: list[np.ndarray]) -> np.ndarray:
        """The model's outputs (N, 512) for aligned BGR crops, not normalised."""
        if not crops:
            return np.zeros((0, 512), np.float32)
        batch = np.stack([c[:, :, ::-1] for c in crops]).astype(np.float32)
        blob = ((batch - self.mean) / self.std).transpose(0, 3, 1, 2)
        blob = np.ascontiguousarray(blob, dtype=self.session.input_dtype())
        name = self.session.input_names[0]
        if self.batch is not None and self.batch != len(crops):  # a fixed-batch export: one at a time
            return np.vstack([self.session.run({name: blob[i:i + 1]})[0] for i in range(len(crops))]).astype(np.float32)
        return self.session.run({name: blob})[0].astype(np.float32)

    def embed(self, image: np.ndarray, keypoints_list: list[np.ndarray]) -> np.ndarray:
        """Unit-length identity vectors (N, 512) for faces given by their 5 keypoints."""
        return normalise(self.raw_embeddings([self.crop(image, k) for k in keypoints_list]))
