"""Face restorers (GFPGAN 1.4, GPEN-BFR 256/512): an aligned face in, the same face with
restored detail out.

Input [1,3,S,S] RGB in [-1, 1] (x / 127.5 - 1), output the same; S is read from the
file. The face is aligned by its 5 keypoints to the template the model was trained on:
FFHQ's for GFPGAN and GPEN 512, the inswapper/ArcFace-128 one (scaled) for GPEN 256.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import FaceSwapError
from .alignment import template_for, umeyama
from .runners import signature_problem

# 5 keypoints on a 512x512 FFHQ-aligned face (eyes, nose, mouth corners).
FFHQ_512 = np.array([[192.98, 239.95], [318.90, 240.19], [256.63, 314.02], [201.26, 371.41], [313.09, 371.15]],
                    np.float32)
# which alignment each catalogued enhancer was trained with; an unknown (own) file: FFHQ
ALIGNMENT = {"gfpgan_1.4": "ffhq", "gpen_bfr_256": "arcface", "gpen_bfr_512": "ffhq"}


def template(alignment: str, size: int) -> np.ndarray:
    if alignment == "arcface":
        return template_for(128) * np.float32(size / 128.0)
    return FFHQ_512 * np.float32(size / 512.0)


class FaceEnhancer:
    """One restorer model; used from one thread (the background enhancer's)."""

    def __init__(self, session, alignment: str = "ffhq"):
        self.session = session
        shape = session.inputs[0].shape
        self.size = int(shape[2]) if isinstance(shape[2], int) else 512
        self.template = template(alignment, self.size)
        self.input_name = session.input_names[0]

    def matrix(self, keypoints: np.ndarray) -> np.ndarray:
        """The 2x3 frame -> aligned-crop matrix for a face's 5 keypoints."""
        return umeyama(np.asarray(keypoints, np.float32), self.template)[:2]

    def crop(self, image: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        matrix = self.matrix(keypoints)
        return cv2.warpAffine(image[:, :, :3], matrix, (self.size, self.size), borderMode=cv2.BORDER_REPLICATE), matrix

    def blob(self, crop: np.ndarray) -> np.ndarray:
        rgb = crop[:, :, ::-1].astype(np.float32) / 127.5 - 1.0
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=self.session.input_dtype())

    def enhance(self, crop: np.ndarray) -> np.ndarray:
        """The restored BGR uint8 crop."""
        output = np.asarray(self.session.run({self.input_name: self.blob(crop)})[0][0], np.float32)
        restored = (np.clip(output, -1.0, 1.0) + 1.0) * 127.5
        return np.ascontiguousarray(restored.transpose(1, 2, 0)[:, :, ::-1]).round().astype(np.uint8)

    def check(self) -> None:
        """A restorer the user brought: one RGB face in, the same size out, values in [-1, 1]."""
        size = self.size
        problem = signature_problem(self.session, [(None, 3, size, size)], [(None, 3, size, size)])
        if not problem:
            crop = np.random.default_rng(0).integers(40, 220, (size, size, 3), dtype=np.uint8)
            output = np.asarray(self.session.run({self.input_name: self.blob(crop)})[0], np.float32)
            if not np.isfinite(output).all() or output.min() < -1.1 or output.max() > 1.1:
                problem = f"its output on a test face spans {output.min():.2f} to {output.max():.2f}, not -1 to 1"
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit a face restorer (GFPGAN/GPEN): {problem}.")
