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
from ..bgra import bgr_copy
from ..errors import BrokenSwapOutput, FaceSwapError
from ..worker.in_flight import InFlight
from ..neural.detector import Detection
from ..neural.enhance_behind import BackgroundEnhancer, lay_detail
from ..neural.enhancer import ALIGNMENT as ENHANCER_ALIGNMENT
from ..neural.enhancer import FaceEnhancer
from ..neural.mapping import DEFAULT_MAX_DISTANCE, FaceMapping, Identity
from ..neural.model_set import ROLES, Place
from ..neural.occluder import occluder_for
from ..neural.recognizer import combine_embeddings
from ..neural.runners import RUNTIMES, open_runner
from ..neural.swap_paths import FaceJob, ServerSettings, SwapPath, open_swap_path, roles_for
from ..neural.tracking import DetectionCache
from ..options import SwapOptions
from ..remote.triton_link import ServerAway
from ..vision.photo import load_photo
from ..vision.photo_tips import keypoint_tips
from ..vision.smoothing import FaceTracker
from .base import Engine, FrameReport, SourceInfo

PRECISIONS = schema.BY_KEY["precision"].values()


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
                 occluder_file: str = "",
                 model_paths: dict[str, str] | None = None, redetect_after: float = 0.1, threads: int = 0,
                 runtime: str = "onnxruntime", device: str = "auto", gpu_frames: bool | None = None, gpu: int = 0,
                 open_restorer=None, server: str = "", server_key: str = "", server_tls: bool = False,
                 server_certificate: str = "", server_timeout_ms: int = 150, server_fallback: str = "pass",
                 patience_s: float = 0.0):
        super().__init__(options, patience_s)
        if runtime not in RUNTIMES:
            raise FaceSwapError(f"Unknown model runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}.")
        self.model_dir = model_dir or None
        own = {"detector": detector_file, "recognizer": recognizer_file, "swapper": swapper_file}
        server_settings = ServerSettings(server, server_key, server_tls, server_certificate, server_timeout_ms,
                                         server_fallback)
        roles = roles_for(runtime, server_settings)
        own_files = tuple(role for role in roles if own[role]) if not model_paths else ()
        # model_paths: the files by role, chosen by the caller (tests, tools); "swapper_fp32" is
        # the fp32 fallback for an fp16 "swapper"
        paths = dict(model_paths) if model_paths else resolve_model_paths(self.model_dir, precision, own, roles)
        place = Place(runtime, provider, device, gpu, threads, self.model_dir)
        self.path: SwapPath = open_swap_path(place, paths, own_files, precision, det_size, gpu_frames=gpu_frames,
                                             server=server_settings, patience_s=self.patience_s)
        self.enhancer_file = enhancer_file
        self._behind: BackgroundEnhancer | None = None   # the face enhancer's thread, when one is chosen
        self._behind_name = "off"
        self._offered = 0
        self._enhanced_faces: list[np.ndarray] = []   # the last frame's faces (keypoints), for stills
        # opens the enhancer by name on its thread: the catalogued or own file, or what a
        # benchmark brings (a stand-in that takes as long as a GPU restorer)
        self._open_restorer = open_restorer or self._open_enhancer
        if own_files:
            self.notes.append(f"own {', '.join(own_files)} file (not a catalogued one; checked by signature)")
        if occluder_file:
            self._in_front.occluder = self._open_occluder(occluder_file)
            self.notes.append("own occlusion model beside the built-in search (checked by signature)")
        if face_mapping == "pairs" and not pairs:
            raise FaceSwapError("Face mapping 'photo-to-person pairs' needs at least one pair: choose both photos "
                                "of pair 1 (--pair SOURCE=TARGET).")
        self.mapping = FaceMapping(face_mapping, match_distance)
        self._default: Identity | None = None
        self._pending_source: tuple | None = None   # a photo whose identity waits for the Triton server
        self._last_jobs: tuple | None = None   # the last frame begun, its faces as swapped (a cross-fade)
        self._path_note = ""                        # the status line's words about the path (a server away)
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

    # -- the models, wherever they run --------------------------------------------------
    @property
    def detector(self):
        return self.path.detector

    @property
    def recognizer(self):
        return self.path.recognizer

    @property
    def swapper(self):
        return self.path.swapper

    @property
    def provider(self) -> str:
        return self.path.models.provider

    @property
    def swap_precision(self) -> str:
        return self.path.models.swap_precision

    @property
    def own_files(self) -> tuple[str, ...]:
        return self.path.models.own_files

    def _follow_path(self) -> None:
        """The status line says what is wrong with the path (a server away), and stops
        saying it when it is right again."""
        words = self.path.status_words()
        if words == self._path_note:
            return
        if self._path_note in self.notes:
            self.notes.remove(self._path_note)
        if words:
            self.notes.append(words)
        self._path_note = words

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

    def _open_occluder(self, path: str):
        """The user's occlusion model, on the runtime and provider the swap uses; refused
        with what to do when it does not fit."""
        fix = catalog.file_advice("occluder", True)
        runner = open_runner(path, threads=self.path.models.place.threads,
                             label=f"The occlusion model {os.path.basename(path)}", fix=fix,
                             **self.path.models.runner_options)
        return occluder_for(runner, fix)

    def _open_enhancer(self, name: str) -> FaceEnhancer:
        """On the enhancer's own thread: the catalogued file (hash-checked) or the user's own,
        on the runtime and provider the swap uses."""
        path = self.enhancer_file or str(catalog.require(catalog.find(name), self.model_dir))
        runner = open_runner(path, threads=self.path.models.place.threads,
                             label=f"The enhancer model {os.path.basename(path)}",
                             fix=catalog.file_advice("enhancer", bool(self.enhancer_file)),
                             **self.path.models.runner_options)
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

    def describe(self) -> str:
        enhancer = f", {self.options.enhancer} enhancer" if self.options.enhancer != "off" else ""
        return self.path.describe() + enhancer

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

    def _begin_worn(self, frame: np.ndarray, state: object) -> InFlight:
        last, (before, _) = self._last_jobs, state
        if last is None or last[0] is not frame or before is None:
            return InFlight.done(frame.copy())
        _, image, uploaded, jobs, sources = last
        # the faces that wear the default identity wear the one before; mapped pairs stay
        jobs = [FaceJob(job.keypoints, before.latent if source is self._default else job.latent, job.front)
                for job, source in zip(jobs, sources)]
        swapping = self.path.begin(frame, image, uploaded, jobs, self.options, {})

        def finish() -> np.ndarray:
            try:
                return swapping.result()[0]
            except (ServerAway, BrokenSwapOutput):
                return frame.copy()   # the fade then comes from the camera's picture

        return InFlight(finish, waits_on=swapping)

    def _source_state(self) -> object:
        return self._default, self._pending_source

    def _use_source_state(self, state: object) -> None:
        self._default, self._pending_source = state
        self._assigned = None

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
        self._in_front.reset()
        if self._behind is not None:
            self._behind.forget()

    def close(self) -> None:
        self.reset()
        self._in_front.close()
        if self._behind is not None:
            self._behind.close()
            self._behind, self._behind_name = None, "off"
        self.path.close()

    def detect(self, frame: np.ndarray, timestamp: float | None = None, uploaded=None) -> list[Detection]:
        """Faces in a frame, largest first; reuses the last detection while faces barely move.
        uploaded: the frame where the path detects (on the device for the device path)."""
        image = bgr_copy(frame)
        if timestamp is not None:
            cached = self._cache.reuse(image, timestamp)
            if cached is not None:
                return cached
        faces = self.path.detect(image if uploaded is None else uploaded)
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

    @property
    def overlaps(self) -> bool:
        return self.path.overlaps

    def _begin(self, frame: np.ndarray, timestamp: float) -> InFlight:
        """Detect (or reuse), smooth, pick each face's identity, and hand the faces to the
        path; finished (enhanced, reported) when the result is wanted.

        While a Triton server is away (and no local fallback was chosen) the frame itself
        comes back, not a copy: the worker then leaves it unmarked, as any frame that was not
        swapped. A frame whose swap came out broken (fp16 on some GPUs) passes through while
        the engine moves to fp32 for the rest of the session."""
        started = time.perf_counter()
        self._enhanced_faces = []

        def unswapped(error: ServerAway | BrokenSwapOutput) -> np.ndarray:
            """The frame as it came while the server is away (the worker leaves it unmarked);
            a copy after a broken swap, once the engine moved to fp32."""
            if isinstance(error, BrokenSwapOutput):
                self._fall_back_to_fp32(error)
                why, output = "the fp16 swap gave broken faces", frame.copy()
            else:
                why, output = "the Triton server was away", frame
            self.last_report = FrameReport(unswapped=why)
            self._follow_path()
            return output

        try:
            self.path.check_due()
            if self._pending_source is not None:
                self.source_info = self._prepare_source(*self._pending_source)
                if self._pending_source is not None:
                    raise ServerAway(self.path.status_words())
                self._keep_ready()   # the list's entry now holds the identity, not the wait for it
            image = bgr_copy(frame)
            if self.options.keep_in_front:
                self._in_front.begin(image)
            uploaded = self.path.upload(image)
            detected = self.detect(image, timestamp, uploaded)   # the same list object while it is reused
            chosen = detected[: self.options.max_faces]
            keypoints = self._tracker.smooth([f.keypoints for f in chosen], timestamp)
            stage_ms = {"detect": (time.perf_counter() - started) * 1e3}
            mark = time.perf_counter()
            sources = self._assign(image, detected, chosen, keypoints)
            stage_ms["recognize"] = (time.perf_counter() - mark) * 1e3
            view = None
            if self.options.keep_in_front and chosen:
                view = self._in_front.look(image, [face.box for face in chosen], self.options.in_front_sensitivity,
                                           stage_ms)
            else:
                self._in_front.settle()
            jobs = [FaceJob(points, source.latent, view) for points, source in zip(keypoints, sources)
                    if source is not None]
            self._last_jobs = (frame, image, uploaded, jobs, [source for source in sources if source is not None])
            swapping = self.path.begin(frame, image, uploaded, jobs, self.options, stage_ms)
        except (ServerAway, BrokenSwapOutput) as error:
            self._in_front.settle()
            return InFlight(lambda failed=error: unswapped(failed))   # `error` is unbound after the block
        except BaseException:
            self._in_front.settle()   # the hands' search reads the frame: ended before it is let go
            raise

        def finish() -> np.ndarray:
            try:
                output, boxes = swapping.result()
            except (ServerAway, BrokenSwapOutput) as error:
                return unswapped(error)
            finally:
                if view is not None:
                    view.wait()
            self._follow_path()
            self._enhance_faces(output, [job.keypoints for job in jobs], stage_ms)
            stage_ms["total"] = (time.perf_counter() - started) * 1e3
            self.last_report = FrameReport(boxes=boxes, stage_ms=stage_ms, in_front=self._in_front.words(view, timestamp))
            return output

        return InFlight(finish, waits_on=swapping)

    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        return self._begin(frame, timestamp).result()

    def _fall_back_to_fp32(self, broken: BrokenSwapOutput) -> None:
        """Open the swap in fp32 instead of fp16 and prepare the identities' latents again;
        where that cannot help (fp32 already, a server), the error goes up with what to do."""
        self.path = self.path.reopened_in_fp32(broken)
        latent = self.swapper.latent
        if self._default is not None:
            self._default = replace(self._default, latent=latent(self._default.embedding))
        self.mapping.pairs = [(person, replace(source, latent=latent(source.embedding)))
                              for person, source in self.mapping.pairs]
        self._assigned = None
        self.notes.append(f"the fp16 swap gave broken faces {self.path.models.where()}: switched to fp32 for "
                          "this session")
