"""The neural engine: insightface's SCRFD detector and ArcFace recognizer (buffalo_l) with
inswapper_128, the models behind Deep-Live-Cam, run with ONNX Runtime on the best
execution provider available. A GPU engine: on CPU the swap model alone takes seconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from .. import model_catalog as catalog
from .. import schema
from ..errors import BrokenSwapOutput, FaceSwapError
from ..in_flight import InFlight
from ..neural.detector import Detection, ScrfdDetector
from ..neural.mapping import DEFAULT_MAX_DISTANCE, FaceMapping, Identity
from ..neural import pixel_boost
from ..neural.enhance_behind import BackgroundEnhancer, lay_detail
from ..neural.enhancer import ALIGNMENT as ENHANCER_ALIGNMENT
from ..neural.enhancer import FaceEnhancer
from ..neural.alignment import estimate_norm, norm_crop
from ..neural.paste import paste_face
from ..neural.providers import choose_providers, short_name
from ..neural.runners import RUNTIMES, open_runner
from ..neural.recognizer import ArcFaceRecognizer, combine_embeddings
from ..neural.swapper import InSwapper, read_emap
from ..neural.tracking import DetectionCache
from ..options import SwapOptions
from ..remote.triton_link import ServerAway
from ..vision.photo import load_photo
from ..vision.photo_tips import keypoint_tips
from ..vision.smoothing import FaceTracker
from .base import Engine, FrameReport, SourceInfo

PRECISIONS = schema.BY_KEY["precision"].values()
ROLES = ("detector", "recognizer", "swapper")


def resolve_model_paths(model_dir: str | os.PathLike | None, precision: str = "auto",
                        own: dict[str, str] | None = None, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
    """Paths for the roles (detector, recognizer and swapper): catalogued files checked by
    size and SHA-256, or the user's own files (`own`, by role) where given, which are
    checked by their signature when they are opened instead.

    Every missing or damaged catalogued file is named in one message with the one command
    that fixes all.
    """
    if precision not in PRECISIONS:
        raise FaceSwapError(f"Unknown swapper precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
    own = {role: path for role, path in (own or {}).items() if path and role in roles}
    for role, path in own.items():
        if not os.path.isfile(path):
            raise FaceSwapError(f"The {role} model file {path} does not exist; choose the file again "
                                f"(or clear it to use the catalogued {role}).")
    wanted = {"detector": catalog.find("det_10g"), "recognizer": catalog.find("w600k_r50"),
              "swapper": swapper_model(model_dir, precision)}
    paths, problems = dict(own), []
    for role, model in wanted.items():
        if role in own or role not in roles:
            continue
        try:
            paths[role] = str(catalog.require(model, model_dir))
        except FaceSwapError:
            problems.append(model)
    if problems:
        folder = catalog.model_path(problems[0], model_dir).parent
        damaged = [m.filename for m in problems if catalog.model_path(m, model_dir).exists()]
        state = f"damaged ({', '.join(damaged)}) or missing" if damaged else "missing"
        raise FaceSwapError(
            f"The neural engine's model files are {state} in {folder}; "
            f"run: {catalog.install_command([m.name for m in problems], model_dir, force=bool(damaged))}"
        )
    return paths


def swapper_model(model_dir, precision: str) -> catalog.ModelFile:
    """The catalogued swap model for a precision; auto: fp32, unless only fp16 is installed."""
    fp32, fp16 = catalog.find("inswapper_128"), catalog.find("inswapper_128_fp16")
    if precision == "auto":
        have16 = catalog.model_path(fp16, model_dir).is_file() and not catalog.model_path(fp32, model_dir).is_file()
        precision = "fp16" if have16 else "fp32"
    return fp16 if precision == "fp16" else fp32


class NeuralEngine(Engine):
    name = "neural"

    def __init__(self, options: SwapOptions | None = None, *, model_dir: str | os.PathLike | None = None,
                 provider: str = "auto", precision: str = "auto", det_size: int = 640,
                 face_mapping: str = "all", match_distance: float = DEFAULT_MAX_DISTANCE,
                 reference_photo: str | None = None, pairs: list | None = None,
                 swapper_file: str = "", detector_file: str = "", recognizer_file: str = "", enhancer_file: str = "",
                 model_paths: dict[str, str] | None = None, redetect_after: float = 0.1, threads: int = 0,
                 runtime: str = "onnxruntime", device: str = "auto", gpu_frames: bool | None = None, gpu: int = 0,
                 open_restorer=None, server: str = "", server_key: str = "", server_tls: bool = False,
                 server_certificate: str = "", server_timeout_ms: int = 150, server_fallback: str = "pass"):
        super().__init__(options)
        if runtime not in RUNTIMES:
            raise FaceSwapError(f"Unknown model runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}.")
        self.model_dir = model_dir or None
        own = {"detector": detector_file, "recognizer": recognizer_file, "swapper": swapper_file}
        # triton: only the detector runs here, and the other two only as the fallback the user chose
        self.link = self._open_link(server, server_key, server_tls, server_certificate, server_timeout_ms) \
            if runtime == "triton" else None
        self.local_fallback = runtime == "triton" and server_fallback == "local"
        self.roles = roles = ("detector",) if runtime == "triton" and not self.local_fallback else ROLES
        self.own_files = tuple(role for role in roles if own[role]) if not model_paths else ()
        # model_paths: the files by role, chosen by the caller (tests, tools); "swapper_fp32" is
        # the fp32 fallback for an fp16 "swapper"
        self.paths = dict(model_paths) if model_paths else resolve_model_paths(self.model_dir, precision, own, roles)
        self.runtime = runtime
        self.provider_wanted = provider
        self.device = f"{device}:{gpu}" if device == "cuda" and gpu else device
        self.gpu = gpu
        self.threads = threads
        self.gpu_frames = runtime == "torch" if gpu_frames is None else gpu_frames
        self.detector_size = det_size
        self.enhancer_file = enhancer_file
        self._behind: BackgroundEnhancer | None = None   # the face enhancer's thread, when one is chosen
        self._behind_name = "off"
        self._offered = 0
        self._enhanced_faces: list[np.ndarray] = []   # the last frame's faces (keypoints), for stills
        # opens the enhancer by name on its thread: the catalogued or own file, or what a
        # benchmark brings (a stand-in that takes as long as a GPU restorer)
        self._open_restorer = open_restorer or self._open_enhancer
        self._fell_back = False   # fp16 gave broken faces and fp32 was opened instead
        self._open_models(precision)
        if self.own_files:
            self.notes.append(f"own {', '.join(self.own_files)} file (not a catalogued one; checked by signature)")
        if face_mapping == "pairs" and not pairs:
            raise FaceSwapError("Face mapping 'photo-to-person pairs' needs at least one pair: choose both photos "
                                "of pair 1 (--pair SOURCE=TARGET).")
        self.mapping = FaceMapping(face_mapping, match_distance)
        self._default: Identity | None = None
        self._pending_source: tuple | None = None   # a photo whose identity waits for the Triton server
        self._link_note = ""                        # the status line's words while that server is away
        self._cache = DetectionCache(max_age=redetect_after)
        self._assigned: tuple | None = None  # (faces list, sources) of the last identity matching
        self._tracker = FaceTracker(self.options.smoothing)
        try:
            if face_mapping == "reference":
                if not reference_photo:
                    raise FaceSwapError("Face mapping 'only the person in a reference photo' needs a reference "
                                        "photo; choose one (--reference PHOTO).")
                self.set_reference(load_photo(reference_photo))
            for source_path, target_path in (pairs or []) if face_mapping == "pairs" else []:
                self.add_pair(load_photo(source_path), load_photo(target_path), label=os.path.basename(source_path))
        except ServerAway as away:
            raise FaceSwapError(f"{away}. The reference and pair photos' identities are made on that server: start "
                                "it (start-server.sh on the GPU machine), then choose the photos again.") from None
        self._follow_enhancer()

    # -- the Triton server ---------------------------------------------------------------
    @staticmethod
    def _open_link(server, key, tls, certificate, timeout_ms):
        from ..remote.triton_link import TritonLink

        link = TritonLink(server, tls=tls, certificate=certificate, key=key or os.environ.get("FACESWAP_SERVER_KEY", ""),
                          timeout_ms=timeout_ms)
        link.check()
        return link

    def _follow_link(self) -> None:
        """The status line says while the server is away, and stops saying it when it is back."""
        words = self.link.status_words() if self.link is not None else ""
        if words:
            meanwhile = "the models run here" if self.local_fallback else "frames pass through unswapped"
            words += f": {meanwhile}; trying again every second"
        if words == self._link_note:
            return
        if self._link_note in self.notes:
            self.notes.remove(self._link_note)
        if words:
            self.notes.append(words)
        self._link_note = words

    # -- the face enhancer -------------------------------------------------------------
    def _follow_enhancer(self) -> None:
        """Start, change or stop the enhancer's thread to match the options."""
        name = self.options.enhancer
        if name == self._behind_name:
            return
        if self._behind is not None:
            self._behind.close()
        self._behind, self._behind_name = None, name
        if name != "off":
            self._behind = BackgroundEnhancer(lambda: self._open_restorer(name))

    def _open_enhancer(self, name: str) -> FaceEnhancer:
        """On the enhancer's own thread: the catalogued file (hash-checked) or the user's own,
        on the runtime and provider the swap uses."""
        path = self.enhancer_file or str(catalog.require(catalog.find(name), self.model_dir))
        runner = open_runner(path, threads=self.threads, label=f"The enhancer model {os.path.basename(path)}",
                             fix=catalog.file_advice("enhancer", bool(self.enhancer_file)), **self._runner_options)
        enhancer = FaceEnhancer(runner, ENHANCER_ALIGNMENT.get(name, "ffhq"))
        if self.enhancer_file:
            enhancer.check()
        return enhancer

    def _enhance_faces(self, output: np.ndarray, faces: list[np.ndarray], stage_ms: dict) -> None:
        """Offer the next face to the enhancer if it is free, and lay each face's latest
        restored detail on it; never waits for the enhancer."""
        behind = self._behind
        self._enhanced_faces = faces
        if behind is None:
            return
        if behind.error and not any(behind.error in note for note in self.notes):
            self.notes.append(f"enhancer off: {behind.error}")
        enhancer = behind.enhancer
        if enhancer is None or not faces:
            return
        started = time.perf_counter()
        slot = self._offered % len(faces)
        if behind.free and behind.offer(slot, enhancer.crop(output, faces[slot])[0]):
            self._offered += 1
        for slot, points in enumerate(faces):
            detail = behind.detail(slot)
            if detail is not None:
                lay_detail(output, enhancer.matrix(points), detail, self.options.enhancer_blend)
        stage_ms["enhance"] = (time.perf_counter() - started) * 1e3

    def process_image(self, image: np.ndarray) -> np.ndarray:
        """A still picture: with an enhancer chosen, every face is restored before it is
        returned (nothing keeps a frame rate here, so nothing is carried over)."""
        output = super().process_image(image)
        behind = self._behind
        if behind is None or not self.last_report.boxes:
            return output
        enhancer = behind.opened()
        for slot, points in enumerate(self._enhanced_faces):
            detail = behind.restore_now(slot, enhancer.crop(output, points)[0])
            lay_detail(output, enhancer.matrix(points), detail, self.options.enhancer_blend)
        behind.forget()
        return output

    def _open_models(self, precision: str) -> None:
        """Open the three models on the chosen runtime (again, for the fp32 fallback)."""
        paths = self.paths
        labels = {role: f"The {role} model {os.path.basename(paths[role])}" for role in self.roles}
        fixes = {role: catalog.file_advice(role, role in self.own_files) for role in self.roles}
        if self.runtime == "torch":
            from ..neural.runner_torch import resolve_device

            where = resolve_device(self.device)
            # fp16 where it is safe: the detector and the swap (its latent is computed in fp32
            # outside the graph); identity vectors stay fp32. The CPU has no fast fp16;
            # precision fp32 keeps everything fp32 (GPUs that give NaNs in fp16).
            half = "fp16" if where.type in ("cuda", "mps") and precision != "fp32" else "fp32"
            precisions = {"detector": half, "recognizer": "fp32", "swapper": half}
            sessions = {role: open_runner(paths[role], "torch", device=str(where), precision=precisions[role],
                                          threads=self.threads, label=labels[role],
                                          channels_last=role != "recognizer", fix=fixes[role])
                        for role in labels}
            self.provider = sessions["swapper"].provider
            self.swap_precision = half
            self._runner_options = {"runtime": "torch", "device": str(where), "precision": "fp32"}
        else:
            cache_dir = str(self.model_dir or catalog.default_model_dir())
            choice = choose_providers(self.provider_wanted, cache_dir=cache_dir, device_id=self.gpu)
            sessions = {role: open_runner(paths[role], "onnxruntime", choice=choice, threads=self.threads,
                                          label=labels[role], fix=fixes[role])
                        for role in labels}
            used = sessions.get("swapper", sessions["detector"]).provider
            if self.provider_wanted not in (None, "auto") and used != choice.primary:
                raise FaceSwapError(
                    f"ONNX Runtime has the {short_name(choice.primary)} provider but could not start it (its GPU "
                    "libraries, e.g. CUDA/cuDNN, are missing or do not match); fix that or use --provider cpu.")
            self.provider = short_name(used)
            self._runner_options = {"runtime": "onnxruntime", "choice": choice}
            self.swap_precision = ("the server's" if "swapper" not in sessions
                                   else "fp16" if sessions["swapper"].input_dtype(0) == np.float16 else "fp32")
        self.detector = ScrfdDetector(sessions["detector"], self.detector_size)
        recognizer = ArcFaceRecognizer(sessions["recognizer"]) if "recognizer" in sessions else None
        advice = ("choose an inswapper_128-shaped file" if "swapper" in self.own_files
                  else catalog.REINSTALL_ADVICE)
        swapper = InSwapper(sessions["swapper"], read_emap(paths["swapper"], advice)) if "swapper" in sessions else None
        for role in self.own_files:   # files the user brought: their family's shapes and values, on load
            {"detector": self.detector, "recognizer": recognizer, "swapper": swapper}[role].check()
        if self.link is not None:     # the server's models, and the local ones only as the fallback
            from ..remote.remote_models import RemoteRecognizer, RemoteSwapper

            recognizer, swapper = RemoteRecognizer(self.link, recognizer), RemoteSwapper(self.link, swapper)
        self.recognizer, self.swapper = recognizer, swapper
        self._gpu = None
        if self.gpu_frames:
            if self.runtime != "torch":
                raise FaceSwapError("The GPU frame path runs on the torch runtime; use --runtime torch.")
            from ..neural.gpu_pipeline import GpuFramePath

            self._gpu = GpuFramePath(self.detector, sessions["swapper"], crop_size=self.swapper.size)

    def describe(self) -> str:
        runtime = "PyTorch" if self.runtime == "torch" else "ONNX Runtime"
        enhancer = f", {self.options.enhancer} enhancer" if self.options.enhancer != "off" else ""
        if self.link is not None:
            fallback = ", local models while it is away" if self.local_fallback else ""
            return (f"neural on Triton {self.link.address}{' (TLS)' if self.link.tls else ''}{fallback}, "
                    f"detector on ONNX Runtime {self.provider}{enhancer}")
        return f"neural on {runtime} {self.provider}, {self.swap_precision} swap{enhancer}"

    # -- sources and mapping -------------------------------------------------------
    def _faces_in_photo(self, image: np.ndarray, what: str) -> list[Detection]:
        faces = self.detector.detect(image[:, :, :3] if image.ndim == 3 else image)
        if not faces:
            raise FaceSwapError(f"No face was found in the {what}; use a well-lit photo where the face looks at "
                                "the camera and is at least 64 pixels wide.")
        return faces

    def _chosen_face(self, image: np.ndarray, face_index: int, what: str) -> tuple[Detection, int]:
        """The face at face_index in a photo, and how many it has (raises FaceSwapError)."""
        faces = self._faces_in_photo(image, what)
        if face_index >= len(faces):
            raise FaceSwapError(f"The {what} has {len(faces)} face(s); choose a face index from 0 to "
                                f"{len(faces) - 1} (0 is the largest).")
        return faces[face_index], len(faces)

    def _face_identity(self, image: np.ndarray, face: Detection, label: str = "") -> Identity:
        embedding = self.recognizer.embed(image, [face.keypoints])[0]
        return Identity(embedding, self.swapper.latent(embedding), label)

    def _identity(self, image: np.ndarray, face_index: int, what: str, label: str = "") -> tuple[Identity, Detection, int]:
        face, count = self._chosen_face(image, face_index, what)
        return self._face_identity(image, face, label), face, count

    def _prepare_source(self, image: np.ndarray, face_index: int, more: list) -> SourceInfo:
        """The source's identity; while the Triton server is away, the photo is checked here
        (a face, the index) and its identity is made on the first frame after it returns."""
        face, count = self._chosen_face(image, face_index, "photo")   # a photo refused here leaves all as it was
        try:
            info = self._prepare_source_now(image, face, count, face_index, more)
        except ServerAway:
            self._pending_source = (image, face_index, more)
            return SourceInfo(count, face_index, face.int_box(image.shape[1], image.shape[0]),
                              keypoint_tips(face.keypoints), ("its identity is made when the Triton server answers",))
        self._pending_source = None
        return info

    def _prepare_source_now(self, image: np.ndarray, face: Detection, count: int, face_index: int,
                            more: list) -> SourceInfo:
        identity = self._face_identity(image, face, "source")
        notes = []
        if more:
            embeddings = [identity.embedding]
            for name, extra in more:
                embeddings.append(self._identity(extra, 0, f"photo {os.path.basename(name)}")[0].embedding)
            embedding, left_out = combine_embeddings(np.stack(embeddings), self.mapping.max_distance)
            identity = Identity(embedding, self.swapper.latent(embedding), "source")
            names = [os.path.basename(more[index - 1][0]) for index in left_out]
            if names:
                verb = "looks" if len(names) == 1 else "look"
                notes.append(f"{', '.join(names)} {verb} like another person than the source photo: left out")
            used = len(more) + 1 - len(left_out)
            if used > 1:
                notes.append(f"identity averaged over {used} photos")
        self._default = identity
        self._assigned = None
        box = face.int_box(image.shape[1], image.shape[0])
        return SourceInfo(count, face_index, box, keypoint_tips(face.keypoints), tuple(notes))

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
        if self._pending_source is not None:
            return True
        if self.mapping.mode == "pairs":
            return self.mapping.ready
        return self._default is not None and self.mapping.ready

    # -- frames --------------------------------------------------------------------
    def set_options(self, options: SwapOptions) -> None:
        previous = self.options
        super().set_options(options)
        if self.options.smoothing != previous.smoothing:
            self._tracker = FaceTracker(self.options.smoothing)
        self._follow_enhancer()

    def reset(self) -> None:
        self._cache.clear()
        self._assigned = None
        self._tracker.reset()
        if self._behind is not None:
            self._behind.forget()

    def close(self) -> None:
        self.reset()
        if self._behind is not None:
            self._behind.close()
            self._behind, self._behind_name = None, "off"
        if self.link is not None:
            self.link.close()

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

    @property
    def overlaps(self) -> bool:
        return self.link is not None

    def _begin(self, frame: np.ndarray, timestamp: float) -> InFlight:
        if self.link is not None:
            return self._begin_remote(frame, timestamp)
        return super()._begin(frame, timestamp)

    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        """The swapped frame; a frame whose swap came out broken (fp16 on some GPUs) passes
        through while the engine moves to fp32 for the rest of the session."""
        self._enhanced_faces = []
        try:
            if self._gpu is not None:
                return self._process_on_device(frame, timestamp)
            return self._begin_on_host(frame, timestamp).result()
        except BrokenSwapOutput:
            self._fall_back_to_fp32()
            self.last_report = FrameReport()
            return frame.copy()

    def _begin_remote(self, frame: np.ndarray, timestamp: float) -> InFlight:
        """A frame with the models on the Triton server: its faces are sent and the frame is
        finished when their answer is wanted. While the server is away (and no local
        fallback was chosen) the frame itself comes back, not a copy: the worker then leaves
        it unmarked, as any frame that was not swapped. A broken answer (BrokenSwapOutput)
        goes up: only the server's repository can change that, and the message says how."""
        def passed_through() -> np.ndarray:
            self.last_report = FrameReport()
            self._follow_link()
            return frame

        try:
            if not self.link.due() and not self.local_fallback:
                raise ServerAway(self.link.status_words())
            if self._pending_source is not None:
                self.source_info = self._prepare_source(*self._pending_source)
                if self._pending_source is not None:
                    raise ServerAway(self.link.status_words())
            swapping = self._begin_on_host(frame, timestamp)
        except ServerAway:
            return InFlight(passed_through)

        def finish() -> np.ndarray:
            try:
                output = swapping.result()
            except ServerAway:
                return passed_through()
            self._follow_link()
            return output

        return InFlight(finish, waits_on=swapping)

    def _fall_back_to_fp32(self) -> None:
        """Open the swap in fp32 instead of fp16 (the catalogued fp32 file for ONNX Runtime,
        the same file in fp32 for PyTorch) and prepare the identities' latents again."""
        where = "on the CPU" if self.provider == "cpu" else f"on this GPU ({self.provider})"
        if self.swap_precision != "fp16":
            tried = "in fp32 too (after fp16)" if self._fell_back else "in fp32"
            fix = catalog.file_advice("swapper", "swapper" in self.own_files)
            raise BrokenSwapOutput(f"The swap model returned invalid numbers {tried} {where}; the file may be "
                                   f"damaged: {fix}.")
        if self.runtime != "torch":
            if "swapper" in self.own_files:
                raise BrokenSwapOutput(f"Your own fp16 swap model file gives broken faces {where}; choose an "
                                       "fp32 file instead.")
            try:
                self.paths["swapper"] = self.paths.get("swapper_fp32") or str(
                    catalog.require(catalog.find("inswapper_128"), self.model_dir))
            except FaceSwapError:
                raise BrokenSwapOutput(f"The fp16 swap model gives broken faces {where} and the fp32 one is not "
                                       "installed; run: faceswap models install inswapper_128") from None
        self._open_models("fp32")
        latent = self.swapper.latent
        if self._default is not None:
            self._default = replace(self._default, latent=latent(self._default.embedding))
        self.mapping.pairs = [(person, replace(source, latent=latent(source.embedding)))
                              for person, source in self.mapping.pairs]
        self._assigned = None
        self._fell_back = True
        self.notes.append(f"the fp16 swap gave broken faces {where}: switched to fp32 for this session")

    def _begin_on_host(self, frame: np.ndarray, timestamp: float) -> InFlight:
        """Detect, align and send every face to the swapper (here, or on the server); the
        rest (paste, enhance) when the result is wanted."""
        started = time.perf_counter()
        image = frame if frame.shape[2] == 3 else np.ascontiguousarray(frame[:, :, :3])
        keypoints, sources, stage_ms = self._faces_and_sources(image, timestamp, started)
        mark = time.perf_counter()
        faces = []      # (keypoints, aligned crop at 128 x factor, its matrix, tiles per side)
        tiles, latents = [], []
        for points, source in zip(keypoints, sources):
            if source is None:
                continue
            factor = pixel_boost.factor_for(self.options.pixel_boost, estimate_norm(points, self.swapper.size))
            crop, matrix = norm_crop(image, points, self.swapper.size * factor)
            faces.append((points, matrix, factor))
            tiles.extend(pixel_boost.to_tiles(crop, factor))
            latents.extend([source.latent] * factor * factor)
        aligned = time.perf_counter()
        # every tile of every face: one call
        swapping = self.swapper.send_many(tiles, latents) if tiles else InFlight.done([])
        stage_ms["align"] = (aligned - mark) * 1e3

        def finish() -> np.ndarray:
            swapped = swapping.result()
            stage_ms["swap"] = (time.perf_counter() - aligned) * 1e3   # with a server: till its answer is taken
            output = frame.copy()
            boxes, first = [], 0
            for points, matrix, factor in faces:
                face = pixel_boost.from_tiles(np.stack(swapped[first:first + factor * factor]), factor)
                first += factor * factor
                box = paste_face(output, image, face, matrix, points, self.options, stage_ms)
                if box is not None:
                    boxes.append(box)
            self._enhance_faces(output, [points for points, _, _ in faces], stage_ms)
            stage_ms["total"] = (time.perf_counter() - started) * 1e3
            self.last_report = FrameReport(boxes=boxes, stage_ms=stage_ms)
            return output

        return InFlight(finish, waits_on=swapping)

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
