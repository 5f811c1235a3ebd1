"""The neural engine: insightface's SCRFD detector and ArcFace recognizer (buffalo_l) with
inswapper_128, the models behind Deep-Live-Cam, run with ONNX Runtime on the best
execution provider available. A GPU engine: on CPU the swap model alone takes seconds.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import model_catalog as catalog
from ..errors import FaceSwapError
from ..neural.detector import Detection, ScrfdDetector
from ..neural.mapping import DEFAULT_MAX_DISTANCE, FaceMapping, Identity
from ..neural.paste import paste_face
from ..neural.providers import choose_providers, short_name
from ..neural.runners import RUNTIMES, open_runner
from ..neural.recognizer import ArcFaceRecognizer
from ..neural.swapper import InSwapper, read_emap
from ..neural.tracking import DetectionCache
from ..options import SwapOptions
from ..vision.photo import load_photo
from ..vision.photo_tips import keypoint_tips
from ..vision.smoothing import FaceTracker
from .base import Engine, FrameReport, SourceInfo

PRECISIONS = ("auto", "fp32", "fp16")


def resolve_model_paths(model_dir: str | os.PathLike | None, precision: str = "auto") -> dict[str, str]:
    """Catalog entries -> paths for detector, recognizer and swapper, checked by size and SHA-256.

    Every missing or damaged file is named in one message with the one command that fixes all.
    """
    if precision not in PRECISIONS:
        raise FaceSwapError(f"Unknown swapper precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
    fp32, fp16 = catalog.find("inswapper_128"), catalog.find("inswapper_128_fp16")
    if precision == "auto":
        have16 = catalog.model_path(fp16, model_dir).is_file() and not catalog.model_path(fp32, model_dir).is_file()
        precision = "fp16" if have16 else "fp32"
    wanted = {"detector": catalog.find("det_10g"), "recognizer": catalog.find("w600k_r50"),
              "swapper": fp16 if precision == "fp16" else fp32}
    paths, problems = {}, []
    for role, model in wanted.items():
        try:
            paths[role] = str(catalog.require(model, model_dir))
        except FaceSwapError:
            problems.append(model)
    if problems:
        folder = catalog.model_path(problems[0], model_dir).parent
        names = " ".join(m.name for m in problems)
        where = f" --dir {model_dir}" if model_dir else ""
        damaged = [m.filename for m in problems if catalog.model_path(m, model_dir).exists()]
        state = f"damaged ({', '.join(damaged)}) or missing" if damaged else "missing"
        raise FaceSwapError(
            f"The neural engine's model files are {state} in {folder}; "
            f"run: faceswap models install{' --force' if damaged else ''} {names}{where}"
        )
    return paths


class NeuralEngine(Engine):
    name = "neural"

    def __init__(self, options: SwapOptions | None = None, *, model_dir: str | os.PathLike | None = None,
                 provider: str = "auto", precision: str = "auto", det_size: int = 640,
                 mapping: str = "all", max_distance: float = DEFAULT_MAX_DISTANCE,
                 reference_photo: str | None = None, pairs: list[tuple[str, str]] | None = None,
                 model_paths: dict[str, str] | None = None, redetect_after: float = 0.1, threads: int = 0,
                 runtime: str = "onnxruntime", device: str = "auto", gpu_frames: bool | None = None,
                 device_id: int = 0):
        super().__init__(options)
        if runtime not in RUNTIMES:
            raise FaceSwapError(f"Unknown model runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}.")
        paths = dict(model_paths) if model_paths else resolve_model_paths(model_dir, precision)
        labels = {role: f"The {role} model {os.path.basename(paths[role])}" for role in ("detector", "recognizer", "swapper")}
        self.runtime = runtime
        if runtime == "torch":
            from ..neural.runner_torch import resolve_device

            where = resolve_device(device)
            # fp16 where it is safe: the detector and the swap (its latent is computed in fp32
            # outside the graph); identity vectors stay fp32. The CPU has no fast fp16;
            # --precision fp32 keeps everything fp32 (GPUs that give NaNs in fp16).
            half = "fp16" if where.type in ("cuda", "mps") and precision != "fp32" else "fp32"
            precisions = {"detector": half, "recognizer": "fp32", "swapper": half}
            sessions = {role: open_runner(paths[role], "torch", device=str(where), precision=precisions[role],
                                          threads=threads, label=labels[role], channels_last=role != "recognizer")
                        for role in labels}
            self.provider = sessions["swapper"].provider
        else:
            cache_dir = str(model_dir or catalog.default_model_dir())
            choice = choose_providers(provider, cache_dir=cache_dir, device_id=device_id)
            sessions = {role: open_runner(paths[role], "onnxruntime", choice=choice, threads=threads, label=labels[role])
                        for role in labels}
            used = sessions["swapper"].provider
            if provider not in (None, "auto") and used != choice.primary:
                raise FaceSwapError(
                    f"ONNX Runtime has the {short_name(choice.primary)} provider but could not start it (its GPU "
                    "libraries, e.g. CUDA/cuDNN, are missing or do not match); fix that or use --provider cpu.")
            self.provider = short_name(used)
        self.detector = ScrfdDetector(sessions["detector"], det_size)
        self.recognizer = ArcFaceRecognizer(sessions["recognizer"])
        self.swapper = InSwapper(sessions["swapper"], read_emap(paths["swapper"]))
        self._gpu = None
        if gpu_frames is None:
            gpu_frames = runtime == "torch"
        if gpu_frames:
            if runtime != "torch":
                raise FaceSwapError("The GPU frame path runs on the torch runtime; use --runtime torch.")
            from ..neural.gpu_pipeline import GpuFramePath

            self._gpu = GpuFramePath(self.detector, sessions["swapper"], crop_size=self.swapper.size)
        self.mapping = FaceMapping(mapping, max_distance)
        self._default: Identity | None = None
        self._bound: Identity | None = None
        self._cache = DetectionCache(max_age=redetect_after)
        self._assigned: tuple | None = None  # (faces list, sources) of the last identity matching
        self._tracker = FaceTracker(self.options.smoothing)
        if reference_photo:
            self.set_reference(load_photo(reference_photo))
        for source_path, target_path in pairs or []:
            self.add_pair(load_photo(source_path), load_photo(target_path), label=os.path.basename(source_path))

    # -- sources and mapping -------------------------------------------------------
    def _faces_in_photo(self, image: np.ndarray, what: str) -> list[Detection]:
        faces = self.detector.detect(image[:, :, :3] if image.ndim == 3 else image)
        if not faces:
            raise FaceSwapError(f"No face was found in the {what}; use a well-lit photo where the face looks at "
                                "the camera and is at least 64 pixels wide.")
        return faces

    def _identity(self, image: np.ndarray, face_index: int, what: str, label: str = "") -> tuple[Identity, Detection, int]:
        faces = self._faces_in_photo(image, what)
        if face_index >= len(faces):
            raise FaceSwapError(f"The {what} has {len(faces)} face(s); choose a face index from 0 to "
                                f"{len(faces) - 1} (0 is the largest).")
        face = faces[face_index]
        embedding = self.recognizer.embed(image, [face.keypoints])[0]
        return Identity(embedding, self.swapper.latent(embedding), label), face, len(faces)

    def _prepare_source(self, image: np.ndarray, face_index: int) -> SourceInfo:
        identity, face, count = self._identity(image, face_index, "photo", "source")
        self._default = identity
        self._assigned = None
        self._bind(identity)
        box = face.int_box(image.shape[1], image.shape[0])
        return SourceInfo(count, face_index, box, keypoint_tips(face.keypoints))

    def set_reference(self, image: np.ndarray, face_index: int = 0) -> None:
        """Swap only the person in this photo (face mapping 'reference')."""
        identity, _, _ = self._identity(image, face_index, "reference photo")
        self.mapping.mode = "reference"
        self.mapping.reference = identity.embedding
        self._assigned = None

    def add_pair(self, source: np.ndarray, target: np.ndarray, source_index: int = 0, target_index: int = 0,
                 label: str = "") -> None:
        """The person in `target` becomes the person in `source` (face mapping 'pairs')."""
        identity, _, _ = self._identity(source, source_index, "source photo", label)
        person, _, _ = self._identity(target, target_index, "target person's photo")
        self.mapping.mode = "pairs"
        self.mapping.pairs.append((person.embedding, identity))
        self._assigned = None

    @property
    def has_source(self) -> bool:
        if self.mapping.mode == "pairs":
            return self.mapping.ready
        return self._default is not None and self.mapping.ready

    def _bind(self, identity: Identity) -> None:
        if identity is not self._bound:
            self.swapper.set_latent(identity.latent)
            self._bound = identity

    # -- frames --------------------------------------------------------------------
    def set_options(self, options: SwapOptions) -> None:
        previous = self.options
        super().set_options(options)
        if self.options.smoothing != previous.smoothing:
            self._tracker = FaceTracker(self.options.smoothing)

    def reset(self) -> None:
        self._cache.clear()
        self._assigned = None
        self._tracker.reset()

    def close(self) -> None:
        self.reset()

    def detect(self, frame: np.ndarray, timestamp: float | None = None, device_frame=None) -> list[Detection]:
        """Faces in a frame, largest first; reuses the last detection while faces barely move.
        device_frame: the frame already on the GPU frame path's device, detected there."""
        image = frame if frame.shape[2] == 3 else np.ascontiguousarray(frame[:, :, :3])
        if timestamp is not None:
            cached = self._cache.reuse(image, timestamp)
            if cached is not None:
                return cached
        faces = self._gpu.detect(device_frame) if device_frame is not None else self.detector.detect(image)
        if timestamp is not None:
            faces = self._cache.store(image, faces, timestamp)
        return faces

    def _assign(self, image: np.ndarray, detected: list[Detection], faces: list[Detection],
                keypoints: list[np.ndarray]) -> list:
        """Which source each face gets; identities are recomputed only on fresh detections."""
        if not self.mapping.needs_identity or not faces:
            return self.mapping.assign(len(faces), self._default)
        if self._assigned is not None and self._assigned[0] is detected and len(self._assigned[1]) == len(faces):
            return self._assigned[1]
        sources = self.mapping.assign(len(faces), self._default, self.recognizer.embed(image, keypoints))
        self._assigned = (detected, sources)
        return sources

    def _faces_and_sources(self, image: np.ndarray, timestamp: float, started: float, device_frame=None):
        """Detect (or reuse), smooth, and pick each face's source photo: both paths start so.
        Returns (keypoints, sources, stage_ms with detect and recognize)."""
        detected = self.detect(image, timestamp, device_frame)  # the same list object while it is reused
        faces = detected[: self.options.max_faces]
        keypoints = self._tracker.smooth([f.keypoints for f in faces], timestamp)
        stage_ms = {"detect": (time.perf_counter() - started) * 1e3}
        mark = time.perf_counter()
        sources = self._assign(image, detected, faces, keypoints)
        stage_ms["recognize"] = (time.perf_counter() - mark) * 1e3
        return keypoints, sources, stage_ms

    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        if self._gpu is not None:
            return self._process_on_device(frame, timestamp)
        started = time.perf_counter()
        image = frame if frame.shape[2] == 3 else np.ascontiguousarray(frame[:, :, :3])
        keypoints, sources, stage_ms = self._faces_and_sources(image, timestamp, started)
        output = frame.copy()
        boxes = []
        stage_ms.update(align=0.0, swap=0.0)
        for points, source in zip(keypoints, sources):
            if source is None:
                continue
            mark = time.perf_counter()
            crop, matrix = self.swapper.crop(image, points)
            aligned = time.perf_counter()
            self._bind(source)
            swapped = self.swapper.run(crop)
            swapped_at = time.perf_counter()
            stage_ms["align"] += (aligned - mark) * 1e3
            stage_ms["swap"] += (swapped_at - aligned) * 1e3
            box = paste_face(output, image, swapped, matrix, points, self.options, stage_ms)
            if box is not None:
                boxes.append(box)
        stage_ms["total"] = (time.perf_counter() - started) * 1e3
        self.last_report = FrameReport(boxes=boxes, stage_ms=stage_ms)
        return output

    def _process_on_device(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        """The same frame as _process, with the frame's pixel work on the torch device."""
        started = time.perf_counter()
        image = frame if frame.shape[2] == 3 else np.ascontiguousarray(frame[:, :, :3])
        device_frame = self._gpu.upload(image)
        keypoints, sources, stage_ms = self._faces_and_sources(image, timestamp, started, device_frame)
        chosen = [(points, source) for points, source in zip(keypoints, sources) if source is not None]
        mark = time.perf_counter()
        output, results = self._gpu.process(frame, [p for p, _ in chosen], [s.latent for _, s in chosen],
                                            self.options, device_frame)
        stage_ms["swap_paste"] = (time.perf_counter() - mark) * 1e3
        stage_ms.update({f"device_{k}": v for k, v in self._gpu.last_ms.items()})
        stage_ms["total"] = (time.perf_counter() - started) * 1e3
        self.last_report = FrameReport(boxes=[r.box for r in results], stage_ms=stage_ms)
        return output
