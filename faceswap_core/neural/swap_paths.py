"""Where a frame's faces are swapped: one interface, three places.

The neural engine keeps what is the same everywhere (the identities, face mapping,
tracking, the enhancer); a SwapPath does the per-place work between the detected faces
and the output frame:
- HostPath: the frame stays in the CPU's memory; the models run on ONNX Runtime or PyTorch
  (on whatever device), fed aligned crops.
- DevicePath: PyTorch keeps the frame on its device from upload to the face boxes'
  download (neural.gpu_pipeline); only keypoints and boxes cross.
- ServerPath: the recognizer and swapper run on a Triton server; the frame's crops go out
  and the frame is finished when the answer is in. Its fallback is the host path's models.

`open_swap_path` is the one place that chooses among them from the settings.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import numpy as np

from .. import model_catalog as catalog
from ..errors import BrokenSwapOutput, FaceSwapError
from ..worker.in_flight import InFlight
from ..options import SwapOptions
from ..vision.occlusion import FrontView
from . import pixel_boost
from .alignment import estimate_norm, norm_crop
from .detector import Detection
from .model_set import ROLES, ModelSet, Place, open_models
from .paste import paste_face

@dataclass(frozen=True)
class FaceJob:
    """One face to swap: its (smoothed) keypoints and the latent of the identity it gets."""

    keypoints: np.ndarray
    latent: np.ndarray
    front: FrontView | None = None   # this frame's view of what is in front of the faces (hands)


class SwapPath:
    """What every place does; `begin` is the one thing each must do its own way."""

    overlaps = False   # begin() returns before the models answer (a server runs them)

    def __init__(self, models: ModelSet, detector_size):
        self.models = models
        self.detector_size = detector_size

    @property
    def swapper(self):
        return self.models.swapper

    @property
    def recognizer(self):
        return self.models.recognizer

    @property
    def detector(self):
        return self.models.detector

    def upload(self, image: np.ndarray):
        """The frame where this path detects and swaps; the host's image itself here."""
        return image

    def detect(self, uploaded) -> list[Detection]:
        return self.models.detector.detect(uploaded)

    def boost_factor(self, face: FaceJob, options: SwapOptions) -> int:
        """Pixel boost's tiles per side for this face, the same on every path."""
        return pixel_boost.factor_for(options.pixel_boost, estimate_norm(face.keypoints, self.swapper.size))

    def check_due(self) -> None:
        """Raise ServerAway when no request would be sent now (only a server is ever away)."""

    def begin(self, frame: np.ndarray, image: np.ndarray, uploaded, faces: list[FaceJob], options: SwapOptions,
              stage_ms: dict) -> InFlight:
        """Swap the faces into a copy of the frame; result(): (output frame, pasted boxes)."""
        raise NotImplementedError

    def reopened_in_fp32(self, broken: BrokenSwapOutput) -> "SwapPath":
        """This path with the swap in fp32, after fp16 gave broken faces; where that cannot
        help (fp32 already, no fp32 file), BrokenSwapOutput with what to do."""
        models = self.models
        if models.swap_precision != "fp16":
            tried = "in fp32 too (after fp16)" if models.fell_back else "in fp32"
            fix = catalog.file_advice("swapper", "swapper" in models.own_files)
            raise BrokenSwapOutput(f"The swap model returned invalid numbers {tried} {models.where()}; the file "
                                   f"may be damaged: {fix}.")
        try:
            return type(self)(models.reopened_in_fp32(self.detector_size), self.detector_size)
        except BrokenSwapOutput:
            raise
        except FaceSwapError as error:
            raise BrokenSwapOutput(str(error)) from None

    def status_words(self) -> str:
        """What the status line should say about this path now ('' when all is well)."""
        return ""

    def describe(self) -> str:
        runtime = "PyTorch" if self.models.place.runtime == "torch" else "ONNX Runtime"
        return f"neural on {runtime} {self.models.provider}, {self.models.swap_precision} swap"

    def close(self) -> None:
        pass


class HostPath(SwapPath):
    """Aligned crops on the CPU side (pixel boost splits them into tiles), every tile of
    every face in one swap call, paste-back when the answer is wanted."""

    def begin(self, frame, image, uploaded, faces, options, stage_ms):
        mark = time.perf_counter()
        swapper = self.swapper
        placed = []     # (keypoints, matrix, tiles per side, view of what is in front)
        tiles, latents = [], []
        for face in faces:
            factor = self.boost_factor(face, options)
            crop, matrix = norm_crop(image, face.keypoints, swapper.size * factor)
            placed.append((face.keypoints, matrix, factor, face.front))
            tiles.extend(pixel_boost.to_tiles(crop, factor))
            latents.extend([face.latent] * factor * factor)
        aligned = time.perf_counter()
        swapping = swapper.send_many(tiles, latents) if tiles else InFlight.done([])
        stage_ms["align"] = (aligned - mark) * 1e3

        def finish():
            swapped = swapping.result()
            stage_ms["swap"] = (time.perf_counter() - aligned) * 1e3   # with a server: till its answer is taken
            output = frame.copy()
            boxes, first = [], 0
            for index, (points, matrix, factor, front) in enumerate(placed):
                face = pixel_boost.from_tiles(np.stack(swapped[first:first + factor * factor]), factor)
                first += factor * factor
                box = paste_face(output, image, face, matrix, points, options, stage_ms, front, index)
                if box is not None:
                    boxes.append(box)
            return output, boxes

        return InFlight(finish, waits_on=swapping)


class DevicePath(SwapPath):
    """The frame uploaded once; detection, alignment, the swap, paste-back and colour on
    the torch device (GpuFramePath); pixel boost's tiles are cut there too."""

    def __init__(self, models: ModelSet, detector_size):
        super().__init__(models, detector_size)
        from .gpu_pipeline import GpuFramePath

        self.frame_path = GpuFramePath(models.detector, models.sessions["swapper"], crop_size=models.swapper.size)

    def upload(self, image):
        return self.frame_path.upload(image)

    def detect(self, uploaded):
        return self.frame_path.detect(uploaded)

    def begin(self, frame, image, uploaded, faces, options, stage_ms):
        mark = time.perf_counter()
        factors = [self.boost_factor(face, options) for face in faces]
        output, results = self.frame_path.process(frame, [face.keypoints for face in faces],
                                                  [face.latent for face in faces], options, uploaded, factors,
                                                  [face.front for face in faces])
        stage_ms["swap_paste"] = (time.perf_counter() - mark) * 1e3
        stage_ms.update({f"device_{name}": ms for name, ms in self.frame_path.last_ms.items()})
        return InFlight.done((output, [result.box for result in results]))


class ServerPath(HostPath):
    """The host path with the recognizer and swapper on a Triton server: begin() sends the
    crops and returns; the frame is pasted when its answer is wanted.

    Live (the worker, a camera): a frame waits for the server only as long as the timeout
    setting, then passes through while the server is away. A file render (the link's
    patience): nobody waits for the frame, so every frame waits for its answer, asking again
    while the server is away, up to the patience, and then the render stops with an error."""

    overlaps = True

    def __init__(self, models: ModelSet, detector_size, link, local_fallback: bool):
        from ..remote.remote_models import RemoteRecognizer, RemoteSwapper

        super().__init__(models, detector_size)
        self.link = link
        self.local_fallback = local_fallback
        self._remote_recognizer = RemoteRecognizer(link, models.recognizer)
        self._remote_swapper = RemoteSwapper(link, models.swapper)

    @property
    def recognizer(self):
        return self._remote_recognizer

    @property
    def swapper(self):
        return self._remote_swapper

    def check_due(self):
        from ..remote.triton_link import ServerAway

        if not self.link.due() and not self.local_fallback and not self.link.patience:
            raise ServerAway(self.link.status_words())

    def reopened_in_fp32(self, broken):
        raise broken    # only the server's repository can change that, and the message says how

    def status_words(self):
        words = self.link.status_words()
        if words:
            meanwhile = "the models run here" if self.local_fallback else "frames pass through unswapped"
            words += f": {meanwhile}; trying again every second"
        return words

    def describe(self):
        fallback = ", local models while it is away" if self.local_fallback else ""
        return (f"neural on Triton {self.link.address}{' (TLS)' if self.link.tls else ''}{fallback}, "
                f"detector on ONNX Runtime {self.models.provider}")

    def close(self):
        self.link.close()


@dataclass(frozen=True)
class ServerSettings:
    address: str = ""
    key: str = ""
    tls: bool = False
    certificate: str = ""
    timeout_ms: int = 150
    fallback: str = "pass"      # pass: frames pass through while it is away; local: the models run here


def roles_for(runtime: str, server: ServerSettings) -> tuple[str, ...]:
    """The models opened here: all three, or on a server only the detector (and the other
    two only as the fallback the user chose)."""
    return ("detector",) if runtime == "triton" and server.fallback != "local" else ROLES


def open_swap_path(place: Place, paths: dict[str, str], own_files: tuple[str, ...], precision: str,
                   detector_size, *, gpu_frames: bool | None = None, server: ServerSettings = ServerSettings(),
                   patience_s: float = 0.0) -> SwapPath:
    """The one choice of a path from the settings. gpu_frames None: the device path on
    PyTorch, the host path elsewhere. patience_s > 0: a file render, which waits for a
    server's answers that long (Engine's patience_s)."""
    runtime = place.runtime
    if runtime == "triton":
        link = open_link(server, patience_s)
        models = open_models(replace(place, runtime="onnxruntime"), paths,
                             roles_for(runtime, server), own_files, precision, detector_size)
        return ServerPath(models, detector_size, link, server.fallback == "local")
    models = open_models(place, paths, roles_for(runtime, server), own_files, precision, detector_size)
    on_device = runtime == "torch" if gpu_frames is None else gpu_frames
    if on_device and runtime != "torch":
        raise FaceSwapError("The GPU frame path runs on the torch runtime; use --runtime torch.")
    return DevicePath(models, detector_size) if on_device else HostPath(models, detector_size)


def open_link(server: ServerSettings, patience_s: float):
    """The link to the server: live, each request waits the timeout setting; patient (a file
    render without the local fallback), each waits up to patience_s and is sent again
    while the server is away."""
    from ..remote.triton_link import TritonLink

    patience = patience_s if server.fallback != "local" else 0.0
    link = TritonLink(server.address, tls=server.tls, certificate=server.certificate,
                      key=server.key or os.environ.get("FACESWAP_SERVER_KEY", ""),
                      timeout_ms=patience * 1000 if patience else server.timeout_ms, patience_s=patience)
    link.check()
    return link
