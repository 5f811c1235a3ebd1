"""The three models opened on one runtime, once: what differs between ONNX Runtime and
PyTorch ends here, so the swap paths and the engine see a detector, a recognizer and a
swapper with the same methods whichever runtime runs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .. import model_catalog as catalog
from ..errors import FaceSwapError
from .detector import ScrfdDetector
from .providers import choose_providers, short_name
from .recognizer import ArcFaceRecognizer
from .runners import open_runner
from .swapper import InSwapper, read_emap

ROLES = ("detector", "recognizer", "swapper")


@dataclass(frozen=True)
class Place:
    """Where the models run, as the settings say (the Triton server aside: the server path
    opens its link itself; the models opened here are its detector and its fallback)."""

    runtime: str = "onnxruntime"     # onnxruntime, torch, or triton (its local models: onnxruntime)
    provider: str = "auto"           # ONNX Runtime's execution provider
    device: str = "auto"             # PyTorch's device
    gpu: int = 0
    threads: int = 0
    model_dir: str | None = None


@dataclass
class ModelSet:
    """The opened models, by role (a role not opened is None) and how they run."""

    place: Place
    paths: dict[str, str]
    own_files: tuple[str, ...]
    detector: ScrfdDetector
    recognizer: ArcFaceRecognizer | None
    swapper: InSwapper | None
    sessions: dict = field(repr=False)
    provider: str = "cpu"
    swap_precision: str = "fp32"
    runner_options: dict = field(default_factory=dict)   # open_runner's options for the enhancer, alike
    fell_back: bool = False   # opened in fp32 after the fp16 swap gave broken faces

    def reopened_in_fp32(self, detector_size) -> "ModelSet":
        """The same models with the swap in fp32 (the catalogued fp32 file on ONNX Runtime,
        the same file in fp32 on PyTorch); raises FaceSwapError where that cannot be."""
        paths = dict(self.paths)
        if self.place.runtime != "torch":
            if "swapper" in self.own_files:
                raise FaceSwapError(f"Your own fp16 swap model file gives broken faces {self.where()}; choose an "
                                    "fp32 file instead.")
            try:
                paths["swapper"] = paths.get("swapper_fp32") or str(
                    catalog.require(catalog.find("inswapper_128"), self.place.model_dir))
            except FaceSwapError:
                raise FaceSwapError(f"The fp16 swap model gives broken faces {self.where()} and the fp32 one is "
                                    "not installed; run: faceswap models install inswapper_128") from None
        models = open_models(self.place, paths, tuple(role for role in ROLES if self.sessions.get(role)),
                             self.own_files, "fp32", detector_size)
        models.fell_back = True
        return models

    def where(self) -> str:
        return "on the CPU" if self.provider == "cpu" else f"on this GPU ({self.provider})"


def open_models(place: Place, paths: dict[str, str], roles: tuple[str, ...], own_files: tuple[str, ...],
                precision: str, detector_size) -> ModelSet:
    """Open the roles' files on the place's runtime; files the user brought are checked
    against their family's shapes and values here, on load."""
    labels = {role: f"The {role} model {os.path.basename(paths[role])}" for role in roles}
    fixes = {role: catalog.file_advice(role, role in own_files) for role in roles}
    if place.runtime == "torch":
        from .runner_torch import resolve_device

        device = f"{place.device}:{place.gpu}" if place.device == "cuda" and place.gpu else place.device
        where = resolve_device(device)
        # fp16 where it is safe: the detector and the swap (its latent is computed in fp32
        # outside the graph); identity vectors stay fp32. The CPU has no fast fp16;
        # precision fp32 keeps everything fp32 (GPUs that give NaNs in fp16).
        half = "fp16" if where.type in ("cuda", "mps") and precision != "fp32" else "fp32"
        precisions = {"detector": half, "recognizer": "fp32", "swapper": half}
        sessions = {role: open_runner(paths[role], "torch", device=str(where), precision=precisions[role],
                                      threads=place.threads, label=labels[role],
                                      channels_last=role != "recognizer", fix=fixes[role])
                    for role in roles}
        provider, swap_precision = sessions["detector"].provider, half
        runner_options = {"runtime": "torch", "device": str(where), "precision": "fp32"}
    else:
        cache_dir = str(place.model_dir or catalog.default_model_dir())
        choice = choose_providers(place.provider, cache_dir=cache_dir, device_id=place.gpu)
        sessions = {role: open_runner(paths[role], "onnxruntime", choice=choice, threads=place.threads,
                                      label=labels[role], fix=fixes[role])
                    for role in roles}
        used = sessions.get("swapper", sessions["detector"]).provider
        if place.provider not in (None, "auto") and used != choice.primary:
            raise FaceSwapError(
                f"ONNX Runtime has the {short_name(choice.primary)} provider but could not start it (its GPU "
                "libraries, e.g. CUDA/cuDNN, are missing or do not match); fix that or use --provider cpu.")
        provider = short_name(used)
        runner_options = {"runtime": "onnxruntime", "choice": choice}
        swap_precision = ("fp16" if "swapper" in sessions and sessions["swapper"].input_dtype(0) == np.float16
                          else "fp32")
    detector = ScrfdDetector(sessions["detector"], detector_size)
    recognizer = ArcFaceRecognizer(sessions["recognizer"]) if "recognizer" in sessions else None
    advice = "choose an inswapper_128-shaped file" if "swapper" in own_files else catalog.REINSTALL_ADVICE
    swapper = InSwapper(sessions["swapper"], read_emap(paths["swapper"], advice)) if "swapper" in sessions else None
    for role in own_files:   # files the user brought: their family's shapes and values, on load
        if role in sessions:
            {"detector": detector, "recognizer": recognizer, "swapper": swapper}[role].check()
    return ModelSet(place, dict(paths), own_files, detector, recognizer, swapper, sessions, provider,
                    swap_precision, runner_options)
