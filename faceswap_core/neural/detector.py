"""SCRFD face detector (insightface's det_10g in buffalo_l, or any SCRFD export with keypoints).

Letterbox into the model's input, normalise, run, decode anchor-free distances for each
stride into boxes and 5 keypoints, NMS. Handles det_10g's rank-2 outputs ([N, C]) and the
rank-3 batched outputs ([1, N, C]) of other exports: the rank decides, not the names.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FaceSwapError
from ..model_catalog import REINSTALL_ADVICE
from .providers import ModelSession
from .runners import fits_shape

# outputs -> (feature map count, strides, anchors per cell, has keypoints)
LAYOUTS = {
    6: ([8, 16, 32], 2, False),
    9: ([8, 16, 32], 2, True),
    10: ([8, 16, 32, 64, 128], 1, False),
    15: ([8, 16, 32, 64, 128], 1, True),
}


@dataclass
class Detection:
    box: np.ndarray        # (4,) float32 x0, y0, x1, y1 in frame pixels
    score: float
    keypoints: np.ndarray  # (5, 2) float32: left eye, right eye, nose, left mouth, right mouth

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))

    def int_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = self.box
        return (int(max(0, np.floor(x0))), int(max(0, np.floor(y0))),
                int(min(width, np.ceil(x1))), int(min(height, np.ceil(y1))))


def letterbox_size(height: int, width: int, size: tuple[int, int]) -> tuple[int, int]:
    """(new_w, new_h): a height x width image fitted into size=(w, h), keeping its aspect;
    the GPU frame path sizes its letterbox with this too."""
    canvas_w, canvas_h = size
    ratio = height / width
    if ratio > canvas_h / canvas_w:
        new_h = canvas_h
        new_w = int(new_h / ratio)
    else:
        new_w = canvas_w
        new_h = int(new_w * ratio)
    return max(new_w, 1), max(new_h, 1)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Fit image (keeping its aspect) into size=(w, h), top-left, zero padding; returns the
    canvas and det_scale = new height / image height."""
    width, height = size
    new_w, new_h = letterbox_size(image.shape[0], image.shape[1], size)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image[:, :, :3], (new_w, new_h))
    return canvas, new_h / image.shape[0]


def nms(dets: np.ndarray, threshold: float) -> list[int]:
    """Greedy NMS over rows x0, y0, x1, y1, score (insightface's +1 pixel convention)."""
    x0, y0, x1, y1, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[overlap <= threshold]
    return keep


class ScrfdDetector:
    """Faces in a BGR image, largest first."""

    mean = 127.5
    std = 128.0

    def __init__(self, session: ModelSession, input_size: int | tuple[int, int] = 640,
                 score_threshold: float = 0.5, nms_threshold: float = 0.4, close_up_retry: bool = True):
        self.session = session
        outputs = session.outputs
        if len(outputs) not in LAYOUTS:
            raise FaceSwapError(
                f"{session.label} has {len(outputs)} outputs, which is no SCRFD layout; "
                f"{getattr(session, 'fix', REINSTALL_ADVICE)}."
            )
        self.strides, self.anchors, self.has_keypoints = LAYOUTS[len(outputs)]
        if not self.has_keypoints:
            raise FaceSwapError(f"{session.label} is an SCRFD model without keypoints; the swap needs the 5-keypoint (kps) model.")
        self.batched = len(outputs[0].shape) == 3
        shape = session.inputs[0].shape
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        if fixed:
            self.input_size = (int(shape[3]), int(shape[2]))
        elif isinstance(input_size, int):
            self.input_size = (int(input_size), int(input_size))
        else:
            self.input_size = (int(input_size[0]), int(input_size[1]))
        if self.input_size[0] % 32 or self.input_size[1] % 32:
            raise FaceSwapError("The detector size must be a multiple of 32, e.g. 320, 480 or 640.")
        # SCRFD misses faces that fill most of its input; when nothing is found at the full
        # size, one retry at half size catches close-ups (dynamic-input models only).
        half = (self.input_size[0] // 64 * 32, self.input_size[1] // 64 * 32)
        self.retry_size = half if close_up_retry and not fixed and min(half) >= 160 else None
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self._centers: dict[tuple[int, int, int], np.ndarray] = {}

    def check(self) -> None:
        """A detector the user brought: SCRFD's 3-channel input, and a probe run whose face
        scores are probabilities (raises FaceSwapError). Its outputs' layout is checked above."""
        problem = "" if fits_shape(list(self.session.inputs[0].shape), (None, 3, None, None)) else \
            f"its input is {list(self.session.inputs[0].shape)}, not an RGB image (Nx3xHxW)"
        if not problem:
            blob, _ = self.preprocess(np.full((self.input_size[1], self.input_size[0], 3), 128, np.uint8))
            scores = [np.asarray(out, np.float32) for out in self.session.run({self.session.input_names[0]: blob})
                      [: len(self.strides)]]
            if not all(np.isfinite(score).all() and score.min() >= -1e-3 and score.max() <= 1 + 1e-3
                       for score in scores):
                problem = "its first outputs are not face scores between 0 and 1"
        if problem:
            raise FaceSwapError(f"{self.session.label} does not fit SCRFD (det_10g): {problem}.")

    # -- stages ------------------------------------------------------------------------
    def preprocess(self, image: np.ndarray, size: tuple[int, int] | None = None) -> tuple[np.ndarray, float]:
        canvas, det_scale = letterbox(image, size or self.input_size)
        # One pass: BGR->RGB, (x - 127.5) / 128, HWC->NCHW (several times faster than numpy).
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / self.std, canvas.shape[1::-1], (self.mean,) * 3, swapRB=True)
        return np.ascontiguousarray(blob, dtype=self.session.input_dtype()), det_scale

    def anchor_centers(self, height: int, width: int, stride: int) -> np.ndarray:
        key = (height, width, stride)
        centers = self._centers.get(key)
        if centers is None:
            grid = np.stack(np.mgrid[:height, :width][::-1], axis=-1).astype(np.float32)
            centers = (grid * stride).reshape(-1, 2)
            if self.anchors > 1:
                centers = np.repeat(centers, self.anchors, axis=0)
            self._centers[key] = centers
        return centers

    def decode(self, outputs: list[np.ndarray], det_scale: float, threshold: float | None = None,
               size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows x0, y0, x1, y1, score (frame pixels, best first, before NMS) and (N, 5, 2) keypoints."""
        threshold = self.score_threshold if threshold is None else float(threshold)
        count = len(self.strides)
        width, height = size or self.input_size
        all_dets, all_kps = [], []
        for index, stride in enumerate(self.strides):
            scores, boxes, kps = outputs[index], outputs[index + count], outputs[index + 2 * count]
            if self.batched:
                scores, boxes, kps = scores[0], boxes[0], kps[0]
            scores = scores.reshape(-1).astype(np.float32)
            centers = self.anchor_centers(height // stride, width // stride, stride)
            if len(centers) != len(scores):
                raise FaceSwapError(f"{self.session.label} gave {len(scores)} scores at stride {stride}, expected {len(centers)}; the file is not a SCRFD detector.")
            keep = np.where(scores >= threshold)[0]
            if keep.size == 0:
                continue
            c = centers[keep]
            d = boxes.reshape(-1, 4)[keep].astype(np.float32) * stride
            box = np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], axis=-1)
            k = kps.reshape(-1, 10)[keep].astype(np.float32) * stride
            points = k.reshape(-1, 5, 2) + c[:, None, :]
            all_dets.append(np.hstack([box / det_scale, scores[keep, None]]))
            all_kps.append(points / det_scale)
        if not all_dets:
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        dets = np.vstack(all_dets).astype(np.float32)
        kps = np.vstack(all_kps).astype(np.float32)
        order = np.argsort(-dets[:, 4], kind="stable")
        return dets[order], kps[order]

    def detect_arrays(self, image: np.ndarray, threshold: float | None = None,
                      size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """After NMS, in score order: (N, 5) boxes+score and (N, 5, 2) keypoints."""
        blob, det_scale = self.preprocess(image, size)
        outputs = self.session.run({self.session.input_names[0]: blob})
        dets, kps = self.decode(outputs, det_scale, threshold, size)
        if len(dets) == 0:
            return dets, kps
        keep = nms(dets, self.nms_threshold)
        return dets[keep], kps[keep]

    def detect(self, image: np.ndarray, max_faces: int = 0, threshold: float | None = None) -> list[Detection]:
        """Faces largest first (at most max_faces when > 0)."""
        if image.ndim != 3 or image.shape[0] < 2 or image.shape[1] < 2:
            raise FaceSwapError("The detector needs a colour image at least 2x2 pixels.")
        dets, kps = self.detect_arrays(image, threshold)
        if len(dets) == 0 and self.retry_size is not None:
            dets, kps = self.detect_arrays(image, threshold, self.retry_size)
        faces = [Detection(d[:4].copy(), float(d[4]), k.copy()) for d, k in zip(dets, kps)]
        faces.sort(key=lambda f: -f.area)
        return faces[:max_faces] if max_faces > 0 else faces
