"""A user-brought occlusion model, beside the built-in search for what is in front of the
face (vision.occlusion): one class per model family, as the other own files. The face is
aligned by its 5 keypoints to the swapper's own (ArcFace/inswapper) template at the
model's size, the crop the swap sees; the family says where in that crop the face itself
shows; what it does not show is kept in front (softened outward, pasted back over the
face's box). The zero-download search stays the default.

- XSeg (DeepFaceLab's, FaceFusion's occluders): [N,S,S,3] (NHWC) BGR in [0, 1] in,
  [N,S,S,1] in [0, 1] out, 1 where the face shows.
- Face parsing (BiSeNet on CelebAMask-HQ's 19 classes, as FaceFusion's region masks):
  [N,3,S,S] RGB normalised by ImageNet's mean and deviation in, [N,19,S,S] class scores
  out; the face shows where the best class is one of the face's own parts (skin, brows,
  eyes, glasses, nose, mouth, lips). A hand, a cup, hair, a hat or cloth over the face
  is none of them.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import FaceSwapError
from ..vision.masks import Patch
from .alignment import template_for, umeyama
from .paste import crop_to_box
from .runners import signature_problem

EDGE_SOFT = 0.015   # the mask's soft edge, of the crop's size (the models' own edge is a pixel's)


class _Occluder:
    """What every family shares: the aligned crop in, the covered part pasted back.
    Used from the engine's thread."""

    family = ""
    default_size = 256

    def __init__(self, session):
        self.session = session
        self.size = self._size(session.inputs[0].shape)
        # the inswapper template (x shifted by 8/128) scaled to the model's size
        self.template = template_for(128) * np.float32(self.size / 128.0)
        self.input_name = session.input_names[0]

    def _size(self, shape) -> int:
        side = shape[self._side_axis]
        return int(side) if isinstance(side, int) else self.default_size

    def visible(self, crop: np.ndarray) -> np.ndarray:
        """Where the face itself shows in an aligned BGR crop, 0..1 (S x S float32)."""
        raise NotImplementedError

    def problem(self) -> str:
        """'' when the file has this family's shapes, else what differs."""
        raise NotImplementedError

    def check(self, fix: str) -> None:
        """A file the user brought: the family's shapes, and an answer in range on a test
        face. fix: what to do when it does not fit."""
        problem = self.problem()
        if not problem:
            crop = np.random.default_rng(0).integers(40, 220, (self.size, self.size, 3), dtype=np.uint8)
            output = self.visible(crop)
            if not np.isfinite(output).all() or output.min() < -0.05 or output.max() > 1.05:
                problem = f"its output on a test face spans {output.min():.2f} to {output.max():.2f}, not 0 to 1"
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit an occlusion model ({self.family}): "
                                f"{problem}; {fix}.")

    def patch(self, frame: np.ndarray, keypoints: np.ndarray, box: tuple[int, int, int, int]) -> Patch | None:
        """What covers this face over box (x0, y0, x1, y1), 0..1; None where nothing does."""
        matrix = umeyama(np.asarray(keypoints, np.float32), self.template)[:2]
        crop = cv2.warpAffine(frame[:, :, :3], matrix, (self.size, self.size), borderMode=cv2.BORDER_REPLICATE)
        covered = (self.visible(crop) < 0.5).astype(np.float32)
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


class XSegOccluder(_Occluder):
    family = "XSeg"
    _side_axis = 1

    def problem(self) -> str:
        size = self.size
        return signature_problem(self.session, [(None, size, size, 3)], [(None, size, size, 1)])

    def visible(self, crop: np.ndarray) -> np.ndarray:
        blob = np.ascontiguousarray(crop[None].astype(np.float32) * np.float32(1 / 255), dtype=self.session.input_dtype())
        return np.asarray(self.session.run({self.input_name: blob})[0][0, :, :, 0], np.float32)


class FaceParsingOccluder(_Occluder):
    family = "face parsing"
    default_size = 512
    _side_axis = 2
    CLASSES = 19
    # CelebAMask-HQ's labels: 1 skin, 2-3 brows, 4-5 eyes, 6 glasses, 10 nose, 11 mouth,
    # 12-13 lips (0 background, 7-9 ears and earrings, 14-15 neck and necklace, 16 cloth,
    # 17 hair, 18 hat)
    FACE_PARTS = (1, 2, 3, 4, 5, 6, 10, 11, 12, 13)
    MEAN = np.array([0.485, 0.456, 0.406], np.float32)   # ImageNet's, RGB, as the family was trained
    STD = np.array([0.229, 0.224, 0.225], np.float32)

    def problem(self) -> str:
        size = self.size
        return signature_problem(self.session, [(None, 3, size, size)], [(None, self.CLASSES, size, size)])

    def visible(self, crop: np.ndarray) -> np.ndarray:
        rgb = (crop[:, :, ::-1].astype(np.float32) * np.float32(1 / 255) - self.MEAN) / self.STD
        blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=self.session.input_dtype())
        scores = self.session.run({self.input_name: blob})[0][0]
        return np.isin(scores.argmax(axis=0), self.FACE_PARTS).astype(np.float32)


def occluder_for(session, fix: str) -> _Occluder:
    """The family a file belongs to, by its input's layout (channels last: XSeg; first: face
    parsing), checked; refused with both families' shapes and what to do when it is neither."""
    shape = list(session.inputs[0].shape) if session.inputs else []
    if len(shape) == 4 and shape[3] == 3:
        family = XSegOccluder
    elif len(shape) == 4 and shape[1] == 3:
        family = FaceParsingOccluder
    else:
        raise FaceSwapError(f"{session.label} does not fit an occlusion model: its input is {shape}; an XSeg model "
                            "takes Nx256x256x3 (a mask Nx256x256x1 out), a face-parsing model Nx3x512x512 "
                            f"(Nx19x512x512 class scores out); {fix}.")
    occluder = family(session)
    occluder.check(fix)
    return occluder
