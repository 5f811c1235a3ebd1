"""The zero-download engine: mediapipe's face mesh, a piecewise-affine warp of the source
face onto each target mesh, colour correction, and a feathered mask with the target's own
mouth (and optionally eyes) showing through. CPU real-time; see BENCHMARKS.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import FaceSwapError
from ..options import SwapOptions
from ..vision import eyes, glasses, masks, photo_face, tongue
from ..vision.compose import EYE_HOLE_SCALE, composite
from ..vision.face_mesh import (FEATURE_BROW_SCALE, FEATURE_EYE_SCALE, FEATURE_LIPS_SCALE, DetectedFace,
                                FaceMeshDetector, MeshTopology, box_overlap, quarter_tiles)
from ..vision.grid import BoxGrid
from ..vision.covers import FaceShape
from ..vision.occlusion import FrontView, InFront
from ..vision.photo_tips import photo_tips
from ..vision.smoothing import FaceTracker
from ..vision.warp import sample_coarse, warp_face
from ..worker.in_flight import InFlight
from .base import Engine, FrameReport, SourceInfo

MAX_PHOTO_FACES = 10
SOURCE_FACE_SIZE = 512     # the prepared source face's size (pixels) at its finest level
MIN_LEVEL_FACE_SIZE = 48   # coarsest pyramid level

# Mask geometry in fractions of the face's size on the coarse grid.
MASK_INSET = 0.05
MASK_FEATHER = 0.035

# The photo's face fades out over this band inside its own outline (fractions of its size):
# the outline's edge holds the silhouette, ears or background.
SOURCE_EDGE_INSET = 0.04
SOURCE_EDGE_FEATHER = 0.03


@dataclass(frozen=True)
class _SourceLevel:
    image: np.ndarray       # BGR uint8 crop around the face, its own light taken out
    without_lips: np.ndarray  # the same with the lips painted over (when the target's mouth shows)
    points: np.ndarray      # (468, 2) float32 in the crop's coordinates
    face_size: float
    coverage: np.ndarray    # float32 (crop size) 1 on open skin, 0 outside the outline and where covered


@dataclass(frozen=True)
class _PreparedSource:
    levels: tuple[_SourceLevel, ...]   # finest first
    covered_share: float               # of the photo's face skin, covered by hair or else

    def level_for(self, face_size: float) -> _SourceLevel:
        """The coarsest level still at least as detailed as the target face (no aliasing)."""
        chosen = self.levels[0]
        for level in self.levels:
            if level.face_size >= face_size:
                chosen = level
        return chosen


STAGES = ("detect", "hands", "warp", "kept", "in_front", "colour", "blend")   # a frame's report, in order


class LandmarkEngine(Engine):
    name = "landmark"

    def __init__(self, options: SwapOptions | None = None, patience_s: float = 0.0):
        super().__init__(options, patience_s)
        self._topology = MeshTopology.from_mediapipe()
        self._mesh: FaceMeshDetector | None = None
        self._tracker = FaceTracker(self.options.smoothing)
        self._glasses = glasses.GlassesWatch()
        self._source: _PreparedSource | None = None
        self._frame_size: tuple[int, int] | None = None
        self._last_swapped: tuple = (None, [], None)   # the last frame swapped, its faces and view (a cross-fade)

    # -- source ------------------------------------------------------------------
    def _prepare_source(self, image: np.ndarray, face_index: int, more: list) -> SourceInfo:
        detector = FaceMeshDetector(max_faces=MAX_PHOTO_FACES, static=True)
        try:
            faces = detect_in_photo(detector, image)
        finally:
            detector.close()
        if not faces:
            raise FaceSwapError(
                "No face was found in the photo; use a well-lit photo where one face looks at the "
                "camera and is at least 100 pixels wide.")
        if face_index >= len(faces):
            raise FaceSwapError(
                f"The photo has {len(faces)} face(s); choose a face index from 0 to {len(faces) - 1} "
                "(0 is the largest).")
        face = faces[face_index]
        self._source = _prepare_levels(image, face.points, self._topology)
        x0, y0, x1, y1 = face.box
        tips = photo_tips(face.points, self._topology)
        covered = photo_face.covered_tip(self._source.covered_share)
        return SourceInfo(len(faces), face_index, (int(x0), int(y0), int(x1), int(y1)),
                          tips + ((covered,) if covered else ()))

    def _source_state(self) -> object:
        return self._source

    def _use_source_state(self, state: object) -> None:
        self._source = state

    # -- frames --------------------------------------------------------------------
    def set_options(self, options: SwapOptions) -> None:
        previous = self.options
        super().set_options(options)
        if self.options.max_faces != previous.max_faces and self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        if self.options.smoothing != previous.smoothing:
            self._tracker = FaceTracker(self.options.smoothing)

    def reset(self) -> None:
        self._tracker.reset()
        self._glasses.reset()
        self._in_front.reset()
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def close(self) -> None:
        self.reset()
        self._in_front.close()

    def _process(self, frame: np.ndarray, timestamp: float) -> np.ndarray:
        started = time.perf_counter()
        if frame.shape[:2] != self._frame_size:   # a new resolution: tracked faces mean nothing
            self.reset()
            self._frame_size = frame.shape[:2]
        if self._mesh is None:
            self._mesh = FaceMeshDetector(max_faces=self.options.max_faces, static=False)
        if self.options.keep_in_front:
            self._in_front.begin(frame)
        faces = self._mesh.detect(frame)[: self.options.max_faces]
        raw = [face.points for face in faces]
        return self._swap_all(frame, list(zip(self._tracker.smooth(raw, timestamp), raw)), started,
                              self._in_front, timestamp)

    def process_image(self, image: np.ndarray) -> np.ndarray:
        if not self.options.enabled or not self.has_source:
            return super().process_image(image)
        self.reset()
        started = time.perf_counter()
        detector = FaceMeshDetector(max_faces=MAX_PHOTO_FACES, static=True)
        try:
            faces = detect_in_photo(detector, image)[: self.options.max_faces]
        finally:
            detector.close()
        with self._photo_in_front() as in_front:
            return self._swap_all(image, [(face.points, face.points) for face in faces], started, in_front, 0.0)

    def _swap_all(self, frame: np.ndarray, faces: list[tuple[np.ndarray, np.ndarray]], started: float,
                  in_front: InFront, timestamp: float) -> np.ndarray:
        """faces: (smoothed, raw) points of each face: the smoothed ones place the swap, the
        raw ones say how open each eye is now (see _closing_lids)."""
        stage_ms = {**dict.fromkeys(STAGES, 0.0), "detect": (time.perf_counter() - started) * 1e3}
        view = None
        if self.options.keep_in_front and faces:
            view = in_front.look(frame, [DetectedFace(points).box for points, _ in faces],
                                 self.options.in_front_sensitivity, stage_ms)
        else:
            in_front.settle()
        try:
            output, boxes = self._swap_faces(frame, faces, view, stage_ms)
        finally:
            if view is not None:
                view.wait()
        self._last_swapped = (frame, faces, view)
        stage_ms["total"] = (time.perf_counter() - started) * 1e3
        self.last_report = FrameReport(boxes=boxes, stage_ms=stage_ms, in_front=in_front.words(view, timestamp))
        return output

    def _swap_faces(self, frame: np.ndarray, faces: list, view: FrontView | None,
                    stage_ms: dict[str, float]) -> tuple[np.ndarray, list]:
        """A copy of the frame with every face swapped, and the swapped faces' boxes."""
        output = frame.copy()
        boxes = []
        for index, (points, raw) in enumerate(faces):
            box = self._swap_face(frame, output, points, raw, stage_ms, view, index)
            if box is not None:
                boxes.append(box)
        return output, boxes

    def _begin_worn(self, frame: np.ndarray, state: object) -> InFlight:
        swapped, faces, view = self._last_swapped
        if swapped is not frame:
            return InFlight.done(frame.copy())
        worn, self._source = self._source, state
        try:
            return InFlight.done(self._swap_faces(frame, faces, view, dict.fromkeys(STAGES, 0.0))[0])
        finally:
            self._source = worn

    def _swap_face(self, frame: np.ndarray, output: np.ndarray, points: np.ndarray, raw: np.ndarray,
                   stage_ms: dict[str, float], view: FrontView | None, index: int) -> tuple[int, int, int, int] | None:
        topology, options = self._topology, self.options
        grid = BoxGrid.around(points[topology.face_oval], frame.shape)
        if grid is None:
            return None
        started = time.perf_counter()
        level = self._source.level_for(DetectedFace(points).size)
        image = level.without_lips if options.mouth_mask else level.image
        warp = warp_face(image, level.points, points, topology.triangles, grid)
        if warp is None:
            return None
        warped, coarse_map = warp
        # A turned head shows its near cheek far larger than the photo does: the photo's
        # face edge would be stretched over it as a bright or dark patch. Where the swap
        # reads that edge it fades out, and the target's own cheek shows.
        coverage = sample_coarse(level.coverage, coarse_map)
        target = grid.crop(frame)
        cells = float(max(grid.cols, grid.rows))
        oval = masks.fill_polygon(grid, points[topology.face_oval])
        alpha = masks.feather(oval, MASK_INSET * cells, MASK_FEATHER * cells) * coverage
        holes = []
        if options.mouth_mask:
            holes.append(masks.fill_polygon(grid, points[topology.outer_lips], options.mouth_mask_size))
        if options.keep_eyes:
            holes += [masks.fill_polygon(grid, points[eye], EYE_HOLE_SCALE) for eye in topology.eyes]
        else:
            holes += self._closing_lids(grid, points, raw)
        masked = time.perf_counter()
        stage_ms["warp"] += (masked - started) * 1e3
        skin = masks.feather(oval, MASK_INSET * cells, 0.0) * coverage
        lens_outlines = [eyes.lens_region(points[eye]) for eye in topology.eyes]
        found = [self._glasses.find(frame, points, topology, lens_outlines, index) if options.keep_glasses else None,
                 tongue.find(frame, points, topology) if options.mouth_mask else None]
        looked = time.perf_counter()
        stage_ms["kept"] += (looked - masked) * 1e3
        if view is not None:   # timed by the view itself
            found.append(view.patch(grid.box, mesh_face_shape(points, topology, index, lens_outlines)))
        kept = tuple(patch for patch in found if patch is not None)
        looked = time.perf_counter()
        lenses = None
        if options.colour_correction:
            skin = skin * (1.0 - self._features(grid, points))
            lenses = masks.fill_polygons(grid, [(outline, 1.0) for outline in lens_outlines])
            stage_ms["colour"] += (time.perf_counter() - looked) * 1e3
        composite(output, grid, target, warped, skin, alpha, holes, options, stage_ms, lenses, kept)
        return grid.box

    def _features(self, grid: BoxGrid, points: np.ndarray) -> np.ndarray:
        """Where the face is not skin. The colour correction measures the skin's light only:
        the target's dark brows, eyeliner or open mouth in that measure would darken the
        swapped skin around them (a halo where the source has skin), and the source's own
        features would lighten it."""
        return masks.fill_polygons(grid, self._topology.feature_polygons(points))

    def _closing_lids(self, grid: BoxGrid, points: np.ndarray, raw: np.ndarray) -> list[np.ndarray]:
        """Holes where the target's eyes are closing, each eye on its own (a wink, a squint),
        as strong as that eye is shut. How shut is read from the raw mesh: the smoothing
        that steadies the face lags a blink by two or three frames, long enough to show the
        photo's eye half open over a closed one."""
        holes = []
        for eye in self._topology.eyes:
            weight = eyes.lid_weight(eyes.openness(raw[eye]))
            if weight > 0.0:
                holes.append(masks.fill_polygon(grid, eyes.lid_region(points[eye])) * np.float32(weight))
        return holes


def mesh_face_shape(points: np.ndarray, topology: MeshTopology, index: int = 0,
                    lens_outlines: list[np.ndarray] | None = None) -> FaceShape:
    """Where a mesh's face skin should be, for what covers it (vision.covers): its outline,
    less its features and where glasses' lenses would be (their glints are colourful).
    lens_outlines: each eye's eyes.lens_region, where the caller has them already."""
    if lens_outlines is None:
        lens_outlines = [eyes.lens_region(points[eye]) for eye in topology.eyes]
    lenses = [(outline, 1.0) for outline in lens_outlines]
    features = [(points[brow], FEATURE_BROW_SCALE) for brow in topology.brows]
    features += [(points[eye], FEATURE_EYE_SCALE) for eye in topology.eyes]
    return FaceShape(points[topology.face_oval], features + lenses, (points[topology.outer_lips], FEATURE_LIPS_SCALE),
                     np.array([points[eye].mean(axis=0) for eye in topology.eyes]),
                     points[topology.outer_lips].mean(axis=0), index)


def detect_in_photo(detector: FaceMeshDetector, image: np.ndarray) -> list[DetectedFace]:
    """Faces in a still photo, largest first, small faces included.

    The mesh's detector is a short-range (webcam) model: in a group photo each face is
    too small for it at full view. Overlapping half-size tiles find those; a face found in
    several views is kept once.
    """
    faces = detector.detect(image)
    for x0, y0, x1, y1 in quarter_tiles(image.shape):
        for face in detector.detect(image[y0:y1, x0:x1]):
            moved = DetectedFace(face.points + np.array([x0, y0], dtype=np.float32))
            if not any(box_overlap(moved.box, known.box) > 0.3 for known in faces):
                faces.append(moved)
    faces.sort(key=lambda face: -face.size)
    return faces


def _prepare_levels(image: np.ndarray, points: np.ndarray, topology: MeshTopology) -> _PreparedSource:
    """Crop around the face, scale its finest level to SOURCE_FACE_SIZE, take out what
    covers it and its own light (photo_face), halve down."""
    import cv2

    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * float(max(hi - lo))
    x0, y0 = max(0, int(lo[0] - pad)), max(0, int(lo[1] - pad))
    x1, y1 = min(image.shape[1], int(hi[0] + pad) + 1), min(image.shape[0], int(hi[1] + pad) + 1)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    local = (points - np.array([x0, y0], dtype=np.float32)).astype(np.float32)
    size = DetectedFace(local).size
    scale = min(1.0, SOURCE_FACE_SIZE / size)
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        local = local * scale
        size *= scale
    prepared = photo_face.prepare(crop, local, topology, size)
    delit, without_lips, open_skin = prepared.delit, prepared.without_lips, 1.0 - prepared.covered
    oval = topology.face_oval

    def level() -> _SourceLevel:
        coverage = _face_coverage(delit.shape, local[oval], size) * open_skin
        return _SourceLevel(delit, without_lips, local, size, coverage)

    levels = [level()]
    while size / 2 >= MIN_LEVEL_FACE_SIZE:
        delit, without_lips, open_skin = cv2.pyrDown(delit), cv2.pyrDown(without_lips), cv2.pyrDown(open_skin)
        local = ((local + 0.5) / 2 - 0.5).astype(np.float32)
        size /= 2
        levels.append(level())
    return _PreparedSource(tuple(levels), prepared.covered_share)


def _face_coverage(shape: tuple[int, ...], outline: np.ndarray, face_size: float) -> np.ndarray:
    """1 well inside the face outline, 0 outside it: the outline shrunk by SOURCE_EDGE_INSET
    and its edge blurred over SOURCE_EDGE_FEATHER (fractions of the face's size)."""
    import cv2

    shift = 4
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(outline * (1 << shift)).astype(np.int32)], 255, cv2.LINE_AA, shift)
    inset = max(1, round(SOURCE_EDGE_INSET * face_size))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1)))
    return cv2.GaussianBlur(mask.astype(np.float32) * np.float32(1.0 / 255.0), (0, 0),
                            max(0.5, SOURCE_EDGE_FEATHER * face_size))
