"""A user-brought occlusion model (XSeg-shaped, as DeepFaceLab's and FaceFusion's
occluders): the aligned face in, where the face itself is visible out.

Input [N,256,256,3] (NHWC) BGR in [0, 1], output [N,256,256,1] in [0, 1]: 1 where the face
shows, 0 where something covers it. The face is aligned by its 5 keypoints to the
swapper's own (ArcFace/inswapper) template at the model's size, the crop the swap sees.
What it finds joins what the built-in search finds (vision.occlusion); the zero-download
search stays the default.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import FaceSwapError
from ..vision.masks import Patch
from .alignment import template_for, umeyama
from .paste import crop_to_box
from .runners import signature_problem

EDGE_SOFT = 0.015   # the mask's soft edge, of the crop's size (the model's own edge is a pixel's)


class XSegOccluder:
    """One occlusion model; used from the engine's thread."""

    def __init__(self, session):
        self.session = session
        shape = session.inputs[0].shape
        self.size = int(shape[1]) if isinstance(shape[1], int) else 256
        # the inswapper template (x shifted by 8/128) scaled to the model's size
        self.template = template_for(128) * np.float32(self.size / 128.0)
        self.input_name = session.input_names[0]

    def check(self, fix: str) -> None:
        """A file the user brought: one BGR face in, a one-channel mask of the same size out,
        in [0, 1]. fix: what to do when it does not fit."""
        size = self.size
        problem = signature_problem(self.session, [(None, size, size, 3)], [(None, size, size, 1)])
        if not problem:
            crop = np.random.default_rng(0).integers(40, 220, (size, size, 3), dtype=np.uint8)
            output = self._visible(crop)
            if not np.isfinite(output).all() or output.min() < -0.05 or output.max() > 1.05:
                problem = f"its output on a test face spans {output.min():.2f} to {output.max():.2f}, not 0 to 1"
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit an occlusion model (XSeg): {problem}; {fix}.")

    def _visible(self, crop: np.ndarray) -> np.ndarray:
        blob = np.ascontiguousarray(crop[None].astype(np.float32) * np.float32(1 / 255), dtype=self.session.input_dtype())
        return np.asarray(self.session.run({self.input_name: blob})[0][0, :, :, 0], np.float32)

    def patch(self, frame: np.ndarray, keypoints: np.ndarray, box: tuple[int, int, int, int]) -> Patch | None:
        """What covers this face over box (x0, y0, x1, y1), 0..1; None where nothing does."""
        matrix = umeyama(np.asarray(keypoints, np.float32), self.template)[:2]
        crop = cv2.warpAffine(frame[:, :, :3], matrix, (self.size, self.size), borderMode=cv2.BORDER_REPLICATE)
        covered = (self._visible(crop) < 0.5).astype(np.float32)
        if not covered.any():
            return None
        # the soft edge outside what the model found (as a hand's): its own edge pixels stay whole
        soft = max(1.0, EDGE_SOFT * self.size)
        reach = 2 * round(soft) + 1
        covered = cv2.GaussianBlur(cv2.dilate(covered, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))),
                                   (0, 0), soft / 2)
        x0, y0, x1, y1 = box
        # outside the crop nothing is known: the border is 0 (not covered)
        mask = cv2.warpAffine(covered, crop_to_box(matrix, box), (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        return Patch(x0, y0, mask)
