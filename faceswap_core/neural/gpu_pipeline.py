"""The neural engine's frame path on a torch device: the frame goes up once, detection,
alignment, the swap of all faces in one call, paste-back, colour correction and blending
all run there, and only the face boxes come back down.

Why: on a GPU the models take a few milliseconds, and the CPU-side work around them
(resizing, warping, masks, blending at full resolution, copies each way) is what holds the
peers at 9-20 fps. Here the CPU only handles a few numbers per face: keypoints (5 points)
come down, 2x3 matrices and coarse masks (at most 64x64) go up.

The same code runs on CUDA, ROCm, MPS and the CPU (where it is tested against the CPU path).
On CUDA, the model calls are captured as CUDA graphs and replayed (one launch per call), and
`upload` copies through pinned memory on a side stream, so the next frame's upload overlaps
the current frame's work.

One instance per worker thread: it holds per-frame buffers and graph state. At most one
frame may be pending between submit() and collect() (its download buffer is reused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..bgra import bgr_copy, put_bgr
from ..errors import BrokenSwapOutput, FaceSwapError
from ..options import SwapOptions
from ..vision import masks
from ..vision.colour import LIGHT_CELLS, light_gain, light_size, reflection_cells
from ..vision.compose import COLOUR_SIGMA, HOLE_FEATHER, patch_in_box, patch_on_grid
from . import gpu_ops
from .alignment import estimate_norm
from .detector import Detection, ScrfdDetector, nms
from .paste import PasteGeometry, face_shape, paste_geometry
from .runner_torch import CudaGraphCall, TorchRunner, import_torch


@dataclass
class DeviceFrame:
    """A frame on the device: planes (3, H, W) float32 BGR 0..255, and the frame's shape."""

    planes: object
    shape: tuple[int, ...]
    ready: object = None  # a CUDA event the upload records, when uploaded on a side stream


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    pixels: np.ndarray  # (h, w, 3) uint8 BGR: the box's new content


@dataclass
class PendingFrame:
    """A frame whose swap is queued on the device (GpuFramePath.submit)."""

    frame: np.ndarray      # the output frame: a copy of the input, boxes written in by collect()
    boxes: list            # (box, (h, w, 3)) per pasted face, in paint order
    host: object           # the host tensor the boxes come down into, or None
    done: object           # a CUDA event recorded after the copy, or None
    times: "StageTimes"


@dataclass
class StageTimes:
    """Milliseconds per stage: CUDA events on a GPU (read after the frame's sync), wall clock
    elsewhere. `model` stages count the model calls only."""

    marks: list = field(default_factory=list)

    def mark(self, name: str, device) -> None:
        torch = import_torch()
        if device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append((name, event))
        else:
            self.marks.append((name, time.perf_counter()))

    def as_ms(self) -> dict[str, float]:
        result: dict[str, float] = {}
        if self.marks and hasattr(self.marks[-1][1], "synchronize"):
            self.marks[-1][1].synchronize()
        for (_, start), (name, end) in zip(self.marks, self.marks[1:]):
            elapsed = start.elapsed_time(end) if hasattr(start, "elapsed_time") else (end - start) * 1e3
            result[name] = result.get(name, 0.0) + float(elapsed)
        return result


class _Pasting(NamedTuple):
    """One face's paste, prepared on the CPU side: what goes up to the device, and how."""

    geometry: PasteGeometry
    cells: float                 # the grid's cells along its longer side
    colour: bool                 # colour-correct this face
    coordinates: np.ndarray      # gpu_ops.box_coordinates of the warp back
    alpha: np.ndarray            # coarse alpha, the holes cut
    judged: tuple | None         # colour.reflection_cells' indices, or None
    inner: np.ndarray            # coarse mask where the colour is measured
    kept: tuple | None           # compose.patch_in_box of what is kept in front, or None


class GpuFramePath:
    """Detection and swapping of one frame's faces on the device of the TorchRunners given."""

    def __init__(self, detector: ScrfdDetector, swapper: TorchRunner, *, crop_size: int = 128,
                 use_graphs: bool | None = None):
        self.torch = import_torch()
        if not isinstance(swapper, TorchRunner) or not isinstance(detector.session, TorchRunner):
            raise FaceSwapError("The GPU frame path needs the torch runtime for the detector and swapper.")
        self.detector = detector
        self.swapper = swapper
        self.device = swapper.device
        self.crop_size = crop_size
        self.target_name, self.source_name = swapper.input_names[:2]
        self.batches = swapper.probe_batching()
        cuda = self.device.type == "cuda"
        self.use_graphs = cuda if use_graphs is None else (bool(use_graphs) and cuda)
        self.graph_note = "" if self.use_graphs else ("CUDA graphs off" if cuda else "CUDA graphs need a CUDA device")
        self._graphs: dict[tuple, CudaGraphCall | None] = {}
        self._upload_stream = self.torch.cuda.Stream(self.device) if cuda else None
        self._pinned: dict[tuple, list] = {}          # frame shape -> two [pinned buffer, copy event]
        self._download = None                         # pinned host buffer the boxes come down into
        self._staging: list = [(None, None)] * 4      # pinned (buffer, copy event) ring for small uploads
        self._staging_next = 0
        self._constants: dict[tuple, object] = {}
        self._finite = None                            # the last swap's all-finite flag (device, uint8)
        self.last_ms: dict[str, float] = {}

    # -- upload ------------------------------------------------------------------------
    def upload(self, frame: np.ndarray) -> DeviceFrame:
        """The frame's BGR channels on the device (BGRA frames: alpha stays on the host).

        On CUDA the copy goes through one of two pinned buffers on a side stream, so it runs
        while the compute stream still works on the previous frame; the returned frame's
        `ready` event orders its use after the copy."""
        torch = self.torch
        if self.device.type != "cuda":
            host = torch.from_numpy(bgr_copy(frame))
            planes = host.to(self.device).permute(2, 0, 1).float()
            return DeviceFrame(planes, frame.shape)
        slots = self._pinned.setdefault(frame.shape, [])
        if len(slots) < 2:
            slots.append([torch.empty(frame.shape, dtype=torch.uint8).pin_memory(), None])
            slot = slots[-1]
        else:
            slots.reverse()
            slot = slots[-1]
        pinned, copied = slot
        if copied is not None:
            copied.synchronize()  # the host may refill this buffer only once its last copy is done
        pinned.numpy()[...] = frame
        with torch.cuda.stream(self._upload_stream):
            device_bytes = pinned.to(self.device, non_blocking=True)
            planes = device_bytes[:, :, :3].permute(2, 0, 1).float()
            ready = torch.cuda.Event()
            ready.record(self._upload_stream)
        slot[1] = ready
        return DeviceFrame(planes, frame.shape, ready)

    def _wait(self, frame: DeviceFrame) -> None:
        """Order the current stream after the frame's upload, and tell the allocator the frame
        is used there (it was allocated on the upload stream)."""
        if frame.ready is not None:
            current = self.torch.cuda.current_stream(self.device)
            current.wait_event(frame.ready)
            frame.planes.record_stream(current)

    # -- stages, graphed on CUDA -----------------------------------------------------------
    def _run_stage(self, tag: str, function, feeds: dict) -> list:
        """function(feeds) eagerly, or through its CUDA graph for these input shapes (captured
        on first use; where capture fails, eagerly from then on, with the reason in graph_note)."""
        if not self.use_graphs:
            return function(feeds)
        key = (tag, *((k, tuple(v.shape), v.dtype) for k, v in feeds.items()))
        if key not in self._graphs:
            try:
                self._graphs[key] = CudaGraphCall(function, feeds, self.device)
            except Exception as error:  # an operator that syncs or copies from the host: run eagerly
                self._graphs[key] = None
                self.torch.cuda.synchronize(self.device)
                self.graph_note = f"{tag}: CUDA graph capture failed ({type(error).__name__}: {str(error)[:160]}); eager"
        graph = self._graphs[key]
        return function(feeds) if graph is None else graph(feeds)

    def _call(self, runner: TorchRunner, feeds: dict, tag: str) -> list:
        """A model call alone (benchmarks time it), graphed like the stages."""
        return self._run_stage(tag, runner.run_tensors, {k: runner._prepare(k, v) for k, v in feeds.items()})

    # -- detection ---------------------------------------------------------------------
    def _anchors(self, size: tuple[int, int]):
        """Anchor centres (A, 2) and each anchor's stride (A, 1) for all strides, on the device."""
        key = ("anchors", size)
        if key not in self._constants:
            width, height = size
            centers = [self.detector.anchor_centers(height // s, width // s, s) for s in self.detector.strides]
            strides = [np.full((len(c), 1), s, np.float32) for c, s in zip(centers, self.detector.strides)]
            self._constants[key] = (self.torch.as_tensor(np.concatenate(centers), device=self.device),
                                    self.torch.as_tensor(np.concatenate(strides), device=self.device))
        return self._constants[key]

    def _detect_table(self, feeds: dict, size: tuple[int, int]) -> list:
        """Letterbox, the detector, and every anchor decoded: rows of box (4), score, keypoints
        (10) in frame pixels. Fixed shapes, no host sync: captured as one CUDA graph."""
        torch = self.torch
        detector = self.detector
        planes = feeds["planes"]
        blob, det_scale = gpu_ops.letterbox_blob(planes, size, detector.mean, detector.std)
        outputs = detector.session.run_tensors({detector.session.input_names[0]: blob})
        count = len(detector.strides)
        centers, strides = self._anchors(size)
        scores = torch.cat([o.reshape(-1) for o in outputs[:count]])
        if len(scores) != len(centers):
            raise FaceSwapError(f"{detector.session.label} gave {len(scores)} scores, expected {len(centers)} "
                                "at this size; the file is not a SCRFD detector.")
        boxes = torch.cat([o.reshape(-1, 4) for o in outputs[count:2 * count]]) * strides
        kps = torch.cat([o.reshape(-1, 10) for o in outputs[2 * count:]]) * strides
        decoded = torch.cat([centers - boxes[:, :2], centers + boxes[:, 2:]], dim=1) / det_scale
        points = (kps.reshape(-1, 5, 2) + centers[:, None, :]).reshape(-1, 10) / det_scale
        return [torch.cat([decoded, scores[:, None], points], dim=1)]

    def detect_arrays(self, frame: DeviceFrame, size: tuple[int, int] | None = None,
                      threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As ScrfdDetector.detect_arrays: boxes+score (N, 5) and keypoints (N, 5, 2), after NMS.

        The score threshold and the decoding run on the device; only the kept anchors (a few
        dozen rows) come down for NMS."""
        detector = self.detector
        size = tuple(size or detector.input_size)
        threshold = detector.score_threshold if threshold is None else float(threshold)
        self._wait(frame)
        table = self._run_stage(f"detect{size}", lambda feeds: self._detect_table(feeds, size),
                                {"planes": frame.planes})[0]
        kept = table[table[:, 4] >= threshold].cpu().numpy()   # the one sync of detection
        if len(kept) == 0:
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        kept = kept[np.argsort(-kept[:, 4], kind="stable")]
        keep = nms(kept[:, :5], detector.nms_threshold)
        return kept[keep, :5].copy(), kept[keep, 5:].reshape(-1, 5, 2).copy()

    def detect(self, frame: DeviceFrame, max_faces: int = 0) -> list[Detection]:
        """Faces largest first, as ScrfdDetector.detect (with its close-up retry)."""
        dets, kps = self.detect_arrays(frame)
        if len(dets) == 0 and self.detector.retry_size is not None:
            dets, kps = self.detect_arrays(frame, self.detector.retry_size)
        faces = [Detection(d[:4].copy(), float(d[4]), k.copy()) for d, k in zip(dets, kps)]
        faces.sort(key=lambda f: -f.area)
        return faces[:max_faces] if max_faces > 0 else faces

    # -- small host data to the device, without waiting ----------------------------------
    def _to_device(self, arrays: list[np.ndarray]) -> list:
        """Float32 arrays to the device in one copy. On CUDA through a pinned staging buffer
        (a ring of four, each refilled only once its last copy is done), non-blocking: a
        plain copy from pageable memory would wait for all queued GPU work first."""
        torch = self.torch
        flat = [np.ascontiguousarray(a, dtype=np.float32).reshape(-1) for a in arrays]
        total = sum(a.size for a in flat)
        if self.device.type != "cuda":
            packed = torch.from_numpy(np.concatenate(flat)) if flat else torch.zeros(0)
            device_data = packed.to(self.device)
        else:
            index = self._staging_next
            self._staging_next = (index + 1) % len(self._staging)
            buffer, copied = self._staging[index]
            if copied is not None:
                copied.synchronize()
            if buffer is None or buffer.numel() < total:
                buffer = torch.empty(max(2 * total, 1 << 18), dtype=torch.float32).pin_memory()
            host = buffer.numpy()
            offset = 0
            for a in flat:
                host[offset:offset + a.size] = a
                offset += a.size
            device_data = buffer[:total].to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._staging[index] = (buffer, event)
        views, offset = [], 0
        for original, a in zip(arrays, flat):
            views.append(device_data[offset:offset + a.size].reshape(np.shape(original)))
            offset += a.size
        return views

    def _light_blur(self, n_out: int, n_in: int, sigma: float):
        """One axis of the coarse grid's cells averaged onto the light's grid, then blurred
        (colour.low_frequency_gain's resize and blur as one matrix), uploaded once per
        (sizes, sigma): a few dozen."""
        key = ("light", n_out, n_in, sigma)
        cached = self._constants.get(key)
        if cached is None:
            # multiplied on the device: NumPy's product goes through OpenBLAS, whose threads
            # take milliseconds to wake on a busy machine (BENCHMARKS.md)
            blur, area = (self.torch.as_tensor(m, device=self.device)
                          for m in (gpu_ops.gaussian_matrix(n_out, sigma), gpu_ops.area_matrix(n_out, n_in)))
            cached = self._constants[key] = blur @ area
        return cached

    # -- swap and paste ------------------------------------------------------------------
    def _swap_stage(self, feeds: dict, factor: int = 1) -> list:
        """Crops of all faces (affine sampling) at factor x the model's size, cut into
        pixel boost's factor x factor tiles (pixel_boost.to_tiles), the swap model on every
        tile, the tiles woven back, as BGR uint8 values: fixed shapes per face count and
        factor, captured as one CUDA graph."""
        torch = self.torch
        coordinates, source = feeds["coordinates"], feeds["source"]
        size, count = self.crop_size * factor, len(coordinates)
        crops = gpu_ops.affine_crops(feeds["planes"], coordinates, size)             # BGR 0..255
        tiles = gpu_ops.to_tiles(crops, factor)
        source = source.repeat_interleave(factor * factor, dim=0)
        blob = tiles.flip(1) / 255.0                                                 # RGB 0..1
        run = self.swapper.run_tensors
        if self.batches or len(tiles) == 1:
            out = run({self.target_name: blob, self.source_name: source})[0]
        else:
            out = torch.cat([run({self.target_name: blob[i:i + 1], self.source_name: source[i:i + 1]})[0]
                             for i in range(len(tiles))])
        # InSwapper.run: clip(255 * rgb) stored as uint8 (truncation), RGB -> BGR; and whether
        # every number is finite (fp16 NaNs on some GPUs), read with the boxes' download
        finite = torch.isfinite(out).all().to(torch.uint8).reshape(1)
        faces = gpu_ops.from_tiles((out * 255.0).clamp(0.0, 255.0).floor().flip(1), factor, count)
        return [faces, finite]

    def swap(self, frame: DeviceFrame, keypoints: list[np.ndarray], latents: list[np.ndarray],
             factors: list[int] | None = None):
        """Swapped faces (each (3, S, S), S = the model's size x the face's pixel boost factor),
        BGR uint8 values, and the frame->crop matrices; one model call for all faces of one
        factor where the model batches. The latents (emap math) are fp32, made on the host
        once per source; the model casts them to its precision."""
        factors = factors or [1] * len(keypoints)
        matrices = [estimate_norm(k, self.crop_size * f) for k, f in zip(keypoints, factors)]
        swapped: list = [None] * len(keypoints)
        flags = []
        self._wait(frame)
        for factor in sorted(set(factors)):
            chosen = [i for i, f in enumerate(factors) if f == factor]
            size = self.crop_size * factor
            source = np.concatenate([np.asarray(latents[i], np.float32).reshape(1, -1) for i in chosen])
            coordinates, source = self._to_device([gpu_ops.crop_coordinates(np.stack([matrices[i] for i in chosen]),
                                                                            size), source])
            faces, finite = self._run_stage(f"swap{factor}", lambda feeds, f=factor: self._swap_stage(feeds, f),
                                            {"planes": frame.planes, "coordinates": coordinates, "source": source})
            for slot, index in enumerate(chosen):
                swapped[index] = faces[slot]
            flags.append(finite)
        self._finite = self.torch.cat(flags).min().reshape(1)
        return swapped, np.stack(matrices)

    def paste(self, frame: DeviceFrame, swapped, matrices: np.ndarray, keypoints: list[np.ndarray],
              options: SwapOptions, fronts: list | None = None) -> list[tuple[tuple[int, int, int, int], object]]:
        """Each face's new box content on the device, in face order: (box, (h, w, 3) uint8).

        The geometry (boxes, coarse masks, what is in front of each face) is computed here on
        the CPU while the GPU still runs the swap queued before; it goes up in one copy."""
        torch = self.torch
        faces: list[_Pasting | None] = []
        for index, (crop, matrix, points) in enumerate(zip(swapped, matrices, keypoints)):
            geometry = paste_geometry(matrix, points, int(crop.shape[-1]), frame.shape, options)
            if geometry is None:
                faces.append(None)
                continue
            grid = geometry.grid
            cells = float(max(grid.cols, grid.rows))
            front = fronts[index] if fronts else None
            patch = front.patch(grid.box, face_shape(points, index)) if front is not None else None
            inner = geometry.inner
            if patch is not None and options.colour_correction:   # as compose.composite leaves it out
                inner = inner * (np.float32(1.0) - patch_on_grid(grid, patch))
            colour = options.colour_correction and float(inner.sum()) >= 4.0
            faces.append(_Pasting(geometry, cells, colour, gpu_ops.box_coordinates(matrix, grid.box),
                                  masks.cut_holes(geometry.alpha, geometry.holes, HOLE_FEATHER * cells),
                                  reflection_cells(inner, geometry.lenses) if colour else None, inner,
                                  patch_in_box(grid, patch) if patch is not None else None))
        uploads = []
        for face in faces:
            if face is not None:
                grid = face.geometry.grid
                uploads += [face.coordinates, face.alpha, face.inner]
                if face.kept is not None:   # the camera's pixels kept in front, at full resolution
                    uploads.append(np.ascontiguousarray(face.kept[1]))
                if face.colour:  # the area-resize matrices of this box size (it changes as the face moves)
                    uploads += [gpu_ops.area_matrix(grid.rows, grid.height), gpu_ops.area_matrix(grid.cols, grid.width)]
                if face.judged is not None:  # the lens regions and which cells to judge there
                    uploads += [face.geometry.lenses, *face.judged]
        device_data = iter(self._to_device(uploads))
        results = []
        # each face over the picture as it stands (compose.composite does the same): with
        # two faces' boxes overlapping, the later face's margin must not put the camera's
        # pixels back over the earlier swap
        painted = frame.planes.clone() if sum(face is not None for face in faces) > 1 else frame.planes
        for index, face in enumerate(faces):
            if face is None:
                continue
            geometry, cells, colour, judged, kept = face.geometry, face.cells, face.colour, face.judged, face.kept
            coordinates, alpha, inner = next(device_data), next(device_data), next(device_data)
            kept_mask = next(device_data) if kept is not None else None
            grid = geometry.grid
            warped = gpu_ops.warp_into_box(swapped[index], coordinates, grid.box)
            target = frame.planes[:, grid.y0:grid.y1, grid.x0:grid.x1]
            face_pixels = warped
            if colour:
                # as colour.low_frequency_gain: blurred on the light's coarser grid
                sigma = round(COLOUR_SIGMA * cells / LIGHT_CELLS, 6)
                cols, rows = light_size(grid.cols, grid.rows)
                by, bx = self._light_blur(rows, grid.rows, sigma), self._light_blur(cols, grid.cols, sigma)
                ay, ax = next(device_data), next(device_data)
                target_cells = gpu_ops.downsample_area(target, ay, ax)
                if judged is not None:
                    lenses, skin_index, lens_index = next(device_data), next(device_data), next(device_data)
                    inner = inner * (1.0 - gpu_ops.reflections(target_cells, lenses, skin_index, lens_index))
                weight = gpu_ops.blur(inner, by, bx).clamp(min=1e-3)
                source_low = gpu_ops.blur(gpu_ops.downsample_area(warped, ay, ax) * inner, by, bx) / weight
                target_low = gpu_ops.blur(target_cells * inner, by, bx) / weight
                gain = light_gain(target_low, source_low)
                face_pixels = gpu_ops.to_uint8_values(warped * gpu_ops.upsample(gain, grid.height, grid.width))
            alpha = gpu_ops.upsample(alpha, grid.height, grid.width) * float(options.opacity)
            if kept_mask is not None:
                (y0, y1, x0, x1), _ = kept
                alpha[y0:y1, x0:x1] *= 1.0 - kept_mask
            under = painted[:, grid.y0:grid.y1, grid.x0:grid.x1]
            mixed = gpu_ops.to_uint8_values(face_pixels * alpha + under * (1.0 - alpha))
            if painted is not frame.planes:
                under.copy_(mixed)
            results.append((grid.box, mixed.permute(1, 2, 0).to(torch.uint8)))
        return results

    def _start_download(self, pasted):
        """Queue the boxes' pixels for the host in one copy; returns (host buffer, event)."""
        torch = self.torch
        flat = torch.cat([pixels.reshape(-1) for _, pixels in pasted] + [self._finite])
        if self.device.type != "cuda":
            return flat.cpu(), None
        if self._download is None or self._download.numel() < flat.numel():
            self._download = torch.empty(2 * flat.numel(), dtype=torch.uint8).pin_memory()
        host = self._download[:flat.numel()]
        host.copy_(flat, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return host, done

    def submit(self, frame: np.ndarray, keypoints: list[np.ndarray], latents: list[np.ndarray],
               options: SwapOptions, device_frame: DeviceFrame | None = None,
               factors: list[int] | None = None, fronts: list | None = None) -> PendingFrame:
        """Queue the frame's swap and paste on the device; nothing waits for the GPU here,
        so the caller can upload and detect the next frame meanwhile. collect() finishes it."""
        times = StageTimes()
        times.mark("start", self.device)
        device_frame = device_frame or self.upload(frame)
        self._wait(device_frame)
        times.mark("upload", self.device)
        if not keypoints:
            return PendingFrame(frame.copy(), [], None, None, times)
        swapped, matrices = self.swap(device_frame, keypoints, latents, factors)
        times.mark("align+swap", self.device)
        pasted = self.paste(device_frame, swapped, matrices, keypoints, options, fronts)
        times.mark("paste", self.device)
        if not pasted:
            return PendingFrame(frame.copy(), [], None, None, times)
        host, done = self._start_download(pasted)
        times.mark("download", self.device)
        # the host's copy of the frame is made while the GPU works
        return PendingFrame(frame.copy(), [(box, tuple(pixels.shape)) for box, pixels in pasted], host, done, times)

    def collect(self, pending: PendingFrame) -> tuple[np.ndarray, list[FaceResult]]:
        """The output frame (a copy of the input with each face box replaced, later faces over
        earlier ones as the CPU path paints them) and the boxes' new pixels."""
        if pending.done is not None:
            pending.done.synchronize()
        output = pending.frame
        results, offset = [], 0
        if pending.host is not None:
            data = pending.host.numpy()
            if not data[-1]:
                raise BrokenSwapOutput()
            for box, shape in pending.boxes:
                count = int(np.prod(shape))
                pixels = data[offset:offset + count].reshape(shape).copy()
                offset += count
                x0, y0, x1, y1 = box
                put_bgr(output[y0:y1, x0:x1], pixels)
                results.append(FaceResult(box, pixels))
        self.last_ms = pending.times.as_ms()
        return output, results

    def process(self, frame: np.ndarray, keypoints: list[np.ndarray], latents: list[np.ndarray],
                options: SwapOptions, device_frame: DeviceFrame | None = None,
                factors: list[int] | None = None, fronts: list | None = None) -> tuple[np.ndarray, list[FaceResult]]:
        """submit + collect: one frame start to finish; factors: each face's pixel boost
        tiles per side (pixel_boost.factor_for), 1 for all when None; fronts: each face's
        view of what is in front of it (occlusion.FrontView) or None."""
        return self.collect(self.submit(frame, keypoints, latents, options, device_frame, factors, fronts))
