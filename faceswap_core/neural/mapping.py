"""Which target face gets which source identity.

- all: every face in the frame (up to max_faces, largest first) gets the source.
- reference: only faces whose identity is within max_distance of a reference face.
- pairs: several (target person -> source photo) pairs; each face gets the source of the
  nearest target person within max_distance, each pair used at most once per frame.
Distances are 1 - cosine similarity of ArcFace embeddings (0 same, ~1 unrelated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import FaceSwapError
from .recognizer import normalise

MODES = ("all", "reference", "pairs")
DEFAULT_MAX_DISTANCE = 0.7  # cosine similarity >= 0.3: insightface's usual same-person range


@dataclass(frozen=True)
class Identity:
    """A prepared source face: its unit embedding and the swapper's latent for it."""

    embedding: np.ndarray  # (512,) unit length
    latent: np.ndarray     # (1, 512) float32
    label: str = ""


@dataclass
class FaceMapping:
    mode: str = "all"
    max_distance: float = DEFAULT_MAX_DISTANCE
    reference: np.ndarray | None = None                       # (512,) for mode "reference"
    pairs: list[tuple[np.ndarray, Identity]] = field(default_factory=list)  # (target embedding, source)

    def __post_init__(self):
        if self.mode not in MODES:
            raise FaceSwapError(f"Unknown face mapping '{self.mode}'; choose one of: {', '.join(MODES)}.")
        if not 0.0 < float(self.max_distance) <= 2.0:
            raise FaceSwapError("The face match distance must be between 0 and 2 (0.7 is typical).")

    @property
    def needs_identity(self) -> bool:
        """Whether target faces must be run through the recognizer each frame."""
        return self.mode != "all"

    @property
    def ready(self) -> bool:
        if self.mode == "reference":
            return self.reference is not None
        if self.mode == "pairs":
            return bool(self.pairs)
        return True

    def assign(self, count: int, default: Identity | None, embeddings: np.ndarray | None = None
               ) -> list[Identity | None]:
        """The source for each of `count` target faces (None = leave the face alone)."""
        if self.mode == "all":
            return [default] * count
        if embeddings is None or len(embeddings) != count:
            raise ValueError("this face mapping needs one embedding per target face")
        if count == 0:
            return []
        targets = normalise(embeddings)
        if self.mode == "reference":
            if self.reference is None or default is None:
                return [None] * count
            distances = 1.0 - targets @ normalise(self.reference)
            return [default if d <= self.max_distance else None for d in distances]
        if not self.pairs:
            return [None] * count
        references = normalise(np.stack([p[0] for p in self.pairs]))
        distances = 1.0 - targets @ references.T  # (faces, pairs)
        result: list[Identity | None] = [None] * count
        order = np.dstack(np.unravel_index(np.argsort(distances, axis=None), distances.shape))[0]
        used_faces, used_pairs = set(), set()
        for face, pair in order:  # closest first: a global greedy matching
            if distances[face, pair] > self.max_distance:
                break
            if face in used_faces or pair in used_pairs:
                continue
            used_faces.add(face)
            used_pairs.add(pair)
            result[face] = self.pairs[pair][1]
        return result
